package store

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

const subjects = "test_subjects"

func TestBlockedNamespaces(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(subjects)
	f.setView(subjects, "namespaceThrottlings", "blockedNamespaces", "spammer", "abuser")
	s := newTestStore(t, f)
	got, err := s.BlockedNamespaces(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"spammer", "abuser"}, got)

	reqs := f.requestsMatching(isReq(http.MethodGet, subjects, "_design", "namespaceThrottlings", "_view", "blockedNamespaces"))
	require.Len(t, reqs, 1)
	u, err := url.Parse(reqs[0].RequestURI)
	require.NoError(t, err)
	require.Equal(t, "/test_subjects/_design/namespaceThrottlings/_view/blockedNamespaces", u.EscapedPath())
	require.Equal(t, url.Values{"stale": {"update_after"}, "descending": {"true"}, "reduce": {"false"}}, u.Query())
}

func TestBlockedNamespacesMissingDesignDocIsEmpty(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(subjects)
	s := newTestStore(t, f)
	got, err := s.BlockedNamespaces(t.Context())
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Empty(t, got)
}

func TestBlockedNamespacesServerErrorIsAnError(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(subjects)
	f.addFault(&fault{match: func(fakeRequest) bool { return true }, status: 500, body: `{"error":"boom"}`, times: -1})
	s := newTestStore(t, f, WithMaxAttempts(2))
	_, err := s.BlockedNamespaces(t.Context())
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestPingAndEnsureDBs(t *testing.T) {
	f := newFakeCouch(t)
	s := newTestStore(t, f)
	require.ErrorIs(t, s.Ping(t.Context()), ErrNotFound, "whisks database absent")
	require.NoError(t, s.EnsureDBs(t.Context()))
	require.NoError(t, s.EnsureDBs(t.Context()), "412 (exists) is fine")
	require.NoError(t, s.Ping(t.Context()))
	puts := f.requestsMatching(isReq(http.MethodPut, "*"))
	require.Len(t, puts, 6)

	f.addFault(&fault{match: func(fakeRequest) bool { return true }, status: 0, times: -1})
	require.ErrorIs(t, s.Ping(t.Context()), ErrUnavailable)
}

func TestDeleteDBs(t *testing.T) {
	f := newFakeCouch(t)
	s := newTestStore(t, f)
	require.NoError(t, s.EnsureDBs(t.Context()))
	require.NoError(t, s.DeleteDBs(t.Context()))
	require.NoError(t, s.DeleteDBs(t.Context()), "404 is fine")
	require.ErrorIs(t, s.Ping(t.Context()), ErrNotFound)
}

func TestPutActionDocAndAttachmentLikeTheController(t *testing.T) {
	f := newFakeCouch(t)
	f.createDBs(whisks)
	s := newTestStore(t, f)
	ctx := t.Context()
	code := fixture(t, "action-doc-python-attachment.codefile.py")
	const att = "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90"

	// The fixture without _rev and _attachments: the controller PUTs the document, then the attachment.
	var doc map[string]any
	require.NoError(t, jsonUnmarshal(fixture(t, "action-doc-python-attachment.json"), &doc))
	delete(doc, "_rev")
	delete(doc, "_attachments")
	body, err := jsonMarshal(doc)
	require.NoError(t, err)
	rev1, err := s.PutActionDoc(ctx, body)
	require.NoError(t, err)
	require.Regexp(t, `^1-`, rev1)
	rev2, err := s.PutAttachment(ctx, "guest/greeter", rev1, att, "text/plain; charset=UTF-8", code)
	require.NoError(t, err)
	require.Regexp(t, `^2-`, rev2)

	put := f.requestsMatching(isReq(http.MethodPut, whisks, "guest/greeter", att))
	require.Len(t, put, 1)
	require.Equal(t, "/test_whisks/guest%2Fgreeter/"+att+"?rev="+url.QueryEscape(rev1), put[0].RequestURI)
	require.Equal(t, `"`+rev1+`"`, put[0].Header.Get("If-Match"))
	require.Equal(t, "text/plain; charset=UTF-8", put[0].Header.Get("Content-Type"))

	a, err := s.GetAction(ctx, "guest/greeter", rev2)
	require.NoError(t, err)
	require.Equal(t, string(code), a.Exec.Code)

	// Re-creating without _rev conflicts; a stale attachment revision conflicts.
	_, err = s.PutActionDoc(ctx, body)
	require.ErrorIs(t, err, ErrConflict)
	_, err = s.PutAttachment(ctx, "guest/greeter", rev1, att, "text/plain", code)
	require.ErrorIs(t, err, ErrConflict)
	_, err = s.PutActionDoc(ctx, []byte(`{"name":"x"}`))
	require.ErrorIs(t, err, ErrInvalid)
	_, err = s.PutAttachment(ctx, "guest/greeter", "", att, "text/plain", code)
	require.ErrorIs(t, err, ErrInvalid)
}
