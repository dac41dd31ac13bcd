package filestore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
)

var revRE = regexp.MustCompile(`^([0-9]+)-[0-9a-f]{32}$`)

func requireRev(t *testing.T, n string, rev string) {
	t.Helper()
	m := revRE.FindStringSubmatch(rev)
	require.NotNil(t, m, "revision %q is not N-<md5 hex>", rev)
	require.Equal(t, n, m[1], "revision %q", rev)
}

// putNew writes a fixture as a new document (CouchDB refuses a _rev on create).
func putNew(t *testing.T, s *Store, name string) (id, rev string) {
	t.Helper()
	doc := withoutMembers(t, fixture(t, name), "_rev", "_attachments")
	var head struct {
		ID string `json:"_id"`
	}
	require.NoError(t, json.Unmarshal(doc, &head))
	rev, err := s.PutActionDoc(t.Context(), doc)
	require.NoError(t, err)
	return head.ID, rev
}

func TestActionRoundTripInline(t *testing.T) {
	s := newTestStore(t)
	id, rev := putNew(t, s, "action-doc-nodejs-inline.json")
	requireRev(t, "1", rev)

	a, err := s.GetAction(t.Context(), id, rev)
	require.NoError(t, err)
	assert.Equal(t, id, a.ID)
	assert.Equal(t, rev, a.Rev)
	assert.Equal(t, "nodejs:20", a.Exec.Kind)
	assert.Equal(t, "foo", a.Exec.Code)
	assert.Equal(t, 60000, a.Limits.TimeoutMs)

	// The document is stored under the escaped id with _id and _rev, as CouchDB holds it.
	b, err := os.ReadFile(filepath.Join(s.Root(), WhisksDir, escape(id)+".json"))
	require.NoError(t, err)
	var onDisk map[string]any
	require.NoError(t, json.Unmarshal(b, &onDisk))
	assert.Equal(t, id, onDisk["_id"])
	assert.Equal(t, rev, onDisk["_rev"])
	assert.Equal(t, "action", onDisk["entityType"])
}

func TestActionRoundTripMemAttachment(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		binary  bool
	}{
		{"action-doc-nodejs-mem-attachment.json", false},
		{"action-doc-go-binary-mem.json", true},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			s := newTestStore(t)
			id, rev := putNew(t, s, tc.fixture)
			a, err := s.GetAction(t.Context(), id, rev)
			require.NoError(t, err)
			raw, err := wire.DecodeMemAttachment(a.Exec.CodeRef.Name)
			require.NoError(t, err)
			if tc.binary {
				assert.Equal(t, base64.StdEncoding.EncodeToString(raw), a.Exec.Code)
			} else {
				assert.Equal(t, string(raw), a.Exec.Code)
			}
			entries, err := os.ReadDir(filepath.Join(s.Root(), WhisksDir))
			require.NoError(t, err)
			assert.Len(t, entries, 1, "a mem: attachment needs no file")
		})
	}
}

func TestActionRoundTripCouchAttachment(t *testing.T) {
	s := newTestStore(t)
	id, rev1 := putNew(t, s, "action-doc-python-attachment.json")
	requireRev(t, "1", rev1)
	// Between the two PUTs the code is missing, as a CouchDB attachment GET would answer 404.
	_, err := s.GetAction(t.Context(), id, "")
	require.ErrorIs(t, err, errdefs.ErrNotFound)

	code := fixture(t, "action-doc-python-attachment.codefile.py")
	const uuid = "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90"
	rev2, err := s.PutAttachment(t.Context(), id, rev1, uuid, "text/plain; charset=UTF-8", code)
	require.NoError(t, err)
	requireRev(t, "2", rev2)

	a, err := s.GetAction(t.Context(), id, rev2)
	require.NoError(t, err)
	assert.Equal(t, string(code), a.Exec.Code)
	assert.Equal(t, rev2, a.Rev)
	stub := a.Attachments[uuid]
	assert.Equal(t, int64(len(code)), stub.Length)
	assert.Equal(t, int64(2), stub.RevPos)
	assert.True(t, stub.Stub)
	assert.Regexp(t, `^md5-`, stub.Digest)

	attFile := filepath.Join(s.Root(), WhisksDir, "guest%2Fgreeter."+uuid)
	onDisk, err := os.ReadFile(attFile)
	require.NoError(t, err)
	assert.Equal(t, code, onDisk)

	// A missing attachment file is "not found", like a 404 on the attachment GET.
	require.NoError(t, os.Remove(attFile))
	_, err = s.GetAction(t.Context(), id, rev2)
	require.ErrorIs(t, err, errdefs.ErrNotFound)
}

