// Package bench measures the NEMO invoker against floors taken in the same run, each built from NEMO's own
// parts without the invoker around them (FloorsNote): the Kafka path alone (BareLoop, and an "echo" process
// that runs the invoker's own messaging.Feed and messaging.Producer with nothing behind them), a /run sent
// straight to a warm container of the same image that NEMO's Docker backend started, and that backend's
// create+start+/init (ColdStart). Every figure is reported as a ratio to its floor.
//
// It owns the floors (BareLoop over bare sarama with the invoker's Kafka settings, ColdStart over the Docker
// backend without the pool; they are test equipment, so the nemo binary does not carry them), the benchmark
// program (cmd/nemobench, build tag integration), the statistics, /proc sampling and report rendering used
// by scripts/bench.sh, which writes docs/benchmarks.md.
//
// It must not change the invoker: the invoker is run as a separate process (the `nemo invoker` binary), fed
// through Kafka and observed through its acks, its /proc entries and Docker. The only containers it touches
// directly are its own floor containers (name prefix "nemobench<pid>") and, at the end, leftovers of the
// invoker it started (prefix "wskbench<id>"); the Kafka topics and CouchDB databases it creates carry a
// per-run prefix and are deleted afterwards.
package bench
