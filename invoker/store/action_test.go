package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

func nopLogger() zerolog.Logger { return zerolog.Nop() }

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", "fixtures", name)) // the shared golden fixtures
	require.NoError(t, err)
	return b
}

// newTestStore builds a store on the fake with quick retries; later options override.
func newTestStore(t testing.TB, f *fakeCouch, opts ...Option) *Store {
	t.Helper()
	base := []Option{WithBackoff(time.Millisecond, 4*time.Millisecond), WithLinger(time.Millisecond), WithRequestTimeout(5 * time.Second)}
	s, err := New(f.config(), nopLogger(), append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

const whisks = "test_whisks"

func docGets(f *fakeCouch) []fakeRequest {
	return f.requestsMatching(isReq(http.MethodGet, whisks, "*"))
}
func attachmentGets(f *fakeCouch) []fakeRequest {
	return f.requestsMatching(isReq(http.MethodGet, whisks, "*", "*"))
}

func TestJavaURLEncode(t *testing.T) {
	cases := map[string]string{
		"guest/hello":      "guest%2Fhello",
		"guest/pkg/hello":  "guest%2Fpkg%2Fhello",
		"a b":              "a+b",
		"me@example.com/x": "me%40example.com%2Fx",
		"keep.-*_09AZaz":   "keep.-*_09AZaz",
		"~!'()+:?#%&=":     "%7E%21%27%28%29%2B%3A%3F%23%25%26%3D",
		"é":                "%C3%A9",
		"_design":          "_design",
	}
	for in, want := range cases {
		require.Equal(t, want, javaURLEncode(in), "encode %q", in)
	}
	require.Equal(t, "/db/guest%2Fhello/codefile", escapedPath("db", "guest/hello", "codefile"))
}

func TestGetActionRequestShape(t *testing.T) {
	f := newFakeCouch(t)
	doc := fixture(t, "action-doc-nodejs-mem-attachment.json") // _id guest/hello, _rev 2-5a0b…
	f.seedDoc(whisks, doc, nil)
	s := newTestStore(t, f)

	_, err := s.GetAction(t.Context(), "guest/hello", "2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7")
	require.NoError(t, err)
	_, err = s.GetAction(t.Context(), "guest/hello", "")
	require.NoError(t, err)

	reqs := docGets(f)
	require.Len(t, reqs, 2)
	for i, r := range reqs {
		require.Equal(t, "/test_whisks/guest%2Fhello", r.RequestURI, "no ?rev= query, id encoded as one segment")
		require.Equal(t, "application/json", r.Header.Get("Accept"))
		user, pass, ok := (&http.Request{Header: r.Header}).BasicAuth()
		require.True(t, ok, "request %d has Basic auth", i)
		require.Equal(t, "nemo", user)
		require.Equal(t, "s3cret", pass)
	}
	require.Equal(t, `"2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7"`, reqs[0].Header.Get("If-Match"))
	require.Empty(t, reqs[1].Header.Values("If-Match"), "no If-Match without a revision")
}

func TestGetActionEncodesSpecialCharactersInID(t *testing.T) {
	f := newFakeCouch(t)
	doc := strings.Replace(string(fixture(t, "action-doc-health.json")),
		`"whisk.system/invokerHealthTestAction0"`, `"me@example.com/my action"`, 1)
	f.seedDoc(whisks, []byte(doc), nil)
	s := newTestStore(t, f)
	a, err := s.GetAction(t.Context(), "me@example.com/my action", "")
	require.NoError(t, err)
	require.Equal(t, "function main(params) { return params; }", a.Exec.Code)
	require.Equal(t, "/test_whisks/me%40example.com%2Fmy+action", docGets(f)[0].RequestURI)
}

func TestGetActionInlineCode(t *testing.T) {
	for _, tc := range []struct{ file, id, code, kind string }{
		{"action-doc-nodejs-inline.json", "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2", "foo", "nodejs:20"},
		{"action-doc-health.json", "whisk.system/invokerHealthTestAction0", "function main(params) { return params; }", "nodejs:20"},
		{"action-doc-blackbox.json", "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2", "foo", "blackbox"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFakeCouch(t)
			f.seedDoc(whisks, fixture(t, tc.file), nil)
			s := newTestStore(t, f)
			a, err := s.GetAction(t.Context(), tc.id, "")
			require.NoError(t, err)
			require.Equal(t, tc.code, a.Exec.Code)
			require.Equal(t, tc.kind, a.Exec.Kind)
			require.Nil(t, a.Exec.CodeRef)
			require.NotEmpty(t, a.Rev)
			require.Empty(t, attachmentGets(f), "inline code needs no attachment request")
		})
	}
}

func TestGetActionMemAttachmentText(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-nodejs-mem-attachment.json"), nil)
	s := newTestStore(t, f)
	a, err := s.GetAction(t.Context(), "guest/hello", "2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7")
	require.NoError(t, err)
	require.Equal(t, "function main(params) {\n  console.log('hello ' + (params.name || 'World'));\n"+
		"  return { payload: 'Hello, ' + (params.name || 'World') };\n}\n", a.Exec.Code)
	require.NotNil(t, a.Exec.CodeRef)
	require.Equal(t, int64(len(a.Exec.Code)), a.Exec.CodeRef.Length)
	require.Len(t, docGets(f), 1)
	require.Empty(t, attachmentGets(f), "mem: is decoded without a request")
}

func TestGetActionMemAttachmentBinary(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-go-binary-mem.json"), nil)
	s := newTestStore(t, f)
	a, err := s.GetAction(t.Context(), "guest/gohello", "")
	require.NoError(t, err)
	require.True(t, a.Exec.Binary)
	raw, err := base64.StdEncoding.DecodeString(a.Exec.Code) // standard alphabet, padded
	require.NoError(t, err)
	require.Len(t, raw, 282)
	require.Equal(t, "PK\x03\x04", string(raw[:4]), "a zip archive")
	require.Empty(t, attachmentGets(f))
}

func TestGetActionCouchAttachment(t *testing.T) {
	f := newFakeCouch(t)
	code := fixture(t, "action-doc-python-attachment.codefile.py")
	const att = "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90"
	f.seedDoc(whisks, fixture(t, "action-doc-python-attachment.json"),
		map[string]fakeAttachment{att: {contentType: "text/plain; charset=UTF-8", data: code, revpos: 2}})
	s := newTestStore(t, f)
	a, err := s.GetAction(t.Context(), "guest/greeter", "2-9d3c1e5b7a2f4c6d8e0b1a3c5e7f9d2b")
	require.NoError(t, err)
	require.Equal(t, string(code), a.Exec.Code)
	atts := attachmentGets(f)
	require.Len(t, atts, 1)
	require.Equal(t, "/test_whisks/guest%2Fgreeter/"+att, atts[0].RequestURI)
	require.Equal(t, `"2-9d3c1e5b7a2f4c6d8e0b1a3c5e7f9d2b"`, atts[0].Header.Get("If-Match"))
	require.Equal(t, "application/json", atts[0].Header.Get("Accept"))
}

// legacyDoc is the nodejs fixture rewritten to the legacy relative-name shape (docs/protocol.md#code).
func legacyDoc(t testing.TB, binary bool) []byte {
	doc := strings.Replace(string(fixture(t, "action-doc-nodejs-inline.json")),
		`"code": "foo"`, `"code": {"attachmentName": "codefile", "attachmentType": "text/plain"}`, 1)
	if binary {
		doc = strings.Replace(doc, `"binary": false`, `"binary": true`, 1)
	}
	require.Contains(t, doc, "codefile")
	return []byte(doc)
}

func TestGetActionLegacyCodefile(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, legacyDoc(t, false), map[string]fakeAttachment{"codefile": {contentType: "text/plain", data: []byte("function main() { return {}; }")}})
	s := newTestStore(t, f)
	const id = "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2"
	a, err := s.GetAction(t.Context(), id, "")
	require.NoError(t, err)
	require.Equal(t, "function main() { return {}; }", a.Exec.Code)
	atts := attachmentGets(f)
	require.Len(t, atts, 1)
	require.Equal(t, "/test_whisks/anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH%2Faction_tests_name2/codefile", atts[0].RequestURI)
	require.Equal(t, `"`+a.Rev+`"`, atts[0].Header.Get("If-Match"))
}

