package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// sampleActivation is the success fixture (compacted, as records are stored) re-keyed to namespace/id.
func sampleActivation(t testing.TB, namespace, id string) *wire.WhiskActivation {
	t.Helper()
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, fixture(t, "activation-record-success.json")))
	a, _, err := wire.ParseActivationDocument(compact.Bytes())
	require.NoError(t, err)
	a.Namespace = namespace
	a.ActivationID = id
	return a
}

func activationID(i int) string { return fmt.Sprintf("%032x", i+1) }

func TestActivationRoundTrip(t *testing.T) {
	s := newTestStore(t)
	a := sampleActivation(t, "guest", "c7a9e52b1f0d4e3ab9e52b1f0d5e3a77")
	require.NoError(t, s.PutActivation(t.Context(), a))

	got, err := s.GetActivation(t.Context(), "guest", a.ActivationID)
	require.NoError(t, err)
	assert.Equal(t, a, got)

	// The file is wire's DB document with the store's clock as "updated": here, the fixture itself.
	path := filepath.Join(s.Root(), ActivationsDir, "guest%2Fc7a9e52b1f0d4e3ab9e52b1f0d5e3a77.json")
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	want, err := a.Document(testNow.UnixMilli())
	require.NoError(t, err)
	assert.Equal(t, string(want)+"\n", string(onDisk))
	assert.JSONEq(t, string(fixture(t, "activation-record-success.json")), string(onDisk))
}

func TestActivationNotFound(t *testing.T) {
	s := newTestStore(t)
	_, err := s.GetActivation(t.Context(), "guest", activationID(7))
	assert.ErrorIs(t, err, errdefs.ErrNotFound)
}

func TestPutActivationConflictKeepsFirstRecord(t *testing.T) {
	s := newTestStore(t)
	first := sampleActivation(t, "guest", activationID(1))
	require.NoError(t, s.PutActivation(t.Context(), first))

	second := sampleActivation(t, "guest", activationID(1))
	second.Response = proxy.ErrorResponse(proxy.StatusWhiskError, "a different outcome")
	err := s.PutActivation(t.Context(), second)
	require.ErrorIs(t, err, errdefs.ErrConflict)

	got, err := s.GetActivation(t.Context(), "guest", first.ActivationID)
	require.NoError(t, err)
	assert.Equal(t, first.Response, got.Response, "the first record is not overwritten")
	assert.Empty(t, tempFiles(t, s))
}

func TestConcurrentPutActivationDistinctIDs(t *testing.T) {
	s := newTestStore(t)
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.PutActivation(context.Background(), sampleActivation(t, "guest", activationID(i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "activation %d", i)
	}
	for i := range n {
		got, err := s.GetActivation(t.Context(), "guest", activationID(i))
		require.NoError(t, err)
		assert.Equal(t, activationID(i), got.ActivationID)
	}
	entries, err := os.ReadDir(filepath.Join(s.Root(), ActivationsDir))
	require.NoError(t, err)
	assert.Len(t, entries, n, "one file per record and no temporary files")
}

func TestConcurrentPutActivationSameIDRecordsOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		link func(string, string) error
	}{
		{"hard link", nil},
		{"no hard links (fallback)", func(string, string) error {
			return &os.LinkError{Op: "link", Err: syscall.EPERM}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			if tc.link != nil {
				s.ops.link = tc.link
			}
			const n = 32
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := sampleActivation(t, "guest", activationID(0))
					a.Logs = []string{fmt.Sprintf("writer %d", i)}
					errs[i] = s.PutActivation(context.Background(), a)
				}()
			}
			wg.Wait()
			ok, conflicts := 0, 0
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
					winner = i
				case errors.Is(err, errdefs.ErrConflict):
					conflicts++
				default:
					t.Errorf("writer %d: unexpected error %v", i, err)
				}
			}
			assert.Equal(t, 1, ok)
			assert.Equal(t, n-1, conflicts)
			got, err := s.GetActivation(t.Context(), "guest", activationID(0))
			require.NoError(t, err)
			assert.Equal(t, []string{fmt.Sprintf("writer %d", winner)}, got.Logs, "the record is the winner's")
			assert.Empty(t, tempFiles(t, s))
		})
	}
}

func TestPutActivationWriteFailureLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(s *Store)
	}{
		{"write fails halfway", func(s *Store) {
			s.ops.write = func(f *os.File, b []byte) (int, error) {
				n, _ := f.Write(b[:len(b)/2])
				return n, syscall.ENOSPC
			}
		}},
		{"fsync fails", func(s *Store) {
			s.ops.sync = func(*os.File) error { return syscall.EIO }
		}},
		{"link fails", func(s *Store) {
			s.ops.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EIO} }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			tc.setup(s)
			a := sampleActivation(t, "guest", activationID(3))
			err := s.PutActivation(t.Context(), a)
			require.ErrorIs(t, err, errdefs.ErrUnavailable)
			assert.NotErrorIs(t, err, errdefs.ErrConflict)

			_, err = s.GetActivation(t.Context(), "guest", a.ActivationID)
			assert.ErrorIs(t, err, errdefs.ErrNotFound, "no partial record")
			assert.Empty(t, tempFiles(t, s), "no temporary file left")

			s.ops = defaultFileOps()
			require.NoError(t, s.PutActivation(t.Context(), a), "a retry after the failure succeeds")
		})
	}
}

func TestPutActivationBadInput(t *testing.T) {
	s := newTestStore(t)
	assert.ErrorIs(t, s.PutActivation(t.Context(), nil), errdefs.ErrInvalidArgument)
	for name, doc := range map[string]string{
		"not json":          `{"_id":`,
		"not an activation": `{"_id":"guest/x","hello":1}`,
		"id mismatch":       string(withMember(t, fixture(t, "activation-record-success.json"), "_id", "guest/other")),
		"no _id":            string(withoutMembers(t, fixture(t, "activation-record-success.json"), "_id")),
	} {
		err := s.PutActivationDoc(t.Context(), []byte(doc))
		assert.ErrorIs(t, err, errdefs.ErrInvalidArgument, name)
	}
	entries, err := os.ReadDir(filepath.Join(s.Root(), ActivationsDir))
	require.NoError(t, err)
	assert.Empty(t, entries, "bad input writes nothing")

	_, err = s.GetActivation(t.Context(), "", activationID(1))
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
	_, err = s.GetActivation(t.Context(), "guest", "")
	assert.ErrorIs(t, err, errdefs.ErrInvalidArgument)
}

func TestPutActivationCanceledContext(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a := sampleActivation(t, "guest", activationID(4))
	assert.ErrorIs(t, s.PutActivation(ctx, a), errdefs.ErrUnavailable)
	_, err := s.GetActivation(ctx, "guest", a.ActivationID)
	assert.ErrorIs(t, err, errdefs.ErrUnavailable)
	_, err = s.GetActivation(t.Context(), "guest", a.ActivationID)
	assert.ErrorIs(t, err, errdefs.ErrNotFound)
}

func TestGetActivationCorruptFile(t *testing.T) {
	s := newTestStore(t)
	for name, content := range map[string]string{
		"truncated":     `{"namespace":"guest","name":"hel`,
		"wrong doc":     string(fixture(t, "action-doc-nodejs-inline.json")),
		"other id file": string(mustDocument(t, sampleActivation(t, "guest", activationID(99)))),
	} {
		path := filepath.Join(s.Root(), ActivationsDir, "guest%2F"+activationID(5)+".json")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		_, err := s.GetActivation(t.Context(), "guest", activationID(5))
		require.ErrorIs(t, err, errdefs.ErrDataLoss, name)
		assert.Contains(t, err.Error(), path, name)

		err = s.PutActivation(t.Context(), sampleActivation(t, "guest", activationID(5)))
		assert.ErrorIs(t, err, errdefs.ErrConflict, "%s: an existing file, even corrupt, is not overwritten", name)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, content, string(b), name)
	}
}

func mustDocument(t testing.TB, a *wire.WhiskActivation) []byte {
	t.Helper()
	b, err := a.Document(testNow.UnixMilli())
	require.NoError(t, err)
	return b
}
