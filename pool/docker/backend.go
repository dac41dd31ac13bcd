package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// Backend implements pool.Backend on a Docker engine. It is safe for concurrent use.
type Backend struct {
	api     API
	cfg     Config
	log     zerolog.Logger
	freezer *Freezer
	now     func() time.Time

	lostEngine atomic.Pointer[time.Time] // when the event stream broke; nil while connected (see Reachable)

	// orphans are containers whose removal failed (the engine going away while a start failed or the pool
	// destroyed a container): removed again once the engine answers (WatchDeaths), since the pool has already
	// forgotten them.
	orphansMu sync.Mutex
	orphans   map[string]struct{}

	isoMu sync.Mutex
	iso   isolation // what Prepare installed
}

var _ pool.Backend = (*Backend)(nil)

// New returns a Backend using api (normally NewClient()) and cfg; log gets component=docker.
func New(api API, cfg Config, log zerolog.Logger) *Backend {
	cfg = cfg.withDefaults()
	return &Backend{
		api:     api,
		cfg:     cfg,
		log:     log.With().Str("component", "docker").Logger(),
		freezer: NewFreezer(cfg.CgroupRoot),
		now:     time.Now,
	}
}

// Container is the pool.Handle of this backend.
type Container struct {
	id, name string
	image    string
	addr     string // host:port of the action proxy
	pid      int
	cg       *cgroupRef // nil: the freezer was not found, fall back to docker pause
	http     *proxyClient
	logs     entrySource
	viaAPI   bool // logs come from the API (else the json-file)

	mu      sync.Mutex // freeze state
	frozen  bool
	oomSeen int64 // OOM kills already attributed

	logMu  sync.Mutex
	cursor logCursor
}

// ID is the Docker container id.
func (c *Container) ID() string { return c.id }

// Name is the container name.
func (c *Container) Name() string { return c.name }

// Addr is the action proxy's host:port.
func (c *Container) Addr() string { return c.addr }

// Pid is the container's init process id on the host (0 if unknown).
func (c *Container) Pid() int { return c.pid }

// UsesCgroupFreezer reports whether Freeze/Thaw go through the cgroup (false: docker pause fallback).
func (c *Container) UsesCgroupFreezer() bool { return c.cg != nil }

// logger is the activation's logger when the caller put one in ctx (zerolog.Ctx, carrying transid), else the
// backend's own.
func (b *Backend) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		ll := l.With().Str("component", "docker").Logger()
		return &ll
	}
	return &b.log
}

func (b *Backend) container(h pool.Handle) (*Container, error) {
	c, ok := h.(*Container)
	if !ok || c == nil {
		return nil, fmt.Errorf("%w: %T", ErrForeignHandle, h)
	}
	return c, nil
}

// cleanupCtx is for removals that must happen even when the caller's ctx has ended.
func (b *Backend) cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), b.cfg.DockerTimeout)
}

// Create creates and starts a container for spec named name and waits until its address is known.
func (b *Backend) Create(ctx context.Context, name string, spec pool.Spec) (pool.Handle, error) {
	hostPort := 0
	if b.cfg.Mode == NetworkHost {
		p, err := freePort(b.cfg.PublishHost)
		if err != nil {
			return nil, fmt.Errorf("docker: create %s: %w", name, err)
		}
		hostPort = p
	}
	req, err := buildCreate(b.cfg, name, spec, hostPort)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	created, err := b.api.ContainerCreate(cctx, req.Config, req.Host, req.Network, nil, name)
	cancel()
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			err = fmt.Errorf("%w: %s: %w", ErrImageNotFound, spec.Image, err)
		} else {
			err = fmt.Errorf("docker: create %s: %w", name, err)
		}
		return nil, blamed(spec, stageCreate, err, nil)
	}
	log := b.logger(ctx).With().Str("container", name).Str("id", shortID(created.ID)).Logger()

	sctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	err = b.api.ContainerStart(sctx, created.ID, container.StartOptions{})
	cancel()
	if err != nil {
		b.removeQuietly(ctx, created.ID, log)
		return nil, blamed(spec, stageStart, fmt.Errorf("%w: %s: %w", ErrStart, name, err), nil)
	}
	ictx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	insp, err := b.api.ContainerInspect(ictx, created.ID)
	cancel()
	if err != nil {
		b.removeQuietly(ctx, created.ID, log)
		return nil, fmt.Errorf("%w: %s: inspect: %w", ErrStart, name, err)
	}
	if insp.ContainerJSONBase != nil && insp.State != nil && !insp.State.Running {
		// Started and already gone: the image's process exited at once (not an action runtime, or one that
		// crashes). What it wrote is the only explanation the user gets, so it goes with the answer.
		lines := b.exitedLogs(ctx, insp)
		b.removeQuietly(ctx, created.ID, log)
		err := fmt.Errorf("%w: %w: %s exited with status %d", ErrStart, pool.ErrExitedAtStart, name, insp.State.ExitCode)
		return nil, blamed(spec, stageExited, err, lines)
	}
	addr, err := b.address(insp, hostPort)
	if err != nil {
		b.removeQuietly(ctx, created.ID, log)
		return nil, fmt.Errorf("%w: %s: %v", ErrStart, name, err)
	}
	c := &Container{
		id:    created.ID,
		name:  name,
		image: spec.Image,
		addr:  addr,
		http:  newProxyClient(addr, spec.Concurrency),
	}
	if insp.ContainerJSONBase != nil {
		if insp.State != nil {
			c.pid = insp.State.Pid
		}
		c.logs, c.viaAPI = b.logSource(insp.ID, insp.LogPath)
	} else {
		c.logs, c.viaAPI = b.logSource(created.ID, "")
	}
	if ref, err := b.freezer.Resolve(c.pid, c.id); err == nil {
		c.cg = &ref
	} else {
		log.Warn().Err(err).Msg("cgroup freezer not found; falling back to docker pause")
	}
	log.Debug().Str("addr", addr).Int("pid", c.pid).Bool("logsViaAPI", c.viaAPI).Msg("container started")
	return c, nil
}

