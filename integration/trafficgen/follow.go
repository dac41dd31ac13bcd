package trafficgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/clickshm"
)

// Coalescing stands in for NIC interrupt coalescing, which veth does not have (ethtool -C answers
// EOPNOTSUPP). A NIC with rx-usecs = R raises one interrupt per R µs of arrivals, so the receiver wakes up
// once for every batch of frames that reached the wire within R µs. The generator reproduces that effect
// on the receiver by sending such batches back to back (trains) while the harvester has coalescing on.
//
// It follows the NF's clickshm segment read-only (plain reads of the page, no mapping, no lock, no ack:
// to the writer and to the NF it is invisible). While the segment's writer is live and has BURST_ENABLE
// set, the train is TrainOn if given, else the frames a link of LineMbps carries in the published
// rx-usecs hint: round(rx_usecs × LineMbps / (8 × frame size)), at least 1. Otherwise the train is 1
// (smooth pacing).
type Coalescing struct {
	Path      string        // the clickshm segment
	FrameSize int           // bytes per frame (for the line-rate derivation)
	LineMbps  float64       // reference link rate of the derivation (the paper's sender: 1000)
	TrainOn   int           // fixed train while coalescing; 0 = derive from rx-usecs
	Interval  time.Duration // poll period; default 10 ms

	train    atomic.Int64
	switches atomic.Uint64
	polls    atomic.Uint64
	errors   atomic.Uint64
}

// SegmentView is what the generator reads from a clickshm page.
type SegmentView struct {
	Enable, Closed bool
	Burst, RxUsecs uint32
	HeartbeatNs    uint64
	LeaseMs        uint32
}

// ReadSegment reads the writer's line of a clickshm page with plain reads, honouring the seqlock (equal
// even seq before and after the copy; bounded retries).
func ReadSegment(path string) (SegmentView, error) {
	f, err := os.Open(path)
	if err != nil {
		return SegmentView{}, err
	}
	defer f.Close()
	buf := make([]byte, clickshm.HeaderSize)
	le := binary.LittleEndian
	for range 8 {
		if n, err := f.ReadAt(buf, 0); n < len(buf) {
			return SegmentView{}, fmt.Errorf("trafficgen: segment %s: %d bytes: %v", path, n, err)
		}
		if le.Uint32(buf[clickshm.OffMagic:]) != clickshm.Magic {
			return SegmentView{}, fmt.Errorf("trafficgen: segment %s: %w", path, clickshm.ErrNotReady)
		}
		seq := le.Uint32(buf[clickshm.OffSeq:])
		v := SegmentView{
			Enable:      le.Uint32(buf[clickshm.OffFlags:])&clickshm.FlagBurstEnable != 0,
			Closed:      le.Uint32(buf[clickshm.OffFlags:])&clickshm.FlagWriterClosed != 0,
			Burst:       le.Uint32(buf[clickshm.OffBurst:]),
			RxUsecs:     le.Uint32(buf[clickshm.OffRxUsecs:]),
			HeartbeatNs: le.Uint64(buf[clickshm.OffHeartbeatNs:]),
			LeaseMs:     le.Uint32(buf[clickshm.OffLeaseMs:]),
		}
		var again [4]byte
		if _, err := f.ReadAt(again[:], clickshm.OffSeq); err != nil {
			return SegmentView{}, err
		}
		if seq%2 == 0 && le.Uint32(again[:]) == seq {
			return v, nil
		}
		time.Sleep(50 * time.Microsecond)
	}
	return SegmentView{}, fmt.Errorf("trafficgen: segment %s: seqlock did not settle", path)
}

// TrainFor is the decision: the train length for a segment view at monotonic time nowNs.
func (c *Coalescing) TrainFor(v SegmentView, nowNs uint64) int {
	lease := uint64(max(v.LeaseMs, 1)) * uint64(time.Millisecond)
	live := !v.Closed && nowNs <= v.HeartbeatNs+3*lease
	if !live || !v.Enable {
		return 1
	}
	if c.TrainOn > 0 {
		return c.TrainOn
	}
	if c.FrameSize <= 0 || c.LineMbps <= 0 {
		return 1
	}
	n := math.Round(float64(v.RxUsecs) * 1e-6 * c.LineMbps * 1e6 / float64(8*c.FrameSize))
	return int(min(max(n, 1), 1024))
}

// Train is the current train length (1 before the first successful poll).
func (c *Coalescing) Train() int {
	if t := c.train.Load(); t > 0 {
		return int(t)
	}
	return 1
}

// Stats reports how many times the train changed, polls made and failed reads.
func (c *Coalescing) Stats() (switches, polls, errors uint64) {
	return c.switches.Load(), c.polls.Load(), c.errors.Load()
}

// Follow polls the segment until ctx ends. A missing or unreadable segment means no coalescing.
func (c *Coalescing) Follow(ctx context.Context) {
	iv := c.Interval
	if iv <= 0 {
		iv = 10 * time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		c.poll()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Coalescing) poll() {
	c.polls.Add(1)
	train := 1
	if v, err := ReadSegment(c.Path); err != nil {
		c.errors.Add(1)
	} else {
		train = c.TrainFor(v, monotonicNs())
	}
	if old := max(c.train.Swap(int64(train)), 1); old != int64(train) {
		c.switches.Add(1)
	}
}

func monotonicNs() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
