package etcdreg

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Sentinel errors; every error a Session returns wraps one of them.
var (
	// ErrUnavailable: etcd could not be reached or answered with an error within the deadline.
	ErrUnavailable = errors.New("etcdreg: etcd unavailable")
	// ErrClosed: the session was closed.
	ErrClosed = errors.New("etcdreg: session closed")
)

// Config describes the session. Endpoints, LeaseTTL, LeaseKey and WatchPrefix are required.
type Config struct {
	Endpoints          []string
	Username, Password string
	// LeaseTTL is whisk.etcd.lease.timeout. etcd raises TTLs below its minimum (about 2 s with default
	// election settings); the TTL the server granted is the one the session works with.
	LeaseTTL time.Duration
	// KeepAliveInterval is the period of keep-alives (500 ms, as the JVM invoker).
	KeepAliveInterval time.Duration
	// RetryInterval is the period of retries of failed writes (whisk.scheduler.data-management-service.retry-interval).
	RetryInterval time.Duration
	// CallTimeout bounds every etcd call (default 3 s; keep-alives are bounded by half the TTL as well).
	CallTimeout time.Duration
	// LeaseKey is the instance lease key (wire.EtcdKeys.InstanceLease); its value is the lease id in decimal.
	// Deleting it tells the session to take a new lease and write everything again.
	LeaseKey string
	// WatchPrefix is the cluster's prefix ("whisk/"): deletions under it are watched to repair the session's keys.
	WatchPrefix string
}

func (c *Config) defaults() error {
	if len(c.Endpoints) == 0 || c.LeaseTTL < time.Second || c.LeaseKey == "" || c.WatchPrefix == "" {
		return fmt.Errorf("etcdreg: config needs endpoints, a lease TTL of at least 1 s, the lease key and the watch prefix")
	}
	if c.KeepAliveInterval <= 0 {
		c.KeepAliveInterval = 500 * time.Millisecond
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 3 * time.Second
	}
	return nil
}

// entry is one key the session keeps.
type entry struct {
	value string
	// written: the current value is in etcd under the current lease. rev is the revision of that write, so a
	// deletion event older than it (e.g. from revoking a previous lease) is recognised as stale.
	written bool
	rev     int64
	// repair: the key was deleted behind the session's back; it is re-created only if still absent.
	repair bool
}

// Session holds the invoker's one etcd lease and every key written with it: it keeps the lease alive, writes
// keys (retrying until they land), re-creates keys deleted behind its back, and takes a new lease and rewrites
// everything when the lease is lost or its lease key is deleted. When the process dies, the lease expires and
// etcd removes every key within the TTL. All methods are safe for concurrent use.
type Session struct {
	cfg    Config
	client *clientv3.Client
	log    zerolog.Logger

	mu       sync.Mutex
	lease    clientv3.LeaseID
	ttl      time.Duration // as granted
	lastOK   time.Time     // last successful grant or keep-alive
	keys     map[string]*entry
	deletes  map[string]bool
	leaseRev int64 // revision of the lease key write
	lost     bool  // the lease must be replaced
	regrants int
	revoke   []clientv3.LeaseID // replaced leases, revoked once every key has moved off them
	closed   bool
	changed  chan struct{} // wakes the loop (buffered 1)
	settled  chan struct{} // closed and replaced whenever the session reaches "nothing left to write"

	cancel context.CancelFunc
	done   chan struct{}
}

