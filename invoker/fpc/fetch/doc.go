// Package fetch is the invoker's client of the scheduler's activation.ActivationService in FPC mode: how a
// container pulls its activations.
//
// It owns:
//   - Conns: one gRPC client connection (one HTTP/2 connection) per scheduler endpoint, shared by every
//     container pulling from that scheduler and closed when the last one lets go. The JVM invoker opens one
//     client per container; multiplexing is what gRPC is for.
//   - Puller: one container's pull. Every FetchRequest carries the container's state: warmed (after /init),
//     lastDuration (after a run), alive (false only in the goodbye fetch of Close). NoActivationMessage comes
//     back as Result.Idle; ActionMismatch stops the container (ErrActionMismatch); NoMemoryQueue or a gRPC
//     error makes it read the queue's leader (LeaderLookup, etcd's C/queue/<ns>/<fqn>/leader), move its
//     connection there and fetch again, up to MaxReconnects times with a doubling backoff before ErrNoQueue.
//     Reschedule hands an activation back (RescheduleActivation). An unparsable response is fetched again.
//   - Loop: the long-poll loop over a Puller with a Handler that runs activations and decides, on
//     NoActivationMessage, whether the container goes on pulling (the pause-grace decision is the
//     lifecycle's, not this package's).
//
// Differences from the JVM client, on purpose: a DNS failure ("Unable to resolve host") is treated like any
// other gRPC error (leader look-up, bounded retries) instead of stopping the container at once; a goodbye
// fetch that returns an activation hands it back instead of dropping it.
//
// Every call is bounded: FetchTimeout per fetch (the scheduler holds one for up to 1 s), RescheduleTimeout,
// GoodbyeTimeout. Waits between reconnects use the injected Clock.
//
// It must not touch: containers, etcd writes, Kafka. The JSON inside the gRPC strings is invoker/wire's.
package fetch
