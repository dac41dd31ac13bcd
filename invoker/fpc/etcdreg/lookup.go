package etcdreg

import (
	"context"
	"fmt"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Reads of scheduler-owned keys, for the pull path and the keep-or-remove decision.
type Reads struct {
	S    *Session
	Keys wire.EtcdKeys
}

// QueueLeader reads C/queue/<ns>/<fqn>/leader (the fetch package's LeaderLookup). A value that does not parse
// is an error, so the puller keeps trying rather than dialling garbage.
func (r Reads) QueueLeader(ctx context.Context, ns string, fqn wire.FullyQualifiedName) (wire.SchedulerEndpoints, bool, error) {
	v, found, err := r.S.Get(ctx, r.Keys.QueueLeader(ns, fqn))
	if err != nil || !found {
		return wire.SchedulerEndpoints{}, false, err
	}
	ep, err := wire.ParseSchedulerEndpoints([]byte(v))
	if err != nil {
		return wire.SchedulerEndpoints{}, false, fmt.Errorf("queue leader of %s/%s: %w", ns, fqn.DocID(), err)
	}
	return ep, true, nil
}

// LiveContainers is the live container count of the keep-or-remove decision: the keys under the existing,
// in-progress and warmed prefixes of (ns, fqn, rev).
func (r Reads) LiveContainers(ctx context.Context, ns string, fqn wire.FullyQualifiedName, rev string) (int64, error) {
	var total int64
	for _, p := range r.Keys.LiveContainerPrefixes(ns, fqn, rev) {
		n, err := r.S.Count(ctx, p)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
