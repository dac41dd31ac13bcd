// Package pool is NEMO's container pool: which container serves which activation, under a fixed memory
// budget, and when containers are created, initialised, frozen, thawed and removed.
//
// # What it owns
//
//   - The memory bound. Every container counts its memory limit from Create until Removed (stem cells and
//     broken containers being removed included), except an idle container the pool or the controller gives
//     up (eviction, idle timeout, the controller's Evict, stem-cell expiry): its memory is released when its
//     removal starts (Remove.Released), because the backend kills it first and it is gone long before a
//     container created beside it starts (measured: docs/simulator.md, "Eviction cost"); nothing is created
//     unless it fits in Config.UserMemoryMB (OpenWhisk's hasPoolSpaceFor). NEMO's bounds sit on top: at
//     most Config.MaxWarm function containers are kept, and Config.ColdReserveMB is what an on-demand cold
//     start can always have at once: stem cells stay out of it, and a controller pre-warm may start only
//     while the memory held by containers an eviction cannot give back at once leaves it free (idle
//     containers may occupy it).
//   - The container lifecycle: starting, prewarmed (stem cell), warming (/init in flight), idle, busy,
//     frozen, removing; warm reuse keyed by invoking namespace + action content hash (not the revision);
//     concurrency > 1; stem-cell backfill, with OpenWhisk's reactive counts (cold starts per check interval,
//     TTL expiry of the surplus, surplus shed for memory); eviction of idle containers in the order the
//     driver last pushed with a Rank event (least recently used first without one, and for containers the
//     ranking does not name); the FIFO run buffer; pause grace and idle timeout; destroy on developer/whisk
//     errors.
//   - The frozen state. The pool is the only authority on whether a container is frozen (Docker does not
//     know about cgroup-freezer freezes): it emits Freeze/Thaw itself, thaws before any Run or Remove, and
//     holds containers the controller suspended (Suspend/Resume) away from runs and eviction.
//
// # Layers
//
// Pool is a pure state machine in the style of etcd's raft: Step(now, event) returns the actions to
// execute; it does no I/O, reads no clock, starts no goroutine and calls nothing outside itself (what a
// policy knows, such as the scheduler's ranking of idle containers, comes in as an event), so scenario tests
// (testdata/scenarios) and the scheduler's simulator drive it with injected time. The caller executes the actions and reports
// their outcome as events. Its obligations:
//
//  1. Answer Create with Started or StartFailed, Init with Initialized or InitFailed, Run with RunFinished
//     (Destroy when the container must go), Remove with Removed. A Released Remove kills the container
//     before anything else (a force removal does), so its memory is free while the rest of the removal goes on.
//  2. Start the actions of one container in the order emitted; Create, Freeze, Thaw and Remove must
//     complete before the next action of that container starts (Init and Run may run alongside: a Suspend
//     freezes a container whose /init is in flight, and a Remove may overtake a failing /init).
//  3. Report broken containers (freeze/thaw failure, stopped outside the pool) with Destroy, and send Tick
//     (or any event) at the time NextDeadline returns so the pause grace, idle timeout and reactive
//     stem-cell check fire on time.
//  4. If eviction should follow a policy other than LRU, send Rank whenever that policy's order may have
//     changed; the pool keeps the latest one.
//
// Manager is the thin driver, in three files by idea:
//
//   - manager.go, the executor: it owns a Pool behind a mutex, executes its actions against a Backend with
//     deadlines (create 60 s, init/run = action timeout, freeze/thaw 10 s, remove 60 s), one lane per
//     container, feeds their outcomes back as events, ticks the pool with a real clock, destroys containers
//     a DeathWatcher reports dead, and Close drains it.
//   - run.go, the run of one activation (Manager.Run, the activation path's Runner): a container from the
//     pool, /init with the context of the activation it was created for, /run, log collection, and what a
//     failure means — its response, destroying the container, or moving the activation to another
//     container when the action never saw it (thaw failure, container stopped, connection refused, HTTP
//     503) or the container exited at start, at most MaxReschedules times per activation whatever the
//     cause. An action whose containers keep exiting at start is not started again for a while
//     (startfailures.go: no create storm for a crash-looping image), and an activation withdrawn
//     (Job.Withdraw) before it got a container returns ErrWithdrawn so the invoker can leave it for
//     redelivery at shutdown.
//   - control.go, the API of the function controller and the invoker: Prewarm, Suspend, Resume, Evict,
//     Rank, WaitGone, Snapshot, Container, Lookup.
//
// A Job carries no OpenWhisk type: the invoker's activation path builds it (its Spec, time limit, and the
// functions that build the /init and /run bodies) and the scheduler's Invoker wraps Run around it. What a
// container answers is described by package pool/proxy, which the backend and the invoker share.
//
// # What it must not touch
//
// Docker, cgroups and HTTP to the action containers are the Backend's (pool/docker); Kafka, acks, the
// activation store and every OpenWhisk message or document belong to the invoker (nothing under pool/
// imports invoker/); pre-warm policy (what to warm, when, conflict
// states S1–S4) belongs to the scheduler, which acts only through Request{Prewarm}, Suspend, Resume, Evict
// and Rank.
//
// # Tests
//
// testdata/scenarios/*.txt are scripts in the datadriven format (github.com/cockroachdb/datadriven): a
// command (request, started, finished, rank, tick…; the list is on TestScenarios), "----", then the actions
// the pool emitted, checked after every line against an independent model (invariants_test.go), which the
// random interleavings (property_test.go) drive too. go test ./pool -run TestScenarios -rewrite regenerates
// the expected actions; docs/testing.md has the conventions.
package pool
