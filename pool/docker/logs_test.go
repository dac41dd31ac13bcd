package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sentinel = proxy.LogSentinel

func jsonLine(t *testing.T, ts, stream, msg string) string {
	t.Helper()
	b, err := proxy.DockerLogLine{Log: msg, Stream: stream, Time: ts}.MarshalJSON()
	require.NoError(t, err)
	return string(b) + "\n"
}

func entry(ts, stream, msg string, weight int64) logEntry {
	return logEntry{Time: ts, Stream: stream, Msg: msg, Weight: weight}
}

var fixedNow = time.Date(2024, 6, 1, 10, 26, 43, 117482000, time.UTC)

func TestCollectorSentinelsOnBothStreams(t *testing.T) {
	c := newLogCollector(1<<20, pool.LogOptions{Sentinels: true})
	assert.False(t, c.add(entry("T1", "stdout", "hello\n", 10)))
	assert.False(t, c.add(entry("T2", "stdout", sentinel+"\n", 10)))
	assert.False(t, c.add(entry("T3", "stdout", sentinel+"\n", 10)), "two on one stream are not enough")
	assert.True(t, c.add(entry("T4", "stderr", sentinel+"\n", 10)))
	res := c.finish(endSentinels, fixedNow)
	assert.Equal(t, []string{proxy.FormatLogLine("T1", "stdout", "hello\n")}, res.Lines)
	assert.False(t, res.Failed)
	assert.False(t, res.Truncated)
}

func TestCollectorLimit(t *testing.T) {
	c := newLogCollector(25, pool.LogOptions{Sentinels: true})
	c.add(entry("T1", "stdout", "a\n", 10))
	c.add(entry("T2", "stderr", "b\n", 10))
	c.add(entry("T3", "stdout", "c\n", 10)) // 30 > 25: dropped, truncation starts
	c.add(entry("T4", "stdout", "d\n", 1))  // dropped too: nothing after the first overflow
	c.add(entry("T5", "stdout", sentinel, 10))
	require.True(t, c.add(entry("T6", "stderr", sentinel, 10)), "still completes on the sentinels")
	res := c.finish(endSentinels, fixedNow)
	assert.True(t, res.Truncated)
	assert.False(t, res.Failed, "a drained truncation keeps the container")
	assert.Equal(t, []string{
		proxy.FormatLogLine("T1", "stdout", "a"),
		proxy.FormatLogLine("T2", "stderr", "b"),
		proxy.InvokerLogLine(fixedNow, proxy.MsgLogsTruncated(25)),
	}, res.Lines)
}

func TestCollectorMissingSentinels(t *testing.T) {
	c := newLogCollector(1<<20, pool.LogOptions{Sentinels: true})
	c.add(entry("T1", "stdout", "x\n", 5))
	c.add(entry("T2", "stdout", sentinel, 5))
	res := c.finish(endIdle, fixedNow)
	assert.True(t, res.Failed)
	assert.Equal(t, []string{
		proxy.FormatLogLine("T1", "stdout", "x"),
		"2024-06-01T10:26:43.117482Z    stderr: " + proxy.MsgLogCollectionIssue,
	}, res.Lines)
}

func TestCollectorWithoutSentinelsAppendsNothing(t *testing.T) {
	c := newLogCollector(1<<20, pool.LogOptions{})
	c.add(entry("T1", "stdout", "fine\n", 5))
	res := c.finish(endOfData, fixedNow)
	assert.False(t, res.Failed)
	assert.Equal(t, []string{proxy.FormatLogLine("T1", "stdout", "fine")}, res.Lines)
}

func TestCollectorNotWaiting(t *testing.T) {
	c := newLogCollector(1<<20, pool.LogOptions{DeveloperError: true})
	c.add(entry("T1", "stderr", "panic\n", 5))
	c.add(entry("T2", "stdout", sentinel, 5))
	res := c.finish(endOfData, fixedNow)
	assert.False(t, res.Failed)
	assert.Equal(t, []string{
		proxy.FormatLogLine("T1", "stderr", "panic"),
		proxy.InvokerLogLine(fixedNow, proxy.MsgLogsMissingDevError),
	}, res.Lines)
}

func TestOverallLogTimeout(t *testing.T) {
	assert.Equal(t, 10*time.Second, overallLogTimeout(10<<20/10))
	assert.Equal(t, 10*time.Second, overallLogTimeout(5<<20))
	assert.Equal(t, 20*time.Second, overallLogTimeout(10<<20))
}

