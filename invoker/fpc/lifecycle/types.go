package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// ContainerID names a container inside the machine. Cold starts get "c<N>" from the machine; stem cells are
// named by whoever reports them (StemCellReady), with any other prefix.
type ContainerID string

// Binding is what a container serves once a creation placed it: the etcd keys, the pull and the ack are built
// from it.
type Binding struct {
	InvocationNamespace string
	Action              wire.FullyQualifiedName
	Revision            string // "" for a null revision
	Kind                string
	Image               string // blackbox image, "" otherwise
	MemoryMB            int
	Concurrency         int
	Scheduler           string // host:port to pull from
}

// sameAction is the warm-reuse key: invocation namespace, action doc id and revision.
func (b Binding) sameAction(ns, docID, rev string) bool {
	return b.InvocationNamespace == ns && b.Action.DocID() == docID && b.Revision == rev
}

// Containers is what the machine's driver needs from the container pool (phase 2 maps it onto pool.Manager):
// start a container for an action, freeze and thaw it (the cgroup freezer), run one activation on it (the
// activation path: fetch the action, /init if not yet, /run, logs, acks, record) and remove it.
type Containers interface {
	// Create starts a container for b (a cold start) and returns its runtime id. An error wrapping
	// ErrBlackboxStart reports a blackbox image that failed to start.
	Create(ctx context.Context, id ContainerID, b Binding) (runtimeID string, err error)
	// Pause freezes the container; Resume thaws it.
	Pause(ctx context.Context, id ContainerID) error
	Resume(ctx context.Context, id ContainerID) error
	// Run runs one pulled activation, initialising the container first when it is not yet.
	Run(ctx context.Context, id ContainerID, msg *wire.ActivationMessage, raw json.RawMessage) RunResult
	// Remove destroys the container (thawing it first if frozen).
	Remove(ctx context.Context, id ContainerID) error
}

// RunResult is one activation's outcome as the lifecycle needs it.
type RunResult struct {
	Duration    time.Duration // the run's duration, reported with the next fetch
	Initialized bool          // the container has completed /init
	Destroy     bool          // the container is broken (whisk error, timeout, OOM) and must go
	Failed      bool          // a failure for the invoker's health window (whisk error, no container)
	// HandBack: the container failed before the action saw the activation, which was not answered: the
	// driver hands it back to the scheduler (RescheduleActivation). Implies Destroy.
	HandBack bool
}

// Config is the machine's configuration (OpenWhisk's names in brackets).
type Config struct {
	UserMemoryMB      int           // [whisk.container-pool.user-memory]
	PauseGrace        time.Duration // [whisk.container-proxy.timeouts.pause-grace], 10 s
	IdleContainer     time.Duration // [whisk.container-proxy.timeouts.idle-container], 10 min
	KeepingDuration   time.Duration // [whisk.container-proxy.timeouts.keeping-duration], 10 min
	BatchDeletionSize int           // [whisk.container-pool.batch-deletion-size], 10
	PrewarmPromotion  bool          // [whisk.container-pool.prewarm-promotion], false
}

func (c *Config) defaults() {
	if c.PauseGrace <= 0 {
		c.PauseGrace = 10 * time.Second
	}
	if c.IdleContainer <= 0 {
		c.IdleContainer = 10 * time.Minute
	}
	if c.KeepingDuration <= 0 {
		c.KeepingDuration = 10 * time.Minute
	}
	if c.BatchDeletionSize <= 0 {
		c.BatchDeletionSize = 10
	}
}

// Timings the machine uses that OpenWhisk hard-codes.
const (
	// DisableRound is the wait between rounds of graceful shutdown on /disable.
	DisableRound = 5 * time.Second
	// CountRetry is the wait before retrying a failed live-count read; after CountAttempts failures the
	// container is removed.
	CountRetry    = 500 * time.Millisecond
	CountAttempts = 5
)

// compareRevisions orders CouchDB revisions by their generation (the number before "-"); a null ("") revision
// is the lowest. Two revisions of one generation compare equal, as OpenWhisk's DocRevision does.
func compareRevisions(a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	return generation(a) - generation(b)
}

func generation(rev string) int {
	head, _, _ := strings.Cut(rev, "-")
	n, err := strconv.Atoi(head)
	if err != nil {
		return 0
	}
	return n
}

func mb(n int) string { return fmt.Sprintf("%dMB", n) }
