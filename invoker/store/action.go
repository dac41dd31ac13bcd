package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// GetAction reads action docID ("guest/hello", "guest/pkg/hello") at revision rev and resolves its code,
// following docs/protocol.md#revisions:
//   - rev != "": served from the (id, rev) cache when present; otherwise fetched with If-Match: "<rev>". If
//     the stored revision differs (or the server answers 412), the document is fetched again, uncached and
//     without If-Match, and that latest version is returned.
//   - rev == "": always fetched (the cache is not read); the result is cached under its own revision.
//
// Code is resolved for attachments: mem: is decoded locally, couch:<uuid> and legacy relative names are read
// from the document's attachment. Binary code becomes standard base64 (padded), other code a UTF-8 string.
//
// Errors wrap ErrNotFound (404, deleted), ErrUnreadable (not an action, undecodable), ErrNotFetchable (a
// sequence or other non-executable action) or ErrUnavailable (transport, 5xx after retries, ctx). The
// returned Action is a copy of the cached one; its slices are shared and must not be modified.
func (s *Store) GetAction(ctx context.Context, docID, rev string) (*wire.Action, error) {
	if docID == "" {
		return nil, fmt.Errorf("%w: empty action id", ErrInvalid)
	}
	if rev != "" {
		if a, ok := s.cache.get(cacheKey{docID, rev}); ok {
			s.stats.cacheHits.Add(1)
			return copyAction(a), nil
		}
		s.stats.cacheMisses.Add(1)
		a, err := s.fetchShared(ctx, docID, rev)
		if err != nil {
			return nil, err
		}
		return copyAction(a), nil
	}
	a, err := s.fetchAction(ctx, docID, "")
	if err != nil {
		return nil, err
	}
	return copyAction(a), nil
}

func copyAction(a *wire.Action) *wire.Action {
	c := *a
	return &c
}

// flight is one fetch in progress that concurrent misses on the same (id, rev) wait for.
type flight struct {
	done   chan struct{}
	action *wire.Action
	err    error
}

// fetchShared collapses concurrent misses on one (id, rev) into a single fetch. A waiter whose own ctx is
// still alive when the leader failed only because of the leader's ctx fetches by itself.
func (s *Store) fetchShared(ctx context.Context, id, rev string) (*wire.Action, error) {
	key := cacheKey{id, rev}
	s.flightMu.Lock()
	if f, ok := s.flights[key]; ok {
		s.flightMu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: action %s: %w", ErrUnavailable, id, ctx.Err())
		}
		if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			return s.fetchAction(ctx, id, rev)
		}
		return f.action, f.err
	}
	f := &flight{done: make(chan struct{})}
	s.flights[key] = f
	s.flightMu.Unlock()

	f.action, f.err = s.fetchAction(ctx, id, rev)

	s.flightMu.Lock()
	delete(s.flights, key)
	s.flightMu.Unlock()
	close(f.done)
	return f.action, f.err
}

// errRevisionChanged: the document moved on while its attachment was read (412 on the attachment GET).
var errRevisionChanged = errors.New("revision changed while reading attachment")

// fetchAction reads the document, applies the revision rule, resolves the code and caches the result.
func (s *Store) fetchAction(ctx context.Context, id, rev string) (*wire.Action, error) {
	want := rev
	for try := 0; ; try++ {
		a, mismatch, err := s.getActionDoc(ctx, id, want)
		if err != nil {
			return nil, err
		}
		if mismatch || (want != "" && a.Rev != want) {
			got := ""
			if a != nil {
				got = a.Rev
			}
			s.logger(ctx).Debug().Str("action", id).Str("requestedRev", want).Str("storedRev", got).
				Msg("revision mismatch, fetching the latest revision uncached")
			if a, _, err = s.getActionDoc(ctx, id, ""); err != nil {
				return nil, err
			}
		}
		err = s.resolveCode(ctx, a)
		if errors.Is(err, errRevisionChanged) && try == 0 {
			want = ""
			continue
		}
		if err != nil {
			return nil, err
		}
		if a.Rev != "" {
			s.cache.put(cacheKey{id, a.Rev}, a)
		}
		return a, nil
	}
}

