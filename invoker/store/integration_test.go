//go:build integration

package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// integrationStore connects to the CouchDB-API server named by NEMO_COUCHDB (e.g.
// http://nemo:nemo@127.0.0.1:5984) with databases under a prefix unique to this test, dropped at the end.
func integrationStore(t *testing.T) *Store {
	t.Helper()
	raw := os.Getenv("NEMO_COUCHDB")
	if raw == "" {
		t.Skip("NEMO_COUCHDB is not set (e.g. http://nemo:nemo@127.0.0.1:5984); skipping CouchDB integration test")
	}
	prefix := fmt.Sprintf("it%d_%s_", time.Now().UnixNano(), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")))
	cfg, err := ConfigFromURL(raw, prefix)
	require.NoError(t, err)
	s, err := New(cfg, nopLogger(), WithRequestTimeout(10*time.Second), WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, s.EnsureDBs(t.Context()), "create databases on %s", cfg.baseURL())
	t.Cleanup(func() {
		_ = s.Close()
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.DeleteDBs(ctx); err != nil {
			t.Errorf("drop test databases: %v", err)
		}
	})
	require.NoError(t, s.Ping(t.Context()))
	return s
}

// seedable turns a fixture into a new document: no _rev, no _attachments (the server assigns both).
func seedable(t *testing.T, name string, edits ...func(map[string]any)) []byte {
	var m map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, name), &m))
	delete(m, "_rev")
	delete(m, "_attachments")
	for _, e := range edits {
		e(m)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func TestIntegrationActions(t *testing.T) {
	s := integrationStore(t)
	ctx := t.Context()

	t.Run("inline", func(t *testing.T) {
		rev, err := s.PutActionDoc(ctx, seedable(t, "action-doc-health.json"))
		require.NoError(t, err)
		a, err := s.GetAction(ctx, "whisk.system/invokerHealthTestAction0", rev)
		require.NoError(t, err)
		require.Equal(t, rev, a.Rev)
		require.Equal(t, "function main(params) { return params; }", a.Exec.Code)
	})

	t.Run("mem text", func(t *testing.T) {
		rev, err := s.PutActionDoc(ctx, seedable(t, "action-doc-nodejs-mem-attachment.json"))
		require.NoError(t, err)
		a, err := s.GetAction(ctx, "guest/hello", rev)
		require.NoError(t, err)
		require.Contains(t, a.Exec.Code, "function main(params)")
		require.Equal(t, int64(len(a.Exec.Code)), a.Exec.CodeRef.Length)
	})

	t.Run("mem binary", func(t *testing.T) {
		rev, err := s.PutActionDoc(ctx, seedable(t, "action-doc-go-binary-mem.json"))
		require.NoError(t, err)
		a, err := s.GetAction(ctx, "guest/gohello", rev)
		require.NoError(t, err)
		zip, err := base64.StdEncoding.DecodeString(a.Exec.Code)
		require.NoError(t, err)
		require.Len(t, zip, 282)
	})

	t.Run("couch attachment", func(t *testing.T) {
		const att = "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90"
		code := fixture(t, "action-doc-python-attachment.codefile.py")
		rev1, err := s.PutActionDoc(ctx, seedable(t, "action-doc-python-attachment.json"))
		require.NoError(t, err)
		rev2, err := s.PutAttachment(ctx, "guest/greeter", rev1, att, "text/plain; charset=UTF-8", code)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(rev2, "2-"), "rev after attachment: %s", rev2)
		a, err := s.GetAction(ctx, "guest/greeter", rev2)
		require.NoError(t, err)
		require.Equal(t, string(code), a.Exec.Code)

		// Asking for the first revision runs the latest one (mismatch → uncached re-read).
		a, err = s.GetAction(ctx, "guest/greeter", rev1)
		require.NoError(t, err)
		require.Equal(t, rev2, a.Rev)
		require.Equal(t, string(code), a.Exec.Code)
	})

	t.Run("legacy codefile", func(t *testing.T) {
		doc := seedable(t, "action-doc-nodejs-inline.json", func(m map[string]any) {
			m["_id"] = "guest/legacy"
			m["name"] = "legacy"
			m["namespace"] = "guest"
			m["exec"].(map[string]any)["code"] = map[string]any{"attachmentName": "codefile", "attachmentType": "text/plain"}
		})
		rev1, err := s.PutActionDoc(ctx, doc)
		require.NoError(t, err)
		rev2, err := s.PutAttachment(ctx, "guest/legacy", rev1, "codefile", "text/plain", []byte("function main() { return {legacy: true}; }"))
		require.NoError(t, err)
		a, err := s.GetAction(ctx, "guest/legacy", rev2)
		require.NoError(t, err)
		require.Equal(t, "function main() { return {legacy: true}; }", a.Exec.Code)
	})

	t.Run("id with @", func(t *testing.T) {
		doc := seedable(t, "action-doc-health.json", func(m map[string]any) { m["_id"] = "me@example.com/pkg/act" })
		rev, err := s.PutActionDoc(ctx, doc)
		require.NoError(t, err)
		a, err := s.GetAction(ctx, "me@example.com/pkg/act", rev)
		require.NoError(t, err)
		require.Equal(t, "me@example.com/pkg/act", a.ID)
	})

	t.Run("errors", func(t *testing.T) {
		_, err := s.GetAction(ctx, "guest/does-not-exist", "1-abc")
		require.ErrorIs(t, err, ErrNotFound)
		_, err = s.PutActionDoc(ctx, seedable(t, "action-doc-sequence.json"))
		require.NoError(t, err)
		_, err = s.GetAction(ctx, "guest/hello-seq", "")
		require.ErrorIs(t, err, ErrNotFetchable)
	})
}

