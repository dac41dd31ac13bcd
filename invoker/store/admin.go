package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// BlockedNamespaces reads the namespaceThrottlings/blockedNamespaces view of the subjects database and
// returns its row keys (docs/protocol.md#blocked-namespaces). A missing design document or view (404) means no namespace
// is blocked: an empty list, not an error.
func (s *Store) BlockedNamespaces(ctx context.Context) ([]string, error) {
	req := &request{
		method: http.MethodGet,
		path:   escapedPath(s.cfg.SubjectsDB, "_design", "namespaceThrottlings", "_view", "blockedNamespaces"),
		query: url.Values{
			"stale":      {"update_after"},
			"descending": {"true"},
			"reduce":     {"false"},
		},
	}
	resp, err := s.do(ctx, req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.status == http.StatusNotFound:
		return []string{}, nil
	case resp.status != http.StatusOK:
		return nil, fmt.Errorf("%w: blocked namespaces: %w", ErrUnavailable, resp.httpError(req))
	}
	var view struct {
		Rows []struct {
			Key json.RawMessage `json:"key"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(resp.body, &view); err != nil {
		return nil, fmt.Errorf("%w: blocked namespaces: decode view: %v", ErrUnavailable, err)
	}
	out := make([]string, 0, len(view.Rows))
	for _, r := range view.Rows {
		var ns string
		if json.Unmarshal(r.Key, &ns) == nil && ns != "" {
			out = append(out, ns)
		}
	}
	return out, nil
}

// Ping checks that CouchDB answers and that the whisks database is readable with the configured credentials.
func (s *Store) Ping(ctx context.Context) error {
	req := &request{method: http.MethodGet, path: escapedPath(s.cfg.WhisksDB)}
	resp, err := s.do(ctx, req)
	if err != nil {
		return err
	}
	switch resp.status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: whisks database: %w", ErrNotFound, resp.httpError(req))
	default:
		return fmt.Errorf("%w: ping: %w", ErrUnavailable, resp.httpError(req))
	}
}

// EnsureDBs creates the whisks, activations and subjects databases; an existing one (412) is fine.
// For tests and the demo: a real deployment's databases are created by OpenWhisk's ansible/helm.
func (s *Store) EnsureDBs(ctx context.Context) error {
	for _, db := range []string{s.cfg.WhisksDB, s.cfg.ActivationsDB, s.cfg.SubjectsDB} {
		req := &request{method: http.MethodPut, path: escapedPath(db)}
		resp, err := s.do(ctx, req)
		if err != nil {
			return err
		}
		switch resp.status {
		case http.StatusCreated, http.StatusAccepted, http.StatusOK, http.StatusPreconditionFailed:
		default:
			return fmt.Errorf("%w: create database %s: %w", ErrRejected, db, resp.httpError(req))
		}
	}
	return nil
}

// DeleteDBs drops the three databases (404 is fine). For tests that use a unique prefix per run.
func (s *Store) DeleteDBs(ctx context.Context) error {
	for _, db := range []string{s.cfg.WhisksDB, s.cfg.ActivationsDB, s.cfg.SubjectsDB} {
		req := &request{method: http.MethodDelete, path: escapedPath(db)}
		resp, err := s.do(ctx, req)
		if err != nil {
			return err
		}
		if resp.status != http.StatusOK && resp.status != http.StatusAccepted && resp.status != http.StatusNotFound {
			return fmt.Errorf("%w: delete database %s: %w", ErrRejected, db, resp.httpError(req))
		}
	}
	return nil
}

// PutActionDoc writes an action document to the whisks database the way OpenWhisk's controller does:
// PUT /{whisks}/{enc(_id)} with the document as body (include "_rev" to update). It returns the new
// revision. An existing document without a matching _rev gives ErrConflict.
func (s *Store) PutActionDoc(ctx context.Context, doc []byte) (string, error) {
	var head struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return "", fmt.Errorf("%w: action document: %v", ErrInvalid, err)
	}
	if head.ID == "" {
		return "", fmt.Errorf("%w: action document has no _id", ErrInvalid)
	}
	req := &request{method: http.MethodPut, path: escapedPath(s.cfg.WhisksDB, head.ID), body: doc}
	return s.putForRev(ctx, req, head.ID)
}

// PutAttachment attaches body to document docID at revision rev (PUT /{whisks}/{enc(id)}/{enc(name)} with
// If-Match and ?rev=), as the controller does for couch: and legacy code attachments, and returns the
// document's new revision.
func (s *Store) PutAttachment(ctx context.Context, docID, rev, name, contentType string, body []byte) (string, error) {
	if docID == "" || rev == "" || name == "" {
		return "", fmt.Errorf("%w: attachment needs a document id, a revision and a name", ErrInvalid)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	if body == nil {
		body = []byte{}
	}
	req := &request{
		method:      http.MethodPut,
		path:        escapedPath(s.cfg.WhisksDB, docID, name),
		query:       url.Values{"rev": {rev}},
		ifMatch:     rev,
		contentType: contentType,
		body:        body,
	}
	return s.putForRev(ctx, req, docID)
}

func (s *Store) putForRev(ctx context.Context, req *request, id string) (string, error) {
	resp, err := s.do(ctx, req)
	if err != nil {
		return "", err
	}
	switch resp.status {
	case http.StatusCreated, http.StatusAccepted, http.StatusOK:
	case http.StatusConflict:
		return "", fmt.Errorf("%w: %s: %w", ErrConflict, id, resp.httpError(req))
	case http.StatusNotFound:
		return "", fmt.Errorf("%w: %s: %w", ErrNotFound, id, resp.httpError(req))
	default:
		return "", fmt.Errorf("%w: %s: %w", ErrRejected, id, resp.httpError(req))
	}
	var ok struct {
		Rev string `json:"rev"`
	}
	if err := json.Unmarshal(resp.body, &ok); err != nil || ok.Rev == "" {
		return "", fmt.Errorf("%w: %s: answer without rev: %s", ErrUnavailable, id, resp.body)
	}
	return ok.Rev, nil
}
