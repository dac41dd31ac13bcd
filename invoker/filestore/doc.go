// Package filestore is the demo mode's on-disk artifact store: the same read and write operations as the
// CouchDB store (invoker/store), over plain files under one root directory, so that one command can run the
// invoker on embedded defaults without a CouchDB.
//
// It must not be used in production deployments. OpenWhisk's controller writes action documents to CouchDB and
// reads activation records from CouchDB; an invoker recording into local files is invisible to the controller,
// its API and its activation views. Production always uses invoker/store.
//
// Layout under the root:
//
//	whisks/<esc(docid)>.json                 action documents exactly as CouchDB holds them (with _id, _rev)
//	whisks/<esc(docid)>.<esc(attname)>       couch:<uuid> and legacy code attachments (mem: needs no file)
//	activations/<esc(ns/activationId)>.json  activation records, as wire's WhiskActivation.Document writes them
//	blocked-namespaces.json                  optional JSON array of blocked namespace names
//
// esc keeps ASCII letters, digits, '-' and '_' and writes every other byte as %XX (upper-case hex), so
// "guest/hello" is stored as "guest%2Fhello.json". Because '.' is always escaped, the first '.' of a file name
// separates the document id from its suffix, and temporary files (".tmp-*") never collide with stored ones.
// The attachment name "json" is reserved (it would collide with the document).
//
// It owns: those files; revision numbering ("N-<md5 hex>", as CouchDB); atomic writes (temporary file, fsync,
// rename or hard link, fsync of the directory); create-only activation records (a second record with the same
// id is ErrConflict and the first is kept); the seeding helpers (PutActionDoc, PutAttachment, SeedSample).
//
// Errors wrap the shared error classes of github.com/containerd/errdefs, as the CouchDB store's do (ErrNotFound;
// ErrDataLoss for a document that is not a readable action; ErrNotImplemented for one the invoker cannot
// execute; ErrUnavailable; ErrConflict for a record that exists; ErrInvalidArgument; ErrFailedPrecondition after
// Close), so a caller checks one set with errors.Is whichever store it was given. File I/O errors are
// ErrUnavailable. It must not import the CouchDB store (invoker/store).
//
// Concurrency: safe for concurrent use within one process. Activation records are create-only across processes
// too (hard link fails when the name exists); action documents are guarded by an in-process lock only, so only
// one process should seed a root at a time.
//
// It must not touch Kafka, Docker, containers or the pool, and it makes no network requests.
package filestore
