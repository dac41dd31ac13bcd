package filestore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
)

func TestSeedSampleGivesExecutableAction(t *testing.T) {
	s := newTestStore(t)
	id, err := SeedSample(t.Context(), s, DefaultSampleImage)
	require.NoError(t, err)
	assert.Equal(t, "guest/hello", id)

	// The id an ActivationMessage for /guest/hello resolves to.
	fqn := wire.FullyQualifiedName{Path: "guest", Name: "hello"}
	a, err := s.GetAction(t.Context(), fqn.DocID(), "")
	require.NoError(t, err)
	requireRev(t, "1", a.Rev)
	assert.Equal(t, "guest", a.Namespace)
	assert.Equal(t, "hello", a.Name)
	assert.True(t, a.Exec.IsBlackbox())
	assert.Equal(t, DefaultSampleImage, a.Exec.Image)
	assert.Nil(t, a.Exec.CodeRef)
	assert.Empty(t, a.Exec.Code, "the image carries its action: /init without code runs it")
	assert.Equal(t, wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 256, LogsMB: 10, Concurrency: 1}, a.Limits)
	exec, ok := lookupAnnotation(a.Annotations, "exec")
	require.True(t, ok)
	assert.JSONEq(t, `"blackbox"`, string(exec))
	assert.False(t, a.ProvideAPIKey())
	assert.True(t, a.LogsToBeCollected())

	// It yields the /init body a blackbox without code gets: no "code" member.
	body, err := wire.NewInitRequest(a, nil).Marshal()
	require.NoError(t, err)
	var init struct {
		Value map[string]json.RawMessage `json:"value"`
	}
	require.NoError(t, json.Unmarshal(body, &init))
	assert.NotContains(t, init.Value, "code")
	assert.JSONEq(t, `"hello"`, string(init.Value["name"]))

	// The file is a controller-shaped action document.
	b, err := os.ReadFile(filepath.Join(s.Root(), WhisksDir, "guest%2Fhello.json"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "guest/hello", doc["_id"])
	assert.Equal(t, "action", doc["entityType"])
	assert.Equal(t, float64(testNow.UnixMilli()), doc["updated"])
}

func TestSeedSampleIsIdempotent(t *testing.T) {
	s := newTestStore(t)
	_, err := SeedSample(t.Context(), s, DefaultSampleImage)
	require.NoError(t, err)
	first, err := s.GetAction(t.Context(), SampleDocID, "")
	require.NoError(t, err)

	_, err = SeedSample(t.Context(), s, DefaultSampleImage)
	require.NoError(t, err)
	again, err := s.GetAction(t.Context(), SampleDocID, "")
	require.NoError(t, err)
	assert.Equal(t, first.Rev, again.Rev, "same content: the revision does not move")

	_, err = SeedSample(t.Context(), s, "nemo/action-python:3.11")
	require.NoError(t, err)
	changed, err := s.GetAction(t.Context(), SampleDocID, "")
	require.NoError(t, err)
	requireRev(t, "2", changed.Rev)
	assert.Equal(t, "nemo/action-python:3.11", changed.Exec.Image)
}

func TestSeedSampleBadInput(t *testing.T) {
	s := newTestStore(t)
	for _, image := range []string{"", "Not A Valid/Image:!"} {
		_, err := SeedSample(t.Context(), s, image)
		assert.ErrorIs(t, err, errdefs.ErrInvalidArgument, "image %q", image)
	}
	_, err := s.GetAction(t.Context(), SampleDocID, "")
	assert.ErrorIs(t, err, errdefs.ErrNotFound, "nothing was written")

	// A corrupt stored sample is reported, not overwritten.
	path := filepath.Join(s.Root(), WhisksDir, "guest%2Fhello.json")
	require.NoError(t, os.WriteFile(path, []byte("{oops"), 0o600))
	_, err = SeedSample(t.Context(), s, DefaultSampleImage)
	require.ErrorIs(t, err, errdefs.ErrDataLoss)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "{oops", string(b))
}

func lookupAnnotation(kvs []wire.KeyValue, key string) (json.RawMessage, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}
