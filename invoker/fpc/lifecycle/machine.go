package lifecycle

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// ErrBlackboxStart is wrapped by Containers.Create errors of a blackbox image (the ack is BlackBoxError,
// which the scheduler does not retry).
var ErrBlackboxStart = errors.New("lifecycle: blackbox container failed to start")

// State is a container's lifecycle state.
type State int

// States. In-progress: Creating, ClientStarting, Resuming. Busy: Ready, Running, Pausing, Draining.
const (
	Prewarmed      State = iota + 1 // a stem cell, not bound to an action
	Creating                        // cold start: the container is being started
	ClientStarting                  // bound; its gRPC client is being created
	Ready                           // pulling, no activation run yet (the JVM's ClientCreated)
	Running                         // pulling, warm (has run)
	Draining                        // deleted or disabled: serves what is queued, then goes
	Pausing                         // being frozen after its pause grace
	Paused                          // frozen, registered as warmed
	Resuming                        // being thawed for a matching creation
	Removing                        // being destroyed
)

var stateNames = map[State]string{Prewarmed: "prewarmed", Creating: "creating", ClientStarting: "client-starting",
	Ready: "ready", Running: "running", Draining: "draining", Pausing: "pausing", Paused: "paused", Resuming: "resuming",
	Removing: "removing"}

func (s State) String() string { return stateNames[s] }

type container struct {
	id        ContainerID
	state     State
	kind      string // stem cells: their kind
	memoryMB  int
	binding   Binding
	bound     bool
	creation  *wire.ContainerCreationMessage // awaiting its ack
	existing  bool                           // existing key registered
	warmed    bool                           // warmed key registered
	warm      bool                           // has run (the JVM's WarmData)
	timedOut  bool                           // no activation for the pause grace
	active    int                            // activations being run
	lastUsed  time.Time
	grace     time.Time // pause-grace deadline (zero: none)
	idle      time.Time // idle-container deadline while paused
	keepUntil time.Time // kept after the idle decision until then
	countAt   time.Time // retry of a failed live count
	countTry  int
}

// Machine is the pure decision core of FPC mode's pool: where a creation goes, when a container acks, pauses,
// resumes, is kept or removed. Step takes an event and the current time and returns actions; it does no I/O.
type Machine struct {
	cfg       Config
	cs        map[ContainerID]*container
	seq       int
	disabled  bool
	nextRound time.Time
}

// New returns a machine with no containers.
func New(cfg Config) *Machine {
	cfg.defaults()
	return &Machine{cfg: cfg, cs: map[ContainerID]*container{}}
}

// Event is something that happened; see the types below.
type Event interface{ event() }

type (
	// Creation: a ContainerCreationMessage (not the warm-up one: the consumer drops it) whose action the
	// consumer fetched successfully.
	Creation struct {
		Msg *wire.ContainerCreationMessage
	}
	// Deletion: a ContainerDeletionMessage.
	Deletion struct {
		Msg *wire.ContainerDeletionMessage
	}
	// StemCellReady / StemCellGone: the pool has (or lost) an unbound prewarmed container.
	StemCellReady struct {
		C        ContainerID
		Kind     string
		MemoryMB int
	}
	StemCellGone struct{ C ContainerID }
	// Adopted: the pool holds a frozen, initialised container of Binding that no creation asked for (NEMO's
	// history-driven pre-warm). It enters as Paused, registered as warmed, so the scheduler prefers this
	// invoker for the action and a matching creation resumes it. A disabled invoker does not adopt (no
	// action: the driver removes the container itself).
	Adopted struct {
		C       ContainerID
		Binding Binding
	}
	// Started / StartFailed answer ActCreate.
	Started     struct{ C ContainerID }
	StartFailed struct {
		C        ContainerID
		Blackbox bool
		Reason   string
	}
	// ClientReady / ClientFailed answer ActStartClient.
	ClientReady  struct{ C ContainerID }
	ClientFailed struct {
		C      ContainerID
		Reason string
	}
	// ActivationReceived: the pull delivered an activation; RunFinished: it ran.
	ActivationReceived struct{ C ContainerID }
	RunFinished        struct {
		C      ContainerID
		Result RunResult
	}
	// Idle: the pull got NoActivationMessage. The actions answer it: ActContinue, or not.
	Idle struct{ C ContainerID }
	// PullStopped: the pull ended on its own (ActionMismatch, no queue anywhere, closed).
	PullStopped struct {
		C      ContainerID
		Reason string
	}
	// PauseDone / PauseFailed answer ActPause; ResumeDone / ResumeFailed answer ActResume.
	PauseDone    struct{ C ContainerID }
	PauseFailed  struct{ C ContainerID }
	ResumeDone   struct{ C ContainerID }
	ResumeFailed struct{ C ContainerID }
	// LiveCount / LiveCountFailed answer ActCountLive: Count keys under the three prefixes, the namespace's
	// warmedContainerKeepingCount (Limit) and keeping timeout (KeepFor, 0 = the configured default).
	LiveCount struct {
		C       ContainerID
		Count   int64
		Limit   int64
		KeepFor time.Duration
	}
	LiveCountFailed struct{ C ContainerID }
	// Removed answers ActRemove.
	Removed struct{ C ContainerID }
	// Disable / Enable: /disable and /enable.
	Disable struct{}
	Enable  struct{}
	// Tick: time passed (send one at NextDeadline).
	Tick struct{}
)