func TestPutAttachmentErrors(t *testing.T) {
	s := newTestStore(t)
	id, rev := putNew(t, s, "action-doc-nodejs-inline.json")
	_, err := s.PutAttachment(t.Context(), id, "1-00000000000000000000000000000000", "codefile", "", []byte("x"))
	assert.ErrorIs(t, err, errdefs.ErrConflict, "stale revision")
	_, err = s.PutAttachment(t.Context(), "guest/none", "1-00000000000000000000000000000000", "codefile", "", []byte("x"))
	assert.ErrorIs(t, err, errdefs.ErrNotFound)
	_, err = s.PutAttachment(t.Context(), id, rev, "json", "", []byte("x"))
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument, "reserved name")
	_, err = s.PutAttachment(t.Context(), id, "", "codefile", "", []byte("x"))
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)

	a, err := s.GetAction(t.Context(), id, "")
	require.NoError(t, err)
	assert.Equal(t, rev, a.Rev, "failed attachment writes left the document alone")
	assert.Empty(t, a.Attachments)
}

func TestLegacyAttachmentInlineDataAndDrop(t *testing.T) {
	s := newTestStore(t)
	code := "function main() { return {legacy: true} }"
	var doc map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "action-doc-nodejs-inline.json"), &doc))
	doc["exec"] = map[string]any{
		"kind": "nodejs:20", "binary": false,
		"code": map[string]any{"attachmentName": "codefile", "attachmentType": "text/plain"},
	}
	doc["_attachments"] = map[string]any{
		"codefile": map[string]any{"content_type": "text/plain", "data": base64.StdEncoding.EncodeToString([]byte(code))},
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	rev1, err := s.PutActionDoc(t.Context(), b)
	require.NoError(t, err)
	id := doc["_id"].(string)

	a, err := s.GetAction(t.Context(), id, rev1)
	require.NoError(t, err)
	assert.Equal(t, code, a.Exec.Code)
	attFile := filepath.Join(s.Root(), WhisksDir, escape(id)+".codefile")
	assert.FileExists(t, attFile)

	// An update that keeps the stub keeps the attachment.
	doc["_rev"] = rev1
	doc["_attachments"] = map[string]any{"codefile": map[string]any{"stub": true}}
	b, _ = json.Marshal(doc)
	rev2, err := s.PutActionDoc(t.Context(), b)
	require.NoError(t, err)
	requireRev(t, "2", rev2)
	a, err = s.GetAction(t.Context(), id, rev2)
	require.NoError(t, err)
	assert.Equal(t, code, a.Exec.Code)

	// A stub of an attachment the document does not have is refused (CouchDB's missing_stub).
	doc["_rev"] = rev2
	doc["_attachments"] = map[string]any{"other": map[string]any{"stub": true}}
	b, _ = json.Marshal(doc)
	_, err = s.PutActionDoc(t.Context(), b)
	require.ErrorIs(t, err, errdefs.ErrInvalidArgument)

	// An update without _attachments drops the attachment, as CouchDB does.
	doc["exec"] = map[string]any{"kind": "nodejs:20", "code": "inline now"}
	delete(doc, "_attachments")
	b, _ = json.Marshal(doc)
	rev3, err := s.PutActionDoc(t.Context(), b)
	require.NoError(t, err)
	assert.NoFileExists(t, attFile)
	a, err = s.GetAction(t.Context(), id, rev3)
	require.NoError(t, err)
	assert.Equal(t, "inline now", a.Exec.Code)
}

