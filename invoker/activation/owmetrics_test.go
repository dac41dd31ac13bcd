package activation

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
)

func startMsg(path, name, user string) *wire.ActivationMessage {
	m := &wire.ActivationMessage{Action: wire.FullyQualifiedName{Path: path, Name: name}}
	m.User.Namespace.Name = user
	return m
}

// The names Kamon's Prometheus reporter gives OpenWhisk's INVOKER_CONTAINER_START, with and without tags.
func TestContainerStartsUnderOpenWhisksNames(t *testing.T) {
	for _, tc := range []struct {
		tags bool
		want []string
	}{
		{true, []string{
			`counter_invoker_containerStart_counter_total{containerState="cold",namespace="guest",action="hello",initiator="alice"} 1`,
			`counter_invoker_containerStart_counter_total{containerState="warmed",namespace="guest",action="hello",initiator="alice"} 2`,
			`counter_invoker_containerStart_counter_total{containerState="prewarmed",namespace="other",action="f",initiator="bob"} 1`,
			`counter_invoker_containerStart_counter_total{containerState="warming",namespace="guest",action="hello",initiator="alice"} 1`,
		}},
		{false, []string{
			"counter_invoker_containerStart_cold_counter_total 1",
			"counter_invoker_containerStart_warmed_counter_total 2",
			"counter_invoker_containerStart_prewarmed_counter_total 1",
			"counter_invoker_containerStart_warming_counter_total 1",
		}},
	} {
		reg := metrics.NewRegistry()
		s := newContainerStarts(tc.tags)
		reg.CollectFunc(s.metrics)
		hello := startMsg("guest", "hello", "alice")
		s.record(hello, "cold")
		s.record(hello, "warm")
		s.record(hello, "warm")
		s.record(hello, "warming")
		s.record(startMsg("other/pkg", "f", "bob"), "prewarmed")
		s.record(hello, "") // no run took place: nothing counted
		var b strings.Builder
		reg.Write(&b)
		out := b.String()
		for _, w := range tc.want {
			assert.Contains(t, out, w+"\n", "tags=%v", tc.tags)
		}
		assert.Equal(t, len(tc.want), strings.Count(out, "\ncounter_invoker_containerStart"), "tags=%v:\n%s", tc.tags, out)
	}
}