func TestIntegrationActivations(t *testing.T) {
	s := integrationStore(t)
	ctx := t.Context()

	const n = 120
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.PutActivationDoc(ctx, activationDoc("guest", aid(i))) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "record %d", i)
	}
	st := s.Stats()
	require.Less(t, st.BulkRequests, int64(n), "records were batched")
	t.Logf("%d records in %d _bulk_docs requests", n, st.BulkRequests)

	// A wire-encoded record, read back, and the duplicate guard.
	rec, _, err := wire.ParseActivationDocument(fixture(t, "activation-record-success.json"))
	require.NoError(t, err)
	require.NoError(t, s.PutActivation(ctx, rec))
	got, err := s.GetActivation(ctx, "guest", rec.ActivationID)
	require.NoError(t, err)
	require.Equal(t, rec.ActivationID, got.ActivationID)
	require.Equal(t, rec.Start, got.Start)
	require.JSONEq(t, string(rec.Response.Result), string(got.Response.Result))
	require.ErrorIs(t, s.PutActivation(ctx, rec), ErrConflict)
	require.ErrorIs(t, s.PutActivationDoc(ctx, activationDoc("guest", aid(5))), ErrConflict)

	_, err = s.GetActivation(ctx, "guest", aid(99999))
	require.ErrorIs(t, err, ErrNotFound)
}

func TestIntegrationBlockedNamespaces(t *testing.T) {
	s := integrationStore(t)
	ctx := t.Context()
	got, err := s.BlockedNamespaces(ctx)
	require.NoError(t, err, "no design document yet")
	require.Empty(t, got)

	// A design document shaped like OpenWhisk's namespaceThrottlings (own simplified map function).
	put := func(id string, doc map[string]any) {
		b, err := json.Marshal(doc)
		require.NoError(t, err)
		req := &request{method: http.MethodPut, path: escapedPath(s.cfg.SubjectsDB, id), body: b}
		resp, err := s.do(ctx, req)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
	}
	put("_design/namespaceThrottlings", map[string]any{
		"views": map[string]any{"blockedNamespaces": map[string]any{
			"map":    "function (doc) { if (doc.blocked === true) { emit(doc._id, 1); } }",
			"reduce": "_count",
		}},
		"language": "javascript",
	})
	put("spammer", map[string]any{"blocked": true})
	put("nice", map[string]any{"blocked": false})
	// stale=update_after may answer from the index before it catches up; poll until it has.
	require.Eventually(t, func() bool {
		got, err = s.BlockedNamespaces(ctx)
		return err == nil && len(got) == 1
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{"spammer"}, got)
}