func (Creation) event()           {}
func (Deletion) event()           {}
func (StemCellReady) event()      {}
func (StemCellGone) event()       {}
func (Adopted) event()            {}
func (Started) event()            {}
func (StartFailed) event()        {}
func (ClientReady) event()        {}
func (ClientFailed) event()       {}
func (ActivationReceived) event() {}
func (RunFinished) event()        {}
func (Idle) event()               {}
func (PullStopped) event()        {}
func (PauseDone) event()          {}
func (PauseFailed) event()        {}
func (ResumeDone) event()         {}
func (ResumeFailed) event()       {}
func (LiveCount) event()          {}
func (LiveCountFailed) event()    {}
func (Removed) event()            {}
func (Disable) event()            {}
func (Enable) event()             {}
func (Tick) event()               {}

// Step applies ev at now and returns what to do. Timers due at now fire first.
func (m *Machine) Step(now time.Time, ev Event) []Action {
	acts := m.fire(now)
	switch e := ev.(type) {
	case Creation:
		acts = append(acts, m.place(now, e.Msg)...)
	case Deletion:
		acts = append(acts, m.deletion(e.Msg)...)
	case StemCellReady:
		if _, ok := m.cs[e.C]; !ok {
			m.cs[e.C] = &container{id: e.C, state: Prewarmed, kind: e.Kind, memoryMB: e.MemoryMB}
		}
	case StemCellGone:
		if c, ok := m.cs[e.C]; ok && c.state == Prewarmed {
			delete(m.cs, e.C)
		}
	case Adopted:
		if _, ok := m.cs[e.C]; !ok && !m.disabled {
			c := &container{id: e.C, state: Paused, memoryMB: e.Binding.MemoryMB, binding: e.Binding, bound: true,
				warm: true, warmed: true, lastUsed: now, idle: now.Add(m.cfg.IdleContainer)}
			m.cs[e.C] = c
			acts = append(acts, m.act(ActRegisterWarmed, c))
		}
	case Started:
		if c := m.in(e.C, Creating); c != nil {
			c.state = ClientStarting
			acts = append(acts, m.act(ActStartClient, c))
		}
	case StartFailed:
		if c := m.in(e.C, Creating); c != nil {
			delete(m.cs, c.id)
			err, reason := wire.CreationErrWhisk, e.Reason
			if e.Blackbox {
				err = wire.CreationErrBlackBox
			}
			if reason == "" {
				reason = proxy.MsgProvisionFailed
			}
			acts = append(acts, m.ack(c, err, reason))
		}
	case ClientReady:
		if c := m.in(e.C, ClientStarting); c != nil {
			c.state, c.existing, c.grace, c.timedOut = Ready, true, now.Add(m.cfg.PauseGrace), false
			acts = append(acts, m.act(ActRegisterExisting, c), m.ack(c, "", ""), m.act(ActPull, c))
		}
	case ClientFailed:
		if c := m.in(e.C, ClientStarting); c != nil {
			acts = append(acts, m.act(ActHealthFailure, c), m.ack(c, wire.CreationErrUnknown, "ContainerProxy init failed."))
			acts = append(acts, m.remove(c)...)
		}
	case ActivationReceived:
		if c, ok := m.cs[e.C]; ok && (c.state == Ready || c.state == Running || c.state == Draining) {
			c.active++
			c.timedOut, c.grace = false, time.Time{}
		}
	case RunFinished:
		acts = append(acts, m.finished(now, e)...)
	case Idle:
		acts = append(acts, m.idle(e.C)...)
	case PullStopped:
		if c, ok := m.cs[e.C]; ok && c.state != Removing {
			acts = append(acts, m.remove(c)...)
		}
	case PauseDone:
		if c := m.in(e.C, Pausing); c != nil {
			c.state, c.warmed, c.existing, c.idle = Paused, true, false, now.Add(m.cfg.IdleContainer)
			acts = append(acts, m.act(ActRegisterWarmed, c), m.act(ActUnregisterExisting, c))
		}
	case PauseFailed:
		if c := m.in(e.C, Pausing); c != nil {
			acts = append(acts, m.remove(c)...)
		}
	case ResumeDone:
		if c := m.in(e.C, Resuming); c != nil {
			c.state, c.existing, c.timedOut, c.grace = Running, true, false, now.Add(m.cfg.PauseGrace)
			acts = append(acts, m.act(ActRegisterExisting, c), m.act(ActRedirect, c), m.ack(c, "", ""), m.act(ActPull, c))
		}
	case ResumeFailed:
		if c := m.in(e.C, Resuming); c != nil {
			msg := c.creation
			c.creation = nil
			acts = append(acts, m.act(ActHealthFailure, c))
			acts = append(acts, m.remove(c)...)
			if msg != nil {
				acts = append(acts, m.place(now, msg)...) // try another container for the creation
			}
		}
	case LiveCount:
		if c := m.in(e.C, Paused); c != nil {
			c.countAt, c.countTry = time.Time{}, 0
			if e.Count <= e.Limit {
				keep := e.KeepFor
				if keep <= 0 {
					keep = m.cfg.KeepingDuration
				}
				c.keepUntil = now.Add(keep)
			} else {
				acts = append(acts, m.remove(c)...)
			}
		}
	case LiveCountFailed:
		if c := m.in(e.C, Paused); c != nil {
			c.countTry++
			if c.countTry >= CountAttempts {
				acts = append(acts, m.remove(c)...)
			} else {
				c.countAt = now.Add(CountRetry)
			}
		}
	case Removed:
		delete(m.cs, e.C)
	case Disable:
		m.disabled = true
		acts = append(acts, m.disableRound(now)...)
	case Enable:
		m.disabled, m.nextRound = false, time.Time{}
	case Tick:
	default:
		panic(fmt.Sprintf("lifecycle: unknown event %T", ev))
	}
	return acts
}

