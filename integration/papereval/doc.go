// Package papereval is TEST EQUIPMENT: the NEMO paper's evaluation (§5, Figs. 5, 6, 10-14) run end to end
// on this machine through the real invoker binary, a real Kafka broker, the CouchDB API and Docker, with a
// reference NF carrying traffic on the core the edge functions share. scripts/paper-eval.sh drives it and
// writes docs/paper-eval.{md,csv} and docs/img/paper-eval-*.png. Nothing in the invoker imports it.
//
// What it owns:
//   - the workload (Functions, actions/*.py): ten Python actions, the paper's four edge functions and six
//     benchmark kernels, each doing its expensive preparation at /init; Poisson arrivals (seeded);
//   - the plan (Params, RunSpec): mixed runs (the Poisson stream through one configuration: native,
//     native-warm, colocated, harvest, prewarm, nemo, nemo-no-tm), controlled runs (each function cold, then
//     warm, alone and co-located with and without harvesting) and NF-alone runs (harvesting forced off and
//     on), over NFs, frame sizes, NF priorities, gaps and repetitions; resumable by run id;
//   - the node (Node): two network namespaces joined by a veth pair (nothing leaves it), the NF namespace's
//     sysfs mounted for the invoker's harvester, the reference NF pinned to the NF core (SCHED_FIFO or not),
//     the generator pinned to the service core following the NF's clickshm segment (trains stand in for
//     NIC coalescing, which veth lacks), and the shared services moved to the service core for each run
//     and put back after (ServicePins);
//   - the driver (controller): ActivationMessages produced to invoker{N} as OpenWhisk's controller sends
//     them, acks read from completed{C}; per invocation the produce→Result latency and the record's
//     initTime, waitTime and duration from the Result ack, and the scheduler state from the invoker's log;
//   - the measurements: NF counters, NF and core CPU from /proc, the invoker's CPU and /metrics;
//   - the results CSV (Row, one kind per row) and the report (Report, gonum/plot figures), which is
//     generated from the CSV alone.
//
// What it must not touch: anything it did not create. Its namespaces, veth pair, shared-memory segments,
// topics (per-run prefix), databases (per-run prefix), invoker ids and containers (named after its
// invoker ids) are its own and removed after each run; the services' CPU affinity is restored after each
// run. It dials only 127.0.0.1. It needs root.
package papereval
