package harvester

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAccountantSplitsByTagAndHarvestState(t *testing.T) {
	a := NewAccountant()
	ms := time.Millisecond
	big, small := Tag{"fw", 1500}, Tag{"fw", 64}
	assert.InDelta(t, 0.4, a.Add(big, 40*ms, 100*ms, 1, false), 1e-9)
	assert.InDelta(t, 0.2, a.Add(big, 20*ms, 100*ms, 1, true), 1e-9)
	assert.InDelta(t, 1.0, a.Add(small, 300*ms, 100*ms, 1, true), 1e-9, "clamped to 1")
	assert.InDelta(t, 1.0, a.Add(small, 0, 0, 1, true), 1e-9, "zero wall: last value, nothing recorded")

	stats := a.Stats(func(string) int { return 1 })
	assert.Len(t, stats, 2)
	s, b := stats[0], stats[1]
	assert.Equal(t, small, s.Tag, "sorted by size")
	assert.Equal(t, big, b.Tag)
	assert.InDelta(t, 0.3, b.Utilisation, 1e-9)
	assert.InDelta(t, 0.5, b.HarvestShare, 1e-9)
	assert.Equal(t, 80*ms, b.HarvestSpare)
	assert.Equal(t, -1.0, b.LastUtilisation, "not the NF's current tag")
	assert.Equal(t, 1.0, s.LastUtilisation)
	assert.Equal(t, time.Duration(0), s.HarvestSpare, "a saturated NF has nothing to harvest")
}

func TestAccountantNormalisesByCores(t *testing.T) {
	a := NewAccountant()
	u := a.Add(Tag{"nat", 1024}, 100*time.Millisecond, 100*time.Millisecond, 4, true)
	assert.InDelta(t, 0.25, u, 1e-9)
	st := a.Stats(func(string) int { return 4 })[0]
	assert.Equal(t, 300*time.Millisecond, st.HarvestSpare, "3 idle cores for 100 ms")
}
