package harvester

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/safchain/ethtool"
	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/clickshm"
)

// Clock is the manager's time source; tests inject a manual one.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper cancels a pending AfterFunc; *time.Timer implements it.
type Stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                              { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }

// switchTimeout bounds one harvest switch (ioctls and shared-memory stores).
const switchTimeout = 2 * time.Second

// Option customises New.
type Option func(*options)

type options struct {
	clock     Clock
	eth       Coalescer
	shmOpen   func(path string, leaseMs uint32) (ShmWriter, error)
	shmRetry  time.Duration
	backoff   Backoff
	counters  CounterReader
	procRoot  string
	cpuSource func(NFConfig) CPUSource
}

// WithBackoff sets the pre-warm suspender the QoS guard calls. Default is NoBackoff.
func WithBackoff(b Backoff) Option { return func(o *options) { o.backoff = b } }

// Manager is the slack harvester: reference-counted harvest sessions switch
// NIC coalescing and Click burst on and off (the paper's changeMode), per-NF
// tags select the settings, CPU accounting and the QoS guard run in Run. All
// methods are safe for concurrent use.
type Manager struct {
	cfg      Config
	log      zerolog.Logger
	clock    Clock
	profiles *Profiles
	backoff  Backoff
	counters CounterReader
	eth      Coalescer
	ethClose func()
	state    *stateFile
	shmOpen  func(path string, leaseMs uint32) (ShmWriter, error)
	shmRetry time.Duration

	nfs    []*nfState
	ifaces []*ifaceState

	// switchMu serialises knob I/O; it is taken before mu, never after.
	switchMu sync.Mutex
	// clickMu guards the Click knobs' acknowledgement readings; it may be taken while holding mu, never
	// the other way round.
	clickMu sync.Mutex

	mu          sync.Mutex
	refs        int
	lingering   bool
	lingerGen   uint64
	lingerTimer Stopper
	suppressed  bool // QoS back-off
	closed      bool
	active      bool
	retune      bool // a tag changed while active
	stats       counters
	knobErrs    map[string]uint64
	unsupported map[string]bool
	warned      map[string]bool
	acct        *Accountant
	guard       *Guard
	tagPrev     map[string]IfCounters
}

type counters struct {
	sessions, switches, retunes, backoffs, recoveries uint64
	switchSum, switchMax, switchLast                  time.Duration
}

type nfState struct {
	cfg   NFConfig
	tag   Tag // guarded by Manager.mu
	click *clickKnob
	// shmBusy: another invoker is the writer of the NF's segment; Run retries to take it over.
	// Written under switchMu and mu.
	shmBusy bool
	iface   *ifaceState
	cpu     CPUSource

	cpuLast   time.Duration
	cpuLastAt time.Time
	cpuErr    bool // guarded by Manager.mu
}

type ifaceState struct {
	name string
	nic  *nicKnob // nil when NIC coalescing is disabled
	nfs  []*nfState
}

// New validates cfg, restores NIC settings left behind by a previous run (the
// state file, see RestoreLeftovers), and opens one clickshm writer per NF with a segment. With
// cfg.Enabled false nothing but that restoration touches the system and
// Begin only counts sessions.
func New(ctx context.Context, cfg Config, log zerolog.Logger, opts ...Option) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{clock: realClock{}, backoff: NoBackoff{}, procRoot: "/proc"}
	for _, opt := range opts {
		opt(&o)
	}
	c := cfg.withDefaults()
	m := &Manager{
		cfg:         c,
		log:         log.With().Str("component", "harvester").Logger(),
		clock:       o.clock,
		profiles:    NewProfiles(c.Profiles, c.MaxRxUsecs),
		backoff:     o.backoff,
		counters:    o.counters,
		eth:         o.eth,
		ethClose:    func() {},
		state:       &stateFile{path: c.StateFile},
		knobErrs:    map[string]uint64{},
		unsupported: map[string]bool{},
		warned:      map[string]bool{},
		acct:        NewAccountant(),
		guard:       NewGuard(c.QoS),
		tagPrev:     map[string]IfCounters{},
	}
	if m.counters == nil {
		m.counters = &sysfsCounters{root: c.SysClassNet, socketDrops: packetSocketDrops}
	}
	if err := m.restoreLeftovers(ctx); err != nil {
		m.ethClose()
		return nil, err
	}
	if !c.Enabled {
		return m, nil
	}
	if err := m.build(o); err != nil {
		if cerr := m.closeKnobs(context.Background()); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return m, nil
}

