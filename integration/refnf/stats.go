package refnf

import (
	"time"

	"golang.org/x/sys/unix"
)

// CPUTimes is the process CPU consumed so far.
type CPUTimes struct {
	UserNs  int64 `json:"cpu_user_ns"`  // getrusage(RUSAGE_SELF) user time
	SysNs   int64 `json:"cpu_sys_ns"`   // getrusage(RUSAGE_SELF) system time
	TotalNs int64 `json:"cpu_total_ns"` // CLOCK_PROCESS_CPUTIME_ID (ns resolution)
}

// ProcessCPU reads this process's CPU times (all threads).
func ProcessCPU() (CPUTimes, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return CPUTimes{}, err
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return CPUTimes{}, err
	}
	return CPUTimes{
		UserNs:  ru.Utime.Nano(),
		SysNs:   ru.Stime.Nano(),
		TotalNs: ts.Nano(),
	}, nil
}

// Stats is one snapshot of an NF's counters, as served on /stats and printed
// on SIGUSR1 and at exit. Cumulative since start; consumers diff two
// snapshots to get per-interval figures.
type Stats struct {
	Mode        string  `json:"mode"`
	UptimeNs    int64   `json:"uptime_ns"`
	Packets     uint64  `json:"packets"`
	Bytes       uint64  `json:"bytes"`
	Accepted    uint64  `json:"accepted"`
	Dropped     uint64  `json:"dropped"`
	Invalid     uint64  `json:"invalid"`
	Truncated   uint64  `json:"truncated"`
	KernelDrops uint64  `json:"kernel_drops"` // PACKET_STATISTICS tp_drops (socket queue full)
	Wakeups     uint64  `json:"wakeups"`
	Timeouts    uint64  `json:"poll_timeouts"`
	Empty       uint64  `json:"empty_reads"`
	RecvCalls   uint64  `json:"recv_calls"`
	SendCalls   uint64  `json:"send_calls"`
	Sent        uint64  `json:"sent"`
	SendErrors  uint64  `json:"send_errors"`
	Burst       uint32  `json:"burst"`
	CPUPerPktNs float64 `json:"cpu_per_packet_ns"` // cumulative CPU / packets
	CPUUtil     float64 `json:"cpu_util"`          // cumulative CPU / uptime (1.0 = one core)
	CPUTimes
	Shm *FollowState `json:"shm,omitempty"`
}

// Sub returns s - prev for the counters and CPU (mode, burst and shm state
// are taken from s); the derived ratios are recomputed for the interval.
func (s Stats) Sub(prev Stats) Stats {
	d := s
	d.UptimeNs -= prev.UptimeNs
	d.Packets -= prev.Packets
	d.Bytes -= prev.Bytes
	d.Accepted -= prev.Accepted
	d.Dropped -= prev.Dropped
	d.Invalid -= prev.Invalid
	d.Truncated -= prev.Truncated
	d.KernelDrops -= prev.KernelDrops
	d.Wakeups -= prev.Wakeups
	d.Timeouts -= prev.Timeouts
	d.Empty -= prev.Empty
	d.RecvCalls -= prev.RecvCalls
	d.SendCalls -= prev.SendCalls
	d.Sent -= prev.Sent
	d.SendErrors -= prev.SendErrors
	d.UserNs -= prev.UserNs
	d.SysNs -= prev.SysNs
	d.TotalNs -= prev.TotalNs
	d.derive()
	return d
}

func (s *Stats) derive() {
	s.CPUPerPktNs, s.CPUUtil = 0, 0
	if s.Packets > 0 {
		s.CPUPerPktNs = float64(s.TotalNs) / float64(s.Packets)
	}
	if s.UptimeNs > 0 {
		s.CPUUtil = float64(s.TotalNs) / float64(s.UptimeNs)
	}
}

// KernelDropper is implemented by connections that can report socket drops.
type KernelDropper interface {
	KernelDrops() uint64
}

// Snapshot collects the engine counters, the process CPU and, when f is not
// nil, the follower state.
func Snapshot(mode string, started time.Time, e *Engine, conn Conn, f *Follower) Stats {
	c := e.Counters()
	s := Stats{
		Mode:       mode,
		UptimeNs:   time.Since(started).Nanoseconds(),
		Packets:    c.Packets.Load(),
		Bytes:      c.Bytes.Load(),
		Accepted:   c.Accepted.Load(),
		Dropped:    c.Dropped.Load(),
		Invalid:    c.Invalid.Load(),
		Truncated:  c.Truncated.Load(),
		Wakeups:    c.Wakeups.Load(),
		Timeouts:   c.Timeouts.Load(),
		Empty:      c.Empty.Load(),
		RecvCalls:  c.RecvCalls.Load(),
		SendCalls:  c.SendCalls.Load(),
		Sent:       c.Sent.Load(),
		SendErrors: c.SendErrors.Load(),
		Burst:      e.Burst(),
	}
	if kd, ok := conn.(KernelDropper); ok {
		s.KernelDrops = kd.KernelDrops()
	}
	if cpu, err := ProcessCPU(); err == nil {
		s.CPUTimes = cpu
	}
	if f != nil {
		fs := f.State()
		s.Shm = &fs
	}
	s.derive()
	return s
}
