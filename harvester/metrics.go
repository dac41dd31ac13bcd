package harvester

import (
	"maps"
	"slices"

	"github.com/nemo-edge/nemo/clickshm"
)

// Metrics reports the harvester's numbers at scrape time through emit (the invoker's metrics registry
// writes them in the Prometheus format): name, help and type of the family, the value, and labels as
// name/value pairs.
func (m *Manager) Metrics(emit func(name, help, typ string, value float64, labels ...string)) {
	m.mu.Lock()
	s := m.stats
	active, refs, backoff := m.active, m.refs, m.suppressed
	tags := m.acct.Stats(m.coresOfLocked)
	current := map[string]Tag{}
	for _, nf := range m.nfs {
		current[nf.cfg.Name] = nf.tag
	}
	writer := map[string]bool{}
	for _, nf := range m.nfs {
		if nf.cfg.Shm != "" && m.cfg.Enabled {
			writer[nf.cfg.Name] = !nf.shmBusy
		}
	}
	knobErrs := maps.Clone(m.knobErrs)
	unsupported := maps.Clone(m.unsupported)
	type cpuAcct struct {
		kind string
		ok   bool
	}
	acct := map[string]cpuAcct{}
	for _, nf := range m.nfs {
		acct[nf.cfg.Name] = cpuAcct{kind: cpuSourceKind(nf.cpu), ok: nf.cpu != nil && !nf.cpuErr}
	}
	m.mu.Unlock()
	clicks := m.observeClick()

	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	emit("nemo_harvest_active", "1 while NF spare-cycle harvesting (coalescing + Click burst) is switched on.", "gauge", b2f(active))
	emit("nemo_harvest_sessions", "Open harvest sessions (invocations in flight).", "gauge", float64(refs))
	emit("nemo_harvest_sessions_total", "Harvest sessions opened.", "counter", float64(s.sessions))
	emit("nemo_harvest_switches_total", "Harvest on/off switches applied.", "counter", float64(s.switches))
	emit("nemo_harvest_retunes_total", "Re-applications of settings after a tag change while harvesting.", "counter", float64(s.retunes))
	emit("nemo_harvest_switch_seconds_total", "Time spent applying harvest switches (ioctl + shared memory).", "counter", s.switchSum.Seconds())
	emit("nemo_harvest_switch_seconds_max", "Slowest harvest switch so far.", "gauge", s.switchMax.Seconds())
	emit("nemo_harvest_backoff", "1 while the QoS guard holds harvesting off.", "gauge", b2f(backoff))
	emit("nemo_harvest_backoffs_total", "QoS guard back-offs.", "counter", float64(s.backoffs))
	emit("nemo_harvest_recoveries_total", "QoS guard recoveries (harvesting allowed again after a back-off).", "counter",
		float64(s.recoveries))
	for _, k := range slices.Sorted(maps.Keys(knobErrs)) {
		emit("nemo_harvest_knob_errors_total", "Failed knob applications, by knob.", "counter", float64(knobErrs[k]), "knob", k)
	}
	for _, k := range slices.Sorted(maps.Keys(unsupported)) {
		emit("nemo_harvest_knob_unsupported", "1 for knobs the device does not support (e.g. coalescing on veth).", "gauge", 1, "knob", k)
	}
	for _, nf := range slices.Sorted(maps.Keys(writer)) {
		emit("nemo_harvest_click_writer", "1 while this invoker writes the NF's Click segment; 0 while another invoker on the host does.",
			"gauge", b2f(writer[nf]), "nf", nf)
	}
	for _, nf := range slices.Sorted(maps.Keys(current)) {
		emit("nemo_nf_tag_info", "The current tag (nf_name, pkt_size bucket) of each NF.", "gauge", 1, "nf", nf, "tag", current[nf].Label())
	}
	for _, nf := range slices.Sorted(maps.Keys(acct)) {
		emit("nemo_nf_cpu_accounting", "1 while the NF's CPU time is measured (source: its cgroup or process); "+
			"0 when it cannot be read or none is configured (cores alone would count edge functions as NF CPU).",
			"gauge", b2f(acct[nf].ok), "nf", nf, "source", acct[nf].kind)
	}
	for _, c := range clicks {
		for _, st := range []clickshm.ReaderState{clickshm.ReaderNever, clickshm.ReaderLive, clickshm.ReaderStale, clickshm.ReaderDetached} {
			emit("nemo_nf_click_reader", "The NF's Click element as its acknowledgement line shows it: never (has not "+
				"attached to the segment), live, stale (stopped acknowledging) or detached; 1 for the current state.",
				"gauge", b2f(c.Ack.Reader == st), "nf", c.NF, "state", st.String())
		}
		emit("nemo_nf_click_acked", "1 when a live Click element acknowledged the latest burst setting.", "gauge",
			b2f(c.Ack.Current), "nf", c.NF)
		if c.Ack.Reader != clickshm.ReaderNever {
			emit("nemo_nf_click_applied_burst", "The burst the NF's Click element last reported in effect.", "gauge",
				float64(c.Ack.AppliedBurst), "nf", c.NF)
		}
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
		{"nemo_nf_cpu_seconds_total", "counter", "CPU time the NF itself used while in the tag (its cgroup or process).",
			func(t TagStats) (float64, bool) { return t.CPU.Seconds(), true }},
		{"nemo_nf_harvested_core_seconds_total", "counter", "Spare core-seconds of the NF's cores while harvesting was on.",
			func(t TagStats) (float64, bool) { return t.HarvestSpare.Seconds(), true }},
	} {
		for _, t := range tags {
			if v, ok := se.val(t); ok {
				emit(se.name, se.help, se.typ, v, "nf", t.Tag.NF, "tag", t.Tag.Label())
			}
		}
	}
}
