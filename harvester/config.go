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

// Config is the harvester section of the invoker's JSON configuration. Zero
// values mean "use the default" where a default is documented.
type Config struct {
	// Enabled switches the whole harvester on. When false, Begin is a no-op
	// counter and no NIC or shared-memory state is touched. Default is false.
	Enabled bool `json:"enabled"`
	// LingerMs keeps harvesting on this long after the last session ends, so
	// back-to-back invocations do not flap the NIC. Default is 200; -1 means 0.
	LingerMs int `json:"linger_ms,omitempty"`
	// StateFile is where original NIC coalescing settings are persisted before
	// the first change, so a restart after a crash restores them. Default is
	// /var/lib/nemo/harvester-nic.json.
	StateFile string `json:"state_file,omitempty"`
	// NICCoalescing enables the ethtool rx-usecs knob. Default is true.
	NICCoalescing *bool `json:"nic_coalescing,omitempty"`
	// MaxRxUsecs caps every profile's rx-usecs (paper §3.3: latency overhead
	// is bounded by rx-usecs, kept below about 60 µs). Default is 60.
	MaxRxUsecs uint32 `json:"max_rx_usecs,omitempty"`
	// ShmLeaseMs is the clickshm writer lease. Default is 1000.
	ShmLeaseMs uint32 `json:"shm_lease_ms,omitempty"`
	// CPUSampleMs is the NF CPU sampling period (paper §3.1: 100 ms). Default is 100.
	CPUSampleMs int `json:"cpu_sample_ms,omitempty"`
	// TagWindowMs is the window over which the packet-size part of the tag is
	// measured from the interface counters. Default is 1000.
	TagWindowMs int `json:"tag_window_ms,omitempty"`
	// TagMinPackets: a window with fewer packets keeps the previous tag.
	// Default is 100.
	TagMinPackets uint64 `json:"tag_min_packets,omitempty"`
	// LogEveryMs is the period of the accounting log line. Default is 10000.
	LogEveryMs int `json:"log_every_ms,omitempty"`
	// SysClassNet is the sysfs directory holding interface statistics.
	// Default is /sys/class/net.
	SysClassNet string `json:"sys_class_net,omitempty"`
	// NFs are the network functions whose spare cycles are harvested.
	NFs []NFConfig `json:"nfs"`
	// Profiles override the built-in profile table (DefaultProfiles).
	Profiles []ProfileConfig `json:"profiles,omitempty"`
	// QoS configures the guard that backs off when NFs degrade.
	QoS QoSConfig `json:"qos"`
}

// NFConfig describes one network function.
type NFConfig struct {
	// Name is the nf_name part of the tag; unique, [a-zA-Z0-9_.-]. Required.
	Name string `json:"name"`
	// Interface is the NIC the NF receives on (coalescing knob, counters). Required.
	Interface string `json:"interface"`
	// PID of the NF process, for CPU accounting via /proc/<pid>/stat.
	PID int `json:"pid,omitempty"`
	// Cgroup is the NF's cgroup directory (v1 cpuacct or v2 unified); preferred
	// over PID when both are set.
	Cgroup string `json:"cgroup,omitempty"`
	// Cores the NF is pinned to. Utilisation is normalised by their count, and
	// with neither PID nor Cgroup they are the CPU source (/proc/stat).
	Cores []int `json:"cores,omitempty"`
	// Shm is the clickshm segment path (e.g. /dev/shm/nemo-fw); empty means the
	// NF has no Click burst knob.
	Shm string `json:"shm,omitempty"`
}

// ProfileConfig overrides one entry of the profile table.
type ProfileConfig struct {
	// NF name, or "*" for every NF without a specific entry.
	NF string `json:"nf"`
	// PktSize is a bucket: 0 (idle), 64, 128, 256, 512, 1024 or 1500.
	PktSize int `json:"pkt_size"`
	// RxUsecs while harvesting; 0 leaves NIC coalescing alone.
	RxUsecs uint32 `json:"rx_usecs"`
	// Burst while harvesting; 1 (or 0) leaves Click at one packet per dispatch.
	Burst uint32 `json:"burst"`
}

