// Package schedtest is test and simulation equipment: one environment (Env) that couples a pool.Pool and,
// optionally, a scheduler.Controller under an injected clock, the glue every pool↔controller driver needs,
// written once. The scheduler's scenario tests drive it through datadriven directives (Handle), and the
// trace simulator (scheduler/sim) runs its workloads on it; the invoker's real driver (scheduler.Invoker over
// pool.Manager) is separate because it does real I/O, but it executes commands with the same semantics
// (scheduler/doc.go lists them).
//
// # What Env does
//
//   - Invocations: Invoke asks the controller (Begin), executes the decision's commands, pushes the
//     controller's eviction ranking and hands the request to the pool; when the run finishes it pushes the
//     ranking with that container as the idle one it becomes, steps RunFinished, then tells the controller
//     (End) and executes what it returns. An invocation the pool rejects or fails is ended as failed.
//   - Controller commands: Prewarm → Request{Prewarm}, Suspend, Resume (only of a container still there),
//     Stop → Evict. Pool answers about pre-warms go back to the controller (Warmed → PrewarmDone with the
//     init cost, Failed → PrewarmDone failed, Reject → PrewarmRejected), and so does every removal (Forget).
//     After every daemon Tick and every pre-warm outcome the ranking is pushed again.
//   - Container operations: with a Timing, Create, Init and Run complete by themselves after the modelled
//     durations (a frozen container makes no /init progress: the rest resumes on Thaw), scheduled through
//     Config.Schedule (the simulator's event heap) or the environment's own queue (AdvanceTo); without one
//     they wait until the script completes them (Started, Initialized, Finish…). Removals complete at once,
//     after the actions of the step that issued them, unless the Timing is a RemoveTiming (the simulator
//     charges the measured removal time: Removed arrives that much later; the pool has released an idle
//     container's memory already). Pool timers (pause grace, idle timeout, stem-cell
//     checks) get a Tick at NextDeadline.
//   - A readable action log: "state S2", "ctrl: prewarm …", "pool: create …", one line each.
//
// Without a controller (Config.Controller nil) Env is the pool's driver alone: the simulator's baseline
// policies issue pre-warms, evictions and rankings themselves through Prewarm, Evict and Rank.
//
// # Extending
//
// Commands maps each datadriven directive to its handler; add an entry (in this package, or from a test
// through Env.Commands) to give scenarios a new command. Check states what must hold after every step.
//
// It must not be imported by production code paths that do real I/O: it is the scheduler's test equipment
// and the simulator's engine, nothing else. It touches no Docker, network or file.
package schedtest