// Open connects, grants the lease, writes the lease key and starts keeping them. It fails only if the first
// lease cannot be had before ctx ends.
func Open(ctx context.Context, cfg Config, log zerolog.Logger) (*Session, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		Username:             cfg.Username,
		Password:             cfg.Password,
		DialTimeout:          cfg.CallTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: cfg.CallTimeout,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s := &Session{cfg: cfg, client: client, keys: map[string]*entry{}, deletes: map[string]bool{},
		changed: make(chan struct{}, 1), settled: make(chan struct{}), done: make(chan struct{}),
		log: log.With().Str("component", "fpc-etcd").Logger()}
	for {
		err := s.grant(ctx)
		if err == nil {
			break
		}
		s.log.Warn().Err(err).Msg("no etcd lease yet, retrying")
		select {
		case <-ctx.Done():
			_ = client.Close()
			return nil, fmt.Errorf("%w: first lease: %v", ErrUnavailable, err)
		case <-time.After(cfg.RetryInterval):
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(runCtx)
	return s, nil
}

// LeaseID is the current lease.
func (s *Session) LeaseID() int64 { s.mu.Lock(); defer s.mu.Unlock(); return int64(s.lease) }

// TTL is the lease TTL etcd granted.
func (s *Session) TTL() time.Duration { s.mu.Lock(); defer s.mu.Unlock(); return s.ttl }

// Regrants is how many times the lease was replaced.
func (s *Session) Regrants() int { s.mu.Lock(); defer s.mu.Unlock(); return s.regrants }

// Put keeps key = value under the lease. It returns at once; the write is retried every RetryInterval until
// it lands. Putting the value a key already has is a no-op, so a record can be published "when it changes" by
// calling Put on every refresh.
func (s *Session) Put(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	delete(s.deletes, key)
	if e, ok := s.keys[key]; ok && e.value == value {
		return
	}
	s.keys[key] = &entry{value: value}
	s.kickLocked()
}

// Delete stops keeping key and removes it from etcd (retried until done). The key leaves the watched set
// first, so its deletion is not repaired.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	delete(s.keys, key)
	s.deletes[key] = true
	s.kickLocked()
}

// Has reports whether the session keeps key, and with which value.
func (s *Session) Has(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[key]
	if !ok {
		return "", false
	}
	return e.value, true
}

// Flush waits until every Put and Delete so far is in etcd under the current lease, or ctx ends.
func (s *Session) Flush(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		pending := s.pendingLocked()
		ch := s.settled
		s.mu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: flush: %v", ErrUnavailable, ctx.Err())
		case <-ch:
		}
	}
}

func (s *Session) pendingLocked() bool {
	if s.lost || len(s.deletes) > 0 {
		return true
	}
	for _, e := range s.keys {
		if !e.written {
			return true
		}
	}
	return false
}

