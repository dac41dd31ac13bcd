package harvester

import (
	"slices"
	"time"
)

// Accountant accumulates NF CPU utilisation and harvested spare cycles per
// tag. Pure: the sampler feeds it deltas. Not safe for concurrent use.
type Accountant struct {
	byTag map[Tag]*tagAccount
	last  map[string]nfLast
}

type tagAccount struct {
	Wall        time.Duration // time the NF spent in this tag
	CPU         time.Duration // CPU time it consumed meanwhile
	HarvestWall time.Duration // part of Wall during which harvesting was on
	// HarvestSpare is the spare capacity (core-seconds, as a Duration) of the
	// NF's cores while harvesting was on: what edge functions could use.
	HarvestSpare time.Duration
}

type nfLast struct {
	tag  Tag
	util float64
}

// NewAccountant returns an empty Accountant.
func NewAccountant() *Accountant {
	return &Accountant{byTag: map[Tag]*tagAccount{}, last: map[string]nfLast{}}
}

// Add records one sample: the NF used cpu over wall on cores cores, in tag,
// with harvesting on or off. Returns the sample's utilisation in [0, 1].
func (a *Accountant) Add(tag Tag, cpu, wall time.Duration, cores int, harvesting bool) float64 {
	if wall <= 0 {
		return a.last[tag.NF].util
	}
	cores = max(cores, 1)
	cpu = max(cpu, 0)
	util := min(float64(cpu)/(float64(wall)*float64(cores)), 1)
	t := a.byTag[tag]
	if t == nil {
		t = &tagAccount{}
		a.byTag[tag] = t
	}
	t.Wall += wall
	t.CPU += cpu
	if harvesting {
		t.HarvestWall += wall
		t.HarvestSpare += time.Duration((1 - util) * float64(wall) * float64(cores))
	}
	a.last[tag.NF] = nfLast{tag: tag, util: util}
	return util
}

// TagStats is a read-only view of one tag's account.
type TagStats struct {
	Tag          Tag
	Wall, CPU    time.Duration
	HarvestWall  time.Duration
	HarvestSpare time.Duration
	// Utilisation is CPU / (Wall * cores) over the whole account.
	Utilisation float64
	// HarvestShare is HarvestWall / Wall.
	HarvestShare float64
	// LastUtilisation is the most recent sample when this is the NF's current tag, else -1.
	LastUtilisation float64
}

// Stats returns every tag's account, sorted by NF then packet size.
func (a *Accountant) Stats(coresOf func(nf string) int) []TagStats {
	out := make([]TagStats, 0, len(a.byTag))
	for tag, t := range a.byTag {
		s := TagStats{Tag: tag, Wall: t.Wall, CPU: t.CPU, HarvestWall: t.HarvestWall, HarvestSpare: t.HarvestSpare, LastUtilisation: -1}
		if t.Wall > 0 {
			s.Utilisation = min(float64(t.CPU)/(float64(t.Wall)*float64(max(coresOf(tag.NF), 1))), 1)
			s.HarvestShare = float64(t.HarvestWall) / float64(t.Wall)
		}
		if l, ok := a.last[tag.NF]; ok && l.tag == tag {
			s.LastUtilisation = l.util
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y TagStats) int {
		if x.Tag.NF != y.Tag.NF {
			if x.Tag.NF < y.Tag.NF {
				return -1
			}
			return 1
		}
		return x.Tag.PktSize - y.Tag.PktSize
	})
	return out
}
