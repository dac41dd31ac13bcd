package instanceid

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
)

// Conn is the part of a ZooKeeper session the Assigner uses; *zk.Conn has it. Its calls take no context:
// the Assigner bounds each one and closes the session when Assign returns, which ends any call still
// waiting.
type Conn interface {
	Children(path string) ([]string, *zk.Stat, error)
	Get(path string) ([]byte, *zk.Stat, error)
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	Multi(ops ...any) ([]zk.MultiResponse, error)
	Close()
}

// Dialer opens a session with the servers of hosts and returns once it is established, or fails with
// ErrUnavailable when ctx ends first.
type Dialer func(ctx context.Context, hosts Hosts, log zerolog.Logger) (Conn, error)

// Defaults of an Assigner.
const (
	// DefaultSessionTimeout is the ZooKeeper session timeout asked for (the server clamps it to 2..20 ticks).
	DefaultSessionTimeout = 10 * time.Second
	// DefaultMaxAttempts bounds the read-decide-write rounds lost to other writers.
	DefaultMaxAttempts = 20
)

// Assigner asks ZooKeeper for an invoker id. It holds no session between calls.
type Assigner struct {
	hosts       Hosts
	log         zerolog.Logger
	dial        Dialer
	maxAttempts int
	backoff     func(attempt int) time.Duration
}

// Option changes an Assigner.
type Option func(*Assigner)

// WithDialer replaces the ZooKeeper client (tests use an in-memory fake).
func WithDialer(d Dialer) Option { return func(a *Assigner) { a.dial = d } }

// WithMaxAttempts bounds the rounds lost to other writers (default DefaultMaxAttempts).
func WithMaxAttempts(n int) Option { return func(a *Assigner) { a.maxAttempts = max(n, 1) } }

