package activation

import (
	"strings"
	"sync"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
)

// containerStarts counts how activations got their container under OpenWhisk's own metric name, so that
// dashboards made for OpenWhisk's invoker (the user-events Grafana boards' warm and non-warm container start
// panels) read NEMO's. OpenWhisk's invoker marks INVOKER_CONTAINER_START for every run with the container's
// state; Kamon's Prometheus reporter writes it as
//
//	counter_invoker_containerStart_counter_total{containerState, namespace, action, initiator}  (METRICS_KAMON_TAGS=true)
//	counter_invoker_containerStart_<containerState>_counter_total                                 (tags off, OpenWhisk's default)
type containerStarts struct {
	tags bool
	mu   sync.Mutex
	n    map[[4]string]float64 // containerState, namespace, action, initiator (tags off: state only)
}

func newContainerStarts(tags bool) *containerStarts {
	return &containerStarts{tags: tags, n: map[[4]string]float64{}}
}

// containerState is OpenWhisk's name for how the pool placed a run (ContainerPool's initingState):
// cold, prewarmed, warmed, warming.
func containerState(start string) string {
	switch pool.StartKind(start) {
	case pool.StartWarm:
		return "warmed"
	case pool.StartCold, pool.StartPrewarmed, pool.StartWarming:
		return start
	}
	return ""
}

// record counts one run. namespace is the action's root namespace, initiator the invoking user's.
func (s *containerStarts) record(msg *wire.ActivationMessage, start string) {
	state := containerState(start)
	if state == "" || msg == nil {
		return
	}
	key := [4]string{state}
	if s.tags {
		ns, _, _ := strings.Cut(msg.Action.Path, "/")
		key = [4]string{state, ns, msg.Action.Name, msg.User.Namespace.Name}
	}
	s.mu.Lock()
	s.n[key]++
	s.mu.Unlock()
}

// metrics emits the counts (a registry collector).
func (s *containerStarts) metrics(emit func(name, help, typ string, value float64, labels ...string)) {
	const help = "Activations by how they got their container (OpenWhisk's INVOKER_CONTAINER_START)."
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.n {
		if s.tags {
			emit("counter_invoker_containerStart_counter_total", help, "counter", v,
				"containerState", k[0], "namespace", k[1], "action", k[2], "initiator", k[3])
		} else {
			emit("counter_invoker_containerStart_"+k[0]+"_counter_total", help, "counter", v)
		}
	}
}