func (s *Session) kickLocked() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Get reads one key.
func (s *Session) Get(ctx context.Context, key string) (value string, found bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	resp, err := s.client.Get(cctx, key)
	if err != nil {
		return "", false, fmt.Errorf("%w: get %s: %v", ErrUnavailable, key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

// Count is the number of keys under prefix (a count-only range read).
func (s *Session) Count(ctx context.Context, prefix string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	resp, err := s.client.Get(cctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("%w: count %s: %v", ErrUnavailable, prefix, err)
	}
	return resp.Count, nil
}

// Client is the underlying etcd client (for reads this package does not wrap).
func (s *Session) Client() *clientv3.Client { return s.client }

// Close stops the session and revokes the lease, which removes every key at once (a graceful exit leaves
// nothing for the scheduler to time out). It then closes the client.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	lease := s.lease
	close(s.settled) // wakes Flush callers, which then see closed
	s.settled = make(chan struct{})
	s.mu.Unlock()
	s.cancel()
	<-s.done
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	_, err := s.client.Revoke(cctx, lease)
	cancel()
	_ = s.client.Close()
	if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("%w: revoke lease %x: %v", ErrUnavailable, lease, err)
	}
	return nil
}

// grant takes a new lease and writes the lease key with it; every kept key is then due for a plain write.
// The previous lease, if any, is revoked only afterwards, once its keys have moved to the new one, so the
// scheduler never sees the invoker's keys missing.
func (s *Session) grant(ctx context.Context) error {
	ttlSecs := int64(s.cfg.LeaseTTL / time.Second)
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	g, err := s.client.Grant(cctx, ttlSecs)
	if err != nil {
		return fmt.Errorf("%w: grant: %v", ErrUnavailable, err)
	}
	put, err := s.client.Put(cctx, s.cfg.LeaseKey, strconv.FormatInt(int64(g.ID), 10), clientv3.WithLease(g.ID))
	if err != nil {
		_, _ = s.client.Revoke(cctx, g.ID)
		return fmt.Errorf("%w: lease key: %v", ErrUnavailable, err)
	}
	s.mu.Lock()
	old := s.lease
	s.lease, s.ttl, s.lastOK, s.lost = g.ID, time.Duration(g.TTL)*time.Second, time.Now(), false
	s.leaseRev = put.Header.Revision
	if old != 0 {
		s.regrants++
	}
	for _, e := range s.keys {
		e.written, e.repair = false, false
	}
	s.mu.Unlock()
	s.log.Info().Str("lease", strconv.FormatInt(int64(g.ID), 16)).Int64("ttl_s", g.TTL).Msg("etcd lease granted")
	return nil
}

// run is the session's loop: keep-alives, writes, deletes, the watch, and lease replacement.
func (s *Session) run(ctx context.Context) {
	defer close(s.done)
	events := s.watch(ctx)
	keepAlive := time.NewTicker(s.cfg.KeepAliveInterval)
	defer keepAlive.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			s.keepAlive(ctx)
		case ev, ok := <-events:
			if !ok {
				// The watch ended (compaction, cancellation by the server): watch again and check every key,
				// since deletions may have been missed.
				events = s.watch(ctx)
				s.markAllForRepair()
				continue
			}
			s.onDelete(ev)
		case <-s.changed:
		case <-retry.C:
		}
		if ctx.Err() != nil {
			return
		}
		if !s.sync(ctx) {
			retry.Reset(s.cfg.RetryInterval)
		}
	}
}