func TestGetActionLegacyBinaryIsBase64(t *testing.T) {
	f := newFakeCouch(t)
	bin := []byte{0x7f, 'E', 'L', 'F', 0, 1, 2, 0xff, 0xfe}
	f.seedDoc(whisks, legacyDoc(t, true), map[string]fakeAttachment{"codefile": {contentType: "application/octet-stream", data: bin}})
	s := newTestStore(t, f)
	a, err := s.GetAction(t.Context(), "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2", "")
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString(bin), a.Exec.Code)
}

func TestGetActionMissingAttachmentIsNotFound(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-python-attachment.json"), nil) // stub listed, bytes absent
	s := newTestStore(t, f)
	_, err := s.GetAction(t.Context(), "guest/greeter", "")
	require.ErrorIs(t, err, ErrNotFound)
	require.Len(t, attachmentGets(f), 1, "404 is not retried")
}

func TestGetActionRevisionMismatchRefetchesLatestUncached(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil) // stored _rev 3-4c2d…
	s := newTestStore(t, f)
	const stored = "3-4c2d6e8f0a1b3c5d7e9f1a2b4c6d8e0f"

	a, err := s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "2-older")
	require.NoError(t, err)
	require.Equal(t, stored, a.Rev, "the latest revision runs")
	reqs := docGets(f)
	require.Len(t, reqs, 2, "first read, then an uncached re-read")
	require.Equal(t, `"2-older"`, reqs[0].Header.Get("If-Match"))
	require.Empty(t, reqs[1].Header.Values("If-Match"))

	// The mismatched revision is not cached under the requested key: asking again re-reads.
	_, err = s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "2-older")
	require.NoError(t, err)
	require.Len(t, docGets(f), 4)
	// The latest is cached under its own revision.
	_, err = s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", stored)
	require.NoError(t, err)
	require.Len(t, docGets(f), 4)
}

