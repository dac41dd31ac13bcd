package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

const acts = "test_activations"

func bulkPosts(f *fakeCouch) []fakeRequest {
	return f.requestsMatching(isReq(http.MethodPost, acts, "_bulk_docs"))
}

// activationDoc is a minimal activation record document with _id "<ns>/<aid>".
func activationDoc(ns, aid string) []byte {
	return fmt.Appendf(nil, `{"_id":%q,"entityType":"activation","namespace":%q,"name":"hello","subject":%q,`+
		`"activationId":%q,"start":1,"end":2,"response":{"statusCode":0,"result":{}},"logs":[],"version":"0.0.1",`+
		`"publish":false,"annotations":[],"duration":1,"updated":3}`, ns+"/"+aid, ns, ns, aid)
}

func aid(i int) string { return fmt.Sprintf("%032x", i) }

func TestPutActivationBatchesConcurrentCallers(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	// Ten ids already exist: those callers must get ErrConflict, the others nil.
	for i := 0; i < 200; i += 20 {
		f.seedDoc(acts, activationDoc("guest", aid(i)), nil)
	}
	s := newTestStore(t, f, WithBatchSize(50), WithLinger(time.Second), WithBatchConcurrency(2))
	errs := make([]error, 200)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() { errs[i] = s.PutActivationDoc(t.Context(), activationDoc("guest", aid(i))) })
	}
	wg.Wait()
	for i, err := range errs {
		if i%20 == 0 {
			require.ErrorIs(t, err, ErrConflict, "caller %d", i)
		} else {
			require.NoError(t, err, "caller %d", i)
		}
		require.True(t, f.hasDoc(acts, "guest/"+aid(i)))
	}
	posts := bulkPosts(f)
	require.GreaterOrEqual(t, len(posts), 4)
	require.LessOrEqual(t, len(posts), 8, "200 records in few requests")
	total := 0
	for _, p := range posts {
		var body struct {
			Docs []json.RawMessage `json:"docs"`
		}
		require.NoError(t, json.Unmarshal(p.Body, &body))
		require.LessOrEqual(t, len(body.Docs), 50)
		total += len(body.Docs)
		require.Equal(t, "/test_activations/_bulk_docs", p.RequestURI)
		require.Equal(t, "application/json", p.Header.Get("Content-Type"))
	}
	require.Equal(t, 200, total, "each record sent once")
	require.Equal(t, 200, f.docCount(acts))
}

