// Package lifecycle holds FPC mode's container decisions as a pure state machine: which container serves a
// creation, when the scheduler gets its ack, when a container pauses, resumes, is kept or removed. It follows
// the JVM invoker's FunctionPullingContainerPool and FunctionPullingContainerProxy.
//
// Machine.Step(now, event) returns Actions and does no I/O: no clock, no goroutine. A driver executes the
// actions in order and reports their outcomes as events; it sends a Tick at NextDeadline. Scenario tests
// (testdata/scenarios, -update to rewrite) drive it with an injected clock.
//
// The rules:
//   - placement of a creation: a paused container of the same invocation namespace, action and revision
//     (resumed: its warmed key goes whatever the outcome); else a stem cell of the same kind and memory
//     (smallest larger one with prewarm promotion; never for blackbox actions); else a new container. Memory for
//     placement is user memory − busy − paused − in progress, plus the paused containers, which are evicted
//     least recently used first when needed; with too little, ResourceNotEnoughError. A disabled invoker
//     answers ShuttingDownError, a sequence NonExecutableActionError;
//   - the success ack once the container's gRPC client is ready (cold, stem cell) or once it is resumed,
//     with the existing-container key registered just before; failures ack WhiskError / BlackBoxError
//     (start), UnknownError (client, or the container went before its ack);
//   - pause: no activation for the pause grace marks a container timed out; on the next NoActivationMessage
//     a warm one is frozen (warmed key in, existing key out) and one that never ran is removed;
//   - keep-or-remove: after idle-container paused, the live count (existing + in-progress + warmed keys)
//     against the namespace's keeping count keeps it for the keeping duration, or removes it now; a failed
//     count is retried 5 times, 500 ms apart;
//   - deletion messages: paused and warm containers of the action up to the revision, and initialised but
//     never-run ones of any revision, stop; pulling ones drain (existing key out first);
//   - /disable: shut down in rounds of batch-deletion-size every 5 s, keys first;
//   - adoption: a container the pool warmed on its own (NEMO's history-driven pre-warm) enters as paused,
//     registered as warmed, so a matching creation resumes it.
//
// Resources gives the resource record (free = user − busy − in progress; paused count as free, stem cells are
// not counted).
//
// Containers is the pool interface the driver needs (create, pause, resume, run, remove); the later glue
// implements it over the container pool. Acks carry the true error; the wire ack (invoker/wire
// NewCreationAck) substitutes the names the scheduler cannot parse.
//
// It must not touch: Docker, etcd, Kafka, gRPC, clocks, logging.
package lifecycle
