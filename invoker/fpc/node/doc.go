// Package node is FPC mode's driver: it runs the lifecycle machine (invoker/fpc/lifecycle) against the real
// parts — container creations and deletions from invoker<N>, creation acks to creationAck<sid>, the etcd
// session's keys and resource record, one puller per container over the shared gRPC connections
// (invoker/fpc/fetch), and the container pool.
//
// It owns:
//   - Node: one lock around the machine; each event's actions are executed in the order emitted (etcd writes
//     at once, since the session retries them; container operations, counts and acks in goroutines that answer
//     with events); the timer that ticks the machine at its next deadline; the resource record, republished
//     when it changes and every memory-sync interval; /disable, /enable, /pool and /pool/count; the SIGTERM
//     path (Shutdown), which hands every activation fetched after it began back with RescheduleActivation.
//   - the pull loops (pull.go): fetch, run, fetch again with the run's duration; NoActivationMessage is put
//     to the machine, whose answer says whether the loop goes on.
//   - Slots (slots.go): lifecycle.Containers over NEMO's container pool. Each FPC container is a slot whose
//     activations run through the classic activation path (fetch the action, /init, /run, logs, acks, record)
//     and NEMO's function controller (thread management S1-S4, harvesting), on a pool key made unique to the
//     slot, so its runs always find its own container. The Docker container itself is started by the slot's
//     first activation (its cold start, measured as in classic mode); pause and resume are the pool's
//     Suspend and Resume (the cgroup freezer); NEMO's history-driven pre-warms of actions FPC mode has seen
//     are adopted as paused containers registered as warmed (Adopt).
//   - Health (health.go): the status of the resource record, from a self-test and a ring of the last 10
//     results (3 failures: unhealthy); the self-test (selftest.go) is OpenWhisk's health action,
//     whisk.system/invokerHealthTestAction<N>, written to the whisks database and run round after round in a
//     slot of its own through a health activation path whose acks go nowhere (HealthAcker).
//   - the namespace-limit check at creation (limits.go: InvalidActionLimitError) and the hand-back of an
//     activation whose container failed before it ran (pull.go: RescheduleActivation, else an abnormal-run
//     answer), both behind Config switches.
//
// It must not touch: wire formats (invoker/wire), the lease and key repair (etcdreg), the gRPC protocol
// (fetch), Docker (only through the pool), Kafka (only through AckSender and the caller's consumer).
package node
