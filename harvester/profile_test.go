package harvester

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBucket(t *testing.T) {
	for _, tc := range []struct {
		avg  float64
		want int
	}{
		{0, 64}, {42, 64}, {60, 64}, {114, 64}, {116, 128}, {124, 128}, {252, 256}, {460, 256}, {461, 512},
		{508, 512}, {700, 512}, {921, 512}, {922, 1024}, {1020, 1024}, {1349, 1024}, {1350, 1500},
		{1514, 1500}, {9000, 1500},
	} {
		assert.Equal(t, tc.want, Bucket(tc.avg), "avg %v", tc.avg)
	}
}

func TestDefaultProfilesFollowThePaper(t *testing.T) {
	p := NewProfiles(nil, 60)
	for _, size := range []int{IdleBucket, 64, 128, 256} {
		assert.False(t, p.Lookup(Tag{"x", size}).Harvests(), "size %d: NFs saturated, no harvesting", size)
	}
	small, mid, big := p.Lookup(Tag{"x", 512}), p.Lookup(Tag{"x", 1024}), p.Lookup(Tag{"x", 1500})
	assert.True(t, small.Harvests())
	assert.Less(t, small.RxUsecs, mid.RxUsecs, "512 gets less than 1024")
	assert.Less(t, mid.RxUsecs, big.RxUsecs)
	assert.LessOrEqual(t, small.Burst, mid.Burst)
	assert.Less(t, big.RxUsecs, uint32(60), "rx-usecs kept below ~60 µs")
}

func TestProfileLookupPrecedenceAndCap(t *testing.T) {
	p := NewProfiles([]ProfileConfig{
		{NF: "*", PktSize: 1024, RxUsecs: 20, Burst: 8},
		{NF: "lb", PktSize: 1024, RxUsecs: 45, Burst: 64},
		{NF: "nat", PktSize: 1500, RxUsecs: 500, Burst: 2},
	}, 60)
	assert.Equal(t, Setting{45, 64}, p.Lookup(Tag{"lb", 1024}), "exact entry first")
	assert.Equal(t, Setting{20, 8}, p.Lookup(Tag{"fw", 1024}), "then the wildcard")
	assert.Equal(t, Setting{60, 2}, p.Lookup(Tag{"nat", 1500}), "rx-usecs capped")
	assert.Equal(t, Setting{}, p.Lookup(Tag{"fw", 333}), "unknown size: off")
}

func TestTagLabel(t *testing.T) {
	assert.Equal(t, "idle", Tag{"fw", 0}.Label())
	assert.Equal(t, "1024", Tag{"fw", 1024}.Label())
	assert.Equal(t, "(fw, 64)", Tag{"fw", 64}.String())
}
