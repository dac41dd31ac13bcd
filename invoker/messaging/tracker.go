package messaging

import "sort"

// offsetTracker decides, per partition, which offset may be committed. It is pure bookkeeping (no I/O,
// no locking: the Feed holds its mutex around every call) so the commit rule can be tested alone.
//
// Records of a partition are delivered in offset order. The commit point is the offset of the oldest
// delivered record that is not done yet, or the last delivered offset + 1 when every delivered record is
// done. Kafka offsets may have holes (control records, compaction); counting delivered records rather
// than offsets makes holes harmless.
type offsetTracker struct {
	parts map[int32]*partitionState
}

type partitionState struct {
	// floor is the commit point the group reported when the partition was (re)claimed; -1 unknown.
	// Our own commit point never goes below it.
	floor int64
	// lastDelivered is the highest offset handed to the handler by this process; -1 none.
	lastDelivered int64
	// pending holds delivered records in offset order from the oldest one not yet done.
	pending []pendingRecord
	// hwm is the partition's high water mark (next offset to be written); -1 unknown.
	hwm int64
	// oldest is the partition's log start offset, used for lag while the commit point is unknown; -1 unknown.
	oldest int64
}

type pendingRecord struct {
	offset int64
	done   bool
}

func newOffsetTracker() *offsetTracker {
	return &offsetTracker{parts: map[int32]*partitionState{}}
}

func (t *offsetTracker) part(p int32) *partitionState {
	ps, ok := t.parts[p]
	if !ok {
		ps = &partitionState{floor: -1, lastDelivered: -1, hwm: -1, oldest: -1}
		t.parts[p] = ps
	}
	return ps
}

// claimed records that a session claimed partition p starting at initial (a real offset, or a negative
// sarama sentinel when the group has no committed offset yet).
func (t *offsetTracker) claimed(p int32, initial int64) {
	ps := t.part(p)
	if initial >= 0 && initial > ps.floor {
		ps.floor = initial
	}
}

// seen reports whether offset was already handed out by this process: a new session after a rebalance
// starts at the committed offset and re-fetches records that are still running or done but uncommitted.
func (t *offsetTracker) seen(p int32, offset int64) bool {
	return offset <= t.part(p).lastDelivered
}

// deliverable reports whether offset is within maxUncommitted of the commit point (0 = no limit).
func (t *offsetTracker) deliverable(p int32, offset int64, maxUncommitted int64) bool {
	if maxUncommitted <= 0 {
		return true
	}
	cp := t.commitPoint(p)
	return cp < 0 || offset-cp < maxUncommitted
}

// delivered records that offset was handed to the handler.
func (t *offsetTracker) delivered(p int32, offset int64) {
	ps := t.part(p)
	ps.pending = append(ps.pending, pendingRecord{offset: offset})
	ps.lastDelivered = offset
}

// done marks a delivered offset finished. Unknown offsets are ignored (reports false).
func (t *offsetTracker) done(p int32, offset int64) bool {
	ps := t.part(p)
	i := sort.Search(len(ps.pending), func(i int) bool { return ps.pending[i].offset >= offset })
	if i == len(ps.pending) || ps.pending[i].offset != offset || ps.pending[i].done {
		return false
	}
	ps.pending[i].done = true
	n := 0
	for n < len(ps.pending) && ps.pending[n].done {
		n++
	}
	if n > 0 {
		ps.pending = append(ps.pending[:0], ps.pending[n:]...)
	}
	return true
}

// commitPoint is the offset to commit for p (the next offset a restarted consumer should read), or -1
// when nothing is known yet.
func (t *offsetTracker) commitPoint(p int32) int64 {
	ps := t.part(p)
	cp := ps.floor
	switch {
	case len(ps.pending) > 0:
		cp = max(cp, ps.pending[0].offset)
	case ps.lastDelivered >= 0:
		cp = max(cp, ps.lastDelivered+1)
	}
	return cp
}

// observeOffsets records a partition's log bounds (either may be -1 = not known).
func (t *offsetTracker) observeOffsets(p int32, oldest, hwm int64) {
	ps := t.part(p)
	if hwm > ps.hwm {
		ps.hwm = hwm
	}
	if oldest >= 0 {
		ps.oldest = oldest
	}
}

// lag is the number of records between the commit point and the high water mark over all partitions:
// records not yet fetched, waiting in the prefetch buffer, running, or done above an unfinished one.
func (t *offsetTracker) lag() int64 {
	var total int64
	for p, ps := range t.parts {
		if ps.hwm < 0 {
			continue
		}
		from := t.commitPoint(p)
		if from < 0 {
			from = max(ps.oldest, 0)
		}
		if ps.hwm > from {
			total += ps.hwm - from
		}
	}
	return total
}