// getActionDoc GETs and parses the document. mismatch is true when the server refused If-Match (412).
func (s *Store) getActionDoc(ctx context.Context, id, rev string) (a *wire.Action, mismatch bool, err error) {
	req := &request{method: http.MethodGet, path: escapedPath(s.cfg.WhisksDB, id), ifMatch: rev}
	resp, err := s.do(ctx, req)
	if err != nil {
		return nil, false, fmt.Errorf("action %s: %w", id, err)
	}
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, false, fmt.Errorf("%w: action %s: %w", ErrNotFound, id, resp.httpError(req))
	case http.StatusPreconditionFailed:
		if rev != "" {
			return nil, true, nil
		}
		fallthrough
	default:
		return nil, false, fmt.Errorf("%w: action %s: %w", ErrUnavailable, id, resp.httpError(req))
	}
	a, err = wire.ParseAction(resp.body)
	switch {
	case err == nil:
	case errors.Is(err, wire.ErrNotExecutable):
		return nil, false, fmt.Errorf("%w: action %s: %w", ErrNotFetchable, id, err)
	default:
		return nil, false, fmt.Errorf("%w: action %s: %w", ErrUnreadable, id, err)
	}
	if a.Rev == "" {
		return nil, false, fmt.Errorf("%w: action %s: document has no _rev", ErrUnreadable, id)
	}
	if a.ID == "" {
		a.ID = id
	}
	return a, false, nil
}

// resolveCode fills a.Exec.Code from the attachment a.Exec.CodeRef points at (no-op for inline code).
func (s *Store) resolveCode(ctx context.Context, a *wire.Action) error {
	ref := a.Exec.CodeRef
	if ref == nil {
		return nil
	}
	var (
		data []byte
		err  error
	)
	switch ref.Scheme() {
	case wire.SchemeMem:
		data, err = wire.DecodeMemAttachment(ref.Name)
		if err != nil {
			return fmt.Errorf("%w: action %s: mem: attachment: %w", ErrUnreadable, a.ID, err)
		}
	case wire.SchemeCouch, wire.SchemeLegacy:
		data, err = s.getAttachment(ctx, a.ID, a.Rev, ref.CouchName())
		if err != nil {
			return err
		}
	default:
		// Another attachment store (S3, Azure...) would have to serve it; none is configured.
		return fmt.Errorf("%w: action %s: attachment %q needs an external attachment store", ErrNotFetchable, a.ID, ref.Name)
	}
	if err := wire.CheckAttachmentBytes(*ref, data); err != nil {
		return fmt.Errorf("%w: action %s: %w", ErrUnreadable, a.ID, err)
	}
	a.Exec.Code = wire.CodeFromBytes(data, a.Exec.Binary)
	return nil
}

// getAttachment reads an attachment body with If-Match of the document revision it was listed in.
func (s *Store) getAttachment(ctx context.Context, id, rev, name string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: action %s: empty attachment name", ErrUnreadable, id)
	}
	req := &request{method: http.MethodGet, path: escapedPath(s.cfg.WhisksDB, id, name), ifMatch: rev}
	resp, err := s.do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("action %s code: %w", id, err)
	}
	switch resp.status {
	case http.StatusOK:
		return resp.body, nil
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: action %s code attachment %s: %w", ErrNotFound, id, name, resp.httpError(req))
	case http.StatusPreconditionFailed:
		return nil, fmt.Errorf("%w: action %s: %w", ErrUnavailable, id, errRevisionChanged)
	default:
		return nil, fmt.Errorf("%w: action %s code attachment %s: %w", ErrUnavailable, id, name, resp.httpError(req))
	}
}
