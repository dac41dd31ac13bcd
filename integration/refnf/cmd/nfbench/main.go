// Command nfbench drives the NF burst benchmark (TEST EQUIPMENT): for each NF
// mode it starts one refnf process, then for each packet size and burst
// setting runs one trafficgen process and diffs refnf's /stats around it.
// Burst is switched at run time through a clickshm writer held by nfbench —
// the same path the NEMO harvester uses — and every switch waits for the
// NF's ack. It writes one CSV row per measured point.
//
// Series:
//
//	fixed-pps  every size at the same frame rate (-pps), train 1
//	bitrate    every size at the same bit rate (-mbps), like a line-rate
//	           sender; small sizes are capped by what the generator achieves
//	train      -train-sizes at -pps with trains of -train frames sent back to
//	           back (a stand-in for NIC interrupt coalescing, which veth lacks)
//	idle       no traffic: the NF's own cost of polling and following clickshm
//
// The namespace and veth pair must exist (scripts/nf-bench.sh creates them).
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nfbench:", err)
		os.Exit(1)
	}
}

type options struct {
	refnfBin, genBin  string
	modes             []string
	sizes, trainSizes []int
	pps, mbps         float64
	burst, train      int
	duration, settle  time.Duration
	nfCPU, genCPU     int
	rtPrio            int
	shmPath, out      string
	flows, reps       int
	pair              netns.Pair
	series            map[string]bool
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("nfbench", flag.ContinueOnError)
	var o options
	var modes, sizes, trainSizes, series string
	o.pair = netns.DefaultPair()
	fs.StringVar(&o.refnfBin, "refnf", "refnf", "refnf binary")
	fs.StringVar(&o.genBin, "trafficgen", "trafficgen", "trafficgen binary")
	fs.StringVar(&modes, "modes", strings.Join(refnf.Modes, ","), "NF modes")
	fs.StringVar(&sizes, "sizes", "64,128,256,512,1024,1500", "frame sizes (bytes, without FCS)")
	fs.StringVar(&trainSizes, "train-sizes", "1024,1500", "sizes for the train series")
	fs.StringVar(&series, "series", "idle,fixed-pps,bitrate,train", "series to run")
	fs.Float64Var(&o.pps, "pps", 10000, "frame rate of the fixed-pps and train series")
	fs.Float64Var(&o.mbps, "mbps", 120, "bit rate of the bitrate series (Mbit/s of frame bytes)")
	fs.IntVar(&o.burst, "burst", 32, "burst published when burst is on")
	fs.IntVar(&o.train, "train", 16, "train length of the train series")
	fs.IntVar(&o.flows, "flows", 64, "flows per run")
	fs.IntVar(&o.reps, "reps", 2, "repetitions of every point (burst order alternates)")
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "traffic per point")
	fs.DurationVar(&o.settle, "settle", 150*time.Millisecond, "pause between points")
	fs.IntVar(&o.nfCPU, "nf-cpu", 1, "CPU for refnf (-1 = unpinned)")
	fs.IntVar(&o.genCPU, "gen-cpu", 0, "CPU for trafficgen (-1 = unpinned)")
	fs.IntVar(&o.rtPrio, "rt-prio", 0, "SCHED_FIFO priority for the NF packet thread and the generator thread (0 = normal)")
	fs.StringVar(&o.shmPath, "shm", "/dev/shm/nemo-nfbench", "clickshm segment")
	fs.StringVar(&o.out, "out", "docs/nf-burst.csv", "CSV output")
	fs.StringVar(&o.pair.NFNetns, "netns", o.pair.NFNetns, "NF namespace")
	fs.StringVar(&o.pair.NFIf, "if", o.pair.NFIf, "NF interface")
	fs.StringVar(&o.pair.PeerNetns, "peer-netns", o.pair.PeerNetns, "generator namespace")
	fs.StringVar(&o.pair.PeerIf, "peer-if", o.pair.PeerIf, "generator interface")
	fs.StringVar(&o.pair.NFMAC, "nf-mac", o.pair.NFMAC, "MAC of the NF interface")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.modes = strings.Split(modes, ",")
	var err error
	if o.sizes, err = parseInts(sizes); err != nil {
		return err
	}
	if o.trainSizes, err = parseInts(trainSizes); err != nil {
		return err
	}
	o.series = map[string]bool{}
	for _, s := range strings.Split(series, ",") {
		o.series[strings.TrimSpace(s)] = true
	}
	if o.duration <= 0 || o.duration > time.Minute {
		return fmt.Errorf("-duration must be in (0, 1m]")
	}
	if o.reps < 1 || o.reps > 10 {
		return fmt.Errorf("-reps must be in 1..10")
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	ctx, cancelAll := context.WithTimeout(ctx, 15*time.Minute) // hard bound on the whole run
	defer cancelAll()

	w, err := clickshm.Create(o.shmPath, 1000)
	if err != nil {
		return err
	}
	defer func() {
		w.Close()
		os.Remove(o.shmPath)
	}()

	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	defer f.Close()
	cw := csv.NewWriter(f)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, mode := range o.modes {
		if err := benchMode(ctx, o, mode, w, cw); err != nil {
			return fmt.Errorf("mode %s: %w", mode, err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

var header = []string{
	"rep", "series", "mode", "size", "burst", "train", "offered_pps", "gen_pps", "nf_pps", "packets", "kernel_drops",
	"nf_cpu_util", "cpu_ns_per_pkt", "user_ns_per_pkt", "sys_ns_per_pkt", "pkts_per_wakeup", "recv_calls_per_pkt",
	"window_s", "loadavg1",
}

type nf struct {
	cmd    *exec.Cmd
	addr   string
	stdout *bufio.Scanner
	client *http.Client
}

func startNF(ctx context.Context, o options, mode string) (*nf, error) {
	args := []string{
		"-mode", mode, "-netns", o.pair.NFNetns, "-if", o.pair.NFIf,
		"-burst", "1", "-shm", o.shmPath, "-shm-interval", "10ms",
		"-stats-addr", "127.0.0.1:0", "-rcvbuf", strconv.Itoa(4 << 20), "-cpu", strconv.Itoa(o.nfCPU),
		"-duration", "10m", "-log-level", "warn", "-rt-prio", strconv.Itoa(o.rtPrio),
	}
	cmd := exec.CommandContext(ctx, o.refnfBin, args...)
	cmd.Stderr = os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nf{cmd: cmd, stdout: bufio.NewScanner(out), client: &http.Client{Timeout: 5 * time.Second}}
	ready := make(chan error, 1)
	go func() {
		if !n.stdout.Scan() {
			ready <- fmt.Errorf("refnf exited before it was ready")
			return
		}
		var ev struct {
			Event     string `json:"event"`
			StatsAddr string `json:"stats_addr"`
		}
		if err := json.Unmarshal(n.stdout.Bytes(), &ev); err != nil {
			ready <- err
			return
		}
		if ev.Event != "ready" || ev.StatsAddr == "" {
			ready <- fmt.Errorf("unexpected first line %q", n.stdout.Text())
			return
		}
		addr := ev.StatsAddr
		n.addr = addr
		ready <- nil
	}()
	select {
	case err := <-ready:
		if err != nil {
			n.stop()
			return nil, err
		}
	case <-time.After(10 * time.Second):
		n.stop()
		return nil, errors.New("refnf not ready after 10s")
	}
	return n, nil
}

func (n *nf) stats(ctx context.Context) (refnf.Stats, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.addr+"/stats", nil)
	resp, err := n.client.Do(req)
	if err != nil {
		return refnf.Stats{}, err
	}
	defer resp.Body.Close()
	var s refnf.Stats
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return s, fmt.Errorf("stats: %s: %s", resp.Status, b)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (n *nf) stop() {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

// setBurst publishes harvest on/off and waits for the NF to ack it.
func setBurst(ctx context.Context, w *clickshm.Writer, n *nf, on bool, burst int) (uint32, error) {
	want := uint32(1)
	if on {
		want = refnf.ClampBurst(int64(burst))
	}
	if err := w.Publish(clickshm.Settings{Enable: on, Burst: uint32(burst)}); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		a, err := w.ReaderAck()
		if err != nil {
			return 0, err
		}
		if a.AckSeq == w.Seq() && a.AppliedBurst == want {
			s, err := n.stats(ctx)
			if err == nil && s.Burst == want {
				return want, nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("NF did not ack burst %d within 3s", want)
}

type genResult struct {
	Sent        uint64  `json:"sent"`
	AchievedPPS float64 `json:"achieved_pps"`
	StoppedBy   string  `json:"stopped_by"`
}

func runGen(ctx context.Context, o options, size int, rateFlag, rate string, train int) (genResult, error) {
	args := []string{
		"-netns", o.pair.PeerNetns, "-if", o.pair.PeerIf, "-dst-mac", o.pair.NFMAC,
		"-size", strconv.Itoa(size), rateFlag, rate, "-train", strconv.Itoa(train),
		"-flows", strconv.Itoa(o.flows), "-duration", o.duration.String(), "-cpu", strconv.Itoa(o.genCPU),
		"-rt-prio", strconv.Itoa(o.rtPrio),
	}
	gctx, cancel := context.WithTimeout(ctx, o.duration+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(gctx, o.genBin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return genResult{}, fmt.Errorf("trafficgen %v: %w", args, err)
	}
	var r genResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("trafficgen output %q: %w", out, err)
	}
	return r, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b))[0]
}

// measure runs one point and returns its CSV row.
func measure(ctx context.Context, o options, n *nf, rep int, series, mode string, size, train int, burst uint32, rateFlag string, rate float64) ([]string, error) {
	time.Sleep(o.settle)
	before, err := n.stats(ctx)
	if err != nil {
		return nil, err
	}
	var g genResult
	if series == "idle" {
		select {
		case <-time.After(o.duration):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	} else {
		if g, err = runGen(ctx, o, size, rateFlag, strconv.FormatFloat(rate, 'f', -1, 64), train); err != nil {
			return nil, err
		}
		// Let the NF drain its queue: stop when the count is stable.
		last := uint64(0)
		for range 20 {
			s, err := n.stats(ctx)
			if err != nil {
				return nil, err
			}
			if s.Packets-before.Packets >= g.Sent || (last != 0 && s.Packets == last) {
				break
			}
			last = s.Packets
			time.Sleep(20 * time.Millisecond)
		}
	}
	after, err := n.stats(ctx)
	if err != nil {
		return nil, err
	}
	d := after.Sub(before)
	win := float64(d.UptimeNs) / 1e9
	perPkt := func(v int64) string {
		if d.Packets == 0 {
			return ""
		}
		return fmt.Sprintf("%.0f", float64(v)/float64(d.Packets))
	}
	ratio := func(a, b uint64) string {
		if b == 0 {
			return ""
		}
		return fmt.Sprintf("%.3f", float64(a)/float64(b))
	}
	offered := rate
	if rateFlag == "-mbps" {
		offered = rate * 1e6 / float64(8*size)
	}
	row := []string{
		strconv.Itoa(rep), series, mode, strconv.Itoa(size), strconv.Itoa(int(burst)), strconv.Itoa(train),
		fmt.Sprintf("%.0f", offered), fmt.Sprintf("%.0f", g.AchievedPPS), fmt.Sprintf("%.0f", float64(d.Packets)/win),
		strconv.FormatUint(d.Packets, 10), strconv.FormatUint(d.KernelDrops, 10),
		fmt.Sprintf("%.4f", d.CPUUtil), perPkt(d.TotalNs), perPkt(d.UserNs), perPkt(d.SysNs),
		ratio(d.Packets, d.Wakeups), ratio(d.RecvCalls, d.Packets),
		fmt.Sprintf("%.3f", win), loadavg(),
	}
	if series != "idle" && d.Packets+d.KernelDrops < g.Sent*95/100 {
		fmt.Fprintf(os.Stderr, "nfbench: warning: %s %s %dB burst %d: NF saw %d (+%d kernel drops) of %d sent\n",
			series, mode, size, burst, d.Packets, d.KernelDrops, g.Sent)
	}
	fmt.Fprintf(os.Stderr, "%-9s %-8s %5dB burst %-3d train %-2d gen %7.0f pps  nf %7.0f pps  util %5.1f%%  cpu/pkt %s ns  load %s\n",
		series, mode, size, burst, train, g.AchievedPPS, float64(d.Packets)/win, 100*d.CPUUtil, perPkt(d.TotalNs), row[len(row)-1])
	return row, nil
}

func benchMode(ctx context.Context, o options, mode string, w *clickshm.Writer, cw *csv.Writer) error {
	// Start every NF with harvest off.
	if err := w.Publish(clickshm.Settings{Enable: false, Burst: 1}); err != nil {
		return err
	}
	n, err := startNF(ctx, o, mode)
	if err != nil {
		return err
	}
	defer n.stop()

	type point struct {
		series   string
		size     int
		train    int
		rateFlag string
		rate     float64
	}
	var points []point
	if o.series["idle"] {
		points = append(points, point{"idle", 0, 0, "", 0})
	}
	if o.series["fixed-pps"] {
		for _, s := range o.sizes {
			points = append(points, point{"fixed-pps", s, 1, "-pps", o.pps})
		}
	}
	if o.series["bitrate"] {
		for _, s := range o.sizes {
			points = append(points, point{"bitrate", s, 1, "-mbps", o.mbps})
		}
	}
	if o.series["train"] {
		for _, s := range o.trainSizes {
			points = append(points, point{"train", s, o.train, "-pps", o.pps})
		}
	}
	// Burst off and on run back to back for each point, in alternating order,
	// so slow drifts in machine load hit both alike.
	for rep := range o.reps {
		for i, p := range points {
			order := []bool{false, true}
			if (rep+i)%2 == 1 {
				order = []bool{true, false}
			}
			for _, on := range order {
				applied, err := setBurst(ctx, w, n, on, o.burst)
				if err != nil {
					return err
				}
				row, err := measure(ctx, o, n, rep, p.series, mode, p.size, p.train, applied, p.rateFlag, p.rate)
				if err != nil {
					return err
				}
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
