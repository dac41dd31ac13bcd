package filestore

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// artifactStore is the method set the activation path uses. Both stores must satisfy it with identical
// signatures: this does not compile if either drifts.
type artifactStore interface {
	GetAction(ctx context.Context, docID, rev string) (*wire.Action, error)
	PutActivation(ctx context.Context, a *wire.WhiskActivation) error
	GetActivation(ctx context.Context, namespace, activationID string) (*wire.WhiskActivation, error)
	BlockedNamespaces(ctx context.Context) ([]string, error)
	Ping(ctx context.Context) error
	Close() error
}

// seeder is the seeding method set both stores share.
type seeder interface {
	PutActionDoc(ctx context.Context, doc []byte) (string, error)
	PutAttachment(ctx context.Context, docID, rev, name, contentType string, body []byte) (string, error)
	PutActivationDoc(ctx context.Context, doc []byte) error
}

var (
	_ artifactStore = (*Store)(nil)
	_ seeder        = (*Store)(nil)
)

var testNow = time.UnixMilli(1717236920658)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(t.TempDir(), zerolog.Nop(), WithClock(func() time.Time { return testNow }))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", "fixtures", name)) // the shared golden fixtures
	require.NoError(t, err)
	return b
}

// withoutMembers drops top-level members (e.g. _rev, _attachments) from a JSON document.
func withoutMembers(t testing.TB, doc []byte, keys ...string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(doc, &m))
	for _, k := range keys {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// withMember sets one top-level member of a JSON document.
func withMember(t testing.TB, doc []byte, key string, value any) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(doc, &m))
	v, err := json.Marshal(value)
	require.NoError(t, err)
	m[key] = v
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// tempFiles lists leftover temporary files anywhere under the root.
func tempFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(s.Root(), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return nil
	}))
	return out
}

func TestNewCreatesLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "demo")
	s, err := New(root, zerolog.Nop())
	require.NoError(t, err)
	defer s.Close()
	for _, d := range []string{WhisksDir, ActivationsDir} {
		st, err := os.Stat(filepath.Join(root, d))
		require.NoError(t, err)
		assert.True(t, st.IsDir(), d)
	}
	assert.Equal(t, root, s.Root())
}

func TestNewRejectsBadRoot(t *testing.T) {
	_, err := New("", zerolog.Nop())
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)

	file := filepath.Join(t.TempDir(), "plain-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	_, err = New(file, zerolog.Nop())
	assert.ErrorIs(t, err, errdefs.ErrUnavailable)
}

func TestNewRemovesOnlyStaleTempFiles(t *testing.T) {
	root := t.TempDir()
	s, err := New(root, zerolog.Nop())
	require.NoError(t, err)
	stale := filepath.Join(root, ActivationsDir, tempPrefix+"stale")
	young := filepath.Join(root, WhisksDir, tempPrefix+"young")
	require.NoError(t, os.WriteFile(stale, []byte("half"), 0o600))
	require.NoError(t, os.WriteFile(young, []byte("half"), 0o600))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, s.Close())

	_, err = New(root, zerolog.Nop())
	require.NoError(t, err)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, young, "a young temp file may belong to a write in progress")
}

func TestEscapeIsReversibleAndDotFree(t *testing.T) {
	cases := map[string]string{
		"guest/hello":                      "guest%2Fhello",
		"guest/pkg/hello":                  "guest%2Fpkg%2Fhello",
		"a.b":                              "a%2Eb",
		"..":                               "%2E%2E",
		"a b@c":                            "a%20b%40c",
		"7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a": "7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a",
		"ns_1/ü":                           "ns_1%2F%C3%BC",
	}
	for in, want := range cases {
		got := escape(in)
		assert.Equal(t, want, got, in)
		assert.NotContains(t, got, ".", in)
		assert.NotContains(t, got, "/", in)
		back, err := url.PathUnescape(got)
		require.NoError(t, err)
		assert.Equal(t, in, back)
	}
}

func TestFileNamesDoNotCollide(t *testing.T) {
	s := newTestStore(t)
	// Document "a" with attachment "b.json" versus document "a.b": distinct files.
	p1, err := s.attachmentPath("a", "b.json")
	require.NoError(t, err)
	p2, err := s.docPath("a.b")
	require.NoError(t, err)
	assert.NotEqual(t, p1, p2)

	_, err = s.attachmentPath("a", "json")
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument, "the attachment name json would be the document itself")

	_, err = s.docPath(strings.Repeat("x", 300))
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
}

