package store

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// Sentinel errors. Every error the store returns wraps one of them (test with errors.Is), and each wraps
// one of the error classes every store shares (github.com/containerd/errdefs), which is what the
// activation path tests: the demo's file store returns the same classes without this package.
var (
	// ErrNotFound (errdefs.ErrNotFound): the document (or its code attachment) does not exist or was
	// deleted (HTTP 404).
	ErrNotFound = fmt.Errorf("store: %w", errdefs.ErrNotFound)
	// ErrUnreadable (errdefs.ErrDataLoss): the document exists but is not an action (entityType mismatch)
	// or cannot be decoded.
	ErrUnreadable = fmt.Errorf("store: document unreadable: %w", errdefs.ErrDataLoss)
	// ErrNotFetchable (errdefs.ErrNotImplemented): the document is an action the invoker cannot execute
	// (a sequence, an attachment in an external store).
	ErrNotFetchable = fmt.Errorf("store: action not executable by the invoker: %w", errdefs.ErrNotImplemented)
	// ErrUnavailable (errdefs.ErrUnavailable): CouchDB could not be reached or kept failing (connection
	// errors, 5xx, 429, deadline), or answered in an unexpected way. Worth retrying.
	ErrUnavailable = fmt.Errorf("store: couchdb %w", errdefs.ErrUnavailable)
	// ErrConflict (errdefs.ErrConflict): a document with that id already exists (HTTP 409 or a
	// per-document "conflict" in _bulk_docs). For activation records it means "already recorded".
	ErrConflict = fmt.Errorf("store: document update %w", errdefs.ErrConflict)
	// ErrRejected (errdefs.ErrInvalidArgument): CouchDB refused a document for another reason
	// (per-document error other than conflict, or a 4xx answer to a write).
	ErrRejected = fmt.Errorf("store: document rejected: %w", errdefs.ErrInvalidArgument)
	// ErrInvalid (errdefs.ErrInvalidArgument): the caller passed something that cannot be sent (bad
	// config, a document without _id...).
	ErrInvalid = fmt.Errorf("store: %w", errdefs.ErrInvalidArgument)
	// ErrClosed (errdefs.ErrFailedPrecondition): the store was closed; nothing more is accepted.
	ErrClosed = fmt.Errorf("store: closed: %w", errdefs.ErrFailedPrecondition)
)

// HTTPError is the detail of a non-2xx answer; it is wrapped under one of the sentinels.
type HTTPError struct {
	Method string
	Path   string // escaped request path
	Status int
	Body   string // first bytes of the answer
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}
