package harvester

import (
	"fmt"
	"slices"
	"strconv"
)

// Buckets are the packet sizes of the paper's characterisation (§3.1), in bytes.
var Buckets = []int{64, 128, 256, 512, 1024, 1500}

// IdleBucket is the packet-size bucket of an NF that has not yet received
// enough packets to be measured.
const IdleBucket = 0

// bucketTolerance lets a measured average a little below a bucket count as
// that bucket: interface counters exclude the FCS (a 64-byte frame counts 60
// bytes, a 1518-byte frame 1514). Rounding down otherwise keeps the choice
// conservative: a smaller bucket never harvests more.
const bucketTolerance = 0.9

// Bucket maps an average received frame size onto the largest bucket b with
// avg >= 0.9*b, and to 64 below that.
func Bucket(avgBytes float64) int {
	b := Buckets[0]
	for _, s := range Buckets {
		if avgBytes >= bucketTolerance*float64(s) {
			b = s
		}
	}
	return b
}

// Tag identifies an NF's harvesting regime (paper §4.2): (nf_name, pkt_size).
type Tag struct {
	NF      string
	PktSize int // a Bucket, or IdleBucket
}

// Label is the tag's metrics label value, e.g. "1024" or "idle".
func (t Tag) Label() string {
	if t.PktSize == IdleBucket {
		return "idle"
	}
	return strconv.Itoa(t.PktSize)
}

func (t Tag) String() string { return fmt.Sprintf("(%s, %s)", t.NF, t.Label()) }

// Setting is what harvesting means for one tag.
type Setting struct {
	RxUsecs uint32 // NIC rx-usecs while harvesting; 0 = leave the NIC alone
	Burst   uint32 // Click burst while harvesting; <= 1 = no burst
}

// Harvests reports whether the setting changes anything.
func (s Setting) Harvests() bool { return s.RxUsecs > 0 || s.Burst > 1 }

type profileKey struct {
	nf   string
	size int
}

// DefaultProfiles is NEMO's built-in profile table. Its shape follows the
// paper: NFs are saturated below 512-byte packets (§3.1.1: no slack, so no
// harvesting), idle cycles appear at 1024 and 1500 bytes, where coalescing
// plus burst adds 3-27 % more (§3.1.2), and rx-usecs stays under the ~60 µs
// the paper keeps below (§3.3). The numbers themselves are NEMO's choices
// within those bounds, not values the paper reports (it publishes no table)
// and not tuned on NIC hardware: 512 bytes gets a minimal setting (8 µs,
// burst 4), 1024 and 1500 bytes more (30 µs/16, 50 µs/32). An idle NF stays
// off until measured. Operators tune them per NF with Config.Profiles;
// docs/nf-burst.md measures the burst side on the reference NF.
func DefaultProfiles() []ProfileConfig {
	return []ProfileConfig{
		{NF: "*", PktSize: IdleBucket},
		{NF: "*", PktSize: 64},
		{NF: "*", PktSize: 128},
		{NF: "*", PktSize: 256},
		{NF: "*", PktSize: 512, RxUsecs: 8, Burst: 4},
		{NF: "*", PktSize: 1024, RxUsecs: 30, Burst: 16},
		{NF: "*", PktSize: 1500, RxUsecs: 50, Burst: 32},
	}
}

// Profiles maps tags to settings. Lookup order: exact (nf, size), then
// ("*", size), then off. Immutable after construction.
type Profiles struct {
	m      map[profileKey]Setting
	maxRx  uint32
	capped []string
}

// NewProfiles layers overrides on DefaultProfiles and caps rx-usecs at maxRx.
func NewProfiles(overrides []ProfileConfig, maxRx uint32) *Profiles {
	p := &Profiles{m: map[profileKey]Setting{}, maxRx: maxRx}
	for _, e := range slices.Concat(DefaultProfiles(), overrides) {
		s := Setting{RxUsecs: e.RxUsecs, Burst: e.Burst}
		if s.RxUsecs > maxRx {
			s.RxUsecs = maxRx
			p.capped = append(p.capped, fmt.Sprintf("(%s,%d)", e.NF, e.PktSize))
		}
		p.m[profileKey{e.NF, e.PktSize}] = s
	}
	return p
}

// Lookup returns the setting for t.
func (p *Profiles) Lookup(t Tag) Setting {
	if s, ok := p.m[profileKey{t.NF, t.PktSize}]; ok {
		return s
	}
	if s, ok := p.m[profileKey{"*", t.PktSize}]; ok {
		return s
	}
	return Setting{}
}
