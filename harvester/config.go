package harvester

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by every Config.Validate error; the message names
// the offending field in JSON notation, e.g. "nfs[1].interface".
var ErrInvalidConfig = errors.New("harvester: invalid config")

// Config configures the harvester. Zero values mean "use the default" where a default is documented. The
// invoker's configuration file maps its "harvester" section onto it (invoker/config owns the file format:
// camelCase keys, durations as "200ms"); field names in Validate's errors are those keys.
type Config struct {
	// Enabled switches the whole harvester on. When false, Begin is a no-op
	// counter and no NIC or shared-memory state is touched. Default is false.
	Enabled bool
	// Linger keeps harvesting on this long after the last session ends, so
	// back-to-back invocations do not flap the NIC. Default is 200 ms; negative
	// means no linger.
	Linger time.Duration
	// StateFile is where original NIC coalescing settings are persisted before
	// the first change, so a restart after a crash restores them. Default is
	// /var/lib/nemo/harvester-nic.json.
	StateFile string
	// NICCoalescing enables the ethtool rx-usecs knob. Default is true.
	NICCoalescing *bool
	// MaxRxUsecs caps every profile's rx-usecs (paper §3.3: latency overhead
	// is bounded by rx-usecs, kept below about 60 µs). Default is 60.
	MaxRxUsecs uint32
	// ShmLease is the clickshm writer lease (whole milliseconds). Default is 1 s.
	ShmLease time.Duration
	// CPUSample is the NF CPU sampling period (paper §3.1: 100 ms). Default is 100 ms.
	CPUSample time.Duration
	// TagWindow is the window over which the packet-size part of the tag is
	// measured from the interface counters. Default is 1 s.
	TagWindow time.Duration
	// TagMinPackets: a window with fewer packets keeps the previous tag.
	// Default is 100.
	TagMinPackets uint64
	// LogEvery is the period of the accounting log line. Default is 10 s.
	LogEvery time.Duration
	// SysClassNet is the sysfs directory holding interface statistics.
	// Default is /sys/class/net.
	SysClassNet string
	// NFs are the network functions whose spare cycles are harvested.
	NFs []NFConfig
	// Profiles override the built-in profile table (DefaultProfiles).
	Profiles []ProfileConfig
	// QoS configures the guard that backs off when NFs degrade.
	QoS QoSConfig
}

// NFConfig describes one network function.
type NFConfig struct {
	// Name is the nf_name part of the tag; unique, [a-zA-Z0-9_.-]. Required.
	Name string
	// Interface is the NIC the NF receives on (coalescing knob, counters). Required.
	Interface string
	// PID of the NF process, for CPU accounting via /proc/<pid>/stat (the
	// process and all its threads; not its children).
	PID int
	// Cgroup is the NF's cgroup directory (v1 cpuacct or v2 unified); preferred
	// over PID when both are set. Only the NF's own time counts either way:
	// edge functions on the same cores run in their containers' cgroups.
	Cgroup string
	// Cores the NF is pinned to; utilisation is normalised by their count.
	// Cores are never a CPU source: with neither PID nor Cgroup, CPU
	// accounting is off for the NF (logged at start, nemo_nf_cpu_accounting 0),
	// because a core's busy time includes the edge functions pinned to it.
	Cores []int
	// Shm is the clickshm segment path (e.g. /dev/shm/nemo-fw); empty means the
	// NF has no Click burst knob.
	Shm string
}

// ProfileConfig overrides one entry of the profile table.
type ProfileConfig struct {
	// NF name, or "*" for every NF without a specific entry.
	NF string
	// PktSize is a bucket: 0 (idle), 64, 128, 256, 512, 1024 or 1500.
	PktSize int
	// RxUsecs while harvesting; 0 leaves NIC coalescing alone.
	RxUsecs uint32
	// Burst while harvesting; 1 (or 0) leaves Click at one packet per dispatch.
	Burst uint32
}

