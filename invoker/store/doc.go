// Package store is NEMO's CouchDB artifact store: it owns every HTTP request the invoker makes to CouchDB
// (or a CouchDB-compatible server such as pouchdb-server), in the shapes OpenWhisk's CouchDbRestClient uses
// (docs/protocol.md#couchdb).
//
// It owns:
//   - reading action documents from the whisks database by id and revision, resolving their code
//     (inline string, mem: inline attachment, couch:<uuid> and legacy relative attachment names), with a
//     revision-keyed LRU cache (§4.3);
//   - writing activation records to the activations database through a batching _bulk_docs writer, with
//     per-document results so a conflict can act as a duplicate guard (§2.5, §4.4);
//   - reading one activation record back (duplicate guard) and the blocked-namespaces view of the subjects
//     database (§9.5), and a namespace's action limits through the subjects database's identities view
//     (identity.go; FPC mode's check at container creation);
//   - health (Ping) and the seeding helpers tests and the demo use (EnsureDBs, PutActionDoc, PutAttachment);
//     PutActionDoc also writes FPC mode's health action.
//
// It must not touch Kafka, containers, Docker or the pool, and it makes no decision about what an error means
// for an activation beyond classifying it into the package sentinels (ErrNotFound, ErrUnreadable,
// ErrNotFetchable, ErrUnavailable, ErrConflict…), each of which wraps a shared error class of
// github.com/containerd/errdefs; the activation path answers by those classes.
//
// Every request carries Basic auth and Accept: application/json, every path segment is encoded like Java's
// URLEncoder, and every request is bounded by a per-attempt deadline on top of the caller's ctx. Transient
// failures (connection errors, 5xx, 429) are retried with exponential backoff and jitter; 4xx answers are
// final.
package store
