package trafficgen

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
)

func TestCoalescingTrainFor(t *testing.T) {
	const now = uint64(100 * time.Second)
	live := SegmentView{Enable: true, RxUsecs: 30, HeartbeatNs: now - uint64(time.Millisecond), LeaseMs: 1000}
	for _, c := range []struct {
		name string
		c    *Coalescing
		v    SegmentView
		want int
	}{
		// 1 Gb/s of 1024-byte frames is 122 070 frames/s: 3.66 of them arrive within 30 µs.
		{"derived from rx-usecs, 1024 B", &Coalescing{FrameSize: 1024, LineMbps: 1000}, live, 4},
		{"derived from rx-usecs, 1500 B, 50 µs", &Coalescing{FrameSize: 1500, LineMbps: 1000},
			SegmentView{Enable: true, RxUsecs: 50, HeartbeatNs: now, LeaseMs: 1000}, 4},
		{"fixed train", &Coalescing{FrameSize: 1024, LineMbps: 1000, TrainOn: 16}, live, 16},
		{"harvesting off", &Coalescing{FrameSize: 1024, LineMbps: 1000, TrainOn: 16},
			SegmentView{Enable: false, RxUsecs: 30, HeartbeatNs: now, LeaseMs: 1000}, 1},
		{"writer closed", &Coalescing{TrainOn: 16},
			SegmentView{Enable: true, Closed: true, HeartbeatNs: now, LeaseMs: 1000}, 1},
		{"writer dead (no heartbeat for 3 leases)", &Coalescing{TrainOn: 16},
			SegmentView{Enable: true, HeartbeatNs: now - uint64(4*time.Second), LeaseMs: 1000}, 1},
		{"no rx-usecs hint", &Coalescing{FrameSize: 1024, LineMbps: 1000},
			SegmentView{Enable: true, HeartbeatNs: now, LeaseMs: 1000}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.c.TrainFor(c.v, now); got != c.want {
				t.Fatalf("TrainFor = %d, want %d", got, c.want)
			}
		})
	}
}

// The generator reads what a real clickshm.Writer publishes, without attaching as a reader.
func TestCoalescingFollowsARealSegment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg")
	w, err := clickshm.Create(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := &Coalescing{Path: path, FrameSize: 1500, LineMbps: 1000, Interval: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Follow(ctx)
	waitTrain := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); c.Train() != want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("train %d, want %d", c.Train(), want)
			}
		}
	}
	waitTrain(1)
	if err := w.Publish(clickshm.Settings{Enable: true, Burst: 32, RxUsecs: 50}); err != nil {
		t.Fatal(err)
	}
	waitTrain(4)
	v, err := ReadSegment(path)
	if err != nil || !v.Enable || v.Burst != 32 || v.RxUsecs != 50 {
		t.Fatalf("ReadSegment = %+v, %v", v, err)
	}
	if err := w.Publish(clickshm.Settings{Enable: false, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	waitTrain(1)
	if sw, _, _ := c.Stats(); sw != 2 {
		t.Fatalf("%d train switches, want 2 (on, off)", sw)
	}
	// The follower is invisible on the segment: the reader line (pid, flags, ack) is untouched.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if pid, flags, ack := le.Uint32(raw[clickshm.OffReaderPID:]), le.Uint32(raw[clickshm.OffReaderFlags:]),
		le.Uint32(raw[clickshm.OffAckSeq:]); pid != 0 || flags != 0 || ack != 0 {
		t.Fatalf("reader line written: pid %d flags %#x ack_seq %d", pid, flags, ack)
	}
}

// With TrainFn the loop switches between smooth pacing and trains at run time, and counts the frames it
// sent in trains.
func TestRunFollowsTrainFn(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	s := &recSender{clk: clk, cost: time.Microsecond}
	start := clk.now
	trainFn := func() int {
		if clk.now.Sub(start) >= 500*time.Millisecond {
			return 8
		}
		return 1
	}
	res, err := Run(context.Background(), Config{Rate: 1000, Train: 1, Duration: time.Second, TrainFn: trainFn},
		testFrames(t), s, clk)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 990 || res.Sent > 1010 {
		t.Fatalf("sent %d, want ~1000: switching the train keeps the rate", res.Sent)
	}
	ones, eights := 0, 0
	for i, n := range s.calls {
		switch {
		case n == 1 && s.times[i].Sub(start) < 500*time.Millisecond:
			ones++
		case n == 8 && s.times[i].Sub(start) >= 500*time.Millisecond:
			eights++
		default:
			t.Fatalf("call %d at %v sent %d frames", i, s.times[i].Sub(start), n)
		}
	}
	if ones < 490 || eights < 60 {
		t.Fatalf("%d smooth sends before the switch, %d trains after; want ~500 and ~62", ones, eights)
	}
	if res.InTrains != uint64(8*eights) {
		t.Fatalf("frames in trains %d, want %d", res.InTrains, 8*eights)
	}
}