// QoSConfig configures the QoS guard (see Guard). The guard is off unless
// Enabled: without it harvesting never backs off on its own.
type QoSConfig struct {
	// Enabled turns the guard on. Default is false.
	Enabled bool
	// Sample is the guard's sampling period. Default is 500 ms.
	Sample time.Duration
	// MaxDropRate: drops per second on the NF's interface (rx_dropped +
	// rx_missed_errors + drops of the packet sockets bound to it) above which
	// an NF counts as degraded. Default is 100.
	MaxDropRate float64
	// MaxDropRatio: drops / (packets + drops) above which an NF counts as
	// degraded. Default is 0.001.
	MaxDropRatio float64
	// ThroughputDrop: a fall of received bytes/s below the healthy baseline by
	// more than this fraction, together with any drops, counts as degraded.
	// Default is 0.2.
	ThroughputDrop float64
	// RecoverSamples: consecutive healthy samples needed to leave back-off.
	// Default is 6.
	RecoverSamples int
	// MinBackoff: back-off lasts at least this long. Default is 5 s.
	MinBackoff time.Duration
}

// DefaultConfig is the configuration with every default filled in (Linger resolved to its 200 ms); the
// invoker's configuration file starts from it.
func DefaultConfig() Config {
	d := (&Config{}).withDefaults()
	d.Linger = d.linger()
	return d
}

// linger resolves Linger's default (zero) and "none" (negative).
func (c *Config) linger() time.Duration {
	switch {
	case c.Linger < 0:
		return 0
	case c.Linger == 0:
		return 200 * time.Millisecond
	}
	return c.Linger
}

