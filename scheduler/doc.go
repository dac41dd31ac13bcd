// Package scheduler is NEMO's function controller (paper §4.3): per-function
// history, the pre-warm daemon, and preemptive thread management between
// pre-warms and invocations (states S1–S4-2, Algorithm 1).
//
// # What it owns
//
//   - History: per function (pool.Key) the smoothed init and run times
//     (b_warm = init / (init + run)), an exponentially decayed invocation
//     rate (half-life HistoryConfig.RateHalfLife, not a lifetime count), the
//     last invocation, and the last 64 inter-arrival gaps with a decayed
//     mean and variance.
//   - Score and Value (swappable): Score ranks functions for pre-warming;
//     Value says what an idle container is worth keeping (eviction order
//     and replacements).
//   - Controller: a pure state machine (no I/O, no goroutine, no clock: every
//     call takes now and a pool.Snapshot) returning Commands (Prewarm,
//     Suspend, Resume, Stop) and, per invocation, a Decision with its state.
//     The simulator (scheduler/sim) and the invoker run this same code.
//   - Invoker: the driver. It implements the activation path's Runner shape
//     (Run(ctx, job, onRunDone)) over pool.Manager (declared locally as
//     Manager), wraps every invocation and every warming in a Harvester
//     session, runs the daemon goroutine with a real clock, pushes the
//     controller's eviction ranking into the pool and exposes the state
//     counters (Metrics, Counts).
//
// It must not touch containers itself (only through the pool), the harvester's
// internals, or Kafka/CouchDB.
//
// # The score
//
// The paper names the inputs (b_warm, ivk_freq, last_ivk) but no formula;
// PaperScore is a literal reading (b_warm × decayed rate, discounted by time
// since the last invocation). The default, ExpectedBenefit, asks the
// question a pre-warm answers: "will this function be invoked before I could
// warm it later?"
//
//	score = P(next invocation within H | history, time since last) × weight
//	H     = init time + Slack (9 s: three daemon ticks)
//
// A function whose next invocation is further away than its own warming
// time plus a few ticks gains nothing from holding a container now: the
// daemon can warm it later. P conditions the empirical distribution of the
// recent gaps on the time already elapsed (a hazard estimate: each gap
// smeared over ±2 %, at least ±0.5 s, for jitter) and is blended with a
// Poisson estimate from the decayed rate, the gaps weighing k/(k+3) where k
// counts the gaps that outlasted the time elapsed less the horizon (a timer
// due within the horizon keeps all its gaps; ten minutes into a silence that
// only two of forty irregular gaps outlasted, those two are noise, not a
// pattern). When the silence is longer than every recent gap the pattern is
// broken and only the decayed rate (which keeps decaying) speaks. Nothing
// looks at the future. weight is 1 by default (the simulator's goal metric
// counts cold starts, not seconds); ExpectedBenefit.CostWeight mixes in the
// init time for P × cold cost.
//
// Why not the paper's score: with 6 warm slots for ~6 active functions per
// minute, periodic (timer) functions must be warmed shortly before they fire
// and released right after, and bursty HTTP functions kept while bursts
// last. A frequency × recency score cannot time a 5-minute timer; the
// conditioned gap distribution can. docs/simulator.md has the numbers of
// both.
//
// # The value of an idle container (KeepValue)
//
// The same probability, with two changes, weighed by the cold start an
// eviction would cost (1 + 2 × log2(1 + init/0.5 s)). When a function's
// recent gaps do not speak (none yet, or its silence outlasted them all) it
// is rated by its long-run rate — (gaps + 1) / (their sum + the silence
// since, and while the window holds the whole history, the silence before
// its first invocation) — instead of a rate that halves every ten minutes of
// silence; and each gap is blurred over the spread of the gaps (Silverman's
// rule), so a timer stays sharp while irregular arrivals read as a rate
// rather than as spikes. Without these, every rarely invoked function is
// worth ~0 and eviction degrades to least recently used; with Poisson
// arrivals that loses to greedy-dual's frequency (docs/simulator.md).
// The gaps' hazard is trusted only as far as the gaps depart from
// exponential ones (their coefficient of variation from 1, by 1 to 3
// standard errors, ~1/√n): a Poisson stream's hazard is flat, so the time
// since its last invocation says nothing and a hazard read from a dozen of
// its gaps is noise; a timer (CV ~0) or a bursty function (CV > 1) keeps
// its pattern. The pre-warm score reads the hazard as before.
//
// The idle containers are valued together (KeepValue.ScoreSet, a
// SetScore): each function's estimate, per second of horizon and in log
// terms, is pulled toward the others' mean by as much as its own noise (1 /
// its evidence, the decayed count of its gaps + 1) outweighs the spread
// between them beyond that noise (an empirical Bayes estimate). Equally
// popular functions, whose estimates differ only by noise, are then ranked
// by the cold start their eviction would cost: the cheapest to restart
// goes first. Rates that clearly differ (skewed popularity, timers against
// rare functions) barely move. Valued one by one, the noise of a handful of
// gaps overrode a 7× dearer cold start (docs/simulator.md).
//
// # The daemon (Tick, every 3 s)
//
//  1. Resume pre-warms held longer than MaxSuspend (10 s).
//  2. Value every idle container: its function's Value, × 0.1 for each more
//     recently used idle container of the same function (with concurrency 1
//     a second container only helps overlapping invocations).
//  3. Keep until pressure: no idle container is stopped for having been idle
//     (StopAfter, off by default, would stop those not invoked for that long
//     and valued below MinScore). Idle containers stay, frozen after the
//     pause grace, until memory is needed: the pool then evicts the least
//     valuable, and releases its memory at once (the container is killed
//     first; its removal goes on beside the cold start).
//  4. With Trim, stop the least valuable idle containers above MaxWarm.
//  5. Nothing more while invocations wait in the pool's run buffer: no
//     pre-warm competes with them.
//  6. Pre-warm the best-scoring functions with no container, score ≥
//     MinScore, while fewer than MaxWarm (6) function containers are held
//     (starting, warming, busy, suspended: what cannot be evicted at once)
//     and the held memory plus the pre-warm stays out of the cold reserve;
//     when free memory is short, replace idle containers worth less than
//     ReplaceMargin (0.5) × the candidate's value (unless FreeSlotsOnly, the
//     paper's wording). The driver executes commands in order; a Stop's
//     memory is free for the next command.
//
// The cold reserve is therefore not memory kept empty: it is memory an
// on-demand cold start can always have at once. Idle containers may sit in
// it; pre-warms in flight may not, and when an invocation needs their memory
// all the same the pool evicts them after the idle ones (their requests are
// rejected, without back-off). An invocation never waits for memory a kept
// or pre-warmed container holds (pool's invariant checker).
//
// The pool runs as ControlledPool makes it, in the invoker and in the
// simulator alike: its own MaxWarm and idle timeout are off (the controller
// bounds pre-warms by MaxWarm and keeps idle containers until pressure).
//
// When the pool itself must free memory it evicts by the same value (or by
// least recent invocation with EvictLeastRecentInvocation, the paper's rule):
// the driver pushes Controller.Ranking into the pool as a pool.Rank event.
// The pool never calls back into the controller.
//
// # Thread management (Begin/End)
//
// A pre-warm "in flight" is a function container still starting or in
// /init, with no run waiting on it, of a function the controller is
// pre-warming.
//
//   - S2: no pre-warm in flight: run as is.
//   - S3: the function is warm and pre-warms of other functions are in
//     flight: suspend (freeze) them, run, resume after.
//   - S4-1: the function's own pre-warm is in flight: the invocation joins it
//     (the pool queues the run on that container) and runs warm when /init
//     ends; if another invocation had it suspended it is resumed at once.
//   - S4-2: the function has no container and pre-warms are in flight:
//     suspend them, run cold, resume.
//   - S1 counts pre-warms started with no invocation in flight.
//
// Holds are reference-counted per container (several invocations may hold
// one pre-warm); End always releases them (failure and cancellation
// included), and the daemon resumes a hold older than MaxSuspend so a long
// cold invocation cannot keep a pre-warm's memory hostage. A failed pre-warm
// backs its function off for FailureBackoff (1 min); a rejected one (no room)
// does not.
//
// # Drivers
//
// Two drivers execute the controller's decisions against a pool: Invoker,
// over pool.Manager with real containers, and schedtest.Env, over a
// pool.Pool with an injected clock (the scenario tests and the simulator).
// Only the I/O differs; both follow the same rules:
//
//  1. Begin before handing an invocation to the pool; execute the
//     decision's commands first, in order.
//  2. Commands: Prewarm is a pool pre-warm request (its outcome goes back
//     as PrewarmDone with the measured init, or PrewarmRejected when the
//     pool could not place it or evicted it for an invocation); Suspend and
//     Resume freeze and thaw (a Resume of a container that is gone is
//     dropped); Stop evicts an idle container, whose memory the pool
//     releases at once, so the next command may use it.
//  3. End once per Begin when the invocation is over, also when it failed,
//     was rejected or canceled, with the init it paid (0 when warm) and its
//     run time; execute what it returns.
//  4. Push Ranking into the pool (pool.Rank) after the commands of a Begin
//     and before the request reaches the pool, when a run returns (with its
//     container in ending, before the pool learns the run finished), after
//     every End, after every Tick's commands, and after every pre-warm
//     outcome. The pool evicts by the latest ranking; what it does not name
//     goes after, least recently used first.
//  5. A held container that disappears must not be resumed: the
//     environment sees every removal and tells the controller (Forget); the
//     invoker does not see removals: the pool ignores its Resume
//     (ErrUnknownContainer), which the invoker drops silently.
//
// # Tests
//
// testdata/*.txt are scenarios in the datadriven format (among them
// keep_until_pressure.txt, reserve_eviction.txt, pooled_eviction.txt and
// memoryless_eviction.txt)
// (github.com/cockroachdb/datadriven), run on schedtest.Env with the
// commands listed in schedtest.DefaultCommands; each directive is followed
// by the action log it produced. go test ./scheduler -run TestScenarios
// -rewrite regenerates the expected logs (review the diff); docs/testing.md
// explains the format and how to add a scenario or a command.
package scheduler
