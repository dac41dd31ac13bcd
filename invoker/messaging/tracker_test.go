package messaging

import "testing"

// Each step applies one operation to partition 0 and states the commit point after it.
type trackerStep struct {
	op     string // "claim", "deliver", "done"
	offset int64
	want   int64
}

func TestTrackerCommitsContiguousDonePrefix(t *testing.T) {
	for name, steps := range map[string][]trackerStep{
		"in order": {
			{"deliver", 0, 0}, {"deliver", 1, 0}, {"done", 0, 1}, {"done", 1, 2},
		},
		"out of order": {
			{"deliver", 0, 0}, {"deliver", 1, 0}, {"deliver", 2, 0}, {"deliver", 3, 0}, {"deliver", 4, 0},
			{"done", 2, 0}, {"done", 3, 0}, {"done", 0, 1}, {"done", 1, 4}, {"done", 4, 5},
		},
		"offset holes (compaction, control records)": {
			{"deliver", 3, 3}, {"deliver", 7, 3}, {"done", 7, 3}, {"done", 3, 8},
		},
		"claim sets the floor": {
			{"claim", 10, 10}, {"deliver", 10, 10}, {"done", 10, 11},
		},
		"unknown claim (fresh group) leaves it unknown": {
			{"claim", -2, -1}, {"deliver", 0, 0}, {"done", 0, 1},
		},
		"another member committed past our unfinished record": {
			{"deliver", 0, 0}, {"deliver", 1, 0}, {"claim", 5, 5}, {"done", 1, 5}, {"done", 0, 5},
		},
		"double and unknown done are ignored": {
			{"deliver", 0, 0}, {"deliver", 1, 0}, {"done", 1, 0}, {"done", 1, 0}, {"done", 9, 0}, {"done", 0, 2},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tr := newOffsetTracker()
			for i, s := range steps {
				switch s.op {
				case "claim":
					tr.claimed(0, s.offset)
				case "deliver":
					tr.delivered(0, s.offset)
				case "done":
					tr.done(0, s.offset)
				}
				if got := tr.commitPoint(0); got != s.want {
					t.Fatalf("step %d (%s %d): commit point %d, want %d", i, s.op, s.offset, got, s.want)
				}
			}
		})
	}
}

func TestTrackerSeenAndWindow(t *testing.T) {
	tr := newOffsetTracker()
	for o := int64(0); o < 3; o++ {
		tr.delivered(0, o)
	}
	if !tr.seen(0, 2) || tr.seen(0, 3) {
		t.Errorf("seen: offsets up to the last delivered one count as seen")
	}
	if !tr.deliverable(0, 3, 4) || tr.deliverable(0, 4, 4) || !tr.deliverable(0, 100, 0) {
		t.Errorf("window of 4 from commit point 0 admits offset 3, not 4; window 0 admits all")
	}
	tr.done(0, 0)
	if !tr.deliverable(0, 4, 4) {
		t.Errorf("window moves with the commit point")
	}
}

func TestTrackerLag(t *testing.T) {
	tr := newOffsetTracker()
	tr.claimed(0, -2)
	tr.observeOffsets(0, 2, 10)
	if got := tr.lag(); got != 8 {
		t.Errorf("fresh group: lag %d, want hwm 10 - log start 2 = 8", got)
	}
	tr.delivered(0, 2)
	tr.delivered(0, 3)
	tr.done(0, 2)
	if got := tr.lag(); got != 7 {
		t.Errorf("lag %d, want 10 - 3", got)
	}
	tr.observeOffsets(0, -1, 4) // stale reading never lowers the high water mark
	if got := tr.lag(); got != 7 {
		t.Errorf("lag %d after stale hwm, want 7", got)
	}
}
