// Package fpc holds the integration tests of NEMO's FPC-mode building blocks (invoker/fpc/...) against real
// etcd 3.4, a real Kafka broker and the scheduler stand-in (integration/fpcsched): the etcd keys, their values
// and lease behaviour (kill -9 of a process holding the lease, deletion of its lease key), the pull loop against
// a serving scheduler (activations, NoActivationMessage, NoMemoryQueue and the leader switch, ActionMismatch),
// and the container messages and creation acks over Kafka. cmd/fpc-holder is its test equipment. The tests
// carry the integration build tag and run under the shared lock.
package fpc
