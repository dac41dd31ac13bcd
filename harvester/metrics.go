package harvester

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteMetrics writes the harvester's metrics in the Prometheus text format.
func (m *Manager) WriteMetrics(w io.Writer) error {
	m.mu.Lock()
	s := m.stats
	active, refs, backoff := m.active, m.refs, m.suppressed
	tags := m.acct.Stats(m.coresOfLocked)
	current := map[string]Tag{}
	for _, nf := range m.nfs {
		current[nf.cfg.Name] = nf.tag
	}
	knobErrs := maps.Clone(m.knobErrs)
	unsupported := maps.Clone(m.unsupported)
	m.mu.Unlock()

	bw := bufio.NewWriter(w)
	metric := func(name, typ, help string) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	b2f := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}

	metric("nemo_harvest_active", "gauge", "1 while NF spare-cycle harvesting (coalescing + Click burst) is switched on.")
	fmt.Fprintf(bw, "nemo_harvest_active %d\n", b2f(active))
	metric("nemo_harvest_sessions", "gauge", "Open harvest sessions (invocations in flight).")
	fmt.Fprintf(bw, "nemo_harvest_sessions %d\n", refs)
	metric("nemo_harvest_sessions_total", "counter", "Harvest sessions opened.")
	fmt.Fprintf(bw, "nemo_harvest_sessions_total %d\n", s.sessions)
	metric("nemo_harvest_switches_total", "counter", "Harvest on/off switches applied.")
	fmt.Fprintf(bw, "nemo_harvest_switches_total %d\n", s.switches)
	metric("nemo_harvest_retunes_total", "counter", "Re-applications of settings after a tag change while harvesting.")
	fmt.Fprintf(bw, "nemo_harvest_retunes_total %d\n", s.retunes)
	metric("nemo_harvest_switch_seconds", "summary", "Time spent applying one harvest switch (ioctl + shared memory).")
	fmt.Fprintf(bw, "nemo_harvest_switch_seconds_sum %g\nnemo_harvest_switch_seconds_count %d\n", s.switchSum.Seconds(), s.switches)
	metric("nemo_harvest_switch_seconds_max", "gauge", "Slowest harvest switch so far.")
	fmt.Fprintf(bw, "nemo_harvest_switch_seconds_max %g\n", s.switchMax.Seconds())
	metric("nemo_harvest_backoff", "gauge", "1 while the QoS guard holds harvesting off.")
	fmt.Fprintf(bw, "nemo_harvest_backoff %d\n", b2f(backoff))
	metric("nemo_harvest_backoffs_total", "counter", "QoS guard back-offs.")
	fmt.Fprintf(bw, "nemo_harvest_backoffs_total %d\n", s.backoffs)
	metric("nemo_harvest_knob_errors_total", "counter", "Failed knob applications, by knob.")
	for _, k := range slices.Sorted(maps.Keys(knobErrs)) {
		fmt.Fprintf(bw, "nemo_harvest_knob_errors_total{knob=%s} %d\n", label(k), knobErrs[k])
	}
	metric("nemo_harvest_knob_unsupported", "gauge", "1 for knobs the device does not support (e.g. coalescing on veth).")
	for _, k := range slices.Sorted(maps.Keys(unsupported)) {
		fmt.Fprintf(bw, "nemo_harvest_knob_unsupported{knob=%s} 1\n", label(k))
	}

	metric("nemo_nf_tag_info", "gauge", "The current tag (nf_name, pkt_size bucket) of each NF.")
	for _, nf := range slices.Sorted(maps.Keys(current)) {
		fmt.Fprintf(bw, "nemo_nf_tag_info{nf=%s,tag=%s} 1\n", label(nf), label(current[nf].Label()))
	}
	type series struct {
		name, typ, help string
		val             func(TagStats) (float64, bool)
	}
	for _, se := range []series{
		{"nemo_nf_cpu_utilisation", "gauge", "Mean NF CPU utilisation (0-1 of its cores) while in the tag.",
			func(t TagStats) (float64, bool) { return t.Utilisation, true }},
		{"nemo_nf_cpu_utilisation_current", "gauge", "Latest 100 ms NF CPU utilisation sample, for the NF's current tag.",
			func(t TagStats) (float64, bool) { return t.LastUtilisation, t.LastUtilisation >= 0 }},
		{"nemo_nf_harvest_share", "gauge", "Fraction of the time in the tag during which harvesting was on.",
			func(t TagStats) (float64, bool) { return t.HarvestShare, true }},
		{"nemo_nf_tag_seconds_total", "counter", "Time the NF spent in the tag.",
			func(t TagStats) (float64, bool) { return t.Wall.Seconds(), true }},
		{"nemo_nf_harvested_core_seconds_total", "counter", "Spare core-seconds of the NF's cores while harvesting was on.",
			func(t TagStats) (float64, bool) { return t.HarvestSpare.Seconds(), true }},
	} {
		metric(se.name, se.typ, se.help)
		for _, t := range tags {
			if v, ok := se.val(t); ok {
				fmt.Fprintf(bw, "%s{nf=%s,tag=%s} %g\n", se.name, label(t.Tag.NF), label(t.Tag.Label()), v)
			}
		}
	}
	return bw.Flush()
}

// label quotes a Prometheus label value: backslash, double quote and newline
// are escaped, everything else is written as is (UTF-8).
func label(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
