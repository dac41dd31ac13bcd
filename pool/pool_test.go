package pool

import (
	"slices"
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
	assert.IsType(t, LRU{}, d.Evictor)

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

func cands(lastUsed ...int) []Candidate {
	var out []Candidate
	for i, s := range lastUsed {
		out = append(out, Candidate{C: ContainerID(i + 1), MemoryMB: 256, LastUsed: t0.Add(time.Duration(s) * time.Second)})
	}
	return out
}

func TestLRUVictims(t *testing.T) {
	assert.Equal(t, []ContainerID{2, 3}, LRU{}.Victims(t0, Need{MemoryMB: 300}, cands(5, 1, 3)))
	assert.Equal(t, []ContainerID{2}, LRU{}.Victims(t0, Need{Count: 1}, cands(5, 1, 3)))
	assert.Nil(t, LRU{}.Victims(t0, Need{MemoryMB: 1000}, cands(5, 1, 3)), "insufficient candidates: evict nothing")
}

// mru evicts the most recently used container first and records what the pool tells it.
type mru struct {
	used, evicted []ContainerID
	returnJunk    bool
}

func (e *mru) Victims(_ time.Time, need Need, cs []Candidate) []ContainerID {
	if e.returnJunk {
		return []ContainerID{999, 999}
	}
	slices.SortFunc(cs, func(a, b Candidate) int { return b.LastUsed.Compare(a.LastUsed) })
	var out []ContainerID
	mb := 0
	for _, c := range cs {
		if mb >= need.MemoryMB && len(out) >= need.Count {
			break
		}
		out = append(out, c.C)
		mb += c.MemoryMB
	}
	return out
}
func (e *mru) Used(_ time.Time, c Candidate)    { e.used = append(e.used, c.C) }
func (e *mru) Evicted(_ time.Time, c Candidate) { e.evicted = append(e.evicted, c.C) }

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

func TestPluggedEvictorIsHonoured(t *testing.T) {
	e := &mru{}
	p := New(Config{UserMemoryMB: 1024, MaxWarm: -1, ColdReserveMB: -1, PauseGrace: -1, Evictor: e}, t0)
	fill(t, p, 4)
	assert.Equal(t, []ContainerID{1, 2, 3, 4}, e.used)
	acts := p.Step(t0.Add(10*time.Second), Request{ID: "x", Spec: Spec{Key: Key{Namespace: "guest", Action: "guest/new"},
		Kind: "nodejs:20", MemoryMB: 256}})
	require.Contains(t, acts, Action(Remove{C: 4, Reason: "evicted for x"}), "the plugged evictor chose the most recent")
	assert.Equal(t, []ContainerID{4}, e.evicted)
	info, _ := p.Container(3)
	assert.Equal(t, 300*time.Millisecond, info.InitCost)
	assert.Equal(t, 1, info.Uses)
}

func TestEvictorReturningNonCandidatesEvictsNothing(t *testing.T) {
	p := New(Config{UserMemoryMB: 512, MaxWarm: -1, ColdReserveMB: -1, PauseGrace: -1, Evictor: &mru{returnJunk: true}}, t0)
	fill(t, p, 2)
	acts := p.Step(t0.Add(10*time.Second), Request{ID: "x", Spec: Spec{Key: Key{Namespace: "guest", Action: "guest/new"},
		Kind: "nodejs:20", MemoryMB: 256}})
	assert.Equal(t, []Action{Buffered{ID: "x"}}, acts)
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