func TestGetActionPreconditionFailedRefetchesWithoutIfMatch(t *testing.T) {
	f := newFakeCouch(t)
	f.honorIfMatch = true
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	s := newTestStore(t, f)
	a, err := s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "1-gone")
	require.NoError(t, err)
	require.Equal(t, "3-4c2d6e8f0a1b3c5d7e9f1a2b4c6d8e0f", a.Rev)
	reqs := docGets(f)
	require.Len(t, reqs, 2)
	require.Empty(t, reqs[1].Header.Values("If-Match"))
}

func TestGetActionCacheByRevision(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(whisks)
	s := newTestStore(t, f)
	ctx := t.Context()
	rev1, err := s.PutActionDoc(ctx, fixtureWithoutRev(t, "action-doc-health.json"))
	require.NoError(t, err)
	const id = "whisk.system/invokerHealthTestAction0"

	a1, err := s.GetAction(ctx, id, rev1)
	require.NoError(t, err)
	require.Contains(t, a1.Exec.Code, "return params;")
	_, err = s.GetAction(ctx, id, rev1)
	require.NoError(t, err)
	require.Len(t, docGets(f), 1, "second read with the same revision is a cache hit")
	require.Equal(t, int64(1), s.Stats().CacheHits)

	// Update the document: new revision, new code.
	updated := strings.Replace(string(docWithRev(t, "action-doc-health.json", rev1)), "return params;", "return {};", 1)
	rev2, err := s.PutActionDoc(ctx, []byte(updated))
	require.NoError(t, err)
	require.NotEqual(t, rev1, rev2)
	a2, err := s.GetAction(ctx, id, rev2)
	require.NoError(t, err)
	require.Len(t, docGets(f), 2, "a new revision misses")
	require.Contains(t, a2.Exec.Code, "return {};")

	// Old revision still served from cache with its own content (a revision is immutable).
	old, err := s.GetAction(ctx, id, rev1)
	require.NoError(t, err)
	require.Contains(t, old.Exec.Code, "return params;")
	require.Len(t, docGets(f), 2)

	// An empty revision always reads.
	_, err = s.GetAction(ctx, id, "")
	require.NoError(t, err)
	_, err = s.GetAction(ctx, id, "")
	require.NoError(t, err)
	require.Len(t, docGets(f), 4)
}