func (b *Backend) logSource(id, logPath string) (entrySource, bool) {
	api := apiSource{api: b.api, id: id}
	switch b.cfg.LogSource {
	case LogAPI:
		return api, true
	case LogFile:
		return newFileSource(logPath, b.cfg.LogPollInterval), false
	}
	if logPath != "" {
		// Readable: the descriptor opened to find out is the one the collections use.
		src := newFileSource(logPath, b.cfg.LogPollInterval)
		if src.open() == nil {
			return src, false
		}
	}
	return api, true
}

func (b *Backend) address(insp container.InspectResponse, hostPort int) (string, error) {
	switch b.cfg.Mode {
	case NetworkHost:
		return net.JoinHostPort(b.cfg.PublishHost, strconv.Itoa(hostPort)), nil
	case NetworkContainerIP:
		if insp.NetworkSettings != nil {
			if ep := insp.NetworkSettings.Networks[b.cfg.Network]; ep != nil && ep.IPAddress != "" {
				return net.JoinHostPort(ep.IPAddress, strconv.Itoa(ProxyPort)), nil
			}
		}
		return "", fmt.Errorf("no IP address on network %q", b.cfg.Network)
	default:
		if insp.NetworkSettings != nil {
			for _, pb := range insp.NetworkSettings.Ports[proxyPort] {
				if pb.HostPort != "" && (pb.HostIP == b.cfg.PublishHost || pb.HostIP == "") {
					return net.JoinHostPort(b.cfg.PublishHost, pb.HostPort), nil
				}
			}
		}
		return "", fmt.Errorf("port %s not published on %s", proxyPort, b.cfg.PublishHost)
	}
}

// blamed wraps a start failure with the activation response blameStart gives it: a *pool.CreateError
// carrying the response (and the container's last lines) when the user is to blame, or when the
// container exited at start (the Manager retries those); the plain error (a whisk error) otherwise.
func blamed(spec pool.Spec, stage startStage, err error, lines []string) error {
	resp := blameStart(spec.Kind, spec.Image, stage, err)
	if resp.StatusCode == proxy.StatusDeveloperError || stage == stageExited {
		return &pool.CreateError{Response: resp, Err: err, Logs: lines}
	}
	return err
}

// exitedLogs reads what a container that already stopped wrote (its log is complete), at most 64 KiB.
func (b *Backend) exitedLogs(ctx context.Context, insp container.InspectResponse) []string {
	src, _ := b.logSource(insp.ID, insp.LogPath)
	col := newLogCollector(64<<10, pool.LogOptions{})
	lctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	defer cancel()
	runCollection(lctx, src, logCursor{}, col, b.cfg.LogIdleTimeout, overallLogTimeout(0), settling{})
	closeSource(src)
	return col.finish(endOfData, b.now()).Lines
}

func (b *Backend) removeQuietly(ctx context.Context, id string, log zerolog.Logger) {
	rctx, cancel := b.cleanupCtx(ctx)
	defer cancel()
	if err := b.forceRemove(rctx, id); err != nil {
		log.Warn().Err(err).Msg("cannot remove broken container; removing it again when the engine answers")
		b.rememberOrphan(id)
	}
}

