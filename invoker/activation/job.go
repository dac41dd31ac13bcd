package activation

import (
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
)

// Job and Outcome are the pool's: pool.Manager and scheduler.Invoker implement Runner over them. The path
// turns each OpenWhisk activation into a Job (jobs.forActivation).
type (
	Job     = pool.Job
	Outcome = pool.Outcome
)

// jobs builds pool Jobs from activations. It caches each action revision's content hash: hashing
// re-encodes the whole action, which showed up in profiles when done for every activation.
type jobs struct {
	cpuSetFor func(docID string) string

	mu     sync.Mutex
	hashes map[string]string // "docid@rev" → content hash (a revision's content never changes)
}

// maxCachedHashes bounds the content-hash cache; it is simply emptied when full.
const maxCachedHashes = 4096

// forActivation is the pool's Job for msg running action (resolved to runtime; nil for a blackbox). Warm
// containers are reused by invoking namespace and action content (OpenWhisk compares the content, not the
// revision), and never across bindings.
func (j *jobs) forActivation(msg *wire.ActivationMessage, action *wire.Action, runtime *wire.RuntimeKind,
	log zerolog.Logger) *Job {
	hash := j.contentHash(action)
	if b := msg.Action.Binding; b != "" {
		hash += "@" + b
	}
	spec := pool.Spec{
		Key:         pool.Key{Namespace: msg.User.Namespace.Name, Action: action.FullyQualifiedName(), ContentHash: hash},
		Kind:        action.Exec.Kind,
		Image:       action.Exec.Image,
		MemoryMB:    action.Limits.MemoryMB,
		Concurrency: max(action.Limits.Concurrency, 1),
	}
	sentinelled := false
	if runtime != nil {
		spec.Image = runtime.Image
		sentinelled = runtime.SentinelledLogs
	}
	if j.cpuSetFor != nil {
		spec.CPUSet = j.cpuSetFor(action.DocID())
	}
	return &Job{
		ID:      msg.ActivationID,
		Spec:    spec,
		Timeout: time.Duration(action.Limits.TimeoutMs) * time.Millisecond,
		InitBody: func(deadline time.Time) ([]byte, error) {
			return wire.InitBody(msg, action, deadline.UnixMilli())
		},
		RunBody: func(deadline time.Time) ([]byte, error) {
			return wire.RunBody(msg, action, deadline.UnixMilli())
		},
		LogLimit:        int64(action.Limits.LogsMB) << 20,
		SentinelledLogs: sentinelled,
		Log:             log,
	}
}

func (j *jobs) contentHash(a *wire.Action) string {
	if a.Rev == "" {
		return a.ContentHash()
	}
	key := a.DocID() + "@" + a.Rev
	j.mu.Lock()
	h, ok := j.hashes[key]
	j.mu.Unlock()
	if ok {
		return h
	}
	h = a.ContentHash()
	j.mu.Lock()
	if j.hashes == nil || len(j.hashes) >= maxCachedHashes {
		j.hashes = make(map[string]string)
	}
	j.hashes[key] = h
	j.mu.Unlock()
	return h
}