func orDefault[T int | uint32 | uint64 | float64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

func (c *Config) withDefaults() Config {
	d := *c
	d.StateFile = orString(d.StateFile, "/var/lib/nemo/harvester-nic.json")
	if d.NICCoalescing == nil {
		t := true
		d.NICCoalescing = &t
	}
	d.MaxRxUsecs = orDefault(d.MaxRxUsecs, 60)
	d.ShmLease = orDefault(d.ShmLease, time.Second)
	d.CPUSample = orDefault(d.CPUSample, 100*time.Millisecond)
	d.TagWindow = orDefault(d.TagWindow, time.Second)
	d.TagMinPackets = orDefault(d.TagMinPackets, 100)
	d.LogEvery = orDefault(d.LogEvery, 10*time.Second)
	d.SysClassNet = orString(d.SysClassNet, "/sys/class/net")
	d.QoS = d.QoS.withDefaults()
	return d
}

func (q QoSConfig) withDefaults() QoSConfig {
	q.Sample = orDefault(q.Sample, 500*time.Millisecond)
	q.MaxDropRate = orDefault(q.MaxDropRate, 100)
	q.MaxDropRatio = orDefault(q.MaxDropRatio, 0.001)
	q.ThroughputDrop = orDefault(q.ThroughputDrop, 0.2)
	q.RecoverSamples = orDefault(q.RecoverSamples, 6)
	q.MinBackoff = orDefault(q.MinBackoff, 5*time.Second)
	return q
}

func orString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Validate checks the configuration and returns every problem found, each
// naming its field; errors.Is(err, ErrInvalidConfig) holds for all of them.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, fieldErr(field, format, args...)) }

	if c.Linger > time.Minute {
		add("linger", "%s exceeds 1m", c.Linger)
	}
	if c.MaxRxUsecs > 1000 {
		add("maxRxUsecs", "%d exceeds 1000", c.MaxRxUsecs)
	}
	if c.ShmLease != 0 && (c.ShmLease < 20*time.Millisecond || c.ShmLease > time.Minute) {
		add("shmLease", "%s out of range [20ms, 1m]", c.ShmLease)
	}
	for _, p := range []struct {
		name string
		v    time.Duration
	}{{"cpuSample", c.CPUSample}, {"tagWindow", c.TagWindow}, {"logEvery", c.LogEvery}, {"qos.sample", c.QoS.Sample}, {"qos.minBackoff", c.QoS.MinBackoff}} {
		if p.v < 0 || p.v > time.Hour {
			add(p.name, "%s out of range [0, 1h]", p.v)
		}
	}
	if c.CPUSample != 0 && c.CPUSample < 10*time.Millisecond {
		add("cpuSample", "%s below 10ms", c.CPUSample)
	}
	if c.StateFile != "" && !filepath.IsAbs(c.StateFile) {
		add("stateFile", "%q must be an absolute path", c.StateFile)
	}
	if c.QoS.MaxDropRate < 0 {
		add("qos.maxDropRate", "negative")
	}
	if c.QoS.MaxDropRatio < 0 || c.QoS.MaxDropRatio > 1 {
		add("qos.maxDropRatio", "%g out of range [0, 1]", c.QoS.MaxDropRatio)
	}
	if c.QoS.ThroughputDrop < 0 || c.QoS.ThroughputDrop >= 1 {
		add("qos.throughputDrop", "%g out of range [0, 1)", c.QoS.ThroughputDrop)
	}
	if c.QoS.RecoverSamples < 0 {
		add("qos.recoverSamples", "negative")
	}

	names := map[string]int{}
	shms := map[string]int{}
	for i, nf := range c.NFs {
		f := fmt.Sprintf("nfs[%d]", i)
		if !validName(nf.Name) {
			add(f+".name", "%q must be 1-64 characters of [a-zA-Z0-9_.-]", nf.Name)
		} else if j, dup := names[nf.Name]; dup {
			add(f+".name", "%q duplicates nfs[%d]", nf.Name, j)
		} else {
			names[nf.Name] = i
		}
		if nf.Interface == "" {
			add(f+".interface", "required")
		} else if len(nf.Interface) > 15 || strings.ContainsAny(nf.Interface, "/ \t") || nf.Interface == "." || nf.Interface == ".." {
			add(f+".interface", "%q is not a valid interface name", nf.Interface)
		}
		if nf.PID < 0 {
			add(f+".pid", "negative")
		}
		if nf.Cgroup != "" && !filepath.IsAbs(nf.Cgroup) {
			add(f+".cgroup", "%q must be an absolute path", nf.Cgroup)
		}
		for k, core := range nf.Cores {
			if core < 0 || core > 4095 {
				add(fmt.Sprintf("%s.cores[%d]", f, k), "%d out of range", core)
			}
		}
		if hasDup(nf.Cores) {
			add(f+".cores", "duplicate core")
		}
		if nf.Shm != "" {
			if !filepath.IsAbs(nf.Shm) {
				add(f+".shm", "%q must be an absolute path", nf.Shm)
			} else if j, dup := shms[nf.Shm]; dup {
				add(f+".shm", "%q duplicates nfs[%d].shm (one writer per segment)", nf.Shm, j)
			} else {
				shms[nf.Shm] = i
			}
		}
	}

	maxRx := orDefault(c.MaxRxUsecs, 60)
	seen := map[profileKey]int{}
	for i, p := range c.Profiles {
		f := fmt.Sprintf("profiles[%d]", i)
		if p.NF != "*" {
			if _, ok := names[p.NF]; !ok {
				add(f+".nf", "%q is neither \"*\" nor a configured NF", p.NF)
			}
		}
		if !slices.Contains(Buckets, p.PktSize) && p.PktSize != 0 {
			add(f+".pktSize", "%d is not a bucket (0, %v)", p.PktSize, Buckets)
		}
		if p.RxUsecs > maxRx {
			add(f+".rxUsecs", "%d exceeds maxRxUsecs %d", p.RxUsecs, maxRx)
		}
		if p.Burst > 1024 {
			add(f+".burst", "%d exceeds 1024", p.Burst)
		}
		k := profileKey{p.NF, p.PktSize}
		if j, dup := seen[k]; dup {
			add(f, "duplicates profiles[%d] (%s, %d)", j, p.NF, p.PktSize)
		}
		seen[k] = i
	}
	return errors.Join(errs...)
}

func hasDup(xs []int) bool {
	seen := map[int]bool{}
	for _, x := range xs {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}