// rememberOrphan notes a container whose removal failed, for removeOrphans.
func (b *Backend) rememberOrphan(id string) {
	b.orphansMu.Lock()
	defer b.orphansMu.Unlock()
	if b.orphans == nil {
		b.orphans = map[string]struct{}{}
	}
	b.orphans[id] = struct{}{}
}

// removeOrphans removes again the containers whose removal failed; those removed leave the list.
func (b *Backend) removeOrphans(ctx context.Context) {
	b.orphansMu.Lock()
	ids := make([]string, 0, len(b.orphans))
	for id := range b.orphans {
		ids = append(ids, id)
	}
	b.orphansMu.Unlock()
	for _, id := range ids {
		rctx, cancel := b.cleanupCtx(ctx)
		err := b.forceRemove(rctx, id)
		cancel()
		if err != nil {
			b.log.Warn().Err(err).Str("id", shortID(id)).Msg("cannot remove broken container yet")
			continue
		}
		b.log.Info().Str("id", shortID(id)).Msg("removed a broken container whose earlier removal failed")
		b.orphansMu.Lock()
		delete(b.orphans, id)
		b.orphansMu.Unlock()
	}
}

// Init posts body to /init, retrying while nothing listens yet, until timeout.
func (b *Backend) Init(ctx context.Context, h pool.Handle, body []byte, timeout time.Duration) pool.InitResult {
	c, err := b.container(h)
	if err != nil {
		return pool.InitResult{Response: proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalInit), Dead: true}
	}
	start := time.Now()
	ictx, cancel := context.WithDeadline(ctx, start.Add(timeout))
	defer cancel()
	lastLiveCheck := start
	var r reply
	stopped := false
	for {
		r = exchange(ictx, c.http, "/init", body, b.cfg.MaxResponseBytes, b.cfg.TruncationBytes)
		if !retryableInit(r) || ictx.Err() != nil {
			break
		}
		// A refused or dropped connection is normal while the proxy starts; a dead container is not.
		if time.Since(lastLiveCheck) >= 250*time.Millisecond {
			if !b.running(ictx, c) {
				stopped = true
				break
			}
			lastLiveCheck = time.Now()
		}
		t := time.NewTimer(b.cfg.InitRetryInterval)
		select {
		case <-ictx.Done():
		case <-t.C:
		}
		t.Stop()
		if ictx.Err() != nil {
			break
		}
	}
	r.Elapsed = time.Since(start)
	resp, ok, dead := mapInit(r, timeout, b.failureFacts(ctx, c, r, timeout), b.cfg.MaxResponseBytes)
	if !ok {
		b.logger(ctx).Debug().Str("container", c.name).Err(r.Err).Int("status", r.Status).Dur("elapsed", r.Elapsed).Msg("init failed")
	}
	unhealthy := r.Err == nil && r.Status == http.StatusServiceUnavailable
	// Stopped by itself before it answered (and not for want of memory, which another try would not fix).
	exited := stopped && !ok && resp.ErrorText() != proxy.MsgMemoryExhausted
	return pool.InitResult{OK: ok, Response: resp, Duration: r.Elapsed, Dead: dead || unhealthy || exited,
		Reschedule: unhealthy, Exited: exited}
}

// Run posts body to /run with the action timeout.
func (b *Backend) Run(ctx context.Context, h pool.Handle, body []byte, timeout time.Duration) pool.RunResult {
	c, err := b.container(h)
	if err != nil {
		now := time.Now()
		return pool.RunResult{Response: proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalRun), Start: now, End: now, Dead: true}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	r := exchange(rctx, c.http, "/run", body, b.cfg.MaxResponseBytes, b.cfg.TruncationBytes)
	end := time.Now()
	facts := b.failureFacts(ctx, c, r, timeout)
	resp, timedOut, dead := mapRun(r, timeout, facts, b.cfg.MaxResponseBytes)
	if dead {
		c.http.CloseIdleConnections()
	}
	unhealthy := r.Err == nil && r.Status == http.StatusServiceUnavailable
	gone := errors.Is(r.Err, syscall.ECONNREFUSED) || (r.noResponse() && !facts.StoppedAt.IsZero() && facts.StoppedAt.Before(start))
	if (unhealthy || gone) && !facts.Cancelled {
		b.logger(ctx).Warn().Str("container", c.name).Err(r.Err).Int("status", r.Status).
			Msg("/run did not reach the action (container gone or unhealthy); it will run on another container")
		return pool.RunResult{Response: resp, Start: start, End: end, Dead: true, Reschedule: true}
	}
	return pool.RunResult{Response: resp, Start: start, End: end, TimedOut: timedOut, Dead: dead}
}