func TestRevisionsAndConflicts(t *testing.T) {
	s := newTestStore(t)
	doc := withoutMembers(t, fixture(t, "action-doc-nodejs-inline.json"), "_rev")
	id := "anon-Yzycx8QnIYDp3Tby0Fnj23KcMtH/action_tests_name2"

	_, err := s.PutActionDoc(t.Context(), withMember(t, doc, "_rev", "1-00000000000000000000000000000000"))
	require.ErrorIs(t, err, errdefs.ErrConflict, "a revision on a new document")

	rev1, err := s.PutActionDoc(t.Context(), doc)
	require.NoError(t, err)
	requireRev(t, "1", rev1)

	_, err = s.PutActionDoc(t.Context(), doc)
	require.ErrorIs(t, err, errdefs.ErrConflict, "no revision on an existing document")

	rev2, err := s.PutActionDoc(t.Context(), withMember(t, withMember(t, doc, "version", "0.0.2"), "_rev", rev1))
	require.NoError(t, err)
	requireRev(t, "2", rev2)

	_, err = s.PutActionDoc(t.Context(), withMember(t, withMember(t, doc, "version", "0.0.3"), "_rev", rev1))
	require.ErrorIs(t, err, errdefs.ErrConflict, "stale revision")

	a, err := s.GetAction(t.Context(), id, "")
	require.NoError(t, err)
	assert.Equal(t, rev2, a.Rev)
	assert.Equal(t, "0.0.2", a.Version, "conflicting writes changed nothing")
}

func TestRevisionMismatchReturnsLatest(t *testing.T) {
	s := newTestStore(t)
	id, rev1 := putNew(t, s, "action-doc-nodejs-inline.json")
	doc := withMember(t, withMember(t, fixture(t, "action-doc-nodejs-inline.json"), "version", "0.0.9"), "_rev", rev1)
	rev2, err := s.PutActionDoc(t.Context(), doc)
	require.NoError(t, err)

	for _, asked := range []string{rev1, "7-ffffffffffffffffffffffffffffffff", ""} {
		a, err := s.GetAction(t.Context(), id, asked)
		require.NoError(t, err, asked)
		assert.Equal(t, rev2, a.Rev, "asked %q", asked)
		assert.Equal(t, "0.0.9", a.Version, "asked %q", asked)
	}
}

func TestGetActionNotFound(t *testing.T) {
	s := newTestStore(t)
	_, err := s.GetAction(t.Context(), "guest/missing", "")
	require.ErrorIs(t, err, errdefs.ErrNotFound)

	_, err = s.GetAction(t.Context(), "", "")
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
}

func TestGetActionNotExecutable(t *testing.T) {
	s := newTestStore(t)
	id, _ := putNew(t, s, "action-doc-sequence.json")
	_, err := s.GetAction(t.Context(), id, "")
	require.ErrorIs(t, err, errdefs.ErrNotImplemented)
}