// New returns an Assigner for the ZooKeeper ensemble hosts (see ParseHosts).
func New(hosts Hosts, log zerolog.Logger, opts ...Option) *Assigner {
	a := &Assigner{
		hosts:       hosts,
		log:         log.With().Str("component", "instanceid").Logger(),
		dial:        DialZooKeeper,
		maxAttempts: DefaultMaxAttempts,
		backoff: func(attempt int) time.Duration {
			// Spread writers that collided apart: up to 25 ms per attempt so far.
			return time.Duration(rand.Int64N(int64(attempt)*int64(25*time.Millisecond)) + int64(time.Millisecond))
		},
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Assign returns the id of uniqueName, creating or moving its mapping as Decide says (overwrite is
// --overwriteId, nil when not given). It opens a session, retries rounds that lose to another writer,
// and closes the session before returning. Every wait is bounded by ctx; errors wrap ErrUnavailable,
// ErrRefused or ErrCorrupt.
func (a *Assigner) Assign(ctx context.Context, uniqueName string, overwrite *int) (Decision, error) {
	if err := CheckName(uniqueName); err != nil {
		return Decision{}, fmt.Errorf("%w: unique name %v", ErrRefused, err)
	}
	if len(a.hosts.Servers) == 0 {
		return Decision{}, fmt.Errorf("%w: no ZooKeeper servers given", ErrRefused)
	}
	start := time.Now()
	conn, err := a.dial(ctx, a.hosts, a.log)
	if err != nil {
		return Decision{}, err
	}
	defer conn.Close()
	a.log.Debug().Str("zookeeper", a.hosts.String()).Dur("after", time.Since(start)).Msg("ZooKeeper session established")

	if err := a.ensureParents(ctx, conn); err != nil {
		return Decision{}, err
	}
	var lastConflict error
	for attempt := 1; attempt <= a.maxAttempts; attempt++ {
		state, err := a.read(ctx, conn)
		if err != nil {
			return Decision{}, err
		}
		d, err := Decide(state, uniqueName, overwrite)
		if err != nil {
			return Decision{}, err
		}
		if len(d.Unreadable) > 0 {
			a.log.Warn().Strs("uniqueNames", d.Unreadable).Msg("mappings of other unique names do not hold an id; ignored, as OpenWhisk ignores them")
		}
		if len(d.Ops) == 0 {
			a.logDecision(uniqueName, d, attempt, start)
			return d, nil
		}
		err = a.apply(ctx, conn, d.Ops)
		if err == nil {
			a.logDecision(uniqueName, d, attempt, start)
			return d, nil
		}
		if !isConflict(err) {
			return Decision{}, classify("write the assignment", err)
		}
		lastConflict = err
		a.log.Debug().Int("attempt", attempt).Err(err).Msg("another writer changed the assignment first; deciding again")
		if errors.Is(err, zk.ErrNoNode) { // a parent went away (an empty container znode is reaped)
			if err := a.ensureParents(ctx, conn); err != nil {
				return Decision{}, err
			}
		}
		if err := sleep(ctx, a.backoff(attempt)); err != nil {
			return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return Decision{}, fmt.Errorf("%w: gave up after %d attempts: other writers kept changing %s (last: %v)",
		ErrUnavailable, a.maxAttempts, AssignmentRoot, lastConflict)
}

func (a *Assigner) logDecision(uniqueName string, d Decision, attempts int, start time.Time) {
	ev := a.log.Info().Str("uniqueName", uniqueName).Int("id", d.ID).Str("outcome", string(d.Outcome)).
		Int("attempts", attempts).Dur("took", time.Since(start))
	if len(d.Displaced) > 0 {
		ev = ev.Strs("displaced", d.Displaced)
	}
	ev.Msg("invoker id from ZooKeeper")
}

// ensureParents creates the chroot and MappingRoot's ancestors where missing, as persistent znodes.
func (a *Assigner) ensureParents(ctx context.Context, c Conn) error {
	full := a.hosts.path(MappingRoot)
	for i := 1; i <= len(full); i++ {
		if i < len(full) && full[i] != '/' {
			continue
		}
		p := full[:i]
		_, err := bounded(ctx, "create "+p, func() (string, error) {
			return c.Create(p, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
		})
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return classify("create "+p, err)
		}
	}
	return nil
}

// read takes the State: the mappings (each read on its own; one deleted meanwhile is left out, and the
// transaction's checks catch any other change) and the counter.
func (a *Assigner) read(ctx context.Context, c Conn) (State, error) {
	root := a.hosts.path(MappingRoot)
	type children struct{ names []string }
	ch, err := bounded(ctx, "list "+root, func() (children, error) {
		names, _, err := c.Children(root)
		return children{names}, err
	})
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return State{}, classify("list "+root, err)
	}
	s := State{Mappings: make(map[string]Znode, len(ch.names))}
	for _, name := range ch.names {
		z, err := a.get(ctx, c, MappingPath(name))
		if err != nil {
			return State{}, err
		}
		if z.Exists {
			s.Mappings[name] = z
		}
	}
	if s.Counter, err = a.get(ctx, c, CounterPath); err != nil {
		return State{}, err
	}
	return s, nil
}

func (a *Assigner) get(ctx context.Context, c Conn, rel string) (Znode, error) {
	p := a.hosts.path(rel)
	z, err := bounded(ctx, "read "+p, func() (Znode, error) {
		data, st, err := c.Get(p)
		if err != nil {
			return Znode{}, err
		}
		return Znode{Exists: true, Data: data, Version: st.Version}, nil
	})
	if errors.Is(err, zk.ErrNoNode) {
		return Znode{}, nil
	}
	if err != nil {
		return Znode{}, classify("read "+p, err)
	}
	return z, nil
}

// apply runs ops as one ZooKeeper transaction (multi): all or none. It returns the first failing
// operation's error, wrapped with that operation.
func (a *Assigner) apply(ctx context.Context, c Conn, ops []Op) error {
	reqs := make([]any, len(ops))
	for i, op := range ops {
		p := a.hosts.path(op.Path)
		switch op.Kind {
		case OpDelete:
			reqs[i] = &zk.DeleteRequest{Path: p, Version: op.Version}
		case OpSet:
			reqs[i] = &zk.SetDataRequest{Path: p, Data: op.Data, Version: op.Version}
		case OpCreate:
			reqs[i] = &zk.CreateRequest{Path: p, Data: op.Data, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagPersistent}
		default:
			return fmt.Errorf("instanceid: unknown op kind %d", op.Kind)
		}
	}
	res, err := bounded(ctx, "transaction", func() ([]zk.MultiResponse, error) { return c.Multi(reqs...) })
	if err == nil {
		return nil
	}
	for i, r := range res { // the operations after the failing one report ZooKeeper's "rolled back" code
		if i < len(ops) && errors.Is(r.Error, err) {
			return fmt.Errorf("%s: %w", ops[i], err)
		}
	}
	return err
}

// isConflict reports a transaction that lost to another writer: decide again.
func isConflict(err error) bool {
	return errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode)
}

// classify wraps a ZooKeeper error in this package's sentinels: permission problems are refusals
// (retrying cannot help), everything else (connection lost, session expired, deadline) is unavailability.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrRefused), errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, zk.ErrNoAuth), errors.Is(err, zk.ErrAuthFailed):
		return fmt.Errorf("%w: %s: ZooKeeper denied it: %w", ErrRefused, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// bounded runs f and waits for it at most until ctx ends. A call left behind finishes (or fails) when the
// session is closed.
func bounded[T any](ctx context.Context, what string, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, context.Cause(ctx))
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// DialZooKeeper is the default Dialer: github.com/go-zookeeper/zk with DefaultSessionTimeout, waiting
// for the session until ctx ends. The client's own log lines go to log at debug level; the last
// connection failure is quoted in the error when no session comes about.
func DialZooKeeper(ctx context.Context, hosts Hosts, log zerolog.Logger) (Conn, error) {
	zl := &zkLog{log: log}
	type dialed struct {
		conn   *zk.Conn
		events <-chan zk.Event
	}
	// Connect resolves the host names (without a context of its own) before it returns.
	d, err := bounded(ctx, "resolve "+strings.Join(hosts.Servers, ","), func() (dialed, error) {
		c, ev, err := zk.Connect(hosts.Servers, DefaultSessionTimeout, zk.WithLogger(zl), zk.WithLogInfo(false))
		return dialed{c, ev}, err
	})
	if err != nil {
		return nil, classify("connect to "+hosts.String(), err)
	}
	for {
		select {
		case ev, ok := <-d.events:
			switch {
			case !ok:
				return nil, fmt.Errorf("%w: connect to %s: the client closed%s", ErrUnavailable, hosts, zl.last())
			case ev.State == zk.StateHasSession:
				return d.conn, nil
			case ev.State == zk.StateAuthFailed:
				d.conn.Close()
				return nil, fmt.Errorf("%w: connect to %s: authentication failed", ErrRefused, hosts)
			}
		case <-ctx.Done():
			d.conn.Close()
			return nil, fmt.Errorf("%w: no ZooKeeper session with %s: %w%s", ErrUnavailable, hosts, context.Cause(ctx), zl.last())
		}
	}
}

// zkLog sends the ZooKeeper client's log lines to zerolog and keeps the last one.
type zkLog struct {
	log  zerolog.Logger
	mu   sync.Mutex
	line string
}

func (l *zkLog) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.line = msg
	l.mu.Unlock()
	l.log.Debug().Str("zk", msg).Msg("zookeeper client")
}

func (l *zkLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.line == "" {
		return ""
	}
	return " (last: " + l.line + ")"
}
