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
	"time"
)

// ErrSource wraps failures to read NF counters (sysfs, procfs, cgroupfs).
var ErrSource = errors.New("harvester: counter source")

// IfCounters are the cumulative receive counters of one interface.
type IfCounters struct {
	RxBytes, RxPackets, RxDropped, RxMissed uint64
}

// Drops is rx_dropped + rx_missed_errors.
func (c IfCounters) Drops() uint64 { return c.RxDropped + c.RxMissed }

// CounterReader reads interface counters; sysfsCounters is the real one.
type CounterReader interface {
	Counters(ctx context.Context, iface string) (IfCounters, error)
}

type sysfsCounters struct{ root string }

func (s sysfsCounters) Counters(ctx context.Context, iface string) (IfCounters, error) {
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

// coresSource sums the busy time (everything but idle and iowait) of the NF's
// cores from /proc/stat; for NFs that own their cores exclusively.
type coresSource struct {
	procStat string
	cores    []int
}

func (s coresSource) String() string { return fmt.Sprintf("cores %v", s.cores) }

func (s coresSource) CPUTime(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(s.procStat)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSource, err)
	}
	return parseCoresBusy(b, s.cores)
}

func parseCoresBusy(b []byte, cores []int) (time.Duration, error) {
	want := map[string]bool{}
	for _, c := range cores {
		want["cpu"+strconv.Itoa(c)] = true
	}
	var ticks uint64
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !want[f[0]] {
			continue
		}
		found++
		for i, v := range f[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: /proc/stat %s: %w", ErrSource, f[0], err)
			}
			// user nice system idle iowait irq softirq steal guest guest_nice;
			// guest time is already included in user/nice.
			if i == 3 || i == 4 || i >= 8 {
				continue
			}
			ticks += n
		}
	}
	if found != len(want) {
		return 0, fmt.Errorf("%w: /proc/stat lists %d of cores %v", ErrSource, found, cores)
	}
	return time.Duration(ticks) * time.Second / clkTck, nil
}

// cpuSourceFor picks the NF's CPU source: cgroup, then pid, then cores.
func cpuSourceFor(nf NFConfig, procRoot string) CPUSource {
	switch {
	case nf.Cgroup != "":
		return cgroupSource{dir: nf.Cgroup}
	case nf.PID > 0:
		return procPIDSource{procRoot: procRoot, pid: nf.PID}
	case len(nf.Cores) > 0:
		return coresSource{procStat: filepath.Join(procRoot, "stat"), cores: nf.Cores}
	}
	return nil
}
