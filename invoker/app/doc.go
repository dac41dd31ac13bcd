// Package app assembles the NEMO invoker from its parts and runs it: Kafka topic and consumer,
// producer and health pings, the artifact store, the Docker container pool, the function controller
// (scheduler), the slack harvester, the activation path and the HTTP server. It owns start-up order
// (OpenWhisk's, docs/protocol.md#start-up-order), enable/disable, the blacklist refresh, the invoker's metrics and
// the shutdown sequence. Beside NEMO's own metrics it reports the pool under the names OpenWhisk's invoker
// gives it (owmetrics.go), so dashboards built for OpenWhisk read NEMO.
//
// It holds no policy of its own: decisions live in pool and scheduler, wire formats in invoker/wire,
// I/O in the packages it wires. Building the parts from configuration is the caller's job
// (invoker/cmd/nemo), so tests and the demo can substitute any of them.
package app
