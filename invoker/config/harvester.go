package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/harvester"
)

// HarvesterSection is the "harvester" section of the configuration file, in the file's one style:
// camelCase keys and durations written like "200ms". The keys of earlier NEMO releases (snake_case, and
// *_ms integers such as "linger_ms": 200) are still read, each with a warning naming its replacement
// (Config.Warnings); giving both spellings of one setting is an error. HarvesterConfig maps the section
// onto harvester.Config, which takes its defaults from the harvester package.
type HarvesterSection struct {
	// Enabled switches the harvester on. Default false.
	Enabled bool `json:"enabled"`
	// Linger keeps harvesting on this long after the last invocation ends; "0s" switches off at once.
	// Default 200ms.
	Linger Duration `json:"linger"`
	// StateFile persists the original NIC settings before the first change. Default
	// /var/lib/nemo/harvester-nic.json.
	StateFile string `json:"stateFile"`
	// NICCoalescing enables the rx-usecs knob. Default true.
	NICCoalescing *bool `json:"nicCoalescing,omitempty"`
	// MaxRxUsecs caps every profile's rx-usecs. Default 60.
	MaxRxUsecs uint32 `json:"maxRxUsecs"`
	// ShmLease is the Click shared-memory writer lease. Default 1s.
	ShmLease Duration `json:"shmLease"`
	// CPUSample is the NF CPU sampling period. Default 100ms.
	CPUSample Duration `json:"cpuSample"`
	// TagWindow is the packet-size measurement window. Default 1s.
	TagWindow Duration `json:"tagWindow"`
	// TagMinPackets: a window with fewer packets keeps the previous tag. Default 100.
	TagMinPackets uint64 `json:"tagMinPackets"`
	// LogEvery is the period of the accounting log line. Default 10s.
	LogEvery Duration `json:"logEvery"`
	// SysClassNet is the sysfs directory of interface statistics. Default /sys/class/net.
	SysClassNet string `json:"sysClassNet"`
	// NFs are the network functions whose spare cycles are harvested.
	NFs []HarvestNF `json:"nfs"`
	// Profiles override the built-in profile table.
	Profiles []HarvestProfile `json:"profiles,omitempty"`
	// QoS configures the guard that backs off when an NF degrades.
	QoS QoSSection `json:"qos"`

	// legacy lists the deprecated keys read, each with its replacement (Config.Warnings).
	legacy []string
}

// HarvestNF is one entry of harvester.nfs (see harvester.NFConfig).
type HarvestNF struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	PID       int    `json:"pid,omitempty"`
	Cgroup    string `json:"cgroup,omitempty"`
	Cores     []int  `json:"cores,omitempty"`
	Shm       string `json:"shm,omitempty"`
}

// HarvestProfile is one entry of harvester.profiles (see harvester.ProfileConfig).
type HarvestProfile struct {
	NF      string `json:"nf"`
	PktSize int    `json:"pktSize"`
	RxUsecs uint32 `json:"rxUsecs"`
	Burst   uint32 `json:"burst"`
}

// QoSSection is harvester.qos (see harvester.QoSConfig).
type QoSSection struct {
	Enabled        bool     `json:"enabled"`
	Sample         Duration `json:"sample"`
	MaxDropRate    float64  `json:"maxDropRate"`
	MaxDropRatio   float64  `json:"maxDropRatio"`
	ThroughputDrop float64  `json:"throughputDrop"`
	RecoverSamples int      `json:"recoverSamples"`
	MinBackoff     Duration `json:"minBackoff"`
}

// defaultHarvesterSection is the harvester package's defaults, written as the file would write them.
func defaultHarvesterSection() HarvesterSection {
	d := harvester.DefaultConfig()
	return HarvesterSection{
		Linger: Duration(d.Linger), StateFile: d.StateFile, NICCoalescing: d.NICCoalescing,
		MaxRxUsecs: d.MaxRxUsecs, ShmLease: Duration(d.ShmLease), CPUSample: Duration(d.CPUSample),
		TagWindow: Duration(d.TagWindow), TagMinPackets: d.TagMinPackets, LogEvery: Duration(d.LogEvery),
		SysClassNet: d.SysClassNet,
		QoS: QoSSection{Sample: Duration(d.QoS.Sample), MaxDropRate: d.QoS.MaxDropRate, MaxDropRatio: d.QoS.MaxDropRatio,
			ThroughputDrop: d.QoS.ThroughputDrop, RecoverSamples: d.QoS.RecoverSamples, MinBackoff: Duration(d.QoS.MinBackoff)},
	}
}

// legacyKey is a key of the old style: its new name and whether its value was an integer of milliseconds.
type legacyKey struct {
	name string
	ms   bool
}

var (
	legacyTop = map[string]legacyKey{
		"linger_ms": {"linger", true}, "state_file": {"stateFile", false}, "nic_coalescing": {"nicCoalescing", false},
		"max_rx_usecs": {"maxRxUsecs", false}, "shm_lease_ms": {"shmLease", true}, "cpu_sample_ms": {"cpuSample", true},
		"tag_window_ms": {"tagWindow", true}, "tag_min_packets": {"tagMinPackets", false},
		"log_every_ms": {"logEvery", true}, "sys_class_net": {"sysClassNet", false},
	}
	legacyProfile = map[string]legacyKey{"pkt_size": {"pktSize", false}, "rx_usecs": {"rxUsecs", false}}
	legacyQoS     = map[string]legacyKey{
		"sample_ms": {"sample", true}, "max_drop_rate": {"maxDropRate", false}, "max_drop_ratio": {"maxDropRatio", false},
		"throughput_drop": {"throughputDrop", false}, "recover_samples": {"recoverSamples", false},
		"min_backoff_ms": {"minBackoff", true},
	}
)

