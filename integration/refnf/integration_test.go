//go:build integration

package refnf_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
	"github.com/nemo-edge/nemo/integration/trafficgen"
)

// lossTolerance: the NF must count at least this fraction of the frames the
// generator handed to the veth, and never more than were sent. The socket
// gets a 4 MiB receive buffer, so losses only come from a starved NF thread.
const lossTolerance = 0.01

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNFCountsPacketsAndFollowsClickshm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and AF_PACKET sockets")
	}
	if !netns.HaveIPTool() {
		t.Skip("the ip tool (iproute2) is not installed")
	}
	id := os.Getpid() % 100000
	pair := netns.Pair{
		NFNetns: fmt.Sprintf("nemo-itnf%d", id), PeerNetns: fmt.Sprintf("nemo-ittg%d", id),
		NFIf: fmt.Sprintf("itin%d", id), PeerIf: fmt.Sprintf("itout%d", id),
		NFMAC: "02:77:00:00:01:02", PeerMAC: "02:77:00:00:01:01",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := pair.Teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	if _, err := pair.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pair.Ensure(ctx); err != nil { // idempotent
		t.Fatalf("second Ensure: %v", err)
	}

	conn, err := refnf.OpenPacketConn(refnf.PacketConnConfig{Netns: pair.NFNetns, Ifname: pair.NFIf, RcvBuf: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	proc, err := refnf.NewProcessor("nat", refnf.ProcessorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eng := refnf.NewEngine(conn, proc, refnf.EngineConfig{Burst: 1, Forward: true, WaitTimeout: 20 * time.Millisecond})

	shmPath := filepath.Join(t.TempDir(), "nemo-nf")
	w, err := clickshm.Create(shmPath, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Publish(clickshm.Settings{Enable: false, Burst: 32}); err != nil {
		t.Fatal(err)
	}
	follower := refnf.NewFollower(shmPath, refnf.OpenShm, eng.SetBurst, 1, refnf.MaxBurst)

	runCtx, stop := context.WithCancel(ctx)
	engDone := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		engDone <- eng.Run(runCtx)
	}()
	folDone := make(chan struct{})
	go func() { follower.Run(runCtx, 5*time.Millisecond); close(folDone) }()
	defer func() {
		stop()
		if err := <-engDone; err != nil {
			t.Errorf("engine: %v", err)
		}
		<-folDone
	}()

	sender, err := trafficgen.OpenSender(pair.PeerNetns, pair.PeerIf, true)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	dmac, _ := net.ParseMAC(pair.NFMAC)
	frames, err := trafficgen.BuildFrames(trafficgen.FrameSpec{
		Size: 512, SrcMAC: sender.HardwareAddr(), DstMAC: dmac,
		Src: netip.MustParseAddr("10.77.0.1"), Dst: netip.MustParseAddr("10.77.0.2"),
		SrcPort: 10000, DstPort: 9, Flows: 32,
	})
	if err != nil {
		t.Fatal(err)
	}

	snap := func() refnf.Stats { return refnf.Snapshot("nat", time.Now(), eng, conn, follower) }
	const n = 3000
	send := func(phase string, train int) refnf.Stats {
		t.Helper()
		before := snap()
		res, err := trafficgen.Run(ctx, trafficgen.Config{Rate: 10000, Train: train, Count: n}, frames, sender, trafficgen.RealClock{})
		if err != nil {
			t.Fatalf("%s: send: %v", phase, err)
		}
		if res.Sent+res.Failed != n {
			t.Fatalf("%s: generator sent %d + failed %d, want %d", phase, res.Sent, res.Failed, n)
		}
		minCount := uint64(float64(res.Sent) * (1 - lossTolerance))
		// Give the NF time to drain its socket queue.
		deadline := time.Now().Add(5 * time.Second)
		for snap().Sub(before).Packets < res.Sent && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		d := snap().Sub(before)
		t.Logf("%s: sent %d, NF counted %d (kernel drops %d), %d wake-ups, %d recv calls, burst %d",
			phase, res.Sent, d.Packets, d.KernelDrops, d.Wakeups, d.RecvCalls, d.Burst)
		if d.Packets < minCount || d.Packets > res.Sent {
			t.Fatalf("%s: NF counted %d of %d frames (tolerance %.0f%%)", phase, d.Packets, res.Sent, lossTolerance*100)
		}
		if d.Accepted != d.Packets || d.Invalid != 0 {
			t.Fatalf("%s: accepted %d invalid %d of %d", phase, d.Accepted, d.Invalid, d.Packets)
		}
		return d
	}

	// Phase 1: harvest off (Enable=false) — the NF acks and reads one frame per recvfrom.
	waitFor(t, "ack of the initial seq", 2*time.Second, func() bool {
		a, _ := w.ReaderAck()
		return a.AckSeq == w.Seq() && a.AppliedBurst == 1
	})
	off := send("burst off", 1)
	if off.RecvCalls != off.Packets+off.Empty {
		t.Fatalf("burst off: %d recv calls for %d packets (+%d empty): want one recvfrom per packet", off.RecvCalls, off.Packets, off.Empty)
	}

	// Phase 2: harvest on at run time, burst 32, published through clickshm.
	if err := w.Publish(clickshm.Settings{Enable: true, Burst: 32}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NF to apply and ack burst 32", 2*time.Second, func() bool {
		a, _ := w.ReaderAck()
		return a.AckSeq == w.Seq() && a.AppliedBurst == 32 && eng.Burst() == 32
	})
	on := send("burst on", 16)
	if on.RecvCalls >= on.Packets {
		t.Fatalf("burst on with trains of 16: %d recv calls for %d packets, want fewer calls than packets", on.RecvCalls, on.Packets)
	}

	// Phase 3: the writer goes away cleanly — the NF falls back to its default.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fallback to burst 1 after writer close", 2*time.Second, func() bool { return eng.Burst() == 1 })
}

func TestPairTeardownIsIdempotent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if !netns.HaveIPTool() {
		t.Skip("the ip tool (iproute2) is not installed")
	}
	id := os.Getpid() % 100000
	pair := netns.Pair{NFNetns: fmt.Sprintf("nemo-itx%d", id), NFIf: fmt.Sprintf("itx%d", id), PeerIf: fmt.Sprintf("ity%d", id), PeerNetns: fmt.Sprintf("nemo-ity%d", id)}
	ctx := context.Background()
	if created, err := pair.Ensure(ctx); err != nil || !created {
		t.Fatalf("Ensure: created=%v err=%v", created, err)
	}
	if _, err := netns.Interface(pair.NFNetns, pair.NFIf); err != nil {
		t.Fatalf("NF end missing: %v", err)
	}
	if err := pair.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pair.Teardown(ctx); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if netns.Exists(pair.NFNetns) || netns.Exists(pair.PeerNetns) {
		t.Fatal("namespaces still present after teardown")
	}
}
