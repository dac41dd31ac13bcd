// Command trafficgen sends paced UDP frames of a fixed size into the
// project's veth pair (TEST EQUIPMENT, see package trafficgen) and prints one
// JSON result line. It always stops by itself: -duration or -count is
// required, and trafficgen.MaxDuration caps the run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
	"github.com/nemo-edge/nemo/integration/trafficgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "trafficgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("trafficgen", flag.ContinueOnError)
	def := netns.DefaultPair()
	var (
		nsName   = fs.String("netns", def.PeerNetns, "namespace of the sending interface (\"\" = current)")
		ifname   = fs.String("if", def.PeerIf, "interface to send on (the veth peer of the NF)")
		dstMAC   = fs.String("dst-mac", def.NFMAC, "destination MAC (the NF interface)")
		src      = fs.String("src", "10.77.0.1", "source IPv4 (must be in 10.77.0.0/24)")
		dst      = fs.String("dst", "10.77.0.2", "destination IPv4 (must be in 10.77.0.0/24)")
		sport    = fs.Uint("sport", 10000, "first source port")
		dport    = fs.Uint("dport", 9, "destination port")
		flows    = fs.Int("flows", 64, "number of flows (source ports sport..sport+flows-1)")
		size     = fs.Int("size", 64, "Ethernet frame size in bytes without FCS (42..1514)")
		pps      = fs.Float64("pps", 0, "rate in frames per second")
		mbps     = fs.Float64("mbps", 0, "rate in Mbit/s of frame bytes (alternative to -pps)")
		train    = fs.Int("train", 1, "frames per token release, sent back to back (1 = smooth pacing)")
		duration = fs.Duration("duration", 0, "stop after this long (capped at 3h)")
		count    = fs.Uint64("count", 0, "stop after this many frames")
		cpu      = fs.Int("cpu", -1, "pin the process to this CPU (-1 = no pinning)")
		rtPrio   = fs.Int("rt-prio", 0, "run the sending thread SCHED_FIFO at this priority (0 = normal scheduling)")
		spin     = fs.Duration("spin-below", 0, "spin instead of sleeping for waits shorter than this (0 = always sleep)")
		follow   = fs.String("follow-shm", "", "NIC-coalescing stand-in: follow this clickshm segment (read-only) and send trains while it enables harvesting")
		trainOn  = fs.Int("train-on", 0, "with -follow-shm: train length while harvesting (0 = the frames -line-mbps carries in the segment's rx-usecs)")
		lineMbps = fs.Float64("line-mbps", 1000, "with -follow-shm: reference link rate for deriving the train from rx-usecs")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*pps > 0) == (*mbps > 0) {
		return fmt.Errorf("give exactly one of -pps and -mbps")
	}
	rate := *pps
	if *mbps > 0 {
		rate = *mbps * 1e6 / float64(8**size)
	}
	if *sport > 65535 || *dport > 65535 {
		return fmt.Errorf("ports must be <= 65535")
	}
	cfg := trafficgen.Config{Rate: rate, Train: *train, Duration: *duration, Count: *count}
	if err := cfg.Validate(); err != nil {
		return err
	}
	srcAddr, err := netip.ParseAddr(*src)
	if err != nil {
		return err
	}
	dstAddr, err := netip.ParseAddr(*dst)
	if err != nil {
		return err
	}
	dmac, err := net.ParseMAC(*dstMAC)
	if err != nil {
		return err
	}
	if *cpu >= 0 {
		if err := refnf.PinProcess(*cpu); err != nil {
			return err
		}
	}
	var coal *trafficgen.Coalescing
	if *follow != "" {
		coal = &trafficgen.Coalescing{Path: *follow, FrameSize: *size, LineMbps: *lineMbps, TrainOn: *trainOn}
		cfg.TrainFn = coal.Train
	}
	sender, err := trafficgen.OpenSender(*nsName, *ifname, *train > 1 || coal != nil)
	if err != nil {
		return err
	}
	defer sender.Close()
	frames, err := trafficgen.BuildFrames(trafficgen.FrameSpec{
		Size: *size, SrcMAC: sender.HardwareAddr(), DstMAC: dmac,
		Src: srcAddr, Dst: dstAddr, SrcPort: uint16(*sport), DstPort: uint16(*dport), Flows: *flows,
	})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if err := trafficgen.PrepareThread(); err != nil {
		return err
	}
	if *rtPrio > 0 {
		if err := refnf.SetThreadRealtime(*rtPrio); err != nil {
			return err
		}
	}
	if coal != nil {
		fctx, stopFollow := context.WithCancel(ctx)
		defer stopFollow()
		go coal.Follow(fctx)
	}
	res, runErr := trafficgen.Run(ctx, cfg, frames, sender, trafficgen.RealClock{SpinBelow: *spin})
	if coal == nil {
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return runErr
	}
	switches, polls, errs := coal.Stats()
	_ = json.NewEncoder(os.Stdout).Encode(struct {
		trafficgen.Result
		TrainSwitches uint64 `json:"train_switches"`
		SegmentPolls  uint64 `json:"segment_polls"`
		SegmentErrors uint64 `json:"segment_errors"`
	}{res, switches, polls, errs})
	return runErr
}