func (m *Machine) in(id ContainerID, s State) *container {
	if c, ok := m.cs[id]; ok && c.state == s {
		return c
	}
	return nil
}

func (m *Machine) act(k ActionKind, c *container) Action {
	return Action{Kind: k, C: c.id, Binding: c.binding, MemoryMB: c.memoryMB}
}

// ack answers the creation c is serving (once).
func (m *Machine) ack(c *container, err wire.CreationError, reason string) Action {
	a := Action{Kind: ActAck, C: c.id, Binding: c.binding, Creation: c.creation, Error: err, Reason: reason}
	c.creation = nil
	return a
}

func ackFor(msg *wire.ContainerCreationMessage, err wire.CreationError, reason string) Action {
	return Action{Kind: ActAck, Creation: msg, Error: err, Reason: reason}
}

// remove unregisters c's keys and destroys it. Its creation, if still unanswered, gets UnknownError.
func (m *Machine) remove(c *container) []Action {
	var acts []Action
	if c.existing {
		acts = append(acts, m.act(ActUnregisterExisting, c))
		c.existing = false
	}
	if c.warmed {
		acts = append(acts, m.act(ActUnregisterWarmed, c))
		c.warmed = false
	}
	if c.creation != nil {
		acts = append(acts, m.ack(c, wire.CreationErrUnknown, "ContainerProxy init failed."))
	}
	c.state = Removing
	c.grace, c.idle, c.keepUntil, c.countAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return append(acts, m.act(ActRemove, c))
}

