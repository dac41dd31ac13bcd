// Package fpcsched is test equipment: a stand-in for OpenWhisk's 2.x scheduler, in Go, because the real
// scheduler is a JVM image that cannot be pulled or built here. Nothing in the invoker imports it.
//
// It plays the scheduler's side of every FPC interface, on real services:
//   - gRPC: an activation.ActivationService server on 127.0.0.1 with queues keyed like the scheduler's
//     (invocation namespace, action doc id, revision). A fetch gets a queued activation, or waits up to Hold
//     (1 s by default) and gets NoActivationMessage; a fetch for an action without a queue gets NoMemoryQueue,
//     one for another revision of a queued action ActionMismatch; alive=false is answered NoActivationMessage
//     at once. RescheduleActivation puts the message back into its queue. Every request is recorded.
//   - Kafka (real broker): sends ContainerCreationMessages and ContainerDeletionMessages to invoker{N},
//     consumes creationAck{sid} reading each ack as a HEAD scheduler does (an error name it cannot parse is
//     recorded as unreadable) and completed{C} through itest's controller side.
//   - etcd (real server): writes the queue leader key of an action and watches everything under the cluster
//     prefix, so tests can wait for keys to appear, change or vanish, and read the lease they carry.
//
// It owns no service: the broker, etcd and Docker are the ones the services script starts.
package fpcsched