// failureFacts gathers OOM and cancellation facts, only on failure paths (a successful reply costs nothing).
func (b *Backend) failureFacts(ctx context.Context, c *Container, r reply, timeout time.Duration) failureFacts {
	var f failureFacts
	if !r.noResponse() && r.Status == http.StatusOK {
		return f
	}
	f.Cancelled = ctx.Err() != nil && r.Elapsed < timeout
	if r.Elapsed >= timeout {
		return f
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cg != nil {
		if n, err := b.freezer.OOMKills(*c.cg); err == nil && n > c.oomSeen {
			c.oomSeen = n
			f.OOM = true
			return f
		}
	}
	if r.noResponse() {
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if insp, err := b.api.ContainerInspect(ictx, c.id); err == nil && insp.ContainerJSONBase != nil && insp.State != nil {
			f.OOM = insp.State.OOMKilled
			if !insp.State.Running {
				f.StoppedAt, _ = time.Parse(time.RFC3339Nano, insp.State.FinishedAt)
			}
		} else if cerrdefs.IsNotFound(err) {
			f.StoppedAt = time.Unix(0, 0) // removed: stopped before anything we sent
		}
	}
	return f
}

func (b *Backend) running(ctx context.Context, c *Container) bool {
	ictx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	defer cancel()
	insp, err := b.api.ContainerInspect(ictx, c.id)
	if err != nil {
		return !cerrdefs.IsNotFound(err) // unknown: keep trying until the init timeout
	}
	return insp.ContainerJSONBase != nil && insp.State != nil && insp.State.Running
}

// Logs collects the activation's log lines from the container's cursor (docs/protocol.md#logs).
//
// The engine copies a container's output into its log asynchronously, so lines the action wrote just
// before /run returned may not be in the log yet when collection starts. A sentinelled run waits for the
// sentinels, which come after every line of the activation. A developer error follows the log too (unlike
// OpenWhisk, which reads to the current end and so may miss the action's last lines): up to the sentinels
// when the runtime writes them, else until the log has been quiet for LogQuietPeriod and, for a runtime
// that still should write sentinels, the container has stopped (its log is then complete).
func (b *Backend) Logs(ctx context.Context, h pool.Handle, limitBytes int64, opts pool.LogOptions) pool.LogResult {
	if limitBytes <= 0 {
		return pool.LogResult{Lines: []string{}}
	}
	c, err := b.container(h)
	if err != nil {
		return pool.LogResult{Lines: []string{proxy.InvokerLogLine(b.now(), proxy.MsgLogCollectionIssue)}, Failed: true}
	}
	c.logMu.Lock()
	defer c.logMu.Unlock()
	col := newLogCollector(limitBytes, opts)
	var settle settling
	if opts.DeveloperError {
		settle.quiet = b.cfg.LogQuietPeriod
		settle.settled = func() bool { return true }
		if opts.Sentinels {
			settle.settled = func() bool { return !b.running(ctx, c) }
		}
	}
	end, cur := runCollection(ctx, c.logs, c.cursor, col, b.cfg.LogIdleTimeout, overallLogTimeout(limitBytes), settle)
	c.cursor = cur
	res := col.finish(end, b.now())
	if res.Failed {
		b.logger(ctx).Warn().Str("container", c.name).Int("end", int(end)).Bool("truncated", res.Truncated).Msg("log collection incomplete")
	}
	return res
}

// Freeze freezes the container through its freezer cgroup (docker pause when none was found).
func (b *Backend) Freeze(ctx context.Context, h pool.Handle) error {
	c, err := b.container(h)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, b.cfg.FreezeTimeout)
	defer cancel()
	if c.cg != nil {
		err = b.freezer.Freeze(fctx, *c.cg)
	} else {
		err = b.api.ContainerPause(fctx, c.id)
	}
	if err != nil {
		return fmt.Errorf("docker: freeze %s: %w", c.name, err)
	}
	c.frozen = true
	return nil
}

// Thaw undoes Freeze.
func (b *Backend) Thaw(ctx context.Context, h pool.Handle) error {
	c, err := b.container(h)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.frozen {
		return nil
	}
	if err := b.thawLocked(ctx, c); err != nil {
		return fmt.Errorf("docker: thaw %s: %w", c.name, err)
	}
	return nil
}

