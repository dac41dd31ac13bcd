package pool

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, Config{}.Validate())
	d := Config{}.WithDefaults()
	assert.Equal(t, 2048, d.UserMemoryMB)
	assert.Equal(t, 6, d.MaxWarm)
	assert.Equal(t, 512, d.ColdReserveMB)
	assert.Equal(t, 10*time.Second, d.PauseGrace)
	assert.Equal(t, 10*time.Minute, d.IdleTimeout)

	bad := []Config{
		{UserMemoryMB: 512, ColdReserveMB: 512},
		{StemCells: []StemCell{{Kind: "nodejs:20", MemoryMB: 256, Count: 7}}}, // 1792 > 2048-512
		{StemCells: []StemCell{{Kind: "", MemoryMB: 256, Count: 1}}},
		{StemCells: []StemCell{{Kind: "nodejs:20", MemoryMB: 0, Count: 1}}},
	}
	for _, c := range bad {
		assert.ErrorIs(t, c.Validate(), ErrConfig, "%+v", c)
	}
}

// fill makes n idle containers of functions f1..fn, used at 1s, 2s, ...
func fill(t *testing.T, p *Pool, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		id := ContainerID(i)
		key := Key{Namespace: "guest", Action: "guest/f" + string(rune('0'+i)), ContentHash: "h"}
		p.Step(at, Request{ID: "a" + string(rune('0'+i)), Spec: Spec{Key: key, Kind: "nodejs:20", MemoryMB: 256}})
		p.Step(at, Started{C: id})
		p.Step(at, Initialized{C: id, Duration: time.Duration(i) * 100 * time.Millisecond})
		p.Step(at, RunFinished{C: id, ID: "a" + string(rune('0'+i))})
	}
}

// evictionsFor sends a request of mb for a new function and returns the containers evicted for it.
func evictionsFor(t *testing.T, p *Pool, id string, mb int) []ContainerID {
	t.Helper()
	var out []ContainerID
	for _, a := range p.Step(t0.Add(10*time.Second), Request{ID: id, Spec: Spec{Key: Key{Namespace: "guest",
		Action: "guest/new-" + id}, Kind: "nodejs:20", MemoryMB: mb}}) {
		if r, ok := a.(Remove); ok {
			assert.True(t, r.Evicted, "%v is marked as an eviction", r)
			assert.Equal(t, "evicted for "+id, r.Reason)
			out = append(out, r.C)
		}
	}
	return out
}

func newFullPool(t *testing.T) *Pool {
	p := New(Config{UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: -1, PauseGrace: -1}, t0)
	fill(t, p, 4)
	return p
}

func TestEvictionWithoutRankIsLRU(t *testing.T) {
	assert.Equal(t, []ContainerID{1, 2}, evictionsFor(t, newFullPool(t), "x", 512), "least recently used first")
}

func TestRankOrdersEvictions(t *testing.T) {
	p := newFullPool(t)
	assert.Empty(t, p.Step(t0.Add(5*time.Second), Rank{Order: []ContainerID{4, 2, 1, 3}}), "a ranking alone does nothing")
	assert.Equal(t, []ContainerID{4, 2}, evictionsFor(t, p, "x", 512))
	info, _ := p.Container(3)
	assert.Equal(t, 300*time.Millisecond, info.InitCost)
	assert.Equal(t, 1, info.Uses)
	assert.Equal(t, 1, info.FunctionUses)
}

// Containers the ranking does not name go after the named ones, least recently used first; names of
// containers that are gone, unknown or repeated change nothing; the latest ranking replaces the previous one.
func TestRankRuleForUnnamedContainers(t *testing.T) {
	p := newFullPool(t)
	p.Step(t0.Add(5*time.Second), Rank{Order: []ContainerID{1, 2, 3, 4}})
	p.Step(t0.Add(5*time.Second), Rank{Order: []ContainerID{99, 3, 3}})
	assert.Equal(t, []ContainerID{3, 1, 2}, evictionsFor(t, p, "x", 768))

	p = newFullPool(t)
	p.Step(t0.Add(5*time.Second), Rank{Order: []ContainerID{4}})
	p.Step(t0.Add(5*time.Second), Rank{})
	assert.Equal(t, []ContainerID{1}, evictionsFor(t, p, "x", 256), "an empty ranking returns to LRU")
}