// watch streams deletions under the watch prefix.
func (s *Session) watch(ctx context.Context) <-chan *clientv3.Event {
	out := make(chan *clientv3.Event, 64)
	wctx := clientv3.WithRequireLeader(ctx)
	wch := s.client.Watch(wctx, s.cfg.WatchPrefix, clientv3.WithPrefix(), clientv3.WithFilterPut())
	go func() {
		defer close(out)
		for resp := range wch {
			if err := resp.Err(); err != nil {
				s.log.Warn().Err(err).Msg("etcd watch ended")
				return
			}
			for _, ev := range resp.Events {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func (s *Session) onDelete(ev *clientv3.Event) {
	if ev.Type != mvccpb.DELETE {
		return
	}
	key := string(ev.Kv.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == s.cfg.LeaseKey {
		if ev.Kv.ModRevision > s.leaseRev && !s.lost {
			s.log.Warn().Msg("the instance lease key was deleted: taking a new lease and writing everything again")
			s.lost = true
		}
		return
	}
	e, ok := s.keys[key]
	if !ok || !e.written || ev.Kv.ModRevision <= e.rev {
		return // not ours, not written yet, or a deletion older than our write
	}
	s.log.Warn().Str("key", key).Msg("key deleted behind the invoker's back: re-creating it")
	e.written, e.repair = false, true
}

func (s *Session) markAllForRepair() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.keys {
		if e.written {
			e.written, e.repair = false, true
		}
	}
	s.kickLocked()
}

// keepAlive renews the lease once. The lease counts as lost when etcd says it does not exist, or when no
// renewal has succeeded for a whole TTL (it has expired on the server by then).
func (s *Session) keepAlive(ctx context.Context) {
	s.mu.Lock()
	lease, ttl, lastOK, lost := s.lease, s.ttl, s.lastOK, s.lost
	s.mu.Unlock()
	if lost {
		return
	}
	timeout := s.cfg.CallTimeout
	if half := ttl / 2; half > 0 && half < timeout {
		timeout = half
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	_, err := s.client.KeepAliveOnce(cctx, lease)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if lease != s.lease {
		return
	}
	switch {
	case err == nil:
		s.lastOK = time.Now()
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		s.log.Warn().Msg("etcd lease not found: taking a new one")
		s.lost = true
	case time.Since(lastOK) >= ttl:
		s.log.Warn().Err(err).Dur("since_last_renewal", time.Since(lastOK)).Msg("etcd lease expired: taking a new one")
		s.lost = true
	default:
		s.log.Debug().Err(err).Msg("keep-alive failed, retrying")
	}
	if s.lost {
		s.kickLocked()
	}
}

type op struct {
	key, value string
	repair     bool
	del        bool
}

// sync brings etcd in line with the kept keys. It reports whether nothing is left to do.
func (s *Session) sync(ctx context.Context) bool {
	s.mu.Lock()
	lost, oldLease := s.lost, s.lease
	s.mu.Unlock()
	if lost {
		if err := s.grant(ctx); err != nil {
			s.log.Warn().Err(err).Msg("cannot take a new etcd lease yet")
			return false
		}
		s.mu.Lock()
		s.revoke = append(s.revoke, oldLease)
		s.mu.Unlock()
	}
	s.mu.Lock()
	lease := s.lease
	var ops []op
	for k := range s.deletes {
		ops = append(ops, op{key: k, del: true})
	}
	for k, e := range s.keys {
		if !e.written {
			ops = append(ops, op{key: k, value: e.value, repair: e.repair})
		}
	}
	s.mu.Unlock()

	ok := true
	for _, o := range ops {
		if ctx.Err() != nil {
			return false
		}
		rev, err := s.apply(ctx, lease, o)
		s.mu.Lock()
		switch {
		case err == nil && o.del:
			delete(s.deletes, o.key)
		case err == nil:
			// Mark written only if nobody changed the key meanwhile.
			if e, kept := s.keys[o.key]; kept && e.value == o.value && lease == s.lease {
				e.written, e.repair, e.rev = true, false, rev
			}
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			s.lost = true
			ok = false
		default:
			ok = false
			s.log.Warn().Err(err).Str("key", o.key).Msg("etcd write failed, will retry")
		}
		lost := s.lost
		s.mu.Unlock()
		if lost {
			s.kickLocked()
			return false
		}
	}
	s.mu.Lock()
	var revoke []clientv3.LeaseID
	if ok {
		// Every key now lives on the current lease: previous leases can go (gone already if they expired).
		revoke, s.revoke = s.revoke, nil
	}
	s.mu.Unlock()
	for _, id := range revoke {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
		_, _ = s.client.Revoke(cctx, id)
		cancel()
	}
	s.mu.Lock()
	if ok && !s.pendingLocked() {
		close(s.settled)
		s.settled = make(chan struct{})
	}
	more := s.pendingLocked()
	s.mu.Unlock()
	return ok && !more
}

// apply performs one write: a delete, a put with the lease, or (repair) a create-if-absent transaction.
func (s *Session) apply(ctx context.Context, lease clientv3.LeaseID, o op) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	switch {
	case o.del:
		r, err := s.client.Delete(cctx, o.key)
		if err != nil {
			return 0, err
		}
		return r.Header.Revision, nil
	case o.repair:
		r, err := s.client.Txn(cctx).
			If(clientv3.Compare(clientv3.Version(o.key), "=", 0)).
			Then(clientv3.OpPut(o.key, o.value, clientv3.WithLease(lease))).
			Commit()
		if err != nil {
			return 0, err
		}
		if !r.Succeeded {
			// Someone wrote it meanwhile: make it ours with a plain put.
			p, err := s.client.Put(cctx, o.key, o.value, clientv3.WithLease(lease))
			if err != nil {
				return 0, err
			}
			return p.Header.Revision, nil
		}
		return r.Header.Revision, nil
	default:
		r, err := s.client.Put(cctx, o.key, o.value, clientv3.WithLease(lease))
		if err != nil {
			return 0, err
		}
		return r.Header.Revision, nil
	}
}