// QoSConfig configures the QoS guard (see Guard).
type QoSConfig struct {
	// Enabled turns the guard on. Default is false.
	Enabled bool `json:"enabled"`
	// SampleMs is the guard's sampling period. Default is 500.
	SampleMs int `json:"sample_ms,omitempty"`
	// MaxDropRate: rx drops per second (rx_dropped + rx_missed_errors) above
	// which an NF counts as degraded. Default is 100.
	MaxDropRate float64 `json:"max_drop_rate,omitempty"`
	// MaxDropRatio: drops / (packets + drops) above which an NF counts as
	// degraded. Default is 0.001.
	MaxDropRatio float64 `json:"max_drop_ratio,omitempty"`
	// ThroughputDrop: a fall of received bytes/s below the healthy baseline by
	// more than this fraction, together with any drops, counts as degraded.
	// Default is 0.2.
	ThroughputDrop float64 `json:"throughput_drop,omitempty"`
	// RecoverSamples: consecutive healthy samples needed to leave back-off.
	// Default is 6.
	RecoverSamples int `json:"recover_samples,omitempty"`
	// MinBackoffMs: back-off lasts at least this long. Default is 5000.
	MinBackoffMs int `json:"min_backoff_ms,omitempty"`
}

// Durations and defaults resolved from the JSON numbers.
func (c *Config) linger() time.Duration {
	switch {
	case c.LingerMs < 0:
		return 0
	case c.LingerMs == 0:
		return 200 * time.Millisecond
	}
	return time.Duration(c.LingerMs) * time.Millisecond
}

func orDefault[T int | uint32 | uint64 | float64](v, d T) T {
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
	d.ShmLeaseMs = orDefault(d.ShmLeaseMs, 1000)
	d.CPUSampleMs = orDefault(d.CPUSampleMs, 100)
	d.TagWindowMs = orDefault(d.TagWindowMs, 1000)
	d.TagMinPackets = orDefault(d.TagMinPackets, 100)
	d.LogEveryMs = orDefault(d.LogEveryMs, 10000)
	d.SysClassNet = orString(d.SysClassNet, "/sys/class/net")
	d.QoS = d.QoS.withDefaults()
	return d
}

func (q QoSConfig) withDefaults() QoSConfig {
	q.SampleMs = orDefault(q.SampleMs, 500)
	q.MaxDropRate = orDefault(q.MaxDropRate, 100)
	q.MaxDropRatio = orDefault(q.MaxDropRatio, 0.001)
	q.ThroughputDrop = orDefault(q.ThroughputDrop, 0.2)
	q.RecoverSamples = orDefault(q.RecoverSamples, 6)
	q.MinBackoffMs = orDefault(q.MinBackoffMs, 5000)
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

	if c.LingerMs < -1 || c.LingerMs > 60_000 {
		add("linger_ms", "%d out of range [-1, 60000]", c.LingerMs)
	}
	if c.MaxRxUsecs > 1000 {
		add("max_rx_usecs", "%d exceeds 1000", c.MaxRxUsecs)
	}
	if c.ShmLeaseMs != 0 && (c.ShmLeaseMs < 20 || c.ShmLeaseMs > 60_000) {
		add("shm_lease_ms", "%d out of range [20, 60000]", c.ShmLeaseMs)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"cpu_sample_ms", c.CPUSampleMs}, {"tag_window_ms", c.TagWindowMs}, {"log_every_ms", c.LogEveryMs}, {"qos.sample_ms", c.QoS.SampleMs}, {"qos.min_backoff_ms", c.QoS.MinBackoffMs}} {
		if p.v < 0 || p.v > 3_600_000 {
			add(p.name, "%d out of range [0, 3600000]", p.v)
		}
	}
	if c.CPUSampleMs != 0 && c.CPUSampleMs < 10 {
		add("cpu_sample_ms", "%d below 10", c.CPUSampleMs)
	}
	if c.StateFile != "" && !filepath.IsAbs(c.StateFile) {
		add("state_file", "%q must be an absolute path", c.StateFile)
	}
	if c.QoS.MaxDropRate < 0 {
		add("qos.max_drop_rate", "negative")
	}
	if c.QoS.MaxDropRatio < 0 || c.QoS.MaxDropRatio > 1 {
		add("qos.max_drop_ratio", "%g out of range [0, 1]", c.QoS.MaxDropRatio)
	}
	if c.QoS.ThroughputDrop < 0 || c.QoS.ThroughputDrop >= 1 {
		add("qos.throughput_drop", "%g out of range [0, 1)", c.QoS.ThroughputDrop)
	}
	if c.QoS.RecoverSamples < 0 {
		add("qos.recover_samples", "negative")
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
			add(f+".pkt_size", "%d is not a bucket (0, %v)", p.PktSize, Buckets)
		}
		if p.RxUsecs > maxRx {
			add(f+".rx_usecs", "%d exceeds max_rx_usecs %d", p.RxUsecs, maxRx)
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
