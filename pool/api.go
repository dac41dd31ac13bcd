package pool

import (
	"fmt"
	"strings"
	"time"
)

// Key identifies what a warm container can be reused for: the invoking namespace plus the action's identity.
// Containers are never shared across invoking namespaces. ContentHash covers everything OpenWhisk compares
// structurally (exec/code, parameters, limits, version, publish, annotations, binding) but NOT the document
// revision, so a re-saved but identical action keeps hitting its warm containers.
type Key struct {
	Namespace   string // invoking namespace (msg.user.namespace.name)
	Action      string // fully qualified action doc id, e.g. "guest/pkg/hello"
	ContentHash string // hash of the action content without the revision
}

// IsZero reports whether k is the zero Key (a stem cell has no key).
func (k Key) IsZero() bool { return k == Key{} }

func (k Key) String() string {
	if k.IsZero() {
		return "-"
	}
	s := k.Namespace + ":" + k.Action
	if k.ContentHash != "" {
		s += "#" + k.ContentHash
	}
	return s
}

// Spec describes the container a request needs.
type Spec struct {
	Key         Key    // zero for a stem cell
	Kind        string // runtime kind, e.g. "nodejs:20"; stem cells match on Kind and MemoryMB
	Image       string // resolved image name:tag
	MemoryMB    int    // memory limit; must be > 0
	Concurrency int    // max concurrent runs in one container; values < 1 mean 1
	Stem        bool   // true for a stem cell (prewarmed, not initialised with any code)
	// CPUSet pins the container to these CPUs (cpuset.cpus syntax), e.g. the cores of the NF an edge
	// function is co-located with; "" takes the backend's default.
	CPUSet string
}

// ContainerID names a container inside one Pool. IDs start at 1 and are never reused; the OpenWhisk
// container-name counter uses the same number.
type ContainerID uint64

func (c ContainerID) String() string { return fmt.Sprintf("c%d", uint64(c)) }

// StemCell is one OpenWhisk prewarm configuration: Count containers of Kind/MemoryMB are kept started
// (without /init) and backfilled after use or removal. With Reactive the count follows demand instead.
type StemCell struct {
	Kind     string
	Image    string
	MemoryMB int
	Count    int       // initialCount: kept until the first reactive check (always, without Reactive)
	Reactive *Reactive // nil: a fixed Count
}

// Reactive is OpenWhisk's reactive prewarming of one stem-cell configuration. Every Config.StemCheckInterval
// the pool sets the wanted count from the cold starts of the configuration's kind and memory during the
// interval: min(max(MinCount, cold/Threshold × Increment), MaxCount), or MinCount after an interval without
// any; stem cells above the wanted count that stayed unused for TTL are then removed (OpenWhisk removes every
// expired one and starts new ones up to the count; keeping the young surplus-free ones avoids that churn).
// Stem cells above MinCount also give way, newest first, when an activation needs their memory.
type Reactive struct {
	MinCount  int
	MaxCount  int
	TTL       time.Duration
	Threshold int
	Increment int
}

// want is the count for cold starts during the last interval.
func (r *Reactive) want(cold int) int {
	if cold <= 0 {
		return r.MinCount
	}
	return min(max(r.MinCount, cold/r.Threshold*r.Increment), r.MaxCount)
}

