package pool

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// Job is one activation as the pool runs it: the container it needs, its time limit, how to build its /init
// and /run bodies and how to collect its logs. The invoker builds it from an OpenWhisk activation; the pool
// knows nothing of Kafka messages or action documents.
type Job struct {
	// ID names the activation (its activation id) in the pool's requests and logs.
	ID string
	// Spec is the container the activation needs; Spec.Key decides warm reuse.
	Spec Spec
	// Timeout is the action's time limit for /init and /run; 0 takes ManagerConfig.DefaultTimeout.
	Timeout time.Duration
	// InitBody and RunBody build the /init and /run request bodies. deadline is when the call will be
	// abandoned (what the runtime sees as its deadline). InitBody is called only when this activation's
	// context initialises a new container.
	InitBody func(deadline time.Time) ([]byte, error)
	RunBody  func(deadline time.Time) ([]byte, error)
	// LogLimit is how many bytes of logs to collect (0 collects none).
	LogLimit int64
	// SentinelledLogs: the runtime ends every activation's output with proxy.LogSentinel on both streams,
	// so collection waits for them (unless the activation failed as a developer error).
	SentinelledLogs bool
	// Log is the activation's logger (it carries the transid).
	Log zerolog.Logger
	// Withdraw, when closed, withdraws the activation if it has not started: while it waits for a
	// container (in the run buffer, for a container being created or initialised for another request)
	// Run gives up and returns ErrWithdrawn, so the invoker can leave it for redelivery at shutdown.
	// Once its /init or /run has started it runs to the end. nil never withdraws.
	Withdraw <-chan struct{}
	// NoLocalReschedule: when the container breaks before the action saw the request (OpenWhisk's
	// ContainerHealthError: thaw failure, container gone, connection refused, HTTP 503), Run returns
	// ErrContainerHealth at once instead of moving the activation to another container, so the caller can
	// hand it back to whoever queued it (FPC mode's RescheduleActivation). The broken container is destroyed
	// either way.
	NoLocalReschedule bool
}

// Outcome is the result of one activation.
type Outcome struct {
	Response       proxy.Response
	Logs           []string      // formatted lines, filled after log collection
	InitDuration   time.Duration // 0 when no /init ran for this activation
	Start, End     time.Time     // run interval (Start excludes init)
	TimedOut       bool
	WaitStart      time.Time   // when /init (or /run if warm) started
	ContainerState string      // "cold" | "prewarmed" | "warm" | "warming"
	Container      ContainerID // the container /run went to (0 when no run took place)
	Conflict       string      // scheduler state S1..S4 (set by the scheduler, empty here)
}

// logsTimeout is OpenWhisk's overall log-collection bound: max(limit MB, 5) × 2 s.
func (j *Job) logsTimeout() time.Duration {
	return time.Duration(max(j.LogLimit>>20, 5)) * 2 * time.Second
}
