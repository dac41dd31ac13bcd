package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// SubjectsDesignDoc is the subjects database's design document with the identities view
// (whisk.db.subjects-ddoc, OpenWhisk's default).
const SubjectsDesignDoc = "subjects.v2.0.0"

// ErrNoIdentitiesView (errdefs.ErrNotImplemented): the subjects database has no identities view, so no
// namespace's limits can be read.
var ErrNoIdentitiesView = fmt.Errorf("%w: no identities view in the subjects database", ErrNotFetchable)

// NamespaceLimits reads a namespace's action limits the way OpenWhisk's Identity.get finds its identity: the
// identities view of the subjects database at key [namespace], one row, with its document, which the view
// points at the namespace's limits document ("<namespace>/limits"; none: no limits set). A namespace with no
// identity gives ErrNotFound; a database without the view ErrNoIdentitiesView; a limits document OpenWhisk
// cannot read counts as none, as there.
func (s *Store) NamespaceLimits(ctx context.Context, namespace string) (wire.NamespaceActionLimits, error) {
	key, _ := json.Marshal([]string{namespace})
	req := &request{
		method: http.MethodGet,
		path:   escapedPath(s.cfg.SubjectsDB, "_design", SubjectsDesignDoc, "_view", "identities"),
		query: url.Values{
			"startkey":     {string(key)},
			"endkey":       {string(key)},
			"include_docs": {"true"},
			"limit":        {"1"},
			"reduce":       {"false"},
		},
	}
	resp, err := s.do(ctx, req)
	if err != nil {
		return wire.NamespaceActionLimits{}, err
	}
	switch {
	case resp.status == http.StatusNotFound:
		return wire.NamespaceActionLimits{}, fmt.Errorf("%w: %w", ErrNoIdentitiesView, resp.httpError(req))
	case resp.status != http.StatusOK:
		return wire.NamespaceActionLimits{}, fmt.Errorf("%w: identity of %s: %w", ErrUnavailable, namespace, resp.httpError(req))
	}
	var view struct {
		Rows []struct {
			Doc json.RawMessage `json:"doc"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(resp.body, &view); err != nil {
		return wire.NamespaceActionLimits{}, fmt.Errorf("%w: identity of %s: decode view: %v", ErrUnavailable, namespace, err)
	}
	if len(view.Rows) == 0 {
		return wire.NamespaceActionLimits{}, fmt.Errorf("%w: namespace %s has no identity", ErrNotFound, namespace)
	}
	l, perr := wire.ParseNamespaceActionLimits(view.Rows[0].Doc)
	if perr != nil {
		l = wire.NamespaceActionLimits{} // OpenWhisk falls back to the standard limits
	}
	return l, nil
}