func TestGetActionReturnsCopies(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	s := newTestStore(t, f)
	const id, rev = "whisk.system/invokerHealthTestAction0", "3-4c2d6e8f0a1b3c5d7e9f1a2b4c6d8e0f"
	a, err := s.GetAction(t.Context(), id, rev)
	require.NoError(t, err)
	a.Exec.Code = "mutated by caller"
	b, err := s.GetAction(t.Context(), id, rev)
	require.NoError(t, err)
	require.Equal(t, "function main(params) { return params; }", b.Exec.Code)
}

func TestGetActionCacheIsBoundedLRU(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(whisks)
	s := newTestStore(t, f, WithCacheSize(2))
	ctx := t.Context()
	revs := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		doc := strings.Replace(string(fixtureWithoutRev(t, "action-doc-health.json")),
			`"whisk.system/invokerHealthTestAction0"`, `"guest/`+name+`"`, 1)
		rev, err := s.PutActionDoc(ctx, []byte(doc))
		require.NoError(t, err)
		revs[name] = rev
	}
	get := func(name string) {
		_, err := s.GetAction(ctx, "guest/"+name, revs[name])
		require.NoError(t, err)
	}
	get("a")
	get("b")
	get("a") // a is now most recent
	get("c") // evicts b
	require.Len(t, docGets(f), 3)
	require.Equal(t, 2, s.Stats().CacheEntries)
	get("a")
	require.Len(t, docGets(f), 3, "a stayed cached")
	get("b")
	require.Len(t, docGets(f), 4, "b was evicted")
}

func TestGetActionConcurrentMissesShareOneRequest(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	release := make(chan struct{})
	f.gate = func(r *http.Request) { <-release }
	s := newTestStore(t, f)
	const id, rev = "whisk.system/invokerHealthTestAction0", "3-4c2d6e8f0a1b3c5d7e9f1a2b4c6d8e0f"
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := s.GetAction(t.Context(), id, rev)
			errs <- err
		})
	}
	time.Sleep(20 * time.Millisecond) // let the callers pile up on the gated request (not an assertion)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, docGets(f), 1)
}

func TestGetActionErrorMapping(t *testing.T) {
	notAction := strings.Replace(string(fixture(t, "action-doc-health.json")), `"entityType": "action"`, `"entityType": "trigger"`, 1)
	cases := []struct {
		name    string
		doc     []byte
		id      string
		deleted bool
		want    error
		class   error
	}{
		{"missing", nil, "guest/nothing", false, ErrNotFound, errdefs.ErrNotFound},
		{"deleted", fixture(t, "action-doc-health.json"), "whisk.system/invokerHealthTestAction0", true, ErrNotFound, errdefs.ErrNotFound},
		{"entity type mismatch", []byte(notAction), "whisk.system/invokerHealthTestAction0", false, ErrUnreadable, errdefs.ErrDataLoss},
		{"undecodable", []byte(`{"_id":"guest/bad","_rev":"1-a","entityType":"action","exec":42}`), "guest/bad", false, ErrUnreadable, errdefs.ErrDataLoss},
		{"sequence", fixture(t, "action-doc-sequence.json"), "guest/hello-seq", false, ErrNotFetchable, errdefs.ErrNotImplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCouch(t)
			f.createDBs(whisks)
			if tc.doc != nil {
				f.seedDoc(whisks, tc.doc, nil)
			}
			if tc.deleted {
				f.deleteDoc(whisks, tc.id)
			}
			s := newTestStore(t, f)
			_, err := s.GetAction(t.Context(), tc.id, "")
			require.ErrorIs(t, err, tc.want)
			require.Len(t, docGets(f), 1, "permanent errors are not retried")
			require.ErrorIs(t, err, tc.class, "the shared error class the activation path answers by")
		})
	}
}

func TestErrorsCarryTheSharedClasses(t *testing.T) {
	for sentinel, class := range map[error]error{
		ErrNotFound: errdefs.ErrNotFound, ErrUnreadable: errdefs.ErrDataLoss, ErrNotFetchable: errdefs.ErrNotImplemented,
		ErrUnavailable: errdefs.ErrUnavailable, ErrConflict: errdefs.ErrConflict, ErrRejected: errdefs.ErrInvalidArgument,
		ErrInvalid: errdefs.ErrInvalidArgument, ErrClosed: errdefs.ErrFailedPrecondition,
	} {
		require.ErrorIs(t, fmt.Errorf("wrapped: %w", sentinel), class, sentinel.Error())
	}
}

func TestGetActionRetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int // 0 = connection dropped
	}{{"503", 503}, {"500", 500}, {"429", 429}, {"connection reset", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCouch(t)
			f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
			f.addFault(&fault{match: isReq(http.MethodGet, whisks, "*"), status: tc.status, body: `{"error":"unavailable"}`, times: 2})
			s := newTestStore(t, f, WithMaxAttempts(4))
			a, err := s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "")
			require.NoError(t, err)
			require.Equal(t, "nodejs:20", a.Exec.Kind)
			require.Len(t, docGets(f), 3, "two failures then success")
		})
	}
}

func TestGetActionGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	f.addFault(&fault{match: isReq(http.MethodGet, whisks, "*"), status: 503, body: `{"error":"unavailable"}`, times: -1})
	s := newTestStore(t, f, WithMaxAttempts(3))
	_, err := s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "")
	require.ErrorIs(t, err, ErrUnavailable)
	var herr *HTTPError
	require.ErrorAs(t, err, &herr)
	require.Equal(t, 503, herr.Status)
	require.Len(t, docGets(f), 3)
	require.ErrorIs(t, err, errdefs.ErrUnavailable)
}

func TestGetActionDoesNotRetry404(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(whisks)
	s := newTestStore(t, f, WithMaxAttempts(5))
	_, err := s.GetAction(t.Context(), "guest/none", "1-x")
	require.ErrorIs(t, err, ErrNotFound)
	require.Len(t, docGets(f), 1)
}

func TestGetActionRespectsCallerDeadline(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	sawCancel := make(chan struct{}, 1)
	f.gate = func(r *http.Request) {
		<-r.Context().Done() // hang until the client gives up
		sawCancel <- struct{}{}
	}
	s := newTestStore(t, f, WithRequestTimeout(time.Minute), WithMaxAttempts(10))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := s.GetAction(ctx, "whisk.system/invokerHealthTestAction0", "")
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	<-sawCancel // the server saw the request abandoned
	require.Len(t, docGets(f), 1, "no retry after the caller's deadline")
}

func TestGetActionPerAttemptDeadlineThenRetry(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	var mu sync.Mutex
	calls := 0
	f.gate = func(r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			<-r.Context().Done() // the first attempt hangs until its own deadline
		}
	}
	s := newTestStore(t, f, WithRequestTimeout(50*time.Millisecond), WithMaxAttempts(3))
	a, err := s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "")
	require.NoError(t, err)
	require.Equal(t, "nodejs:20", a.Exec.Kind)
	require.Len(t, docGets(f), 2)
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	f := newFakeCouch(t)
	s := newTestStore(t, f, WithBackoff(10*time.Millisecond, 80*time.Millisecond))
	s.set.jitter = func(d time.Duration) time.Duration { return d } // see the raw schedule
	var got []time.Duration
	for attempt := 1; attempt <= 6; attempt++ {
		got = append(got, s.backoff(attempt))
	}
	require.Equal(t, []time.Duration{10, 20, 40, 80, 80, 80}, scaleMs(got))
	for range 100 {
		d := equalJitter(80 * time.Millisecond)
		require.True(t, d >= 40*time.Millisecond && d < 80*time.Millisecond, "jitter %v within [d/2,d)", d)
	}
}

func scaleMs(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / time.Millisecond
	}
	return out
}

func TestGetActionRejectsEmptyID(t *testing.T) {
	f := newFakeCouch(t)
	s := newTestStore(t, f)
	_, err := s.GetAction(t.Context(), "", "")
	require.ErrorIs(t, err, ErrInvalid)
	require.Empty(t, f.requestsMatching(nil))
}

