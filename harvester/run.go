package harvester

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nemo-edge/nemo/clickshm"
)

// Run samples until ctx is done: NF CPU every CPUSample, packet-size tags
// every TagWindow, the QoS guard every QoS.Sample (when enabled), and an
// accounting log line every LogEvery. It returns ctx.Err(). The decisions
// live in Accountant, measureBucket and Guard; these loops only read counters
// and feed them.
func (m *Manager) Run(ctx context.Context) error {
	if !m.cfg.Enabled {
		<-ctx.Done()
		return ctx.Err()
	}
	var wg sync.WaitGroup
	every := func(period time.Duration, f func(context.Context)) {
		wg.Go(func() {
			t := time.NewTicker(period)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f(ctx)
				}
			}
		})
	}
	m.sampleCPU(ctx)
	m.sampleTags(ctx)
	every(m.cfg.CPUSample, m.sampleCPU)
	every(m.cfg.TagWindow, m.sampleTags)
	if m.cfg.QoS.Enabled {
		every(m.cfg.QoS.Sample, m.sampleQoS)
	}
	every(m.cfg.LogEvery, func(context.Context) { m.logSummary() })
	every(max(m.cfg.ShmLease/2, 10*time.Millisecond), func(context.Context) { m.observeClick() })
	if m.anyShmBusy() {
		every(m.shmRetry, m.takeOverBusySegments)
	}
	wg.Wait()
	return ctx.Err()
}

// sampleCPU reads every NF's CPU source once and accounts the delta since the
// previous reading against the NF's tag and the harvesting state.
func (m *Manager) sampleCPU(ctx context.Context) {
	for _, nf := range m.nfs {
		if nf.cpu == nil {
			continue
		}
		used, err := nf.cpu.CPUTime(ctx)
		now := m.clock.Now()
		m.mu.Lock()
		wasErr := nf.cpuErr
		nf.cpuErr = err != nil
		m.mu.Unlock()
		if err != nil {
			if !wasErr {
				m.log.Warn().Str("nf", nf.cfg.Name).Str("source", nf.cpu.String()).Err(err).
					Msg("cannot read NF CPU time; accounting paused for this NF")
			}
			nf.cpuLastAt = time.Time{}
			continue
		}
		if wasErr {
			m.log.Info().Str("nf", nf.cfg.Name).Msg("NF CPU time readable again")
		}
		if !nf.cpuLastAt.IsZero() && used >= nf.cpuLast {
			m.mu.Lock()
			m.acct.Add(nf.tag, used-nf.cpuLast, now.Sub(nf.cpuLastAt), len(nf.cfg.Cores), m.active)
			m.mu.Unlock()
		}
		nf.cpuLast, nf.cpuLastAt = used, now
	}
}

// sampleTags measures each NF's average received frame size over the last
// window and re-tags it; a change while harvesting re-applies the settings.
func (m *Manager) sampleTags(ctx context.Context) {
	changed := false
	for _, nf := range m.nfs {
		c, err := m.counters.Counters(ctx, nf.cfg.Interface)
		if err != nil {
			m.warnOnce("counters:"+nf.cfg.Interface, err, "cannot read interface counters; tag unchanged")
			continue
		}
		m.mu.Lock()
		prev, seen := m.tagPrev[nf.cfg.Name]
		m.tagPrev[nf.cfg.Name] = c
		if !seen {
			m.mu.Unlock()
			continue
		}
		bucket, ok := measureBucket(prev, c, m.cfg.TagMinPackets)
		old, cur := nf.tag, nf.tag
		if ok && bucket != old.PktSize {
			nf.tag.PktSize = bucket
			cur = nf.tag
			changed = true
			if m.active {
				m.retune = true
			}
		}
		m.mu.Unlock()
		if cur != old {
			m.log.Info().Str("nf", nf.cfg.Name).Str("from", old.Label()).Str("to", cur.Label()).
				Msg("NF re-tagged")
		}
	}
	if changed {
		m.reconcile(ctx, "re-tag")
	}
}

func (m *Manager) warnOnce(key string, err error, msg string) {
	m.mu.Lock()
	first := !m.warned[key]
	m.warned[key] = true
	m.mu.Unlock()
	if first {
		m.log.Warn().Str("what", key).Err(err).Msg(msg)
	}
}

// sampleQoS feeds the guard and executes its decision.
func (m *Manager) sampleQoS(ctx context.Context) {
	samples := make([]GuardSample, 0, len(m.nfs))
	for _, nf := range m.nfs {
		c, err := m.counters.Counters(ctx, nf.cfg.Interface)
		if err != nil {
			m.warnOnce("counters:"+nf.cfg.Interface, err, "cannot read interface counters; QoS guard blind for this NF")
			continue
		}
		samples = append(samples, GuardSample{NF: nf.cfg.Name, Counters: c})
	}
	m.guardStep(ctx, m.clock.Now(), samples)
}

// guardStep runs one guard decision and its actions (split out for tests).
func (m *Manager) guardStep(ctx context.Context, now time.Time, samples []GuardSample) GuardAction {
	m.mu.Lock()
	contention := m.active || m.refs > 0
	action, degraded := m.guard.Step(now, samples, contention)
	switch action {
	case GuardBackoff:
		m.suppressed = true
		m.stats.backoffs++
	case GuardRecover:
		m.suppressed = false
		m.stats.recoveries++
	}
	m.mu.Unlock()

	for _, d := range degraded {
		ev := m.log.Warn()
		if action == GuardNone && !contention {
			ev = m.log.Info()
		}
		ev.Str("nf", d.NF).Str("reason", d.Reason).Bool("contention", contention).Msg("NF degraded")
	}
	switch action {
	case GuardBackoff:
		m.log.Warn().Int("degradedNfs", len(degraded)).Msg("QoS guard: backing off (harvesting off, new pre-warms held back)")
		m.reconcile(ctx, "qos backoff")
		m.backoff.SuspendPrewarms(ctx)
	case GuardRecover:
		m.log.Info().Msg("QoS guard: NFs healthy again (harvesting allowed, pre-warms may start again)")
		m.backoff.ResumePrewarms(ctx)
		m.reconcile(ctx, "qos recover")
	}
	return action
}