// UnmarshalJSON reads the section strictly (unknown keys are errors), translating old-style keys first.
func (h *HarvesterSection) UnmarshalJSON(b []byte) error {
	var legacy []string
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return invalid("harvester", "want a JSON object, got %s", jsonKind(b))
	}
	if err := renameLegacy(top, legacyTop, "harvester", &legacy); err != nil {
		return err
	}
	if raw, ok := top["linger"]; ok && bytes.Equal(bytes.TrimSpace(raw), []byte(`"-1ms"`)) {
		top["linger"] = json.RawMessage(`"0s"`) // linger_ms -1 meant "no linger"
	}
	if raw, ok := top["profiles"]; ok {
		var profiles []map[string]json.RawMessage
		if json.Unmarshal(raw, &profiles) == nil {
			for i, p := range profiles {
				if err := renameLegacy(p, legacyProfile, fmt.Sprintf("harvester.profiles[%d]", i), &legacy); err != nil {
					return err
				}
			}
			top["profiles"], _ = json.Marshal(profiles)
		}
	}
	if raw, ok := top["qos"]; ok {
		var qos map[string]json.RawMessage
		if json.Unmarshal(raw, &qos) == nil {
			if err := renameLegacy(qos, legacyQoS, "harvester.qos", &legacy); err != nil {
				return err
			}
			top["qos"], _ = json.Marshal(qos)
		}
	}
	translated, err := json.Marshal(top)
	if err != nil {
		return err
	}
	type plain HarvesterSection // without this method
	v := plain(*h)
	dec := json.NewDecoder(bytes.NewReader(translated))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		// A type error keeps its field path relative to the section; encoding/json prefixes "harvester".
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return invalid("harvester", "unknown field %s", msg)
		}
		return err
	}
	*h = HarvesterSection(v)
	h.legacy = legacy
	return nil
}

// renameLegacy rewrites the old-style keys of obj in place (milliseconds become duration strings) and
// notes each in legacy; a key given in both styles is an error.
func renameLegacy(obj map[string]json.RawMessage, keys map[string]legacyKey, where string, legacy *[]string) error {
	olds := make([]string, 0, len(obj))
	for k := range obj {
		if _, ok := keys[k]; ok {
			olds = append(olds, k)
		}
	}
	sort.Strings(olds)
	for _, old := range olds {
		nk := keys[old]
		if _, both := obj[nk.name]; both {
			return invalid(where+"."+old, "given together with %q, which replaces it: keep only %q", nk.name, nk.name)
		}
		raw := obj[old]
		delete(obj, old)
		if nk.ms {
			var ms int64
			if err := json.Unmarshal(raw, &ms); err != nil {
				return invalid(where+"."+old, "want an integer number of milliseconds, got %s", jsonKind(raw))
			}
			if ms == 0 {
				*legacy = append(*legacy, fmt.Sprintf("%s.%s is deprecated: remove it (0 meant the default) or use %q",
					where, old, nk.name))
				continue
			}
			raw, _ = json.Marshal((time.Duration(ms) * time.Millisecond).String())
			*legacy = append(*legacy, fmt.Sprintf("%s.%s is deprecated: use \"%s\": %s", where, old, nk.name, raw))
		} else {
			*legacy = append(*legacy, fmt.Sprintf("%s.%s is deprecated: use %q", where, old, nk.name))
		}
		obj[nk.name] = raw
	}
	return nil
}

// HarvesterConfig is the harvester's configuration from the section.
func (c *Config) HarvesterConfig() harvester.Config {
	h := c.Harvester
	linger := h.Linger.D()
	if linger == 0 {
		linger = -1 // "0s" in the file: no linger (the harvester reads zero as its default)
	}
	out := harvester.Config{
		Enabled: h.Enabled, Linger: linger, StateFile: h.StateFile, NICCoalescing: h.NICCoalescing,
		MaxRxUsecs: h.MaxRxUsecs, ShmLease: h.ShmLease.D(), CPUSample: h.CPUSample.D(), TagWindow: h.TagWindow.D(),
		TagMinPackets: h.TagMinPackets, LogEvery: h.LogEvery.D(), SysClassNet: h.SysClassNet,
		QoS: harvester.QoSConfig{Enabled: h.QoS.Enabled, Sample: h.QoS.Sample.D(), MaxDropRate: h.QoS.MaxDropRate,
			MaxDropRatio: h.QoS.MaxDropRatio, ThroughputDrop: h.QoS.ThroughputDrop,
			RecoverSamples: h.QoS.RecoverSamples, MinBackoff: h.QoS.MinBackoff.D()},
	}
	for _, nf := range h.NFs {
		out.NFs = append(out.NFs, harvester.NFConfig(nf))
	}
	for _, p := range h.Profiles {
		out.Profiles = append(out.Profiles, harvester.ProfileConfig(p))
	}
	return out
}

// Warnings lists what the configuration accepted but an operator should change (deprecated keys); the
// invoker logs each at start-up.
func (c *Config) Warnings() []string {
	return append(append([]string(nil), c.warnings...), c.Harvester.legacy...)
}