func TestGetActionCorruptFile(t *testing.T) {
	s := newTestStore(t)
	inline := string(fixture(t, "action-doc-nodejs-inline.json"))
	cases := map[string]string{
		"truncated JSON":   `{"_id":"guest/broken","_rev":"1-0`,
		"not an action":    `{"_id":"guest/broken","_rev":"1-00000000000000000000000000000000","entityType":"trigger","namespace":"guest","name":"broken"}`,
		"no _rev":          string(withMember(t, []byte(inline), "_id", "guest/broken")),
		"another _id":      string(withMember(t, withMember(t, []byte(inline), "_rev", "1-00000000000000000000000000000000"), "_id", "guest/other")),
		"bad mem: payload": `{"_id":"guest/broken","_rev":"1-00000000000000000000000000000000","namespace":"guest","name":"broken","exec":{"kind":"nodejs:20","code":{"attachmentName":"mem:!!!","attachmentType":"text/plain"}},"limits":{"timeout":1000,"memory":128}}`,
		"length mismatch":  `{"_id":"guest/broken","_rev":"1-00000000000000000000000000000000","namespace":"guest","name":"broken","exec":{"kind":"nodejs:20","code":{"attachmentName":"mem:YWJj","attachmentType":"text/plain","length":4}},"limits":{"timeout":1000,"memory":128}}`,
	}
	path := filepath.Join(s.Root(), WhisksDir, "guest%2Fbroken.json")
	for name, content := range cases {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, err := s.GetAction(t.Context(), "guest/broken", "")
		require.ErrorIs(t, err, errdefs.ErrDataLoss, name)
	}

	// A corrupt stored revision is not overwritten by a seed: the bytes survive for a human to inspect.
	require.NoError(t, os.WriteFile(path, []byte(cases["truncated JSON"]), 0o600))
	_, err := s.PutActionDoc(t.Context(), withMember(t, []byte(inline), "_id", "guest/broken"))
	require.ErrorIs(t, err, errdefs.ErrDataLoss)
	assert.Contains(t, err.Error(), path)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, cases["truncated JSON"], string(b))
}

func TestPutActionDocBadInput(t *testing.T) {
	s := newTestStore(t)
	for name, doc := range map[string]string{
		"not JSON":          `{"_id":"guest/x"`,
		"array":             `[1,2]`,
		"null":              `null`,
		"no _id":            `{"name":"x"}`,
		"_id not a string":  `{"_id":7}`,
		"_rev not a string": `{"_id":"guest/x","_rev":1}`,
		"bad attachment":    `{"_id":"guest/x","_attachments":{"codefile":{"content_type":"text/plain"}}}`,
		"bad base64":        `{"_id":"guest/x","_attachments":{"codefile":{"data":"***"}}}`,
		"reserved att name": `{"_id":"guest/x","_attachments":{"json":{"data":"YQ=="}}}`,
	} {
		_, err := s.PutActionDoc(t.Context(), []byte(doc))
		assert.ErrorIs(t, err, errdefs.ErrInvalidArgument, name)
	}
	entries, err := os.ReadDir(filepath.Join(s.Root(), WhisksDir))
	require.NoError(t, err)
	assert.Empty(t, entries, "bad input writes nothing")
}

func TestPutActionDocWriteFailureKeepsPreviousRevision(t *testing.T) {
	s := newTestStore(t)
	id, rev1 := putNew(t, s, "action-doc-nodejs-inline.json")
	before, err := os.ReadFile(filepath.Join(s.Root(), WhisksDir, escape(id)+".json"))
	require.NoError(t, err)

	s.ops.write = func(f *os.File, b []byte) (int, error) {
		n, _ := f.Write(b[:len(b)/3])
		return n, syscall.ENOSPC
	}
	doc := withMember(t, withMember(t, fixture(t, "action-doc-nodejs-inline.json"), "version", "9.9.9"), "_rev", rev1)
	_, err = s.PutActionDoc(t.Context(), doc)
	require.ErrorIs(t, err, errdefs.ErrUnavailable)

	after, err := os.ReadFile(filepath.Join(s.Root(), WhisksDir, escape(id)+".json"))
	require.NoError(t, err)
	assert.Equal(t, before, after, "the previous revision is intact, byte for byte")
	assert.Empty(t, tempFiles(t, s))
	a, err := s.GetAction(t.Context(), id, "")
	require.NoError(t, err)
	assert.Equal(t, rev1, a.Rev)

	s.ops = defaultFileOps()
	rev2, err := s.PutActionDoc(t.Context(), doc)
	require.NoError(t, err, "the same update succeeds once the disk is fine")
	requireRev(t, "2", rev2)
}

func TestGetActionCanceledContext(t *testing.T) {
	s := newTestStore(t)
	id, _ := putNew(t, s, "action-doc-nodejs-inline.json")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.GetAction(ctx, id, "")
	assert.ErrorIs(t, err, errdefs.ErrUnavailable)
}
