package metrics

import (
	"bytes"
	"io"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteFormatsFamiliesSortedWithEscapedLabels(t *testing.T) {
	r := NewRegistry()
	acts := r.Counter("nemo_activations_total", "Activations by status.", "status")
	acts.With("success").Add(3)
	acts.With(`we"ird\`).Inc()
	mem := r.Gauge("nemo_pool_memory_used_bytes", "Memory in use.")
	mem.With().Set(256)
	r.GaugeFunc("nemo_kafka_lag", "Lag.", func() float64 { return 7 })
	r.CollectFunc(func(emit Emit) {
		emit("nemo_harvest_active", "Harvesting on.", "gauge", 1)
		emit("nemo_scheduler_state_total", "By state.", "counter", 2, "state", "S2")
		emit("nemo_scheduler_state_total", "ignored: the first sample's help wins", "counter", 0, "state", `S"3`)
	})

	var b bytes.Buffer
	r.Write(&b)
	want := "# HELP nemo_activations_total Activations by status.\n" +
		"# TYPE nemo_activations_total counter\n" +
		"nemo_activations_total{status=\"success\"} 3\n" +
		"nemo_activations_total{status=\"we\\\"ird\\\\\"} 1\n" +
		"# HELP nemo_harvest_active Harvesting on.\n# TYPE nemo_harvest_active gauge\nnemo_harvest_active 1\n" +
		"# HELP nemo_kafka_lag Lag.\n# TYPE nemo_kafka_lag gauge\nnemo_kafka_lag 7\n" +
		"# HELP nemo_pool_memory_used_bytes Memory in use.\n# TYPE nemo_pool_memory_used_bytes gauge\nnemo_pool_memory_used_bytes 256\n" +
		"# HELP nemo_scheduler_state_total By state.\n# TYPE nemo_scheduler_state_total counter\n" +
		"nemo_scheduler_state_total{state=\"S2\"} 2\nnemo_scheduler_state_total{state=\"S\\\"3\"} 0\n"
	require.Equal(t, want, b.String())
}

func TestCollectedFamiliesMustBeWellFormed(t *testing.T) {
	dup := NewRegistry()
	dup.Counter("x_total", "x")
	dup.CollectFunc(func(emit Emit) { emit("x_total", "x", "counter", 1) })
	require.Panics(t, func() { dup.Write(io.Discard) }, "a collected family may not shadow a registered one")
	odd := NewRegistry()
	odd.CollectFunc(func(emit Emit) { emit("y", "y", "gauge", 1, "only-a-name") })
	require.Panics(t, func() { odd.Write(io.Discard) }, "labels come in name/value pairs")
}

func TestCounterRejectsDecreaseAndWrongLabelCount(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("c_total", "c", "a")
	require.Panics(t, func() { c.With("x").Add(-1) })
	require.Panics(t, func() { c.With() })
	require.Panics(t, func() { r.Gauge("c_total", "dup") })
}

func TestConcurrentIncrementsAreCounted(t *testing.T) {
	r := NewRegistry()
	c := r.Counter("n_total", "n", "k")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				c.With("v").Inc()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 8000.0, c.With("v").Value())
}

func TestSpecialFloatValues(t *testing.T) {
	require.Equal(t, "+Inf", formatValue(math.Inf(1)))
	require.Equal(t, "NaN", formatValue(math.NaN()))
	require.Equal(t, "0.5", formatValue(0.5))
}
