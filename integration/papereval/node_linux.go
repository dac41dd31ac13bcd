package papereval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
)

// Node is the two-core layout of the paper's evaluation on this machine: a veth pair whose NF end is in
// namespace NFNetns (the reference NF reads it, pinned to NFCore) and whose other end is in TGNetns (the
// traffic generator sends from it, pinned to SvcCore, with the invoker, Kafka and the store). Neither
// namespace has an address or a route, so nothing can leave the pair. The NF's namespace has its own
// sysfs mounted at SysfsDir, so the invoker's harvester (in the root namespace) can read the NF
// interface's counters, as it would read a NIC's.
type Node struct {
	Pair             netns.Pair
	SysfsDir         string
	NFCore, SvcCore  int
	created, mounted bool
}

// NewNode creates (or reuses) the namespaces and the pair and mounts the NF namespace's sysfs under dir.
func NewNode(ctx context.Context, dir string, nfCore, svcCore int) (*Node, error) {
	n := &Node{
		Pair: netns.Pair{NFNetns: "nemo-pe-nf", PeerNetns: "nemo-pe-tg", NFIf: "penf0", PeerIf: "petg0",
			NFMAC: "02:77:00:00:01:02", PeerMAC: "02:77:00:00:01:01"},
		SysfsDir: filepath.Join(dir, "sysfs-nf"),
		NFCore:   nfCore, SvcCore: svcCore,
	}
	if !netns.HaveIPTool() {
		return nil, netns.ErrNoIPTool
	}
	existed := netns.Exists(n.Pair.NFNetns)
	if _, err := n.Pair.Ensure(ctx); err != nil {
		return nil, err
	}
	n.created = !existed
	if err := os.MkdirAll(n.SysfsDir, 0o755); err != nil {
		n.Close()
		return nil, err
	}
	// The mount is made by a thread inside the NF's namespace: a sysfs shows the network devices of the
	// namespace of the task that mounts it.
	err := netns.Do(n.Pair.NFNetns, func() error {
		return unix.Mount("sysfs", n.SysfsDir, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("papereval: mount the NF namespace's sysfs at %s: %w", n.SysfsDir, err)
	}
	n.mounted = true
	if _, err := os.Stat(n.ClassNet() + "/" + n.Pair.NFIf); err != nil {
		n.Close()
		return nil, fmt.Errorf("papereval: the NF interface is not visible in %s: %w", n.ClassNet(), err)
	}
	return n, nil
}

// ClassNet is the sysfs class/net directory of the NF's namespace.
func (n *Node) ClassNet() string { return filepath.Join(n.SysfsDir, "class", "net") }

// Close unmounts the sysfs and removes the namespaces (which removes the pair).
func (n *Node) Close() error {
	var errs []error
	if n.mounted {
		if err := unix.Unmount(n.SysfsDir, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", n.SysfsDir, err))
		}
		n.mounted = false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Pair.Teardown(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// IfaceCounters reads rx_packets and rx_dropped of the NF's interface.
func (n *Node) IfaceCounters() (rxPackets, rxDropped uint64) {
	read := func(name string) uint64 {
		b, _ := os.ReadFile(filepath.Join(n.ClassNet(), n.Pair.NFIf, "statistics", name))
		v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return v
	}
	return read("rx_packets"), read("rx_dropped")
}

// NF is a running reference NF.
type NF struct {
	*child
	Mode     string
	StatsURL string
	Shm      string
}

// StartNF starts refnf in mode on the NF end, pinned to the NF core, SCHED_FIFO at rtPrio when > 0,
// following the clickshm segment shm with burst 1 when no writer is live, charging its core wakeupCost of
// CPU per wake-up (the interrupt work a NIC would cost it).
func (n *Node) StartNF(ctx context.Context, bin, mode, shm string, rtPrio int, wakeupCost time.Duration, logPath string) (*NF, error) {
	args := []string{bin, "-mode", mode, "-netns", n.Pair.NFNetns, "-if", n.Pair.NFIf, "-shm", shm, "-burst", "1",
		"-shm-interval", "10ms", "-stats-addr", "127.0.0.1:0", "-cpu", strconv.Itoa(n.NFCore),
		"-wakeup-cost", wakeupCost.String()}
	if rtPrio > 0 {
		args = append(args, "-rt-prio", strconv.Itoa(rtPrio))
	}
	c, err := startChild("refnf", args, nil, logPath)
	if err != nil {
		return nil, err
	}
	line, err := c.waitLine(ctx, `"event":"ready"`, 20*time.Second)
	if err != nil {
		_ = c.stop(syscall.SIGTERM, 5*time.Second)
		return nil, err
	}
	var ev struct {
		StatsAddr string `json:"stats_addr"`
	}
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.StatsAddr == "" {
		_ = c.stop(syscall.SIGTERM, 5*time.Second)
		return nil, fmt.Errorf("papereval: refnf ready line %q: %v", line, err)
	}
	return &NF{child: c, Mode: mode, StatsURL: "http://" + ev.StatsAddr + "/stats", Shm: shm}, nil
}

var statsClient = &http.Client{Timeout: 2 * time.Second}

// Stats reads the NF's counters.
func (nf *NF) Stats() (refnf.Stats, error) {
	var s refnf.Stats
	resp, err := statsClient.Get(nf.StatsURL)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Generator is a running traffic generator.
type Generator struct {
	*child
}

// GenResult is the generator's final JSON line.
type GenResult struct {
	Sent          uint64  `json:"sent"`
	Failed        uint64  `json:"failed"`
	InTrains      uint64  `json:"frames_in_trains"`
	AchievedPPS   float64 `json:"achieved_pps"`
	OfferedPPS    float64 `json:"offered_pps"`
	TrainSwitches uint64  `json:"train_switches"`
	SegmentErrors uint64  `json:"segment_errors"`
	StoppedBy     string  `json:"stopped_by"`
}

// StartGenerator sends size-byte frames at pps from the generator's end for d, pinned to the service
// core, SCHED_FIFO at rtPrio when > 0 (the generator stands in for a NIC: it must not be descheduled
// behind the invoker), sending trains while the segment shm enables harvesting.
func (n *Node) StartGenerator(bin string, size int, pps float64, d time.Duration, shm string, trainOn int,
	lineMbps float64, rtPrio int, logPath string) (*Generator, error) {
	args := []string{bin, "-netns", n.Pair.PeerNetns, "-if", n.Pair.PeerIf, "-dst-mac", n.Pair.NFMAC,
		"-size", strconv.Itoa(size), "-pps", strconv.FormatFloat(pps, 'f', 0, 64), "-duration", d.String(),
		"-cpu", strconv.Itoa(n.SvcCore), "-follow-shm", shm, "-train-on", strconv.Itoa(trainOn),
		"-line-mbps", strconv.FormatFloat(lineMbps, 'f', -1, 64)}
	if rtPrio > 0 {
		args = append(args, "-rt-prio", strconv.Itoa(rtPrio))
	}
	c, err := startChild("trafficgen", args, nil, logPath)
	if err != nil {
		return nil, err
	}
	return &Generator{child: c}, nil
}

// Finish stops the generator (SIGINT ends its run early and prints the result) and reads its result.
func (g *Generator) Finish() (GenResult, error) {
	_ = g.stop(syscall.SIGINT, 10*time.Second)
	var r GenResult
	b, _ := os.ReadFile(g.logPath)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "{") && json.Unmarshal([]byte(l), &r) == nil && r.OfferedPPS > 0 {
			return r, nil
		}
	}
	return r, fmt.Errorf("papereval: no result from trafficgen:\n%s", g.tail(10))
}