func (m *Manager) openEthtool() error {
	if m.eth != nil {
		return nil
	}
	e, err := ethtool.NewEthtool()
	if err != nil {
		return fmt.Errorf("harvester: ethtool socket: %w", err)
	}
	m.eth, m.ethClose = e, e.Close
	return nil
}

// restoreLeftovers runs RestoreLeftovers' work with the manager's ethtool
// socket, opening it only when there is something to restore.
func (m *Manager) restoreLeftovers(ctx context.Context) error {
	return restoreFromState(ctx, m.state, func() (Coalescer, error) {
		if err := m.openEthtool(); err != nil {
			return nil, err
		}
		return m.eth, nil
	}, m.log)
}

// RestoreLeftovers puts back the NIC coalescing settings that an earlier run
// recorded in the state file (cfg.StateFile, or its default) and did not
// restore because it crashed or was killed. It does so whatever cfg.Enabled
// says: an operator who switches harvesting off after a crash still gets the
// NIC back. Entries that restore, or whose device says coalescing is
// unsupported, leave the file; others stay for the next start and are logged
// as errors. An entry that another live invoker on the host still uses is its,
// and left alone. Nothing else is read or changed, and cfg is not validated
// beyond the state file's path. An unreadable or corrupt state file is an
// error wrapping ErrStateFile and is left untouched. New calls it too;
// WithCoalescer is the only option it uses.
func RestoreLeftovers(ctx context.Context, cfg Config, log zerolog.Logger, opts ...Option) error {
	if cfg.StateFile != "" && !filepath.IsAbs(cfg.StateFile) {
		return fieldErr("stateFile", "%q must be an absolute path", cfg.StateFile)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c := cfg.withDefaults()
	eth, closeEth := o.eth, func() {}
	defer func() { closeEth() }()
	return restoreFromState(ctx, &stateFile{path: c.StateFile}, func() (Coalescer, error) {
		if eth == nil {
			e, err := ethtool.NewEthtool()
			if err != nil {
				return nil, fmt.Errorf("harvester: ethtool socket: %w", err)
			}
			eth, closeEth = e, e.Close
		}
		return eth, nil
	}, log.With().Str("component", "harvester").Logger())
}

// restoreFromState puts back the originals recorded in state (crash,
// SIGKILL); ethFor is called only when there is an entry.
func restoreFromState(ctx context.Context, state *stateFile, ethFor func() (Coalescer, error), log zerolog.Logger) error {
	entries, err := state.entries(ctx)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	eth, err := ethFor()
	if err != nil {
		return err
	}
	for _, iface := range slices.Sorted(maps.Keys(entries)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := restoreLeftover(ctx, state, eth, iface, entries[iface], log); err != nil {
			return err
		}
	}
	return nil
}

func restoreLeftover(ctx context.Context, state *stateFile, eth Coalescer, iface string, saved savedCoalesce, log zerolog.Logger) error {
	users, err := openFlock(hostLockPath(state.path, iface, "users"))
	if err != nil {
		return err
	}
	defer users.close()
	// Exclusive for the whole restore: an invoker registering meanwhile waits, then finds the
	// original in place and the entry gone.
	if alone, err := users.try(unix.LOCK_EX); err != nil || !alone {
		if err == nil {
			log.Info().Str("iface", iface).Str("stateFile", state.path).
				Msg("NIC coalescing recorded by another invoker that is still running; leaving it to that invoker")
		}
		return err
	}
	_, err = eth.SetCoalesce(iface, saved.Coalesce)
	switch {
	case err == nil:
		log.Warn().Str("iface", iface).Uint32("rxUsecs", saved.Coalesce.RxCoalesceUsecs).
			Time("savedAt", saved.SavedAt).Int("savedByPid", saved.PID).
			Msg("restored NIC coalescing left behind by a previous run")
	case errors.Is(classify(iface, "restore", err), ErrUnsupported):
		log.Warn().Str("iface", iface).Err(err).Msg("leftover NIC state for a device without coalescing support; dropping it")
	default:
		log.Error().Str("iface", iface).Err(err).Str("stateFile", state.path).
			Msg("cannot restore leftover NIC coalescing; keeping the entry for the next start")
		return nil
	}
	return state.remove(ctx, iface, nil)
}

func (m *Manager) build(o options) error {
	byIface := map[string]*ifaceState{}
	if *m.cfg.NICCoalescing {
		if err := m.openEthtool(); err != nil {
			return err
		}
	}
	shmOpen := o.shmOpen
	if shmOpen == nil {
		shmOpen = func(path string, lease uint32) (ShmWriter, error) { return clickshm.Create(path, lease) }
	}
	m.shmOpen, m.shmRetry = shmOpen, cmp.Or(o.shmRetry, 5*time.Second)
	for _, nc := range m.cfg.NFs {
		nf := &nfState{cfg: nc, tag: Tag{NF: nc.Name, PktSize: IdleBucket}}
		if o.cpuSource != nil {
			nf.cpu = o.cpuSource(nc)
		} else {
			var why string
			if nf.cpu, why = cpuSourceFor(nc, o.procRoot); nf.cpu == nil {
				m.log.Warn().Str("nf", nc.Name).Str("reason", why).
					Msg("NF CPU accounting is off for this NF (nemo_nf_cpu_accounting 0); harvesting itself is unaffected")
			}
		}
		is := byIface[nc.Interface]
		if is == nil {
			is = &ifaceState{name: nc.Interface}
			if *m.cfg.NICCoalescing {
				is.nic = &nicKnob{iface: nc.Interface, eth: m.eth, state: m.state}
			}
			byIface[nc.Interface] = is
			m.ifaces = append(m.ifaces, is)
		}
		is.nfs = append(is.nfs, nf)
		nf.iface = is
		if nc.Shm != "" {
			w, err := shmOpen(nc.Shm, uint32(m.cfg.ShmLease.Milliseconds()))
			switch {
			case errors.Is(err, clickshm.ErrBusy):
				// Another invoker on this host drives the NF's burst; one segment has one writer.
				m.log.Warn().Str("nf", nc.Name).Str("shm", nc.Shm).
					Msg("another invoker writes this NF's Click segment; harvesting here without the Click knob until it stops")
				nf.shmBusy = true
			case err != nil:
				return fmt.Errorf("harvester: nf %s: shared memory %s: %w", nc.Name, nc.Shm, err)
			default:
				nf.click = &clickKnob{nf: nc.Name, shm: nc.Shm, w: w, createdAt: m.clock.Now()}
			}
		}
		m.nfs = append(m.nfs, nf)
	}
	return nil
}

// Begin opens a harvest session (an invocation) and returns its release.
// The first open session switches harvesting on before Begin returns; the
// last release switches it off after the linger, unless a new session starts
// meanwhile. release is idempotent. Knob failures are logged, never returned:
// an invocation must not fail because of harvesting.
func (m *Manager) Begin(ctx context.Context, reason string) (release func()) {
	m.mu.Lock()
	m.refs++
	m.stats.sessions++
	if m.lingerTimer != nil {
		m.lingerTimer.Stop()
		m.lingerTimer = nil
	}
	m.lingerGen++ // invalidates a linger callback already running
	m.lingering = false
	m.mu.Unlock()
	m.reconcile(ctx, reason)

	var once sync.Once
	return func() { once.Do(func() { m.end(reason) }) }
}

func (m *Manager) end(reason string) {
	m.mu.Lock()
	m.refs--
	if m.refs > 0 {
		m.mu.Unlock()
		return
	}
	if linger := m.cfg.linger(); linger > 0 && !m.closed {
		m.lingering = true
		m.lingerGen++
		gen := m.lingerGen
		m.lingerTimer = m.clock.AfterFunc(linger, func() { m.lingerExpired(gen) })
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	m.reconcile(context.Background(), reason)
}

func (m *Manager) lingerExpired(gen uint64) {
	m.mu.Lock()
	if gen != m.lingerGen || m.refs > 0 {
		m.mu.Unlock()
		return
	}
	m.lingering, m.lingerTimer = false, nil
	m.mu.Unlock()
	m.reconcile(context.Background(), "linger expired")
}

// wantOnLocked is the switch decision: harvesting is on while a session is
// open or lingering, unless disabled, closed or backed off by the QoS guard.
func (m *Manager) wantOnLocked() bool {
	return m.cfg.Enabled && !m.closed && !m.suppressed && (m.refs > 0 || m.lingering)
}

// reconcile brings the knobs in line with the decision. It re-reads the
// decision after taking switchMu, so concurrent callers converge.
func (m *Manager) reconcile(ctx context.Context, reason string) {
	m.switchMu.Lock()
	defer m.switchMu.Unlock()
	m.mu.Lock()
	want, have, retune := m.wantOnLocked(), m.active, m.retune && m.active
	m.retune = false
	m.mu.Unlock()
	if want == have && !(want && retune) {
		return
	}
	if !want {
		// Switching off must happen even when the caller's ctx is done.
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, switchTimeout)
	defer cancel()

	start := time.Now()
	m.apply(ctx, want)
	cost := time.Since(start)

	m.mu.Lock()
	m.active = want
	if want == have {
		m.stats.retunes++
	} else {
		m.stats.switches++
		m.stats.switchSum += cost
		m.stats.switchLast = cost
		m.stats.switchMax = max(m.stats.switchMax, cost)
	}
	m.mu.Unlock()
	m.log.Debug().Bool("on", want).Bool("retune", want == have).Str("reason", reason).
		Dur("cost", cost).Msg("harvest switch")
}

// apply drives every knob; the caller holds switchMu.
func (m *Manager) apply(ctx context.Context, on bool) {
	m.mu.Lock()
	settings := make(map[*nfState]Setting, len(m.nfs))
	for _, nf := range m.nfs {
		if on {
			settings[nf] = m.profiles.Lookup(nf.tag)
		}
	}
	m.mu.Unlock()

	for _, is := range m.ifaces {
		if is.nic == nil {
			continue
		}
		// Several NFs on one NIC: the most latency-sensitive one wins.
		rx := settings[is.nfs[0]].RxUsecs
		for _, nf := range is.nfs[1:] {
			rx = min(rx, settings[nf].RxUsecs)
		}
		if is.nic.unsupported {
			continue
		}
		if err := is.nic.apply(ctx, rx); err != nil {
			m.knobError("nic:"+is.name, err)
		}
	}
	for _, nf := range m.nfs {
		if nf.click == nil {
			continue
		}
		if err := nf.click.apply(settings[nf]); err != nil {
			m.knobError("click:"+nf.cfg.Name, err)
		}
	}
}

func (m *Manager) knobError(knob string, err error) {
	unsupported := errors.Is(err, ErrUnsupported)
	m.mu.Lock()
	m.knobErrs[knob]++
	first := !m.warned[knob]
	m.warned[knob] = true
	if unsupported {
		m.unsupported[knob] = true
	}
	m.mu.Unlock()
	if unsupported {
		if first {
			m.log.Warn().Str("knob", knob).Err(err).
				Msg("device does not support interrupt coalescing; harvesting continues with the other knobs")
		}
		return
	}
	m.log.Error().Str("knob", knob).Err(err).Msg("harvest knob failed")
}

// Active reports whether harvesting is switched on.
func (m *Manager) Active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active
}

// Sessions returns the number of open sessions.
func (m *Manager) Sessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refs
}

