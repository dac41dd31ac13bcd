package docker

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool"
)

// followingCollector waits for the runtime's sentinels, so a collection follows the file.
func followingCollector() *logCollector {
	return newLogCollector(1<<20, pool.LogOptions{Sentinels: true})
}

// A followed json-file is read when the engine writes it, not at the next poll: with an hour-long poll
// interval and the reader at the end and waiting for 2.2 s (a polling reader, backing off from 0.5 ms by
// doubling, is then in a wait that ends at about 4.1 s), the line arrives well within the time a poll
// would have taken.
func TestFollowedLogWakesOnWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	src := newFileSource(path, time.Hour)
	defer src.close()
	col := followingCollector()
	done := make(chan time.Time, 1)
	go func() {
		end, _ := src.collect(t.Context(), logCursor{}, col, time.Minute, time.Minute, settling{})
		assert.Equal(t, endSentinels, end)
		done <- time.Now()
	}()

	time.Sleep(2200 * time.Millisecond) // the reader is at the end and waiting
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	written := time.Now()
	_, err = f.WriteString(jsonLine(t, "2024-06-01T10:15:20.1Z", "stdout", "hello\n") +
		jsonLine(t, "2024-06-01T10:15:20.1Z", "stdout", sentinel+"\n") +
		jsonLine(t, "2024-06-01T10:15:20.1Z", "stderr", sentinel+"\n"))
	require.NoError(t, err)
	select {
	case at := <-done:
		require.Less(t, at.Sub(written), time.Second, "the lines waited for a poll")
		require.Len(t, col.lines, 1)
		require.Contains(t, col.lines[0], "hello")
	case <-time.After(5 * time.Second):
		t.Fatal("the lines were not read")
	}
}

// Cancelling the collection ends a reader that waits for a write at once, with no poll to wait out.
func TestFollowedLogStopsWhenCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	src := newFileSource(path, time.Hour)
	defer src.close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan collectEnd, 1)
	go func() {
		end, _ := src.collect(ctx, logCursor{}, followingCollector(), time.Minute, time.Minute, settling{})
		done <- end
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case end := <-done:
		require.Equal(t, endTimeout, end)
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not stop")
	}
}

// The file stays open and watched between collections, and is released when the container goes: the
// removal does not wait for a collection in progress, which releases the file when it ends.
func TestLogFileHeldForTheContainersLife(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, []byte(jsonLine(t, "2024-06-01T10:15:20.1Z", "stdout", "a\n")), 0o644))
	src := newFileSource(path, time.Hour)
	col := newLogCollector(1<<20, pool.LogOptions{})
	end, cur := src.collect(t.Context(), logCursor{}, col, time.Minute, time.Minute, settling{})
	require.Equal(t, endOfData, end)
	fd := src.fd
	require.GreaterOrEqual(t, fd, 0, "open after the collection")
	require.NotNil(t, src.notify, "watched after the collection")
	end, _ = src.collect(t.Context(), cur, newLogCollector(1<<20, pool.LogOptions{}), time.Minute, time.Minute, settling{})
	require.Equal(t, endOfData, end)
	require.Equal(t, fd, src.fd, "the second collection reuses the descriptor")

	// A collection waiting for lines while the container is removed.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.collect(ctx, cur, followingCollector(), time.Minute, time.Minute, settling{})
	}()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan struct{})
	go func() { src.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("close waited for the collection in progress")
	}
	cancel()
	<-done
	src.mu.Lock()
	defer src.mu.Unlock()
	assert.Equal(t, -1, src.fd, "released by the collection when it ended")
	assert.Nil(t, src.notify)
}

// Two readers of one file share the kernel's watch descriptor: both wake on a write, and the first to stop
// leaves the other's watch in place.
func TestTwoTailsOfOneLogShareTheWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	a := newLogNotify(path)
	b := newLogNotify(path)
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
