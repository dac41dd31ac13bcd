package harvester

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrSource wraps failures to read NF counters (sysfs, procfs, cgroupfs).
var ErrSource = errors.New("harvester: counter source")

// IfCounters are the cumulative receive counters of one interface.
type IfCounters struct {
	RxBytes, RxPackets, RxDropped, RxMissed uint64
	// SocketDrops are the packets dropped by the packet sockets bound to the
	// interface (an AF_PACKET NF that cannot keep up); see packetSocketDrops.
	SocketDrops uint64
}

// Drops is rx_dropped + rx_missed_errors + the packet sockets' drops.
func (c IfCounters) Drops() uint64 { return c.RxDropped + c.RxMissed + c.SocketDrops }

// CounterReader reads interface counters; sysfsCounters is the real one.
type CounterReader interface {
	Counters(ctx context.Context, iface string) (IfCounters, error)
}

// sysfsCounters reads /sys/class/net/<if>/statistics and, when socketDrops is
// set, adds the drops of the packet sockets bound to the interface. When the
// latter cannot be read (a kernel without packet_diag) the reader says so once,
// through an error wrapping errNoSocketDrops, and carries on with the interface
// counters alone.
type sysfsCounters struct {
	root        string
	socketDrops func() (map[int]uint64, error)

	mu       sync.Mutex
	noSocket bool
}

func (s *sysfsCounters) Counters(ctx context.Context, iface string) (IfCounters, error) {
	c, err := s.ifCounters(ctx, iface)
	if err != nil || s.socketDrops == nil {
		return c, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noSocket {
		return c, nil
	}
	idx, err := readUint(filepath.Join(s.root, iface, "ifindex"))
	if err != nil {
		return c, err
	}
	drops, err := s.socketDrops()
	if err != nil {
		s.noSocket = true
		return c, fmt.Errorf("%w (the QoS guard counts interface drops only from now on): %w", errNoSocketDrops, err)
	}
	c.SocketDrops = drops[int(idx)]
	return c, nil
}

func (s *sysfsCounters) ifCounters(ctx context.Context, iface string) (IfCounters, error) {
	if err := ctx.Err(); err != nil {
		return IfCounters{}, err
	}
	dir := filepath.Join(s.root, iface, "statistics")
	var c IfCounters
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"rx_bytes", &c.RxBytes}, {"rx_packets", &c.RxPackets}, {"rx_dropped", &c.RxDropped}, {"rx_missed_errors", &c.RxMissed}} {
		v, err := readUint(filepath.Join(dir, f.name))
		if err != nil {
			return IfCounters{}, err
		}
		*f.dst = v
	}
	return c, nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSource, err)
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrSource, path, err)
	}
	return v, nil
}

// measureBucket turns two counter samples into a packet-size bucket; ok is
// false when the window saw fewer than minPackets packets or the counters went
// backwards (interface re-created).
func measureBucket(prev, cur IfCounters, minPackets uint64) (bucket int, ok bool) {
	if cur.RxPackets < prev.RxPackets || cur.RxBytes < prev.RxBytes {
		return 0, false
	}
	dp := cur.RxPackets - prev.RxPackets
	if dp == 0 || dp < minPackets {
		return 0, false
	}
	return Bucket(float64(cur.RxBytes-prev.RxBytes) / float64(dp)), true
}

// CPUSource reports the cumulative CPU time an NF has consumed.
type CPUSource interface {
	CPUTime(ctx context.Context) (time.Duration, error)
	String() string
}

// clkTck is USER_HZ, which is 100 on every Linux architecture Go supports.
const clkTck = 100

// procPIDSource reads utime+stime of a whole process (all threads) from
// /proc/<pid>/stat; resolution is one tick (10 ms).
type procPIDSource struct {
	procRoot string
	pid      int
}

func (s procPIDSource) String() string { return fmt.Sprintf("pid %d", s.pid) }

func (s procPIDSource) CPUTime(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	path := filepath.Join(s.procRoot, strconv.Itoa(s.pid), "stat")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSource, err)
	}
	return parseProcStat(b)
}

// parseProcStat extracts utime+stime (fields 14 and 15) from a
// /proc/<pid>/stat line; the comm field may contain spaces and parentheses,
// so fields are counted after the last ')'.
func parseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed /proc stat line", ErrSource)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14 → f[11], stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: short /proc stat line (%d fields)", ErrSource, len(f)+2)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("%w: /proc stat times: %w", ErrSource, err)
	}
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// cgroupSource reads a cgroup's CPU usage: cpuacct.usage (v1, ns) when
// present, else usage_usec from cpu.stat (v2).
type cgroupSource struct{ dir string }

func (s cgroupSource) String() string { return "cgroup " + s.dir }

func (s cgroupSource) CPUTime(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ns, err := readUint(filepath.Join(s.dir, "cpuacct.usage"))
	if err == nil {
		return time.Duration(ns), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	b, err := os.ReadFile(filepath.Join(s.dir, "cpu.stat"))
	if err != nil {
		return 0, fmt.Errorf("%w: %s has neither cpuacct.usage nor cpu.stat: %w", ErrSource, s.dir, err)
	}
	return parseCPUStatV2(b)
}

func parseCPUStatV2(b []byte) (time.Duration, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == "usage_usec" {
			us, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: cpu.stat usage_usec: %w", ErrSource, err)
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	}
	return 0, fmt.Errorf("%w: cpu.stat has no usage_usec (a v1 cpu controller? point cgroup at the cpuacct directory)", ErrSource)
}

// cpuSourceFor picks the NF's CPU source: its cgroup, else its process. An
// NF configured with cores alone has none: the busy time of its cores would
// count everything else scheduled there as NF CPU, above all the edge
// functions the invoker pins to the NF's cores, so accounting is off for it
// and why names the missing setting.
func cpuSourceFor(nf NFConfig, procRoot string) (src CPUSource, why string) {
	switch {
	case nf.Cgroup != "":
		return cgroupSource{dir: nf.Cgroup}, ""
	case nf.PID > 0:
		return procPIDSource{procRoot: procRoot, pid: nf.PID}, ""
	case len(nf.Cores) > 0:
		return nil, fmt.Sprintf("only cores %v are configured; their busy time would count the edge functions "+
			"pinned to them (and anything else running there) as NF CPU: set nfs[].cgroup or nfs[].pid", nf.Cores)
	}
	return nil, "neither cgroup nor pid is configured"
}

// cpuSourceKind is the metrics label of a source: cgroup, pid or none.
func cpuSourceKind(s CPUSource) string {
	switch s.(type) {
	case cgroupSource:
		return "cgroup"
	case procPIDSource:
		return "pid"
	case nil:
		return "none"
	}
	return "other"
}