func bindingOf(msg *wire.ContainerCreationMessage) Binding {
	md := msg.ActionMetaData
	return Binding{InvocationNamespace: msg.InvocationNamespace, Action: msg.Action, Revision: msg.RevisionString(),
		Kind: md.Kind, Image: md.Image, MemoryMB: md.Limits.MemoryMB, Concurrency: max(md.Limits.Concurrency, 1),
		Scheduler: wire.SchedulerEndpoints{Host: msg.SchedulerHost, RPCPort: msg.RPCPort}.Target()}
}

// Memory as the pool counts it, in MB.
func (m *Machine) memory() (busy, inProgress, paused int) {
	for _, c := range m.cs {
		switch c.state {
		case Ready, Running, Draining, Pausing:
			busy += c.memoryMB
		case Creating, ClientStarting, Resuming:
			inProgress += c.memoryMB
		case Paused:
			paused += c.memoryMB
		}
	}
	return
}

// Resources is the resource record: free = user memory − busy − in progress (paused containers count as free,
// since they can be evicted; stem cells are not counted).
func (m *Machine) Resources() (freeMB, busyMB, inProgressMB int) {
	busy, inProgress, _ := m.memory()
	return m.cfg.UserMemoryMB - busy - inProgress, busy, inProgress
}

// place chooses a container for a creation: a paused one of the same action, a stem cell of the same kind
// and memory, or a new one (evicting paused containers when memory is short).
func (m *Machine) place(now time.Time, msg *wire.ContainerCreationMessage) []Action {
	if m.disabled {
		return []Action{ackFor(msg, wire.CreationErrShuttingDown,
			fmt.Sprintf("creationId: %s, invoker is shutting down, reschedule %s", msg.CreationID, msg.Action.DocID()))}
	}
	md := msg.ActionMetaData
	if !md.Executable() {
		return []Action{ackFor(msg, wire.CreationErrNonExecutableAction,
			fmt.Sprintf("creationId: %s, non-executable action reached the container pool %s", msg.CreationID, msg.Action.DocID()))}
	}
	b := bindingOf(msg)
	// 1. A paused container of the same action and revision.
	if c := m.oldest(func(c *container) bool {
		return c.state == Paused && c.binding.sameAction(b.InvocationNamespace, b.Action.DocID(), b.Revision)
	}); c != nil {
		c.state, c.creation, c.warmed = Resuming, msg, false
		c.binding.Scheduler, c.binding.Action = b.Scheduler, b.Action
		c.idle, c.keepUntil, c.countAt = time.Time{}, time.Time{}, time.Time{}
		// The warmed key goes whatever the resume's outcome.
		return []Action{m.act(ActUnregisterWarmed, c), m.act(ActResume, c)}
	}
	busy, inProgress, paused := m.memory()
	free := m.cfg.UserMemoryMB - busy - inProgress - paused
	need := b.MemoryMB
	if need > free+paused {
		return []Action{ackFor(msg, wire.CreationErrResourceNotEnough,
			fmt.Sprintf("creationId: %s, invoker doesn't have enough resource for container: %s", msg.CreationID, msg.Action.String()))}
	}
	// 2. A stem cell of the same kind, the smallest that fits (a larger one only with prewarm promotion).
	maxMem := need
	if m.cfg.PrewarmPromotion {
		maxMem = free + paused
	}
	var stem *container
	if b.Image == "" {
		for _, c := range m.sorted() {
			if c.state == Prewarmed && c.kind == b.Kind && c.memoryMB >= need && c.memoryMB <= maxMem &&
				(stem == nil || c.memoryMB < stem.memoryMB) {
				stem = c
			}
		}
	}
	var acts []Action
	if stem != nil {
		if stem.memoryMB > free {
			acts = append(acts, m.evict(stem.memoryMB-free)...)
		}
		stem.state, stem.binding, stem.bound, stem.creation = ClientStarting, b, true, msg
		stem.binding.MemoryMB = stem.memoryMB
		return append(acts, m.act(ActStartClient, stem))
	}
	// 3. A new container.
	if need > free {
		acts = append(acts, m.evict(need-free)...)
	}
	m.seq++
	c := &container{id: ContainerID("c" + strconv.Itoa(m.seq)), state: Creating, memoryMB: need, binding: b, bound: true, creation: msg}
	m.cs[c.id] = c
	return append(acts, m.act(ActCreate, c))
}