func (b *Backend) thawLocked(ctx context.Context, c *Container) error {
	fctx, cancel := context.WithTimeout(ctx, b.cfg.FreezeTimeout)
	defer cancel()
	var err error
	if c.cg != nil {
		err = b.freezer.Thaw(fctx, *c.cg)
	} else {
		err = b.api.ContainerUnpause(fctx, c.id)
	}
	if err == nil {
		c.frozen = false
	}
	return err
}

// Remove force-removes the container, thawing it first if it is frozen. A container already gone is not an
// error.
func (b *Backend) Remove(ctx context.Context, h pool.Handle) error {
	c, err := b.container(h)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.frozen {
		if err := b.thawLocked(ctx, c); err != nil {
			b.logger(ctx).Warn().Err(err).Str("container", c.name).Msg("thaw before remove failed; removing anyway")
		}
	}
	c.mu.Unlock()
	c.http.CloseIdleConnections()
	closeSource(c.logs)
	rctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	defer cancel()
	if err := b.forceRemove(rctx, c.id); err != nil {
		// The pool forgets the container either way: it is removed again once the engine answers.
		b.rememberOrphan(c.id)
		return fmt.Errorf("docker: remove %s: %w", c.name, err)
	}
	return nil
}

// forceRemove removes a container; one that is gone already counts as removed, and one whose removal
// is already under way (a removal started by an invoker process that was killed meanwhile, for one)
// is waited for until it is gone or ctx ends.
func (b *Backend) forceRemove(ctx context.Context, id string) error {
	err := b.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	switch {
	case err == nil || cerrdefs.IsNotFound(err):
		return nil
	case !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already in progress"):
		return err
	}
	for {
		if _, ierr := b.api.ContainerInspect(ctx, id); cerrdefs.IsNotFound(ierr) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (still being removed when the deadline passed)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Cleanup thaws and force-removes every container whose name starts with prefix+"_", at most four at a time.
func (b *Backend) Cleanup(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("docker: cleanup needs a name prefix")
	}
	list, err := b.listOwn(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("docker: cleanup %s: list: %w", prefix, err)
	}
	var (
		mu      sync.Mutex
		removed int
		errs    []error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 4)
	)
	for _, s := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func(s container.Summary) {
			defer wg.Done()
			defer func() { <-sem }()
			err := b.cleanupOne(ctx, s.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			removed++
		}(s)
	}
	wg.Wait()
	if removed > 0 {
		b.log.Info().Int("removed", removed).Str("prefix", prefix).Msg("removed leftover action containers")
	}
	return removed, errors.Join(errs...)
}

// listOwn lists every container (running or not) whose name starts with prefix+"_".
func (b *Backend) listOwn(ctx context.Context, prefix string) ([]container.Summary, error) {
	lctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	list, err := b.api.ContainerList(lctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", prefix+"_"))})
	cancel()
	if err != nil {
		return nil, err
	}
	own := list[:0]
	for _, s := range list {
		if _, ok := ownName(s.Names, prefix); ok { // the name filter matches substrings
			own = append(own, s)
		}
	}
	return own, nil
}

// ownName returns the name (without Docker's leading "/") that starts with prefix+"_".
func ownName(names []string, prefix string) (string, bool) {
	for _, n := range names {
		if n = strings.TrimPrefix(n, "/"); strings.HasPrefix(n, prefix+"_") {
			return n, true
		}
	}
	return "", false
}

func (b *Backend) cleanupOne(ctx context.Context, id string) error {
	ictx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	insp, err := b.api.ContainerInspect(ictx, id)
	cancel()
	if err == nil && insp.ContainerJSONBase != nil && insp.State != nil {
		switch {
		case insp.State.Paused:
			uctx, cancel := context.WithTimeout(ctx, b.cfg.FreezeTimeout)
			if err := b.api.ContainerUnpause(uctx, id); err != nil {
				b.log.Warn().Err(err).Str("id", shortID(id)).Msg("unpause before remove failed")
			}
			cancel()
		case insp.State.Running:
			if ref, err := b.freezer.Resolve(insp.State.Pid, id); err == nil {
				if frozen, _ := b.freezer.Frozen(ref); frozen {
					tctx, cancel := context.WithTimeout(ctx, b.cfg.FreezeTimeout)
					if err := b.freezer.Thaw(tctx, ref); err != nil {
						b.log.Warn().Err(err).Str("id", shortID(id)).Msg("thaw before remove failed")
					}
					cancel()
				}
			}
		}
	}
	rctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	defer cancel()
	if err := b.forceRemove(rctx, id); err != nil {
		return fmt.Errorf("docker: cleanup: remove %s: %w", shortID(id), err)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// freePort asks the kernel for a free TCP port on host (NetworkHost mode; the proxy binds it moments later).
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