func TestPing(t *testing.T) {
	s := newTestStore(t)
	require.NoError(t, s.Ping(t.Context()))

	require.NoError(t, os.RemoveAll(filepath.Join(s.Root(), WhisksDir)))
	assert.ErrorIs(t, s.Ping(t.Context()), errdefs.ErrNotFound)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, s.Ping(ctx), errdefs.ErrUnavailable)
}

func TestPingUnwritableActivations(t *testing.T) {
	s := newTestStore(t)
	dir := filepath.Join(s.Root(), ActivationsDir)
	if os.Geteuid() == 0 {
		// Root writes through permission bits; a read-only bind mount of the directory stops it too (EROFS).
		require.NoError(t, unix.Mount(dir, dir, "", unix.MS_BIND, ""), "bind-mount %s", dir)
		t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
		require.NoError(t, unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""), "remount %s read-only", dir)
	} else {
		require.NoError(t, os.Chmod(dir, 0o500))
		t.Cleanup(func() { _ = os.Chmod(dir, 0o750) })
	}
	assert.ErrorIs(t, s.Ping(t.Context()), errdefs.ErrUnavailable)
}

func TestBlockedNamespaces(t *testing.T) {
	s := newTestStore(t)
	got, err := s.BlockedNamespaces(t.Context())
	require.NoError(t, err)
	assert.NotNil(t, got, "no file: an empty list, not nil")
	assert.Empty(t, got)

	require.NoError(t, s.SetBlockedNamespaces(t.Context(), []string{"spammer", "", "abuser"}))
	got, err = s.BlockedNamespaces(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"spammer", "abuser"}, got)

	require.NoError(t, s.SetBlockedNamespaces(t.Context(), nil))
	got, err = s.BlockedNamespaces(t.Context())
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestBlockedNamespacesCorruptFile(t *testing.T) {
	s := newTestStore(t)
	path := filepath.Join(s.Root(), BlockedFile)
	require.NoError(t, os.WriteFile(path, []byte(`{"not":"an array"`), 0o600))
	_, err := s.BlockedNamespaces(t.Context())
	require.ErrorIs(t, err, errdefs.ErrDataLoss)
	assert.Contains(t, err.Error(), path)
}

func TestCloseStopsWritesNotReads(t *testing.T) {
	s := newTestStore(t)
	a := sampleActivation(t, "guest", "11111111111111111111111111111111")
	require.NoError(t, s.PutActivation(t.Context(), a))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	b := sampleActivation(t, "guest", "22222222222222222222222222222222")
	assert.ErrorIs(t, s.PutActivation(t.Context(), b), errdefs.ErrFailedPrecondition)
	_, err := s.PutActionDoc(t.Context(), fixture(t, "action-doc-nodejs-inline.json"))
	assert.ErrorIs(t, err, errdefs.ErrFailedPrecondition)
	assert.ErrorIs(t, s.SetBlockedNamespaces(t.Context(), []string{"x"}), errdefs.ErrFailedPrecondition)
	_, err = s.GetActivation(t.Context(), "guest", b.ActivationID)
	assert.ErrorIs(t, err, errdefs.ErrNotFound, "the closed store wrote nothing")

	got, err := s.GetActivation(t.Context(), "guest", a.ActivationID)
	require.NoError(t, err)
	assert.Equal(t, a.ActivationID, got.ActivationID)
}

func TestCloseWaitsForWriteInProgress(t *testing.T) {
	s := newTestStore(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	s.ops.sync = func(f *os.File) error {
		close(entered)
		<-release
		return f.Sync()
	}
	a := sampleActivation(t, "guest", "33333333333333333333333333333333")
	putErr := make(chan error, 1)
	go func() { putErr <- s.PutActivation(context.Background(), a) }()
	<-entered
	closed := make(chan struct{})
	go func() { _ = s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a write was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-putErr)
	<-closed
	_, err := s.GetActivation(t.Context(), "guest", a.ActivationID)
	assert.NoError(t, err, "the write that was in progress completed")
}
