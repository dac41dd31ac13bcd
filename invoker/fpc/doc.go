// Package fpc is NEMO's side of OpenWhisk 2.x's scheduler, the "function pulling container" (FPC)
// architecture: the scheduler asks the invoker over Kafka to create containers for an action, each container
// pulls its activations from the scheduler over gRPC, and the invoker's health and containers are published
// in etcd under one lease.
//
// This package owns the mode selection: Load reads the SPI settings (CONFIG_whisk_spi_InvokerProvider and
// CONFIG_whisk_spi_InvokerServerProvider) and the CONFIG_whisk_etcd_* and other FPC settings exactly as the
// Scala invoker reads them through transformEnvironment.sh, into a Config. Classic stays the mode where the
// SPI is unset. Two small differences from the Scala reader, both for clear errors: a bad value is refused
// with the variable's name (the JVM fails later, or never), and resource tags are trimmed.
//
// Its sub-packages hold the rest of FPC mode, each behind small interfaces of its own:
//   - activationpb: the gRPC ActivationService messages and client, generated from activation.proto;
//   - fetch: one HTTP/2 connection per scheduler and the per-container long-poll loop;
//   - etcdreg: the etcd session (lease, keep-alive, keys, repair);
//   - lifecycle: the container lifecycle and placement decisions as a pure state machine;
//   - node: the driver that runs the lifecycle against the pool, etcd, gRPC and Kafka (invoker/app's RunFPC
//     assembles it; docs/fpc.md is the operator's view).
//
// The wire formats (Kafka messages, etcd keys and values, the gRPC JSON payloads) live in invoker/wire.
//
// This package itself must not touch the container pool, the activation path, Kafka or the invoker's assembly;
// invoker/config keeps its Config, invoker/cmd/nemo runs app.RunFPC when Mode is FPC.
package fpc
