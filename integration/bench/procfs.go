package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrProc is returned when a /proc entry cannot be read or parsed.
var ErrProc = errors.New("bench: /proc")

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat: 100 on every Linux architecture Go
// supports (the kernel exports it as a constant to user space).
const clockTicks = 100

// ProcCPU is the CPU time (user + system) the process pid has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	st, err := parseStat(b)
	return st.CPU, err
}

// parseStat reads comm, start time and utime+stime from a /proc/<pid>/stat line. comm is between the first
// '(' and the last ')' (it may contain spaces and parentheses); utime, stime and starttime are fields 14, 15
// and 22.
func parseStat(b []byte) (ProcSample, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return ProcSample{}, fmt.Errorf("%w: malformed stat line %.60q", ErrProc, b)
	}
	comm := string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state): utime (14) is f[11], stime (15) f[12], starttime (22) f[19].
	if len(f) < 20 {
		return ProcSample{}, fmt.Errorf("%w: short stat line for %s", ErrProc, comm)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	start, err3 := strconv.ParseInt(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return ProcSample{}, fmt.Errorf("%w: utime/stime/starttime of %s: %q %q %q", ErrProc, comm, f[11], f[12], f[19])
	}
	return ProcSample{Comm: comm, Start: start, CPU: time.Duration(ut+st) * time.Second / clockTicks}, nil
}

// ProcRunQueueWait is the time the threads of pid have spent runnable but waiting for a CPU (the second
// field of /proc/<pid>/task/<tid>/schedstat, summed over live threads).
func ProcRunQueueWait(pid int) (time.Duration, error) {
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/schedstat", pid))
	if err != nil || len(paths) == 0 {
		return 0, fmt.Errorf("%w: no schedstat for pid %d", ErrProc, pid)
	}
	var sum time.Duration
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, fmt.Errorf("%w: %s: %q", ErrProc, p, b)
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s: %q", ErrProc, p, b)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// ProcRSS is the resident set size (VmRSS) of pid in bytes.
func ProcRSS(pid int) (int64, error) {
	m, err := ProcMemory(pid)
	return m.RSS, err
}

// Memory is a process's resident memory from /proc/<pid>/status, in bytes: RSS = Anon + File + Shmem.
// File is the mapped file pages (the binary's own code and read-only data above all), which the kernel
// shares and can drop; Anon is the heap, stacks and runtime structures.
type Memory struct {
	RSS, Anon, File int64
}

// ProcMemory reads pid's resident memory.
func ProcMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("%w: %w", ErrProc, err)
	}
	defer f.Close()
	var m Memory
	fields := map[string]*int64{"VmRSS": &m.RSS, "RssAnon": &m.Anon, "RssFile": &m.File}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, kb, ok := strings.Cut(sc.Text(), ":")
		dst, wanted := fields[name]
		if !ok || !wanted {
			continue
		}
		kb = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB"))
		n, err := strconv.ParseInt(kb, 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%w: %s %q", ErrProc, name, kb)
		}
		*dst = n << 10
		seen[name] = true
	}
	if !seen["VmRSS"] {
		return Memory{}, fmt.Errorf("%w: no VmRSS for pid %d", ErrProc, pid)
	}
	return m, nil
}

// ProcSnapshot is the CPU time used so far by every live process, keyed by pid.
type ProcSnapshot map[int]ProcSample

// ProcSample is one process in a ProcSnapshot.
type ProcSample struct {
	Comm  string
	Start int64 // start time in clock ticks after boot: tells a reused pid apart
	CPU   time.Duration
}

// SnapshotProcs reads /proc/<pid>/stat of every live process.
func SnapshotProcs() ProcSnapshot {
	out := ProcSnapshot{}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		st, err := parseStat(b)
		if err != nil {
			continue
		}
		out[pid] = st
	}
	return out
}

// CPUDelta is the CPU each process used between two snapshots, summed by group(comm). A process started in
// between counts whole; one that exited in between is missing (its last slice is not counted).
func CPUDelta(before, after ProcSnapshot, group func(comm string) string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for pid, a := range after {
		d := a.CPU
		if b, ok := before[pid]; ok && b.Start == a.Start {
			d -= b.CPU
		}
		if d > 0 {
			out[group(a.Comm)] += d
		}
	}
	return out
}

// MachineCPU reads the first line of /proc/stat: busy (everything but idle and iowait) and total time of all
// CPUs together.
func MachineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrProc, err)
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("%w: /proc/stat first line %q", ErrProc, line)
	}
	var sum, idle int64
	for i, s := range f[1:] {
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: /proc/stat field %q", ErrProc, s)
		}
		sum += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return tick(sum - idle), tick(sum), nil
}

// LoadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg, as printed there.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// nemoPrefix marks the project's own functions in symbol names.
const nemoPrefix = "github.com/nemo-edge/nemo/"

// ProfileByNemoFunction reads `perf script -F ip,sym` output (one stack per sample, innermost frame first,
// samples separated by blank lines) and charges each sample to the innermost NEMO function on its stack, or,
// without one, to "GC", "sarama", "net/http (connection goroutines)" or "other (Go scheduler, kernel)". It returns the top entries at or above
// minPct percent as "name pct%", largest first. Generic helpers (the JSON writer, MarshalJSON methods) are
// skipped, so their samples go to the NEMO function that called them.
func ProfileByNemoFunction(script string, top int, minPct float64) []string {
	counts := map[string]int{}
	total := 0
	var stack []string
	flush := func() {
		if len(stack) == 0 {
			return
		}
		total++
		counts[chargeSample(stack)]++
		stack = stack[:0]
	}
	for _, line := range strings.Split(script, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			flush()
			continue
		}
		if len(f) >= 2 {
			sym, _, _ := strings.Cut(f[1], "+0x")
			stack = append(stack, sym)
		}
	}
	flush()
	type kv struct {
		k string
		n int
	}
	var list []kv
	for k, n := range counts {
		list = append(list, kv{k, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n > list[j].n || list[i].n == list[j].n && list[i].k < list[j].k })
	var out []string
	for _, e := range list {
		pct := 100 * float64(e.n) / float64(total)
		if len(out) == top || pct < minPct {
			break
		}
		out = append(out, fmt.Sprintf("%s %.1f%%", e.k, pct))
	}
	return out
}

// genericHelpers are NEMO functions too general to blame: their samples go to the NEMO function calling them.
var genericHelpers = []string{"invoker/wire.(*writer)", "invoker/wire.marshalNoEscape", "invoker/wire.decodeObject",
	"invoker/wire.object.", "invoker/wire.encodeString", "invoker/wire.newWriter"}

func chargeSample(stack []string) string {
	for _, s := range stack {
		name, ok := strings.CutPrefix(s, nemoPrefix)
		if !ok || strings.HasSuffix(name, ".MarshalJSON") ||
			slices.ContainsFunc(genericHelpers, func(h string) bool { return strings.HasPrefix(name, h) }) {
			continue
		}
		return name
	}
	for _, s := range stack {
		switch {
		case strings.Contains(s, "gcBgMarkWorker") || strings.HasPrefix(s, "runtime.gc"):
			return "GC"
		case strings.Contains(s, "IBM/sarama"):
			return "sarama"
		case strings.HasPrefix(s, "net/http."):
			return "net/http (connection goroutines)"
		}
	}
	return "other (Go scheduler, kernel)"
}
