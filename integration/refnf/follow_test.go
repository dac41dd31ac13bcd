package refnf

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/nemo-edge/nemo/clickshm"
)

// newFollowed returns an engine on a fake conn, a follower on path, and the
// engine (whose SetBurst the follower drives).
func newFollowed(t *testing.T, path string, def, maxBurst int64) (*Engine, *Follower) {
	t.Helper()
	e := NewEngine(&fakeConn{}, NewFirewall(nil, Accept), EngineConfig{Burst: int(def)})
	f := NewFollower(path, OpenShm, e.SetBurst, def, maxBurst)
	t.Cleanup(f.Close)
	return e, f
}

func ack(t *testing.T, w *clickshm.Writer) clickshm.ReaderAck {
	t.Helper()
	a, err := w.ReaderAck()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestFollowerWithoutSegmentKeepsDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nemo-nf")
	e, f := newFollowed(t, path, 4, 1024)
	f.Tick()
	st := f.State()
	if e.Burst() != 4 || st.Attached || st.OpenErrors != 1 || st.LastError == "" {
		t.Fatalf("burst=%d state=%+v, want default 4, not attached, one open error", e.Burst(), st)
	}
}

func TestFollowerAppliesAndAcksPublishedBurst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nemo-nf")
	e, f := newFollowed(t, path, 1, 1024)
	f.Tick() // no segment yet

	w, err := clickshm.Create(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Publish(clickshm.Settings{Enable: true, Burst: 32}); err != nil {
		t.Fatal(err)
	}
	f.Tick()
	if e.Burst() != 32 {
		t.Fatalf("applied burst %d, want 32", e.Burst())
	}
	a := ack(t, w)
	if a.AckSeq != w.Seq() || a.AppliedBurst != 32 || !a.Attached() {
		t.Fatalf("ack %+v (writer seq %d), want ack of current seq with burst 32, attached", a, w.Seq())
	}
	if st := f.State(); !st.Attached || !st.Live || !st.Enable || st.Applied != 32 || st.AckedSeq != w.Seq() {
		t.Fatalf("follower state %+v", st)
	}

	// Harvest off: Enable=false means burst 1 whatever Burst says.
	if err := w.Publish(clickshm.Settings{Enable: false, Burst: 64}); err != nil {
		t.Fatal(err)
	}
	f.Tick()
	if e.Burst() != 1 || ack(t, w).AppliedBurst != 1 || ack(t, w).AckSeq != w.Seq() {
		t.Fatalf("disabled: burst %d ack %+v", e.Burst(), ack(t, w))
	}
	if f.State().Changes != 2 {
		t.Fatalf("changes = %d, want 2 (1->32->1)", f.State().Changes)
	}
}

func TestFollowerClampsToItsMax(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nemo-nf")
	e, f := newFollowed(t, path, 1, 256)
	w, err := clickshm.Create(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Publish(clickshm.Settings{Enable: true, Burst: 5000}) // writer clamps to 1024
	f.Tick()
	if e.Burst() != 256 || ack(t, w).AppliedBurst != 256 {
		t.Fatalf("burst %d ack %+v, want 256", e.Burst(), ack(t, w))
	}
	w.Publish(clickshm.Settings{Enable: true, Burst: 0}) // writer clamps to 1
	f.Tick()
	if e.Burst() != 1 {
		t.Fatalf("burst 0 published: applied %d, want 1", e.Burst())
	}
}

func TestFollowerRevertsToDefaultWhenWriterCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nemo-nf")
	e, f := newFollowed(t, path, 2, 1024)
	w, err := clickshm.Create(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	w.Publish(clickshm.Settings{Enable: true, Burst: 64})
	f.Tick()
	if e.Burst() != 64 {
		t.Fatalf("burst %d, want 64", e.Burst())
	}
	w.Close()
	f.Tick()
	if e.Burst() != 2 || f.State().Live {
		t.Fatalf("after writer close: burst %d live %v, want default 2, not live", e.Burst(), f.State().Live)
	}
	// A new writer takes the page over in place; the follower sees it without re-attaching.
	w2, err := clickshm.Create(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	w2.Publish(clickshm.Settings{Enable: true, Burst: 8})
	f.Tick()
	if e.Burst() != 8 || ack(t, w2).AckSeq != w2.Seq() {
		t.Fatalf("new writer: burst %d ack %+v seq %d", e.Burst(), ack(t, w2), w2.Seq())
	}
}

// flakySource returns ok=false from Snapshot, like a torn read or an
// unpublished page.
type flakySource struct{ acks int }

func (s *flakySource) Snapshot() (clickshm.State, bool) { return clickshm.State{}, false }
func (s *flakySource) Ack(uint32, uint32)               { s.acks++ }
func (s *flakySource) Close() error                     { return nil }

func TestFollowerKeepsBurstOnFailedSnapshot(t *testing.T) {
	src := &flakySource{}
	e := NewEngine(&fakeConn{}, NewFirewall(nil, Accept), EngineConfig{})
	f := NewFollower("x", func(string) (ShmSource, error) { return src, nil }, e.SetBurst, 1, 1024)
	e.SetBurst(16) // as if an earlier tick had applied 16
	f.Tick()
	if e.Burst() != 16 || src.acks != 0 || f.State().Failures != 1 {
		t.Fatalf("burst %d acks %d state %+v: a failed snapshot must change and ack nothing", e.Burst(), src.acks, f.State())
	}
}

func TestFollowerOpenErrorIsReported(t *testing.T) {
	boom := errors.New("boom")
	e := NewEngine(&fakeConn{}, NewFirewall(nil, Accept), EngineConfig{})
	f := NewFollower("x", func(string) (ShmSource, error) { return nil, boom }, e.SetBurst, 3, 1024)
	f.Tick()
	f.Tick()
	if st := f.State(); st.OpenErrors != 2 || st.LastError != "boom" || e.Burst() != 3 {
		t.Fatalf("state %+v burst %d", st, e.Burst())
	}
}
