package refnf

import (
	"context"
	"sync"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
)

// ShmSource is the part of *clickshm.Reader the follower needs.
type ShmSource interface {
	Snapshot() (clickshm.State, bool)
	Ack(seq, appliedBurst uint32)
	Close() error
}

// OpenShm opens a clickshm segment as a ShmSource.
func OpenShm(path string) (ShmSource, error) {
	r, err := clickshm.OpenReader(path)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// FollowState is what the follower last saw and did.
type FollowState struct {
	Attached   bool   `json:"attached"`    // segment open
	Live       bool   `json:"writer_live"` // writer alive and not closed
	Enable     bool   `json:"enable"`
	Published  uint32 `json:"published_burst"`
	Applied    uint32 `json:"applied_burst"`
	AckedSeq   uint32 `json:"acked_seq"`
	Ticks      uint64 `json:"ticks"`
	Changes    uint64 `json:"changes"`     // times the applied burst changed
	OpenErrors uint64 `json:"open_errors"` // failed attach attempts
	Failures   uint64 `json:"snapshot_failures"`
	LastError  string `json:"last_error,omitempty"`
}

// Follower polls a clickshm segment and applies what it says, like the
// NemoBurstCtl element of deployments/click: target burst = published
// burst clamped to [1, max] when the writer is live and enabled, 1 when live
// and disabled, and the NF's default when there is no segment or the writer
// is dead or closed. After applying it acks the seq with the applied burst.
type Follower struct {
	path  string
	open  func(string) (ShmSource, error)
	apply func(int64) uint32 // returns the burst actually applied
	def   uint32
	max   uint32

	mu  sync.Mutex
	src ShmSource
	st  FollowState
}

// NewFollower builds a follower. open is usually OpenShm; apply is usually
// Engine.SetBurst. def and max are clamped to [1, 1024].
func NewFollower(path string, open func(string) (ShmSource, error), apply func(int64) uint32, def, maxBurst int64) *Follower {
	f := &Follower{path: path, open: open, apply: apply, def: ClampBurst(def), max: ClampBurst(maxBurst)}
	f.st.Applied = f.apply(int64(f.def))
	return f
}

// Tick does one poll: attach if needed, snapshot, apply, ack.
func (f *Follower) Tick() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Ticks++
	if f.src == nil {
		src, err := f.open(f.path)
		if err != nil {
			f.st.OpenErrors++
			f.st.LastError = err.Error()
			f.setApplied(f.def)
			return
		}
		f.src = src
		f.st.Attached = true
		f.st.LastError = ""
	}
	st, ok := f.src.Snapshot()
	if !ok {
		// Not published yet, unknown version or a torn read: keep what is
		// applied and try again next tick.
		f.st.Failures++
		return
	}
	f.st.Live, f.st.Enable, f.st.Published = st.Live, st.Enable, st.Burst
	f.setApplied(st.TargetBurst(f.def, f.max))
	f.src.Ack(st.Seq, f.st.Applied)
	f.st.AckedSeq = st.Seq
}

func (f *Follower) setApplied(target uint32) {
	applied := f.apply(int64(target))
	if applied != f.st.Applied {
		f.st.Changes++
	}
	f.st.Applied = applied
}

// State returns a copy of the follower's state.
func (f *Follower) State() FollowState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// Run ticks every interval until ctx is done, then detaches.
func (f *Follower) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	f.Tick()
	for {
		select {
		case <-ctx.Done():
			f.Close()
			return
		case <-t.C:
			f.Tick()
		}
	}
}

// Close detaches from the segment.
func (f *Follower) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.src != nil {
		_ = f.src.Close()
		f.src = nil
		f.st.Attached = false
	}
}
