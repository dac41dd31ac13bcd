package pool

import (
	"context"
	"errors"
	"time"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// Backend executes container operations for the Manager. It is implemented by pool/docker (and by fakes in
// tests). Every method is bounded by ctx; the Manager gives each call its own deadline (create 60 s,
// init/run = action timeout + margin, freeze/thaw 10 s, remove 60 s). Methods must be safe for concurrent use
// on different handles; the Manager never runs two operations on the same handle at once except Logs after
// Run and Run calls of a container with concurrency > 1.
type Backend interface {
	// Create creates and starts a container for spec under name (docs/protocol.md#docker) and returns once its
	// action-proxy address is known. On failure nothing may be left behind (remove the broken container).
	// An error that is (or wraps) a *CreateError carries the activation response to report (e.g. developer
	// error for a missing image); any other error is reported as "Failed to provision resources".
	Create(ctx context.Context, name string, spec Spec) (Handle, error)
	// Init posts body to /init. timeout is the action timeout; init retries connection-refused until it.
	Init(ctx context.Context, h Handle, body []byte, timeout time.Duration) InitResult
	// Run posts body to /run with the action timeout.
	Run(ctx context.Context, h Handle, body []byte, timeout time.Duration) RunResult
	// Logs collects this activation's log lines (per-handle offset, docs/protocol.md#logs). limitBytes is
	// the action's log limit (0 = collect nothing); opts says whether the runtime writes sentinels and
	// whether the activation failed as a developer error.
	Logs(ctx context.Context, h Handle, limitBytes int64, opts LogOptions) LogResult
	// Freeze freezes every process of the container (cgroup freezer). Docker still reports it running: the
	// pool is the only authority on frozen state.
	Freeze(ctx context.Context, h Handle) error
	// Thaw undoes Freeze.
	Thaw(ctx context.Context, h Handle) error
	// Remove force-removes the container; it must also work on a frozen container (thaw first).
	Remove(ctx context.Context, h Handle) error
	// Cleanup thaws and removes every container whose name starts with prefix+"_" (leftovers of an earlier
	// run, and everything at shutdown). It returns how many it removed.
	Cleanup(ctx context.Context, prefix string) (int, error)
}

// DeathWatcher is implemented by backends that learn of containers stopping outside the pool's control:
// killed from outside, crashed while idle, or stopped by a restart of the container engine. The Manager
// destroys such a container at once, so no run is handed to it (a run already granted is moved to another
// container); without a watcher a dead container shows only when its next /run fails.
type DeathWatcher interface {
	// WatchDeaths calls died with the name of every container whose name starts with prefix+"_" and that
	// stops, until ctx ends. When it loses the engine it reconnects and then reports the containers of prefix
	// that stopped meanwhile. died must not block.
	WatchDeaths(ctx context.Context, prefix string, died func(name string))
}

// Handle is a created container.
type Handle interface {
	ID() string   // backend id (docker container id)
	Name() string // container name
}

// LogOptions tell Backend.Logs how to know that an activation's output is complete.
type LogOptions struct {
	// Sentinels: the runtime ends each activation's output with proxy.LogSentinel on stdout and stderr
	// (after a /run; never after an /init), so collection waits for both.
	Sentinels bool
	// DeveloperError: the activation failed as a developer error (its /init or /run failed). The runtime
	// may have died before writing sentinels, so collection ends at the sentinels, once the container has
	// stopped and its log is read to the end, or after a short quiet period, whichever comes first; and
	// OpenWhisk's notice that log data might be missing is appended (proxy.MsgLogsMissingDevError). The
	// container is destroyed after such an activation, so where the next activation's lines start does
	// not matter.
	DeveloperError bool
}

// InitResult is the outcome of /init.
type InitResult struct {
	OK       bool           // HTTP 200 within the timeout
	Response proxy.Response // the error response when !OK (developer/whisk error, docs/protocol.md#errors)
	Duration time.Duration  // wall time of /init (including connection retries)
	Dead     bool           // the container is unusable (connection error, OOM, timeout)
	// Reschedule: the runtime answered 503 (OpenWhisk's ContainerHealthError): the activation belongs on
	// another container. Implies Dead.
	Reschedule bool
	// Exited: the container stopped by itself before /init answered (its process exited or crashed at
	// start). The Manager starts the activation on a new container, at most MaxReschedules times, then
	// answers with Response and remembers the failure for the action (StartFailureBackoff). Implies Dead.
	Exited bool
}

// RunResult is the outcome of /run.
type RunResult struct {
	Response   proxy.Response // result or error response (docs/protocol.md#errors)
	Start, End time.Time      // /run interval
	TimedOut   bool           // the action exceeded its time limit (annotation timeout:true)
	Dead       bool           // the container must be destroyed (connection error, OOM, ...)
	// Reschedule: the action did not run and the activation belongs on another container (OpenWhisk's
	// ContainerHealthError): the connection was refused, the container had already stopped when the request
	// was sent, or the runtime answered 503. The Manager destroys the container and runs the activation
	// elsewhere instead of blaming the action. Implies Dead.
	Reschedule bool
}

// LogResult is the outcome of log collection; Lines are formatted (proxy.FormatLogLine) and include any
// appended invoker lines (truncation, collection issue, developer-error notice).
type LogResult struct {
	Lines     []string
	Truncated bool
	Failed    bool // collection error (missing sentinels, framing, timeout): the container is destroyed
}

// CreateError is returned by Backend.Create when the failure maps to a specific activation response
// (docs/protocol.md#errors, provisioning), e.g. developer error "Failed to pull container image '…'.". When
// Err wraps ErrExitedAtStart the Manager tries a new container first (see InitResult.Exited).
type CreateError struct {
	Response proxy.Response
	Err      error
	// Logs are what the container wrote before it stopped (formatted lines), for the activation record.
	Logs []string
}

func (e *CreateError) Error() string {
	if e.Err != nil {
		return "pool: create: " + e.Err.Error()
	}
	return "pool: create failed"
}

func (e *CreateError) Unwrap() error { return e.Err }

// Sentinel errors of the pool driver.
var (
	// ErrProvision: the pool could not provide a container (start failure without a specific response,
	// rejection). The activation path turns it into "Failed to provision resources to run the action.".
	ErrProvision = errors.New("pool: failed to provision resources")
	// ErrRejected: the request can never be served by this pool (memory above what the pool can provide).
	ErrRejected = errors.New("pool: request rejected")
	// ErrClosed: the Manager is closed.
	ErrClosed = errors.New("pool: closed")
	// ErrExitedAtStart: the container stopped by itself before it was ready (Backend.Create found it
	// exited, so its process exited or crashed at once). Wrapped in a CreateError with the response.
	ErrExitedAtStart = errors.New("pool: container exited at start")
	// ErrWithdrawn: the activation was withdrawn (Job.Withdraw) before it started; nothing ran.
	ErrWithdrawn = errors.New("pool: withdrawn before it started")
	// ErrContainerHealth: the container broke before the action saw the request and the job asked not to
	// be moved to another container (Job.NoLocalReschedule); nothing ran.
	ErrContainerHealth = errors.New("pool: container failed before the action ran")
	// ErrUnknownContainer: no such container (Suspend/Resume/Evict).
	ErrUnknownContainer = errors.New("pool: unknown container")
	// ErrNotApplicable: the container is in a state where the operation does not apply.
	ErrNotApplicable = errors.New("pool: operation not applicable in this state")
)