func TestPutActivationBodyMatchesFixtureShape(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	s := newTestStore(t, f)
	var fixtureBody struct {
		Docs []json.RawMessage `json:"docs"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, "couchdb-bulk-docs-request.json"), &fixtureBody))
	require.NoError(t, s.PutActivationDoc(t.Context(), fixtureBody.Docs[0]))
	posts := bulkPosts(f)
	require.Len(t, posts, 1)
	require.JSONEq(t, string(fixture(t, "couchdb-bulk-docs-request.json")), string(posts[0].Body))
}

func TestPutActivationEncodesWireActivation(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	now := time.UnixMilli(1717236920658)
	s := newTestStore(t, f, WithClock(func() time.Time { return now }))
	rec, _, err := wire.ParseActivationDocument(fixture(t, "activation-record-success.json"))
	require.NoError(t, err)
	require.NoError(t, s.PutActivation(t.Context(), rec))
	posts := bulkPosts(f)
	require.Len(t, posts, 1)
	var body struct {
		Docs []json.RawMessage `json:"docs"`
	}
	require.NoError(t, json.Unmarshal(posts[0].Body, &body))
	require.Len(t, body.Docs, 1)
	require.JSONEq(t, string(fixture(t, "activation-record-success.json")), string(body.Docs[0]))

	// Writing it again is a conflict: the duplicate guard.
	err = s.PutActivation(t.Context(), rec)
	require.ErrorIs(t, err, ErrConflict)
}

func TestPutActivationPerDocumentErrors(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	s := newTestStore(t, f, WithLinger(50*time.Millisecond))
	var wg sync.WaitGroup
	var okErr, forbiddenErr error
	wg.Go(func() { okErr = s.PutActivationDoc(t.Context(), activationDoc("guest", aid(1))) })
	wg.Go(func() { forbiddenErr = s.PutActivationDoc(t.Context(), activationDoc("forbidden", aid(2))) })
	wg.Wait()
	require.NoError(t, okErr)
	require.ErrorIs(t, forbiddenErr, ErrRejected)
	require.False(t, errors.Is(forbiddenErr, ErrConflict))
	require.Contains(t, forbiddenErr.Error(), "forbidden/"+aid(2))
}

func TestPutActivationRetriesTransientBatchFailure(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	f.addFault(&fault{match: isReq(http.MethodPost, acts, "_bulk_docs"), status: 503, body: `{"error":"unavailable"}`, times: 1})
	f.addFault(&fault{match: isReq(http.MethodPost, acts, "_bulk_docs"), status: 0, times: 1}) // then a dropped connection
	s := newTestStore(t, f)
	require.NoError(t, s.PutActivationDoc(t.Context(), activationDoc("guest", aid(7))))
	require.Len(t, bulkPosts(f), 3)
	require.True(t, f.hasDoc(acts, "guest/"+aid(7)))
}

func TestPutActivationFailsEveryCallerAfterBulkAttempts(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	f.addFault(&fault{match: isReq(http.MethodPost, acts, "_bulk_docs"), status: 500, body: `{"error":"boom"}`, times: -1})
	s := newTestStore(t, f, WithLinger(50*time.Millisecond))
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { errs[i] = s.PutActivationDoc(t.Context(), activationDoc("guest", aid(i))) })
	}
	wg.Wait()
	for i, err := range errs {
		require.ErrorIs(t, err, ErrUnavailable, "caller %d gets an error, not silence", i)
	}
	require.Equal(t, 3*len(distinctBodies(bulkPosts(f))), len(bulkPosts(f)), "3 attempts per batch (default)")
	require.Equal(t, int64(len(distinctBodies(bulkPosts(f)))), s.Stats().BulkFailures)
}

func distinctBodies(rs []fakeRequest) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		m[string(r.Body)] = true
	}
	return m
}

func TestPutActivationRejectsInvalidDocsWithoutPoisoningTheBatch(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	s := newTestStore(t, f)
	require.ErrorIs(t, s.PutActivationDoc(t.Context(), []byte(`{"namespace":"guest"}`)), ErrInvalid)
	require.ErrorIs(t, s.PutActivationDoc(t.Context(), []byte(`{"_id":`)), ErrInvalid)
	require.ErrorIs(t, s.PutActivation(t.Context(), nil), ErrInvalid)
	require.Empty(t, bulkPosts(f))
	require.NoError(t, s.PutActivationDoc(t.Context(), activationDoc("guest", aid(3))))
}

func TestPutActivationCallerContextEndsWait(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	s := newTestStore(t, f, WithLinger(time.Hour), WithBatchSize(10))
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- s.PutActivationDoc(ctx, activationDoc("guest", aid(1))) }()
	waitFor(t, "record queued", func() bool { return s.bulk.accepted.Load() == 1 })
	cancel()
	err := <-done
	require.ErrorIs(t, err, ErrUnavailable)
	// The queued record is still flushed on Close (the caller was told it may still be written).
	require.NoError(t, s.Close())
	require.True(t, f.hasDoc(acts, "guest/"+aid(1)))
}

func TestCloseFlushesPendingRecords(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	s := newTestStore(t, f, WithLinger(time.Hour), WithBatchSize(100))
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = s.PutActivationDoc(t.Context(), activationDoc("guest", aid(i))) })
	}
	waitFor(t, "3 records queued", func() bool { return s.bulk.accepted.Load() == 3 })
	require.Empty(t, bulkPosts(f), "nothing sent before the linger or Close")
	require.NoError(t, s.Close())
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "caller %d", i)
		require.True(t, f.hasDoc(acts, "guest/"+aid(i)))
	}
	require.Len(t, bulkPosts(f), 1)

	err := s.PutActivationDoc(t.Context(), activationDoc("guest", aid(9)))
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, s.Close(), "Close is idempotent")
}

func TestGetActivation(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	f.seedDoc(acts, fixture(t, "activation-record-success.json"), nil)
	s := newTestStore(t, f)
	a, err := s.GetActivation(t.Context(), "guest", "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77")
	require.NoError(t, err)
	require.Equal(t, "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77", a.ActivationID)
	require.Equal(t, "hello", a.Name)
	require.Equal(t, proxy.StatusSuccess, a.Response.StatusCode)
	require.JSONEq(t, `{"payload":"Hello, World"}`, string(a.Response.Result))
	require.Equal(t, int64(1717236920608), a.Start)
	reqs := f.requestsMatching(isReq(http.MethodGet, acts, "*"))
	require.Len(t, reqs, 1)
	require.Equal(t, "/test_activations/guest%2Fc7a9e52b1f0d4e3ab9e52b1f0d5e3a77", reqs[0].RequestURI)

	_, err = s.GetActivation(t.Context(), "guest", aid(404))
	require.ErrorIs(t, err, ErrNotFound)
	_, err = s.GetActivation(t.Context(), "", aid(1))
	require.ErrorIs(t, err, ErrInvalid)

	// A document under that id that is not an activation record.
	f.seedDoc(acts, []byte(`{"_id":"guest/`+aid(8)+`","entityType":"action","name":"x"}`), nil)
	_, err = s.GetActivation(t.Context(), "guest", aid(8))
	require.ErrorIs(t, err, ErrUnreadable)
}

// With the default settings a record goes out as soon as a _bulk_docs worker is free, and records that
// arrive while every worker is busy travel together in the next batch (OpenWhisk's Batcher).
func TestPutActivationSendsAtOnceAndBatchesWhileWorkersAreBusy(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(acts)
	release := make(chan struct{})
	var gated sync.Once
	f.gate = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk_docs") {
			gated.Do(func() { <-release }) // hold only the first batch
		}
	}
	s, err := New(f.config(), nopLogger(), WithBatchConcurrency(1)) // no WithLinger: the default
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })

	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.PutActivationDoc(t.Context(), activationDoc("guest", aid(0))) })
	waitFor(t, "the first record sent on its own", func() bool { return len(bulkPosts(f)) == 1 })
	for i := 1; i < 4; i++ {
		wg.Go(func() { errs[i] = s.PutActivationDoc(t.Context(), activationDoc("guest", aid(i))) })
	}
	waitFor(t, "three more records queued behind the busy worker", func() bool { return s.bulk.accepted.Load() == 4 })
	require.Len(t, bulkPosts(f), 1, "nothing else is sent while the only worker is busy")
	close(release)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "caller %d", i)
	}
	posts := bulkPosts(f)
	require.Len(t, posts, 2)
	var ids [][]string
	for _, p := range posts {
		var body struct {
			Docs []struct {
				ID string `json:"_id"`
			} `json:"docs"`
		}
		require.NoError(t, json.Unmarshal(p.Body, &body))
		var batch []string
		for _, d := range body.Docs {
			batch = append(batch, d.ID)
		}
		ids = append(ids, batch)
	}
	require.Equal(t, []string{"guest/" + aid(0)}, ids[0])
	require.ElementsMatch(t, []string{"guest/" + aid(1), "guest/" + aid(2), "guest/" + aid(3)}, ids[1])
}