func TestGetActionWrongCredentialsIsUnavailable(t *testing.T) {
	f := newFakeCouch(t)
	f.seedDoc(whisks, fixture(t, "action-doc-health.json"), nil)
	cfg := f.config()
	cfg.Password = "wrong"
	s, err := New(cfg, nopLogger(), WithBackoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.GetAction(t.Context(), "whisk.system/invokerHealthTestAction0", "")
	require.ErrorIs(t, err, ErrUnavailable)
	require.False(t, errors.Is(err, ErrNotFound))
	require.Len(t, docGets(f), 1, "401 is not retried")
}

// fixtureWithoutRev drops _rev so PutActionDoc creates the document.
func fixtureWithoutRev(t testing.TB, name string) []byte {
	return docWithRev(t, name, "")
}

// docWithRev sets (or drops, when rev is empty) the fixture's _rev.
func docWithRev(t testing.TB, name, rev string) []byte {
	var m map[string]any
	require.NoError(t, jsonUnmarshal(fixture(t, name), &m))
	delete(m, "_rev")
	if rev != "" {
		m["_rev"] = rev
	}
	b, err := jsonMarshal(m)
	require.NoError(t, err)
	return b
}

func TestGetActionAttachmentBytesMustMatchTheReference(t *testing.T) {
	f := newFakeCouch(t)
	// The legacy doc with a declared length that the stored bytes do not have.
	doc := strings.Replace(string(legacyDoc(t, false)), `"attachmentType": "text/plain"}`, `"attachmentType": "text/plain", "length": 999}`, 1)
	require.Contains(t, doc, `"length": 999`)
	f.seedDoc(whisks, []byte(doc), map[string]fakeAttachment{"codefile": {contentType: "text/plain", data: []byte("short")}})
	s := newTestStore(t, f)
	_, err := s.GetAction(t.Context(), "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2", "")
	require.ErrorIs(t, err, ErrUnreadable)
	require.Contains(t, err.Error(), "length")

	// A mem: reference whose digest does not match its bytes.
	f2 := newFakeCouch(t)
	bad := strings.Replace(string(fixture(t, "action-doc-nodejs-mem-attachment.json")), "sha256-0eb5", "sha256-1eb5", 1)
	f2.seedDoc(whisks, []byte(bad), nil)
	s2 := newTestStore(t, f2)
	_, err = s2.GetAction(t.Context(), "guest/hello", "")
	require.ErrorIs(t, err, ErrUnreadable)
	require.Contains(t, err.Error(), "digest")
}

func TestGetActionExternalAttachmentIsNotFetchable(t *testing.T) {
	f := newFakeCouch(t)
	doc := strings.Replace(string(legacyDoc(t, false)), `"attachmentName": "codefile"`, `"attachmentName": "s3:bucket/key"`, 1)
	f.seedDoc(whisks, []byte(doc), nil)
	s := newTestStore(t, f)
	_, err := s.GetAction(t.Context(), "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2", "")
	require.ErrorIs(t, err, ErrNotFetchable)
	require.ErrorIs(t, err, errdefs.ErrNotImplemented)
	require.Empty(t, attachmentGets(f))
}

func TestGetActionDocumentChangedWhileReadingAttachment(t *testing.T) {
	f := newFakeCouch(t)
	f.honorIfMatch = true
	code := fixture(t, "action-doc-python-attachment.codefile.py")
	const att = "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90"
	f.seedDoc(whisks, fixture(t, "action-doc-python-attachment.json"),
		map[string]fakeAttachment{att: {contentType: "text/plain; charset=UTF-8", data: code, revpos: 2}})
	var once sync.Once
	f.gate = func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, att) {
			once.Do(func() { f.bumpRev(whisks, "guest/greeter") }) // the document moves on mid-fetch
		}
	}
	s := newTestStore(t, f)
	const rev = "2-9d3c1e5b7a2f4c6d8e0b1a3c5e7f9d2b"
	a, err := s.GetAction(t.Context(), "guest/greeter", rev)
	require.NoError(t, err)
	require.NotEqual(t, rev, a.Rev, "the latest revision is returned")
	require.Regexp(t, `^3-`, a.Rev)
	require.Equal(t, string(code), a.Exec.Code)
	require.Len(t, docGets(f), 2)
	atts := attachmentGets(f)
	require.Len(t, atts, 2)
	require.Equal(t, `"`+rev+`"`, atts[0].Header.Get("If-Match"))
	require.Equal(t, `"`+a.Rev+`"`, atts[1].Header.Get("If-Match"))
}
