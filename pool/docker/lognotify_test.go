package docker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A followed json-file is read when the engine writes it, not at the next poll: with an hour-long poll
// interval and the tail idle for 2.2 s (a polling tail, backing off from 0.5 ms by doubling, is then in
// a wait that ends at about 4.1 s), the line arrives well within the time a poll would have taken.
func TestFollowedLogWakesOnWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	src := fileSource{path: path, poll: time.Hour}
	ch, _ := src.entries(t.Context(), logCursor{}, true)

	time.Sleep(2200 * time.Millisecond) // the tail is at the end and waiting
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	written := time.Now()
	_, err = f.WriteString(jsonLine(t, "2024-06-01T10:15:20.1Z", "stdout", "hello"))
	require.NoError(t, err)
	select {
	case e := <-ch:
		require.Equal(t, "hello", e.Msg)
		require.Less(t, time.Since(written), time.Second, "the line waited for a poll")
	case <-time.After(5 * time.Second):
		t.Fatal("the line was not read")
	}
}

// Cancelling the collection ends a tail that waits for a write at once, with no poll to wait out.
func TestFollowedLogStopsWhenCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	ctx, cancel := context.WithCancel(t.Context())
	ch, errf := fileSource{path: path, poll: time.Hour}.entries(ctx, logCursor{}, true)
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case _, ok := <-ch:
		require.False(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("the tail did not stop")
	}
	require.NoError(t, errf())
}

// Two tails of one file share the kernel's watch descriptor: both wake on a write, and the first to stop
// leaves the other's watch in place.
func TestTwoTailsOfOneLogShareTheWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	a := newLogNotify(t.Context(), path)
	b := newLogNotify(t.Context(), path)
	require.NotNil(t, a)
	require.NotNil(t, b)
	defer b.close()
	require.Equal(t, a.wd, b.wd)
	a.close()

	require.NoError(t, os.WriteFile(path, []byte("x\n"), 0o644))
	select {
	case <-b.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("the remaining tail was not woken")
	}
}
