package app

import (
	"strconv"

	"github.com/nemo-edge/nemo/pool"
)

// openWhiskPoolMetrics emits the container pool's state under the names OpenWhisk's invoker gives it
// (ContainerPool.emitMetrics and its reactive prewarm check, as Kamon's Prometheus reporter writes them), so
// that the user-events Grafana dashboards' Prewarm/Active container panels and prewarm cold-start/expiry
// panels read NEMO's pool:
//
//	gauge_containerPool_{activeCount,prewarmCount,idlesCount}_counter
//	gauge_containerPool_{activeSize,prewarmSize,idlesSize}_counter_bytes      (MB converted, as Kamon does)
//	counter_containerPool_prewarm{Coldstart,Expired}_counter_total{kind,memory} (tags off: without labels)
//
// Active containers have runs in flight or requests waiting for their /init; prewarm containers are stem
// cells (starting ones included, as OpenWhisk counts its prewarmStartingPool); idle ones are the other
// function containers (frozen ones included: OpenWhisk's free pool holds its paused containers).
func openWhiskPoolMetrics(m *pool.Manager, tags bool) func(emit func(name, help, typ string, value float64, labels ...string)) {
	return func(emit func(name, help, typ string, value float64, labels ...string)) {
		s := m.Snapshot()
		var count, mb [3]float64 // active, prewarm, idle
		for _, c := range s.Containers {
			if c.State == pool.StateRemoving {
				continue
			}
			i := 2
			switch {
			case c.Active > 0 || c.Waiting > 0:
				i = 0
			case c.Key == (pool.Key{}):
				i = 1
			}
			count[i]++
			mb[i] += float64(c.MemoryMB)
		}
		for i, name := range []string{"active", "prewarm", "idles"} {
			what := [3]string{"with runs in flight", "prewarmed (stem cells)", "idle"}[i]
			emit("gauge_containerPool_"+name+"Count_counter", "Containers "+what+" (OpenWhisk's containerPool "+name+"Count).",
				"gauge", count[i])
			emit("gauge_containerPool_"+name+"Size_counter_bytes", "Memory of the containers "+what+", in bytes (OpenWhisk's containerPool "+name+"Size).",
				"gauge", mb[i]*(1<<20))
		}
		var cold, expired float64
		for _, sc := range s.StemCells {
			if !tags {
				cold += float64(sc.ColdStartChecks)
				expired += float64(sc.ExpiryChecks)
				continue
			}
			memory := strconv.Itoa(sc.MemoryMB) + " MB" // OpenWhisk's ByteSize.toString
			emit("counter_containerPool_prewarmColdstart_counter_total", helpColdstart, "counter", float64(sc.ColdStartChecks),
				"kind", sc.Kind, "memory", memory)
			emit("counter_containerPool_prewarmExpired_counter_total", helpExpired, "counter", float64(sc.ExpiryChecks),
				"kind", sc.Kind, "memory", memory)
		}
		if !tags && len(s.StemCells) > 0 {
			emit("counter_containerPool_prewarmColdstart_counter_total", helpColdstart, "counter", cold)
			emit("counter_containerPool_prewarmExpired_counter_total", helpExpired, "counter", expired)
		}
	}
}

const (
	helpColdstart = "Reactive prewarm checks that saw cold starts of a stem-cell configuration (OpenWhisk's CONTAINER_POOL_PREWARM_COLDSTART)."
	helpExpired   = "Reactive prewarm checks that removed expired stem cells of a configuration (OpenWhisk's CONTAINER_POOL_PREWARM_EXPIRED)."
)