// Config bounds the pool. Zero values take the defaults given on each field; negative values disable a bound
// where said.
type Config struct {
	// UserMemoryMB is the hard memory bound for all containers (stem cells included). Default 2048.
	UserMemoryMB int
	// MaxWarm bounds the number of function-specific containers (warming, idle, frozen, busy) kept; when it is
	// exceeded idle ones are evicted (eviction order: see Rank). On-demand cold starts may exceed it transiently (they use
	// the cold reserve). Default 6; negative = unbounded.
	MaxWarm int
	// ColdReserveMB is memory on-demand (cold) starts can always have at once: stem cells must leave it
	// free, and a controller pre-warm may start only while the memory held by containers that cannot be
	// evicted at once (everything but idle function containers, whose memory an eviction releases when it
	// starts) stays within UserMemoryMB − ColdReserveMB. Idle containers kept after their runs may occupy
	// it. Default 512; negative = no reserve.
	ColdReserveMB int
	// PauseGrace is how long an idle warm container stays unfrozen after its last run. Default 10s; negative =
	// never freeze.
	PauseGrace time.Duration
	// IdleTimeout removes idle (or frozen) warm containers not used for this long. Default 10m; negative =
	// never.
	IdleTimeout time.Duration
	// StemCells are the OpenWhisk prewarm containers created at start and backfilled. Default none.
	StemCells []StemCell
	// NamePrefix is the container name prefix (docs/protocol.md#names-and-labels), e.g. "wsk0". Default "wsk0".
	NamePrefix string
	// StemRetryBackoff is the first delay before re-creating a stem cell whose start failed; it doubles per
	// consecutive failure up to 5 minutes. Default 1s.
	StemRetryBackoff time.Duration
	// StemCheckInterval is how often reactive stem-cell counts are recomputed and expired ones removed
	// (OpenWhisk's prewarmExpirationCheckInterval). Default 1 minute.
	StemCheckInterval time.Duration
	// StemCheckInitDelay is when the first of those checks runs (OpenWhisk's prewarmExpirationCheckInitDelay).
	// Default: one StemCheckInterval.
	StemCheckInitDelay time.Duration
}

// State is a container's lifecycle state as the pool sees it.
type State int

const (
	StateStarting  State = iota // Create issued, not yet Started
	StatePrewarmed              // stem cell started, no code
	StateWarming                // function container being initialised (/init in flight)
	StateIdle                   // initialised, no runs, not frozen
	StateBusy                   // at least one run in flight
	StateFrozen                 // idle and frozen after PauseGrace
	StateRemoving               // Remove issued; memory counted until Removed unless released (Remove.Released)
	numStates
)

var stateNames = [...]string{"starting", "prewarmed", "warming", "idle", "busy", "frozen", "removing"}