// evict removes least recently used paused containers until need MB are freed (only if they can free it all).
func (m *Machine) evict(need int) []Action {
	var ps []*container
	total := 0
	for _, c := range m.sorted() {
		if c.state == Paused {
			ps = append(ps, c)
			total += c.memoryMB
		}
	}
	if total < need {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].lastUsed.Before(ps[j].lastUsed) })
	var acts []Action
	for _, c := range ps {
		if need <= 0 {
			break
		}
		need -= c.memoryMB
		acts = append(acts, m.remove(c)...)
	}
	return acts
}

func (m *Machine) sorted() []*container {
	out := make([]*container, 0, len(m.cs))
	for _, c := range m.cs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (m *Machine) oldest(match func(*container) bool) *container {
	var best *container
	for _, c := range m.sorted() {
		if match(c) && (best == nil || c.lastUsed.Before(best.lastUsed)) {
			best = c
		}
	}
	return best
}

func (m *Machine) finished(now time.Time, e RunFinished) []Action {
	c, ok := m.cs[e.C]
	if !ok || (c.state != Ready && c.state != Running && c.state != Draining) {
		return nil
	}
	if c.active > 0 {
		c.active--
	}
	c.lastUsed = now
	if e.Result.Destroy {
		return m.remove(c)
	}
	if e.Result.Initialized {
		c.warm = true
		if c.state == Ready {
			c.state = Running
		}
	}
	if c.active == 0 {
		c.grace = now.Add(m.cfg.PauseGrace)
	}
	return nil
}

// idle answers a NoActivationMessage: keep pulling, or — timed out — pause a warm container and remove one
// that never ran; a draining container goes once its queue is empty.
func (m *Machine) idle(id ContainerID) []Action {
	c, ok := m.cs[id]
	if !ok {
		return nil
	}
	switch c.state {
	case Draining:
		if c.active == 0 {
			return m.remove(c)
		}
		return nil
	case Ready, Running:
	default:
		return nil
	}
	if !c.timedOut {
		return []Action{m.act(ActContinue, c)}
	}
	if c.active > 0 {
		return nil // the other pulls of a concurrent container stop; the last run's end restarts the grace
	}
	if !c.warm {
		return m.remove(c)
	}
	c.state = Pausing
	return []Action{m.act(ActPause, c)}
}

// deletion stops this invoker's containers of an updated or removed action: paused and warm ones up to the
// given revision, and initialised-but-not-yet-warm ones of any revision. Pulling ones drain first.
func (m *Machine) deletion(msg *wire.ContainerDeletionMessage) []Action {
	var acts []Action
	docID, rev := msg.Action.DocID(), msg.RevisionString()
	for _, c := range m.sorted() {
		if !c.bound || c.binding.InvocationNamespace != msg.InvocationNamespace || c.binding.Action.DocID() != docID {
			continue
		}
		older := compareRevisions(c.binding.Revision, rev) <= 0
		switch {
		case c.state == Paused && older:
			acts = append(acts, m.remove(c)...)
		case c.state == Running && older, c.state == Ready:
			acts = append(acts, m.drain(c)...)
		}
	}
	return acts
}

// drain unregisters the existing key first, so the scheduler can provision elsewhere, then lets the pull run
// until the queue answers NoActivationMessage.
func (m *Machine) drain(c *container) []Action {
	var acts []Action
	if c.existing {
		acts = append(acts, m.act(ActUnregisterExisting, c))
		c.existing = false
	}
	c.state = Draining
	return append(acts, m.act(ActDrain, c))
}

// disableRound shuts down up to BatchDeletionSize more containers (pulling ones drain, paused ones go) and
// schedules the next round while any remain.
func (m *Machine) disableRound(now time.Time) []Action {
	inRound := 0
	for _, c := range m.cs {
		if c.state == Draining || (c.state == Removing && c.bound) {
			inRound++
		}
	}
	var acts []Action
	slots := m.cfg.BatchDeletionSize - inRound
	for _, s := range []State{Ready, Running, Paused} {
		for _, c := range m.sorted() {
			if slots <= 0 {
				break
			}
			if c.state != s {
				continue
			}
			slots--
			if s == Paused {
				acts = append(acts, m.remove(c)...)
			} else {
				acts = append(acts, m.drain(c)...)
			}
		}
	}
	m.nextRound = time.Time{}
	for _, c := range m.cs {
		if c.state == Ready || c.state == Running || c.state == Paused || c.state == Creating ||
			c.state == ClientStarting || c.state == Resuming || c.state == Pausing {
			m.nextRound = now.Add(DisableRound)
			break
		}
	}
	return acts
}

// fire runs the timers due at now.
func (m *Machine) fire(now time.Time) []Action {
	var acts []Action
	for _, c := range m.sorted() {
		due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
		switch c.state {
		case Ready, Running:
			if due(c.grace) {
				c.grace, c.timedOut = time.Time{}, true
			}
		case Paused:
			switch {
			case due(c.keepUntil):
				acts = append(acts, m.remove(c)...)
			case due(c.idle):
				c.idle = time.Time{}
				acts = append(acts, m.act(ActCountLive, c))
			case due(c.countAt):
				c.countAt = time.Time{}
				acts = append(acts, m.act(ActCountLive, c))
			}
		}
	}
	if m.disabled && !m.nextRound.IsZero() && !now.Before(m.nextRound) {
		acts = append(acts, m.disableRound(now)...)
	}
	return acts
}

// NextDeadline is when the next timer is due (zero: none); send a Tick then.
func (m *Machine) NextDeadline() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, c := range m.cs {
		switch c.state {
		case Ready, Running:
			consider(c.grace)
		case Paused:
			consider(c.idle)
			consider(c.keepUntil)
			consider(c.countAt)
		}
	}
	if m.disabled {
		consider(m.nextRound)
	}
	return next
}

// Snapshot is one line per container, sorted, for tests and /pool.
type Snapshot struct {
	C        ContainerID
	State    State
	Binding  Binding
	MemoryMB int
	Kind     string
}

// Containers lists the containers.
func (m *Machine) Containers() []Snapshot {
	var out []Snapshot
	for _, c := range m.sorted() {
		k := c.kind
		if c.bound {
			k = c.binding.Kind
		}
		out = append(out, Snapshot{C: c.id, State: c.state, Binding: c.binding, MemoryMB: c.memoryMB, Kind: k})
	}
	return out
}

// Counts is /pool/count: busy + paused + in progress.
func (m *Machine) Counts() int {
	n := 0
	for _, c := range m.cs {
		if c.state != Prewarmed && c.state != Removing {
			n++
		}
	}
	return n
}

func (s Snapshot) String() string {
	if s.State == Prewarmed {
		return fmt.Sprintf("%s prewarmed %s %s", s.C, s.Kind, mb(s.MemoryMB))
	}
	return fmt.Sprintf("%s %s %s %s", s.C, s.State, bindingName(s.Binding), mb(s.MemoryMB))
}
