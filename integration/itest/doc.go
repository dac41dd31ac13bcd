// Package itest holds the helpers shared by NEMO's black-box integration harnesses (integration/invoker,
// integration/harvest): the services check, child processes, the controller's side of Kafka (topics,
// activation messages, acks), the test databases, the invoker's deployment environment, /metrics parsing
// and the invoker's containers. Test equipment: nothing in the invoker imports it.
//
// It owns no service: every helper talks to what the environment names (NEMO_KAFKA, NEMO_COUCHDB,
// NEMO_DOCKER), on 127.0.0.1 only, and removes only what the calling test created (its topics, consumer
// group, databases and the containers labelled with its invoker id). What one harness alone needs (the
// invoker's HTTP API, the reference NF, the clickshm segment) stays in that harness.
//
// It carries no build tag, so `go vet ./...` builds it; nothing here runs unless a test calls it.
package itest
