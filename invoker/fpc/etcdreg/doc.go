// Package etcdreg is the invoker's etcd session in FPC mode: one lease, and every key the invoker owns
// written with it.
//
// It owns:
//   - the lease: granted at Open, renewed every KeepAliveInterval (500 ms) with a bounded call, and
//     replaced when etcd says it is gone, when no renewal succeeded for a whole TTL, or when the instance lease
//     key (C/instance/invoker<N>…/lease, value the lease id in decimal) is deleted. A replacement grants the
//     new lease first, moves every key onto it and only then revokes the old one, so the scheduler never sees
//     the keys missing;
//   - the kept keys: Put (written with the lease, retried every RetryInterval until it lands; a Put of the
//     value already kept is a no-op, which is how the resource record is "published when it changes"), Delete
//     (leaves the kept set first, then deletes, so it is not repaired), Flush (wait for everything to land);
//   - repair: deletions under the cluster prefix are watched; a kept key deleted behind the invoker's back is
//     re-created with create-if-absent. Deletion events older than the session's own write of a key are
//     ignored, and a broken watch is re-established and every key re-checked;
//   - reads: Get, Count (count-only range), and Reads for the queue leader and the live container count.
//
// When the process dies, nothing is left behind: the lease expires and etcd removes every key within the TTL
// (etcd raises TTLs below its minimum, about 2 s; TTL() is what was granted). Close revokes the lease, which
// removes them at once.
//
// Client: go.etcd.io/etcd/client/v3 v3.6, checked against Debian's etcd-server 3.4 (the API level Helm deploys)
// by the integration tests of this package; it uses only the v3 KV, lease and watch APIs of 3.4.
//
// It must not touch: key layouts and values (invoker/wire builds them), containers, Kafka, gRPC.
package etcdreg