// The OpenWhisk fixture log gives the fixture activation's logs.
func TestFileSourceFixture(t *testing.T) {
	b, _ := testBackend(t, newFakeAPI(), Config{})
	c := &Container{name: "x", logs: newFileSource("testdata/docker-json-file-sample.log", time.Millisecond)}
	res := b.Logs(context.Background(), c, 10<<20, pool.LogOptions{Sentinels: true})
	assert.False(t, res.Failed)
	assert.Equal(t, []string{"2024-06-01T10:15:20.649123456Z stdout: hello World"}, res.Lines)
	st, err := os.Stat("testdata/docker-json-file-sample.log")
	require.NoError(t, err)
	assert.Equal(t, st.Size(), c.cursor.Offset, "cursor after the last consumed line")
}

type appendFile struct {
	t    *testing.T
	mu   sync.Mutex
	path string
}

func newAppendFile(t *testing.T) *appendFile {
	p := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	return &appendFile{t: t, path: p}
}

func (a *appendFile) write(s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.OpenFile(a.path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(a.t, err)
	_, err = f.WriteString(s)
	require.NoError(a.t, err)
	require.NoError(a.t, f.Close())
}

// Two activations in a row: each collection starts where the previous one stopped, and lines arriving late
// (even split mid-line) are waited for.
func TestFileSourceCursorAndFollow(t *testing.T) {
	b, _ := testBackend(t, newFakeAPI(), Config{LogIdleTimeout: 2 * time.Second})
	af := newAppendFile(t)
	c := &Container{name: "x", logs: newFileSource(af.path, time.Millisecond)}

	af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stdout", "one\n"))
	af.write(jsonLine(t, "2024-01-01T00:00:02Z", "stdout", sentinel+"\n"))
	late := make(chan struct{})
	go func() {
		defer close(late)
		time.Sleep(50 * time.Millisecond)
		line := jsonLine(t, "2024-01-01T00:00:03Z", "stderr", sentinel+"\n")
		af.write(line[:10]) // a partial line is not consumed until complete
		time.Sleep(30 * time.Millisecond)
		af.write(line[10:])
		af.write(jsonLine(t, "2024-01-01T00:00:04Z", "stdout", "two\n"))
	}()
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, res.Failed, "%v", res.Lines)
	assert.Equal(t, []string{"2024-01-01T00:00:01Z           stdout: one"}, res.Lines)
	<-late // "two" belongs to the next activation: it is in the file before that activation's sentinels

	af.write(jsonLine(t, "2024-01-01T00:00:05Z", "stdout", sentinel+"\n"))
	af.write(jsonLine(t, "2024-01-01T00:00:06Z", "stderr", sentinel+"\n"))
	res = b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, res.Failed)
	assert.Equal(t, []string{"2024-01-01T00:00:04Z           stdout: two"}, res.Lines)
}

func TestFileSourceIdleTimeout(t *testing.T) {
	b, _ := testBackend(t, newFakeAPI(), Config{LogIdleTimeout: 100 * time.Millisecond})
	af := newAppendFile(t)
	af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stdout", "no sentinel follows\n"))
	c := &Container{name: "x", logs: newFileSource(af.path, time.Millisecond)}
	start := time.Now()
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.True(t, res.Failed)
	require.Len(t, res.Lines, 2)
	assert.Contains(t, res.Lines[1], proxy.MsgLogCollectionIssue)
}

// A steady trickle without sentinels is cut by the overall timeout, not the idle one.
func TestCollectionOverallTimeout(t *testing.T) {
	af := newAppendFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	defer func() { cancel(); <-writerDone }() // the writer uses t: it ends before the test does
	go func() {
		defer close(writerDone)
		for i := 0; ctx.Err() == nil; i++ {
			af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stdout", fmt.Sprintf("tick %d\n", i)))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	col := newLogCollector(1<<20, pool.LogOptions{Sentinels: true})
	start := time.Now()
	end, cur := runCollection(context.Background(), newFileSource(af.path, time.Millisecond), logCursor{}, col,
		time.Second, 200*time.Millisecond, settling{})
	assert.Equal(t, endTimeout, end)
	assert.Less(t, time.Since(start), time.Second)
	assert.Greater(t, cur.Offset, int64(0))
	assert.NotEmpty(t, col.lines)
}

func TestFileSourceFramingError(t *testing.T) {
	b, _ := testBackend(t, newFakeAPI(), Config{})
	af := newAppendFile(t)
	af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stdout", "ok\n"))
	af.write("this is not a json-file line\n")
	c := &Container{name: "x", logs: newFileSource(af.path, time.Millisecond)}
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	assert.True(t, res.Failed)
	assert.Contains(t, res.Lines[len(res.Lines)-1], proxy.MsgLogCollectionIssue)
}

// Without sentinels (developer error) the log is read to its current end and the notice appended.
func TestFileSourceReadToEnd(t *testing.T) {
	b, _ := testBackend(t, newFakeAPI(), Config{LogIdleTimeout: 5 * time.Second})
	af := newAppendFile(t)
	af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stderr", "crash\n"))
	c := &Container{name: "x", logs: newFileSource(af.path, time.Millisecond)}
	start := time.Now()
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{DeveloperError: true})
	assert.Less(t, time.Since(start), time.Second, "does not wait")
	assert.False(t, res.Failed)
	require.Len(t, res.Lines, 2)
	assert.Equal(t, "2024-01-01T00:00:01Z           stderr: crash", res.Lines[0])
	assert.Contains(t, res.Lines[1], proxy.MsgLogsMissingDevError)
}

func TestLogsZeroLimitCollectsNothing(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{})
	c := &Container{name: "x", logs: apiSource{api: api, id: "x"}}
	res := b.Logs(context.Background(), c, 0, pool.LogOptions{Sentinels: true})
	assert.Equal(t, []string{}, res.Lines)
	assert.Equal(t, 0, api.callCount("logs"))
}