// Only idle containers are evicted, whatever the ranking says; when they do not free enough, nothing is.
func TestRankNeverEvictsBusyOrSuspended(t *testing.T) {
	p := newFullPool(t)
	key := Key{Namespace: "guest", Action: "guest/f1", ContentHash: "h"}
	p.Step(t0.Add(6*time.Second), Request{ID: "busy", Spec: Spec{Key: key, Kind: "nodejs:20", MemoryMB: 256}})
	p.Step(t0.Add(6*time.Second), Suspend{C: 2})
	p.Step(t0.Add(6*time.Second), Rank{Order: []ContainerID{1, 2, 3, 4}})
	acts := p.Step(t0.Add(10*time.Second), Request{ID: "x", Spec: Spec{Key: Key{Namespace: "guest",
		Action: "guest/new"}, Kind: "nodejs:20", MemoryMB: 768}})
	assert.Equal(t, []Action{Buffered{ID: "x"}}, acts, "c3 and c4 free 512 MB of the 768 needed: nothing is evicted")
	assert.Empty(t, evictionsFor(t, p, "y", 256), "y queues behind x, which still cannot be served")
}

func TestNextDeadline(t *testing.T) {
	p := New(Config{PauseGrace: 10 * time.Second, IdleTimeout: time.Minute}, t0)
	_, ok := p.NextDeadline()
	assert.False(t, ok)
	fill(t, p, 1) // idle since 1s
	d, ok := p.NextDeadline()
	require.True(t, ok)
	assert.Equal(t, t0.Add(11*time.Second), d, "freeze after the grace")
	p.Step(d, Tick{})
	d, _ = p.NextDeadline()
	assert.Equal(t, t0.Add(61*time.Second), d, "then the idle timeout")
	assert.Equal(t, StateFrozen, p.Snapshot().Containers[0].State)
}

func TestSnapshotAccounting(t *testing.T) {
	p := New(Config{StemCells: []StemCell{{Kind: "nodejs:20", MemoryMB: 128, Count: 2}}}, t0)
	p.Step(t0, Tick{})
	p.Step(t0, Started{C: 1})
	s := p.Snapshot()
	assert.Equal(t, 256, s.UsedMB)
	assert.Equal(t, 1792, s.FreeMB())
	assert.Equal(t, 1, s.CountByState[StatePrewarmed])
	assert.Equal(t, 128, s.MemoryByState[StateStarting])
	assert.Zero(t, s.WarmContainers, "stem cells are not function containers")
	assert.Len(t, s.Containers, 2)
	assert.Equal(t, "used=256/2048 warm=0 starting=1/128MB prewarmed=1/128MB", s.Format())
}

func TestStepTimeNeverGoesBack(t *testing.T) {
	p := New(Config{PauseGrace: 10 * time.Second}, t0)
	fill(t, p, 1)
	p.Step(t0.Add(time.Hour), Tick{}) // freezes and removes on idle timeout
	acts := p.Step(t0, Tick{})
	assert.Empty(t, acts)
	assert.Equal(t, t0.Add(time.Hour), p.Snapshot().At)
}

func TestPinnedFunctionDoesNotTakeAnUnpinnedStemCell(t *testing.T) {
	now := time.Unix(1000, 0)
	p := New(Config{UserMemoryMB: 2048, StemCells: []StemCell{{Kind: "go:1.22", Image: "img", MemoryMB: 256, Count: 1}}}, now)
	var stem ContainerID
	for _, a := range p.Step(now, Tick{}) {
		if c, ok := a.(Create); ok {
			stem = c.C
		}
	}
	require.NotZero(t, stem, "stem cell created at start")
	p.Step(now, Started{C: stem})

	pinned := Spec{Key: Key{Namespace: "guest", Action: "guest/fw", ContentHash: "h"}, Kind: "go:1.22", Image: "img",
		MemoryMB: 256, Concurrency: 1, CPUSet: "3"}
	acts := p.Step(now, Request{ID: "a1", Spec: pinned})
	var created bool
	for _, a := range acts {
		switch a := a.(type) {
		case Create:
			created = true
			assert.Equal(t, "3", a.Spec.CPUSet)
		case Init:
			assert.NotEqual(t, stem, a.C, "the unpinned stem cell must not be used")
		}
	}
	assert.True(t, created, "a pinned container is created: %v", acts)
}
