package papereval

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CoreTimes are one CPU's /proc/stat counters in clock ticks: idle = idle + iowait; busy = user + nice +
// system + irq + softirq; steal (time the hypervisor gave to other guests) is kept apart and counts as
// neither.
type CoreTimes struct {
	Busy, Idle, Steal uint64
}

// ReadCores reads the per-CPU lines of /proc/stat.
func ReadCores() (map[int]CoreTimes, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[int]CoreTimes{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[0], "cpu") || fields[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(fields[0][3:])
		if err != nil {
			continue
		}
		var ct CoreTimes
		for i, s := range fields[1:] {
			v, _ := strconv.ParseUint(s, 10, 64)
			switch i {
			case 0, 1, 2, 5, 6: // guest and guest_nice (8, 9) are already in user and nice
				ct.Busy += v
			case 3, 4:
				ct.Idle += v
			case 7:
				ct.Steal += v
			}
		}
		out[n] = ct
	}
	return out, sc.Err()
}

// BusyShare is the busy fraction of core between two readings (NaN-free: 0 when no ticks passed).
func BusyShare(a, b map[int]CoreTimes, core int) float64 {
	x, y := a[core], b[core]
	busy := float64(y.Busy - x.Busy)
	total := busy + float64(y.Idle-x.Idle)
	if total <= 0 {
		return 0
	}
	return busy / total
}

// ProcCPUSeconds is utime + stime of a process (all threads), in seconds.
func ProcCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("papereval: /proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("papereval: /proc/%d/stat: short", pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return float64(ut+st) / float64(clockTicks), nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// LoadAvg1 is the one-minute load average.
func LoadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