// stdcopyStream builds a multiplexed log stream as the daemon sends it.
type stdcopyStream struct {
	pr     *io.PipeReader
	pw     *io.PipeWriter
	stdout io.Writer
	stderr io.Writer
}

func newStdcopyStream() *stdcopyStream {
	pr, pw := io.Pipe()
	return &stdcopyStream{pr: pr, pw: pw, stdout: stdcopy.NewStdWriter(pw, stdcopy.Stdout), stderr: stdcopy.NewStdWriter(pw, stdcopy.Stderr)}
}

// followedAPILogs is a backend whose container's logs come from the API; each Logs call opens a new stream,
// handed to the test on streams to write into.
func followedAPILogs(t *testing.T) (*fakeAPI, *Backend, *Container, chan *stdcopyStream) {
	t.Helper()
	api := newFakeAPI()
	streams := make(chan *stdcopyStream, 2)
	api.onLogs = func(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
		s := newStdcopyStream()
		streams <- s
		go func() { <-ctx.Done(); s.pw.CloseWithError(ctx.Err()) }()
		return s.pr, nil
	}
	b, _ := testBackend(t, api, Config{})
	return api, b, &Container{name: "x", logs: apiSource{api: api, id: "cid"}, viaAPI: true}, streams
}

func TestAPISourceFollowAndCursor(t *testing.T) {
	api, b, c, streams := followedAPILogs(t)
	go func() {
		s := <-streams
		_, _ = io.WriteString(s.stdout, "2024-06-01T10:15:20.649123450Z hello ")
		_, _ = io.WriteString(s.stdout, "World\n") // one line split over two frames
		_, _ = io.WriteString(s.stderr, "2024-06-01T10:15:20.700000000Z warn\n")
		time.Sleep(30 * time.Millisecond)
		_, _ = io.WriteString(s.stdout, "2024-06-01T10:15:20.800000000Z "+sentinel+"\n")
		_, _ = io.WriteString(s.stderr, "2024-06-01T10:15:20.800000001Z "+sentinel+"\n")
	}()
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, res.Failed, "%v", res.Lines)
	assert.Equal(t, []string{
		"2024-06-01T10:15:20.64912345Z  stdout: hello World", // json-file time format: trailing zeros trimmed
		"2024-06-01T10:15:20.7Z         stderr: warn",
	}, res.Lines)

	go func() {
		s := <-streams
		_, _ = io.WriteString(s.stdout, "2024-06-01T10:15:21Z "+sentinel+"\n")
		_, _ = io.WriteString(s.stderr, "2024-06-01T10:15:21Z "+sentinel+"\n")
	}()
	res = b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, res.Failed)
	assert.Empty(t, res.Lines)

	require.Len(t, api.logsOpts, 2)
	first, second := api.logsOpts[0], api.logsOpts[1]
	assert.True(t, first.Follow && first.Timestamps && first.ShowStdout && first.ShowStderr)
	assert.Equal(t, "", first.Since)
	assert.Equal(t, "1717236920.800000002", second.Since, "one nanosecond after the last consumed line")
}

// The daemon stamps each stream's lines as it reads that stream's pipe, so the API (in file order) can deliver a
// stdout line stamped after the stderr sentinel that follows it. The next collection must start after the latest
// stamp consumed, not after the last line, or that stdout line would reappear in the next activation's logs.
func TestAPISourceCursorNeverMovesBack(t *testing.T) {
	api, b, c, streams := followedAPILogs(t)
	go func() {
		s := <-streams
		_, _ = io.WriteString(s.stdout, "2024-06-01T10:15:20.500000000Z log line 1\n")
		_, _ = io.WriteString(s.stdout, "2024-06-01T10:15:20.600000000Z "+sentinel+"\n")
		_, _ = io.WriteString(s.stderr, "2024-06-01T10:15:20.400000000Z "+sentinel+"\n") // stamped earlier, read later
	}()
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, res.Failed, "%v", res.Lines)
	require.Len(t, res.Lines, 1)
	go func() {
		s := <-streams
		_, _ = io.WriteString(s.stdout, "2024-06-01T10:15:21Z "+sentinel+"\n")
		_, _ = io.WriteString(s.stderr, "2024-06-01T10:15:21Z "+sentinel+"\n")
	}()
	res = b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, res.Failed)
	require.Len(t, api.logsOpts, 2)
	assert.Equal(t, "1717236920.600000001", api.logsOpts[1].Since, "after the latest stamp consumed, not the last line's")
}