// BackingOff reports whether the QoS guard currently holds harvesting off.
func (m *Manager) BackingOff() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.suppressed
}

func (m *Manager) logSummary() {
	m.mu.Lock()
	stats := m.acct.Stats(m.coresOfLocked)
	s := m.stats
	active, refs, backoff := m.active, m.refs, m.suppressed
	m.mu.Unlock()
	ev := m.log.Info().Bool("active", active).Int("sessions", refs).Bool("backoff", backoff).
		Uint64("switches", s.switches)
	if s.switches > 0 {
		ev = ev.Dur("switchMean", s.switchSum/time.Duration(s.switches)).Dur("switchMax", s.switchMax)
	}
	ev.Msg("harvester")
	for _, t := range stats {
		m.log.Info().Str("nf", t.Tag.NF).Str("tag", t.Tag.Label()).
			Float64("cpu_utilisation", round3(t.Utilisation)).Float64("harvestShare", round3(t.HarvestShare)).
			Float64("harvested_core_seconds", round3(t.HarvestSpare.Seconds())).
			Dur("in_tag", t.Wall).Msg("NF accounting")
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func (m *Manager) coresOfLocked(nf string) int {
	for _, s := range m.nfs {
		if s.cfg.Name == nf {
			return max(len(s.cfg.Cores), 1)
		}
	}
	return 1
}

// clickNeverGrace is how long an NF's Click side may take to attach after the
// writer is created before the harvester warns that it never did.
const clickNeverGrace = 5 * time.Second

// ClickAck is the Click element's acknowledgement of one NF's segment as the
// harvester last read it.
type ClickAck struct {
	NF  string
	Ack clickshm.Ack
}

// observeClick reads every Click knob's acknowledgement line (clickshm
// Writer.Ack), keeps the reading for Metrics and logs each change of the
// reader's state once: an element that attaches, one that stops acknowledging
// (hung or killed), one that detaches, and one that has not attached
// clickNeverGrace after the writer was created.
func (m *Manager) observeClick() []ClickAck {
	m.clickMu.Lock()
	defer m.clickMu.Unlock()
	var out []ClickAck
	now := m.clock.Now()
	for _, nf := range m.nfs {
		k := nf.click
		if k == nil {
			continue
		}
		a, err := k.w.Ack()
		if err != nil {
			continue // closed: Close is running
		}
		out = append(out, ClickAck{NF: nf.cfg.Name, Ack: a})
		state := a.Reader
		if state == clickshm.ReaderNever && now.Sub(k.createdAt) < clickNeverGrace {
			continue
		}
		if k.logged && k.lastLog == state {
			continue
		}
		k.logged, k.lastLog = true, state
		ev := m.log.Warn()
		msg := ""
		switch state {
		case clickshm.ReaderNever:
			msg = "the NF's Click side has never attached to its segment: burst settings have no effect"
		case clickshm.ReaderLive:
			ev, msg = m.log.Info(), "the NF's Click side is attached and acknowledging"
		case clickshm.ReaderStale:
			msg = "the NF's Click side stopped acknowledging (hung or killed while attached)"
		case clickshm.ReaderDetached:
			msg = "the NF's Click side detached from its segment"
		}
		ev.Str("nf", nf.cfg.Name).Str("shm", k.shm).Str("reader", state.String()).
			Uint32("appliedBurst", a.AppliedBurst).Msg(msg)
	}
	return out
}

// ClickAcks reads and returns the Click acknowledgement of every NF with a
// segment (see observeClick).
func (m *Manager) ClickAcks() []ClickAck { return m.observeClick() }
func (m *Manager) anyShmBusy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, nf := range m.nfs {
		if nf.shmBusy {
			return true
		}
	}
	return false
}

// takeOverBusySegments tries to become the writer of the segments another invoker held at start
// (it stopped or died, or it never will and this keeps trying); a segment taken over gets the
// current settings at once.
func (m *Manager) takeOverBusySegments(ctx context.Context) {
	took := false
	m.switchMu.Lock()
	for _, nf := range m.nfs {
		if !nf.shmBusy || ctx.Err() != nil {
			continue
		}
		w, err := m.shmOpen(nf.cfg.Shm, uint32(m.cfg.ShmLease.Milliseconds()))
		if err != nil {
			if !errors.Is(err, clickshm.ErrBusy) {
				m.log.Error().Str("nf", nf.cfg.Name).Str("shm", nf.cfg.Shm).Err(err).Msg("cannot take over the Click segment")
			}
			continue
		}
		m.mu.Lock()
		m.clickMu.Lock() // observeClick reads nf.click under clickMu
		nf.click, nf.shmBusy = &clickKnob{nf: nf.cfg.Name, shm: nf.cfg.Shm, w: w, createdAt: m.clock.Now()}, false
		m.clickMu.Unlock()
		m.retune = m.retune || m.active
		m.mu.Unlock()
		m.log.Info().Str("nf", nf.cfg.Name).Str("shm", nf.cfg.Shm).Msg("took over the Click segment another invoker wrote")
		took = true
	}
	m.switchMu.Unlock()
	if took {
		m.reconcile(ctx, "click segment taken over")
	}
}