func (s State) String() string {
	if s >= 0 && s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// States lists every State in order (for metrics loops).
func States() []State {
	out := make([]State, numStates)
	for i := range out {
		out[i] = State(i)
	}
	return out
}

// ---------------------------------------------------------------------------------------------------------
// Events (inputs to Step)

// Event is an input to Pool.Step. The concrete types below are the only implementations.
type Event interface {
	isEvent()
	// Container is the container the event is about; 0 for events about requests or the whole pool.
	Container() ContainerID
}

// Request asks for a run of request ID (activation id or any unique string) on a container matching Spec.
// With Prewarm=true it is the controller's pre-warm of a specific function: a function container is created
// and initialised but nothing runs; the pool answers Warmed or Reject.
type Request struct {
	ID      string
	Spec    Spec
	Prewarm bool
}

// Started: the backend created and started C (address ready).
type Started struct{ C ContainerID }

// StartFailed: creating C failed; nothing is left to remove, its memory is freed at once.
type StartFailed struct {
	C      ContainerID
	Reason string
}

// Initialized: /init on C succeeded after Duration (ContainerInfo.InitCost, for the driver's ranking).
type Initialized struct {
	C        ContainerID
	Duration time.Duration
}

// InitFailed: /init on C failed; C is removed and the requests waiting on it fail.
type InitFailed struct {
	C      ContainerID
	Reason string
}

// RunFinished: run ID on C is over (including log collection). Destroy removes C (developer/whisk error,
// log failure, OOM, timeout).
type RunFinished struct {
	C       ContainerID
	ID      string
	Destroy bool
}

// Removed: the backend removed C (or it is gone); its memory is freed.
type Removed struct{ C ContainerID }

// Destroy: C is broken (freeze/thaw failed, died); it takes no new work and is removed once its runs end.
// Requests queued on it (not yet running) are rescheduled at the head of the queue.
type Destroy struct {
	C      ContainerID
	Reason string
}

// Evict: the controller asks to remove C if it is idle (warm idle or frozen, not suspended).
type Evict struct{ C ContainerID }

// Suspend: the controller freezes C (a stem cell, a warming or idle container) because an invocation
// conflicts with it. A suspended container is never handed a run and never matched until Resume.
type Suspend struct{ C ContainerID }

// Resume undoes Suspend.
type Resume struct{ C ContainerID }

// Cancel withdraws request ID if it has not been handed a run yet (queued or waiting on a container).
type Cancel struct{ ID string }

// Tick only advances time (pause grace, idle timeout, stem retries); every Step also does.
type Tick struct{}

// Rank is the driver's eviction order, replacing the previous one: Order names containers, most expendable
// first (the scheduler's ranking of idle containers by value, a simulated policy's priorities). Whenever the
// pool must free memory for a request, or trim the warm pool to MaxWarm, it removes idle warm containers
// (never busy, warming, suspended, stem cells or containers runs wait on) in this order, the shortest
// prefix that frees enough, and nothing when all of them together would not.
//
// Containers the latest ranking does not name (created or ranked out since, or no ranking received yet) are
// taken after every named one, least recently used first (ties by id): without any ranking the pool evicts
// LRU, as OpenWhisk does. Names of containers that are gone or not idle are skipped; a repeated name counts
// at its first place; an empty Order returns the pool to LRU. The pool never asks for a ranking: the driver
// sends one whenever its order may have changed (see the scheduler's doc.go for when its drivers do).
type Rank struct{ Order []ContainerID }

// Shutdown drains the pool for good: buffered and waiting requests fail (FailShutdown), new requests are
// rejected, stem cells are no longer backfilled, idle containers are removed at once and busy ones after
// their runs.
type Shutdown struct{}

func (e Started) Container() ContainerID     { return e.C }
func (e StartFailed) Container() ContainerID { return e.C }
func (e Initialized) Container() ContainerID { return e.C }
func (e InitFailed) Container() ContainerID  { return e.C }
func (e RunFinished) Container() ContainerID { return e.C }
func (e Removed) Container() ContainerID     { return e.C }
func (e Destroy) Container() ContainerID     { return e.C }
func (e Evict) Container() ContainerID       { return e.C }
func (e Suspend) Container() ContainerID     { return e.C }
func (e Resume) Container() ContainerID      { return e.C }
func (Request) Container() ContainerID       { return 0 }
func (Cancel) Container() ContainerID        { return 0 }
func (Tick) Container() ContainerID          { return 0 }
func (Rank) Container() ContainerID          { return 0 }
func (Shutdown) Container() ContainerID      { return 0 }

func (Request) isEvent()     {}
func (Started) isEvent()     {}
func (StartFailed) isEvent() {}
func (Initialized) isEvent() {}
func (InitFailed) isEvent()  {}
func (RunFinished) isEvent() {}
func (Removed) isEvent()     {}
func (Destroy) isEvent()     {}
func (Evict) isEvent()       {}
func (Suspend) isEvent()     {}
func (Resume) isEvent()      {}
func (Cancel) isEvent()      {}
func (Tick) isEvent()        {}
func (Rank) isEvent()        {}
func (Shutdown) isEvent()    {}

// ---------------------------------------------------------------------------------------------------------
// Actions (outputs of Step). The driver executes actions for one container in the order emitted.

// Action is an output of Pool.Step.
type Action interface {
	isAction()
	String() string
	// Container is the container the action is about; 0 for actions about requests only (Buffered,
	// Reject, Ignored, and Failed of a request canceled before it had a container).
	Container() ContainerID
}

// StartKind says how a run got its container (an OpenWhisk log marker; Outcome.ContainerState).
type StartKind string

const (
	StartCold      StartKind = "cold"      // container created for this request
	StartPrewarmed StartKind = "prewarmed" // a stem cell was taken for this request
	StartWarm      StartKind = "warm"      // an initialised container was reused
	StartWarming   StartKind = "warming"   // joined a container whose /init was already in flight
)

// Create: create and start container C for Spec under Name. ForID is the request it is created for ("" for
// a stem cell); its /init will use that request's context. Answer with Started or StartFailed.
type Create struct {
	C     ContainerID
	Spec  Spec
	Name  string
	ForID string
}

// Init: POST /init on C with the context of request ForID (an activation or a pre-warm request).
// Answer with Initialized or InitFailed.
type Init struct {
	C     ContainerID
	ForID string
}

// Run: POST /run of request ID on C. Answer with RunFinished.
type Run struct {
	C     ContainerID
	ID    string
	Start StartKind
}

// Freeze C (cgroup freezer). A failure should be reported as Destroy.
type Freeze struct{ C ContainerID }

// Thaw C. A failure should be reported as Destroy.
type Thaw struct{ C ContainerID }

// Remove C. Answer with Removed (also on failure: the pool forgets it either way). Evicted is set when the
// pool chose C by its eviction order (memory for a request, or MaxWarm), for drivers whose ranking learns
// from its evictions (greedy-dual's clock). Released is set when C was idle (an idle or frozen function
// container, an unused stem cell: evictions, the controller's Evict, idle timeout, stem-cell expiry,
// shutdown): the pool no longer counts its memory from this action on, so a container may be created
// beside its removal; the driver must kill it first (a force removal does). Any other removal (a broken,
// destroyed or failed container) keeps its memory counted until Removed.
type Remove struct {
	C        ContainerID
	Reason   string
	Evicted  bool
	Released bool
}

// Buffered: request ID waits in the FIFO run buffer (memory full).
type Buffered struct{ ID string }

// Reject: request ID can never be served (or a pre-warm cannot be placed now); Reason says why.
type Reject struct {
	ID     string
	Reason string
}

// FailCause classifies Failed.
type FailCause string

const (
	FailStart    FailCause = "start"    // container creation failed
	FailInit     FailCause = "init"     // /init failed: the waiting runs get the init error
	FailCanceled FailCause = "canceled" // withdrawn by Cancel
	FailShutdown FailCause = "shutdown" // the pool is shutting down
	FailGone     FailCause = "gone"     // the container was destroyed or vanished before /init completed
)

// Failed: request ID will not run because container C failed (Cause), or it was canceled (C = 0).
type Failed struct {
	ID     string
	C      ContainerID
	Cause  FailCause
	Reason string
}

// Warmed: pre-warm request ID is satisfied by container C (initialised and idle, or already warm).
type Warmed struct {
	ID string
	C  ContainerID
}

// Ignored: an event did not apply (unknown container, wrong state); for the driver to report.
type Ignored struct {
	Event  string
	Reason string
}

func (a Create) Container() ContainerID { return a.C }
func (a Init) Container() ContainerID   { return a.C }
func (a Run) Container() ContainerID    { return a.C }
func (a Freeze) Container() ContainerID { return a.C }
func (a Thaw) Container() ContainerID   { return a.C }
func (a Remove) Container() ContainerID { return a.C }
func (a Failed) Container() ContainerID { return a.C }
func (a Warmed) Container() ContainerID { return a.C }
func (Buffered) Container() ContainerID { return 0 }
func (Reject) Container() ContainerID   { return 0 }
func (Ignored) Container() ContainerID  { return 0 }

func (Create) isAction()   {}
func (Init) isAction()     {}
func (Run) isAction()      {}
func (Freeze) isAction()   {}
func (Thaw) isAction()     {}
func (Remove) isAction()   {}
func (Buffered) isAction() {}
func (Reject) isAction()   {}
func (Failed) isAction()   {}
func (Warmed) isAction()   {}
func (Ignored) isAction()  {}

func (a Create) String() string {
	s := fmt.Sprintf("create %s %s %s %dMB c=%d name=%s", a.C, specLabel(a.Spec), a.Spec.Kind, a.Spec.MemoryMB,
		max(a.Spec.Concurrency, 1), a.Name)
	if a.ForID != "" {
		s += " for=" + a.ForID
	}
	return s
}
func (a Init) String() string     { return fmt.Sprintf("init %s for=%s", a.C, a.ForID) }
func (a Run) String() string      { return fmt.Sprintf("run %s %s %s", a.C, a.ID, a.Start) }
func (a Freeze) String() string   { return fmt.Sprintf("freeze %s", a.C) }
func (a Thaw) String() string     { return fmt.Sprintf("thaw %s", a.C) }
func (a Remove) String() string   { return fmt.Sprintf("remove %s (%s)", a.C, a.Reason) }
func (a Buffered) String() string { return fmt.Sprintf("buffered %s", a.ID) }
func (a Reject) String() string   { return fmt.Sprintf("reject %s (%s)", a.ID, a.Reason) }
func (a Failed) String() string {
	return fmt.Sprintf("failed %s %s %s (%s)", a.ID, a.C, a.Cause, a.Reason)
}
func (a Warmed) String() string  { return fmt.Sprintf("warmed %s %s", a.ID, a.C) }
func (a Ignored) String() string { return fmt.Sprintf("ignored %s (%s)", a.Event, a.Reason) }

func specLabel(s Spec) string {
	if s.Stem || s.Key.IsZero() {
		return "stem"
	}
	return s.Key.String()
}

// ---------------------------------------------------------------------------------------------------------
// Snapshot

// ContainerInfo is one container in a Snapshot.
type ContainerInfo struct {
	C           ContainerID
	Key         Key // zero for a stem cell
	Kind        string
	MemoryMB    int
	Concurrency int
	State       State
	Frozen      bool // the pool froze it (pause grace or Suspend)
	Suspended   bool // held by the controller (Suspend)
	Released    bool // being removed, memory no longer counted (Remove.Released)
	Created     time.Time
	LastUsed    time.Time
	Active      int // runs in flight
	Waiting     int // requests queued on it until /init completes
	Uses        int
	// FunctionUses counts the runs of Key over all its live containers; it restarts from 0 once none is left
	// (greedy-dual's frequency).
	FunctionUses int
	InitCost     time.Duration
}

// Snapshot is a copy of the pool's state for metrics and the scheduler.
type Snapshot struct {
	At             time.Time
	UserMemoryMB   int
	ColdReserveMB  int
	MaxWarm        int
	UsedMB         int // sum over live containers (Create .. Removed), except released removals (Remove.Released)
	MemoryByState  [numStates]int
	CountByState   [numStates]int
	WarmContainers int      // function-specific containers not being removed (the MaxWarm count)
	Buffered       []string // request IDs in the run buffer, in order
	Containers     []ContainerInfo
	// StemCells are the stem-cell configurations' counters, in configuration order.
	StemCells []StemCellStats
}

// StemCellStats counts, for one stem-cell configuration, the reactive checks (Config.StemCheckInterval)
// that saw cold starts of its kind and memory, and those that removed expired stem cells of it: what
// OpenWhisk's pool reports as prewarmColdstart and prewarmExpired (once per check, not per container).
type StemCellStats struct {
	Kind            string
	MemoryMB        int
	ColdStartChecks uint64
	ExpiryChecks    uint64
}

// FreeMB is the memory not counted against any container.
func (s Snapshot) FreeMB() int { return s.UserMemoryMB - s.UsedMB }

// Format renders a one-line summary (golden files, logs).
func (s Snapshot) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "used=%d/%d warm=%d", s.UsedMB, s.UserMemoryMB, s.WarmContainers)
	for st := State(0); st < numStates; st++ {
		if s.CountByState[st] > 0 {
			fmt.Fprintf(&b, " %s=%d/%dMB", st, s.CountByState[st], s.MemoryByState[st])
		}
	}
	if len(s.Buffered) > 0 {
		fmt.Fprintf(&b, " buffer=%s", strings.Join(s.Buffered, ","))
	}
	return b.String()
}
