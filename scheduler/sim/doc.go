// Package sim is NEMO's trace simulator (`nemo simulate`, Main). It replays a
// workload through the real pool.Pool state machine, with the same arrivals
// and memory for every keep-alive/pre-warm policy, and reports cold starts,
// queued/dropped invocations, wasted memory-time and added latency as a
// table, a CSV and a plot (PNG, or SVG/PDF by the file's extension; drawn by
// package chart).
//
// # Workloads
//
//   - Azure Functions 2019 (LoadAzure2019): per-minute invocation counts,
//     duration percentiles and per-function memory, as in
//     testdata/traces (CC-BY, see the README beside the files). The first K
//     rows form "TK". Arrivals follow FaasCache's convention: one invocation
//     in a minute at its start, n > 1 spaced evenly through it. A function's
//     warm run time is Average; a cold start adds Maximum − Average, of which
//     Setup.StartShare (30 %) is container creation (skipped by an OpenWhisk
//     stem cell) and the rest /init.
//   - Azure Functions 2021 (LoadAzure2021, "A21"): the bundled 998-row
//     sample, one arrival per row at end − duration; warm = mean duration,
//     cold extra = maximum − mean (the 2019 convention).
//   - Poisson (paper §5.1): N functions with the paper's init/run shares,
//     exponential gaps of a chosen mean, popularity ∝ 1/rank^zipf,
//     deterministic for a seed. Lists of gaps, skews and seeds make a sweep
//     (Sweep): seeds pooled per point, a Markdown table with NEMO ÷ the best
//     baseline, each point's Floor (what no policy that cannot see the
//     future can expect to beat) and a paired t-test over the seeds (Worse:
//     is NEMO worse than the best baseline beyond noise?), a CSV that
//     -sweep-from redraws, and a figure of cold ratio and added latency
//     against the mean gap.
//
// # Engine
//
// A discrete-event loop (heap ordered by time, then insertion) runs the
// arrivals and the events of a schedtest.Env, the environment the
// scheduler's scenario tests use too: it couples the pool (and, for NEMO,
// the controller, whose commands and eviction ranking it executes as the
// invoker does) and completes container operations with the workload's
// durations: Create→Started after the creation time, Init→Initialized after
// /init (a frozen container makes no progress: its remaining /init time
// resumes on Thaw), Run→RunFinished after the warm time, Remove→Removed
// after the eviction cost measured on Docker (EvictionCost; an idle
// container's memory is released when its removal starts, and a container
// created meanwhile starts EvictionCost.Beside later). The engine keeps the workload, the metrics and the policies'
// hooks. Every run is deterministic; policies run in parallel goroutines,
// each on its own pool.
//
// # Policies (same pool code, different knobs)
//
//   - openwhisk: 10-minute idle timeout, LRU eviction when memory is short,
//     2 nodejs stem cells of the container size (docs/protocol.md#scheduling).
//   - ttl-10m: the same without stem cells (FaasCache's TTL baseline).
//   - greedy-dual: FaasCache (GreedyDual, an eviction ranking the engine
//     pushes into the pool after every step): priority = clock + freq ×
//     cost / size, clock = the victim's priority on eviction, a container
//     takes the clock when used, freq over the function's live containers
//     (reset when the last dies), no TTL.
//   - hybrid-hist: Shahrad et al. with dslab's parameters (1-minute bins over
//     4 h, pre-warm = 5th percentile × 0.9, keep-alive = (99th percentile
//     bin + 1) × 1.1, CV threshold 2, out-of-bounds threshold 0.5, the ARIMA
//     forecast replaced by the mean of the last 10 idle times), per function;
//     LRU eviction when memory is short.
//   - nemo: scheduler.Controller with its defaults on
//     scheduler.ControlledPool(pool defaults), exactly what the invoker
//     runs: keep until pressure, eviction by KeepValue (the idle containers
//     valued together), pre-warms within
//     MaxWarm 6 held containers and out of the 512 MB cold reserve, 3-s
//     daemon.
//   - nemo-paper: the controller as the paper words it (PaperScore, free
//     slots only, least-recent-invocation eviction, suspension until the
//     invocation ends).
//
// The baselines use the whole memory (no warm-count bound, no reserve), as
// OpenWhisk and FaasCache do.
//
// # Metrics
//
// Cold-start ratio = (cold + stem-cell + joined-a-warming) / served: every
// invocation that did not find an initialised container counts. Queued =
// entered the pool's run buffer; delayed = of those, waited there > 1 ms.
// Wasted memory-time = MB × s of idle initialised containers and stem
// cells. Added latency = run start − arrival (buffer wait, creation, /init).
//
// It must not touch anything outside the simulation: no Docker, no network;
// it reads trace files and writes the CSV and figure it is asked for.
package sim
