package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the store returns wraps one of them (test with errors.Is).
var (
	// ErrNotFound: the document (or its code attachment) does not exist or was deleted (HTTP 404).
	ErrNotFound = errors.New("store: not found")
	// ErrUnreadable: the document exists but is not an action (entityType mismatch) or cannot be decoded.
	ErrUnreadable = errors.New("store: document unreadable")
	// ErrNotFetchable: the document is an action the invoker cannot execute (a sequence).
	ErrNotFetchable = errors.New("store: action not executable by the invoker")
	// ErrUnavailable: CouchDB could not be reached or kept failing (connection errors, 5xx, 429, deadline),
	// or answered in an unexpected way.
	ErrUnavailable = errors.New("store: couchdb unavailable")
	// ErrConflict: a document with that id already exists (HTTP 409 or a per-document "conflict" in
	// _bulk_docs). For activation records it means "already recorded".
	ErrConflict = errors.New("store: document update conflict")
	// ErrRejected: CouchDB refused a document for another reason (per-document error other than conflict,
	// or a 4xx answer to a write).
	ErrRejected = errors.New("store: document rejected")
	// ErrInvalid: the caller passed something that cannot be sent (bad config, a document without _id...).
	ErrInvalid = errors.New("store: invalid input")
	// ErrClosed: the store was closed; nothing more is accepted.
	ErrClosed = errors.New("store: closed")
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