// Tag returns an NF's current tag.
func (m *Manager) Tag(nf string) (Tag, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.nfs {
		if s.cfg.Name == nf {
			return s.tag, true
		}
	}
	return Tag{}, false
}

// SetTag sets an NF's tag by hand (tests, operators); Run normally measures it.
func (m *Manager) SetTag(ctx context.Context, nf string, pktSize int) error {
	m.mu.Lock()
	var found bool
	for _, s := range m.nfs {
		if s.cfg.Name == nf {
			found = true
			if s.tag.PktSize != pktSize {
				s.tag.PktSize = pktSize
				m.retune = true
			}
		}
	}
	m.mu.Unlock()
	if !found {
		return fmt.Errorf("harvester: unknown nf %q", nf)
	}
	m.reconcile(ctx, "tag set")
	return nil
}

// Close switches harvesting off, restores original NIC coalescing (and drops
// it from the state file), publishes WRITER_CLOSED to every Click segment and
// releases the ethtool socket. Safe to call from the SIGTERM handler while
// sessions are open; later Begin calls only count. Idempotent.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.lingerTimer != nil {
		m.lingerTimer.Stop()
		m.lingerTimer = nil
	}
	m.lingering = false
	m.mu.Unlock()
	m.reconcile(ctx, "close")
	return m.closeKnobs(context.WithoutCancel(ctx))
}

func (m *Manager) closeKnobs(ctx context.Context) error {
	m.switchMu.Lock()
	defer m.switchMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, switchTimeout)
	defer cancel()
	var errs []error
	for _, is := range m.ifaces {
		if is.nic != nil {
			if err := is.nic.restore(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, nf := range m.nfs {
		if nf.click != nil {
			if err := nf.click.w.Close(); err != nil {
				errs = append(errs, fmt.Errorf("harvester: nf %s: close shared memory: %w", nf.cfg.Name, err))
			}
		}
	}
	m.ethClose()
	m.ethClose = func() {}
	return errors.Join(errs...)
}
