package itest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/filestore"
	"github.com/nemo-edge/nemo/invoker/store"
)

// OpenStore opens the CouchDB at couch with database prefix dbPrefix and creates the three databases as
// OpenWhisk's deployment does; a cleanup of t drops them and closes the store. It fails the test when
// the databases cannot be created.
func OpenStore(t testing.TB, couch *url.URL, dbPrefix string) *store.Store {
	t.Helper()
	cfg, err := store.ConfigFromURL(couch.String(), dbPrefix)
	require.NoError(t, err)
	st, err := store.New(cfg, zerolog.Nop(), store.WithRequestTimeout(10*time.Second))
	require.NoError(t, err)
	// Registered before the databases are created, so a half-done creation is dropped too.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = st.DeleteDBs(ctx)
		_ = st.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, st.EnsureDBs(ctx), "create test databases")
	return st
}

// SeedAction writes blackbox action Namespace/name running ActionImage, as the controller stores it, with
// the given memory and logs limits; it returns the document's revision.
func SeedAction(t testing.TB, st *store.Store, name string, memoryMB, logsMB int) string {
	t.Helper()
	a := filestore.SampleAction(ActionImage, time.Now().UnixMilli())
	a.ID, a.Name = Namespace+"/"+name, name
	a.Limits.MemoryMB, a.Limits.LogsMB = memoryMB, logsMB
	doc, err := a.MarshalJSON()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rev, err := st.PutActionDoc(ctx, doc)
	require.NoError(t, err, "seed action %s", a.ID)
	return rev
}