func TestAPISourceNotFollowing(t *testing.T) {
	api := newFakeAPI()
	var buf strings.Builder
	w := stdcopy.NewStdWriter(&buf, stdcopy.Stderr)
	_, _ = io.WriteString(w, "2024-06-01T10:15:20Z boom\n")
	api.onLogs = func(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(buf.String())), nil
	}
	b, _ := testBackend(t, api, Config{})
	c := &Container{name: "x", logs: apiSource{api: api, id: "cid"}, viaAPI: true}
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{})
	assert.False(t, api.logsOpts[0].Follow, "a runtime without sentinels: read what is there, as OpenWhisk does")
	assert.Equal(t, []string{"2024-06-01T10:15:20Z           stderr: boom"}, res.Lines, "and append nothing")
	assert.False(t, res.Failed)
}

// The race behind a developer-error record without the action's own lines: the engine copies a
// container's output into its log asynchronously, so what the action printed just before /run answered
// can reach the log after collection started. A developer error used to read the log to its current end
// and stop. Now it follows: to the sentinels when the runtime writes them, else until the log is quiet.
func TestDeveloperErrorLogsWaitForLinesStillOnTheirWay(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      pool.LogOptions
		sentinels bool
	}{
		{"sentinelled runtime", pool.LogOptions{Sentinels: true, DeveloperError: true}, true},
		{"no sentinels (an /init failure)", pool.LogOptions{DeveloperError: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := testBackend(t, newFakeAPI(), Config{LogIdleTimeout: 5 * time.Second, LogQuietPeriod: 300 * time.Millisecond})
			af := newAppendFile(t)
			c := &Container{name: "x", logs: newFileSource(af.path, time.Millisecond)}
			go func() {
				time.Sleep(100 * time.Millisecond) // the daemon's copy lags behind /run's answer
				af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stdout", "last words\n"))
				af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stderr", "stack trace\n"))
				if tc.sentinels {
					time.Sleep(100 * time.Millisecond)
					af.write(jsonLine(t, "2024-01-01T00:00:02Z", "stdout", sentinel+"\n"))
					af.write(jsonLine(t, "2024-01-01T00:00:02Z", "stderr", sentinel+"\n"))
				}
			}()
			res := b.Logs(context.Background(), c, 1<<20, tc.opts)
			require.Len(t, res.Lines, 3, "%q", res.Lines)
			assert.Equal(t, "2024-01-01T00:00:01Z           stdout: last words", res.Lines[0])
			assert.Equal(t, "2024-01-01T00:00:01Z           stderr: stack trace", res.Lines[1])
			assert.Contains(t, res.Lines[2], proxy.MsgLogsMissingDevError, "OpenWhisk's notice is still appended")
			assert.False(t, res.Failed)
		})
	}
}

// A sentinelled runtime that died without writing sentinels: collection ends once the container has
// stopped and its log is read, not after the idle timeout.
func TestDeveloperErrorLogsEndWhenTheContainerStopped(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{LogIdleTimeout: 10 * time.Second, LogQuietPeriod: 50 * time.Millisecond})
	af := newAppendFile(t)
	af.write(jsonLine(t, "2024-01-01T00:00:01Z", "stderr", "segfault\n"))
	c := &Container{id: "gone", name: "x", logs: newFileSource(af.path, time.Millisecond)}
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true, DeveloperError: true})
	require.Len(t, res.Lines, 2, "%q", res.Lines)
	assert.Equal(t, "2024-01-01T00:00:01Z           stderr: segfault", res.Lines[0])
	assert.NotZero(t, api.callCount("inspect"), "asked the engine whether the container still runs")
}

func TestAPISourceStreamClosedEarlyFails(t *testing.T) {
	api := newFakeAPI()
	api.onLogs = func(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
		return nil, fmt.Errorf("daemon gone")
	}
	b, _ := testBackend(t, api, Config{})
	c := &Container{name: "x", logs: apiSource{api: api, id: "cid"}, viaAPI: true}
	res := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	assert.True(t, res.Failed)
	assert.Contains(t, res.Lines[0], proxy.MsgLogCollectionIssue)
}
