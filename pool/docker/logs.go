package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// logEntry is one log line of a container, from either source.
type logEntry struct {
	Time   string // Docker's RFC3339Nano time as the json-file stores it
	Stream string // "stdout" | "stderr"
	Msg    string // the line, normally with its trailing "\n"
	Weight int64  // bytes counted against the log limit: the json-file line plus its newline
	Next   logCursor
}

// logCursor is where the next collection starts: a json-file byte offset, or the time after the last line
// read through the API.
type logCursor struct {
	Offset int64
	Since  time.Time
}

// logCollector decides what an activation's log looks like; it does no I/O. Feed it entries with add, then
// call finish.
type logCollector struct {
	limit     int64
	wait      bool // the runtime writes sentinels: wait for them
	devError  bool // the activation failed as a developer error (see pool.LogOptions)
	used      int64
	sentinels map[string]bool
	lines     []string
	truncated bool
}

func newLogCollector(limitBytes int64, opts pool.LogOptions) *logCollector {
	return &logCollector{limit: limitBytes, wait: opts.Sentinels, devError: opts.DeveloperError, sentinels: map[string]bool{}}
}

// follows reports whether collection waits for lines still on their way (the sentinels, or a developer
// error's last lines) rather than stopping at the current end of the log.
func (c *logCollector) follows() bool { return c.wait || c.devError }

// add consumes one entry and reports whether collection is complete (a sentinel seen on both streams).
// Sentinel lines are dropped and not weighed. Once the limit is exceeded no further line is kept, but entries
// are still consumed up to the sentinels so the next activation starts at its own lines (after a developer
// error the container is destroyed, so collection ends there).
func (c *logCollector) add(e logEntry) (done bool) {
	if strings.Contains(e.Msg, proxy.LogSentinel) {
		c.sentinels[e.Stream] = true
		return c.sentinels["stdout"] && c.sentinels["stderr"]
	}
	if c.truncated {
		return c.devError
	}
	c.used += e.Weight
	if c.used > c.limit {
		c.truncated = true
		return c.devError
	}
	c.lines = append(c.lines, proxy.FormatLogLine(e.Time, e.Stream, e.Msg))
	return false
}

// collectEnd says why collection stopped.
type collectEnd int

const (
	endSentinels collectEnd = iota // both sentinels seen
	endOfData                      // no more data (not waiting for sentinels, or the stream closed)
	endIdle                        // no line for the idle timeout
	endTimeout                     // overall timeout
	endError                       // framing or read error
	endSettled                     // quiet, and nothing more can come (developer error)
)

// finish builds the result, appending OpenWhisk's invoker lines stamped now: the truncation notice, then
// for a developer error the notice that data might be missing, and for a sentinelled run whose sentinels
// did not arrive the collection issue (the container is then destroyed: its log position is unknown).
func (c *logCollector) finish(end collectEnd, now time.Time) pool.LogResult {
	res := pool.LogResult{Lines: c.lines, Truncated: c.truncated}
	if c.truncated {
		res.Lines = append(res.Lines, proxy.InvokerLogLine(now, proxy.MsgLogsTruncated(c.limit)))
	}
	switch {
	case c.devError:
		res.Lines = append(res.Lines, proxy.InvokerLogLine(now, proxy.MsgLogsMissingDevError))
	case c.wait && end != endSentinels:
		res.Failed = true
		res.Lines = append(res.Lines, proxy.InvokerLogLine(now, proxy.MsgLogCollectionIssue))
	}
	if res.Lines == nil {
		res.Lines = []string{}
	}
	return res
}

// overallLogTimeout is OpenWhisk's waitForLogs: max(limit MB, 5) * 2 s.
func overallLogTimeout(limitBytes int64) time.Duration {
	mb := limitBytes >> 20
	if mb < 5 {
		mb = 5
	}
	return time.Duration(mb) * 2 * time.Second
}

// entrySource collects a container's log from a cursor into col: until the sentinels (col.add reports
// done), the end of data (col.follows() false), idle or overall without a line, settle, an error, or the end
// of ctx (a timeout). It returns why it stopped and the cursor after the last consumed entry.
type entrySource interface {
	collect(ctx context.Context, from logCursor, col *logCollector, idle, overall time.Duration, settle settling) (collectEnd, logCursor)
}

// streamSource produces log entries on a channel from a cursor. follow=false stops at the current end of
// the log; the channel closes at the end of data, on error (err then set) or when ctx ends.
type streamSource interface {
	entries(ctx context.Context, from logCursor, follow bool) (<-chan logEntry, func() error)
}

// settling ends a followed collection early: after quiet without a new line, settled is asked whether more
// can come (a stopped container's log is complete: the engine flushes it before reporting the stop). A zero
// settling never ends early.
type settling struct {
	quiet   time.Duration
	settled func() bool
}

// runCollection feeds entries from src into col until done, end of data, idle or overall timeout, or
// settled. It returns why it stopped and the cursor after the last consumed entry.
func runCollection(ctx context.Context, src entrySource, from logCursor, col *logCollector, idle, overall time.Duration,
	settle settling) (collectEnd, logCursor) {
	return src.collect(ctx, from, col, idle, overall, settle)
}

// collectStream is runCollection over a stream of entries.
func collectStream(ctx context.Context, src streamSource, from logCursor, col *logCollector, idle, overall time.Duration,
	settle settling) (collectEnd, logCursor) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, errf := src.entries(ctx, from, col.follows())
	cur := from
	overallT := time.NewTimer(overall)
	defer overallT.Stop()
	idleT := time.NewTimer(idle)
	defer idleT.Stop()
	var quiet <-chan time.Time
	var quietT *time.Timer
	if settle.quiet > 0 && settle.settled != nil {
		quietT = time.NewTimer(settle.quiet)
		defer quietT.Stop()
		quiet = quietT.C
	}
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				if errf() != nil {
					return endError, cur
				}
				return endOfData, cur
			}
			// A time cursor never moves back: the daemon stamps stdout and stderr lines as it reads each pipe,
			// so file order can put an earlier stamp after a later one, and resuming from the last line's stamp
			// would deliver the later line to the next activation again.
			if e.Next.Since.IsZero() || !e.Next.Since.Before(cur.Since) {
				cur = e.Next
			}
			if col.add(e) {
				return endSentinels, cur
			}
			idleT.Reset(idle) // go ≥ 1.23 timers: Reset drops a pending expiry
			if quietT != nil {
				quietT.Reset(settle.quiet)
			}
		case <-quiet:
			if settle.settled() {
				return endSettled, cur
			}
			quietT.Reset(settle.quiet)
		case <-idleT.C:
			return endIdle, cur
		case <-overallT.C:
			return endTimeout, cur
		case <-ctx.Done():
			return endTimeout, cur
		}
	}
}

// logsAPI is the part of API the API source needs.
type logsAPI interface {
	ContainerLogs(ctx context.Context, id string, options container.LogsOptions) (io.ReadCloser, error)
}

// apiSource follows GET /containers/{id}/logs?timestamps=1 from a time cursor, demultiplexing the stdcopy
// frames itself so lines keep the daemon's order across both streams.
type apiSource struct {
	api logsAPI
	id  string
}

func (s apiSource) collect(ctx context.Context, from logCursor, col *logCollector, idle, overall time.Duration,
	settle settling) (collectEnd, logCursor) {
	return collectStream(ctx, s, from, col, idle, overall, settle)
}

func (s apiSource) entries(ctx context.Context, from logCursor, follow bool) (<-chan logEntry, func() error) {
	ch := make(chan logEntry)
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		err = s.read(ctx, from, follow, ch)
	}()
	return ch, func() error { <-done; return err }
}

func (s apiSource) read(ctx context.Context, from logCursor, follow bool, ch chan<- logEntry) error {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: follow}
	if !from.Since.IsZero() {
		opts.Since = strconv.FormatInt(from.Since.Unix(), 10) + "." + fmt.Sprintf("%09d", from.Since.Nanosecond())
	}
	rc, err := s.api.ContainerLogs(ctx, s.id, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	go func() { <-ctx.Done(); rc.Close() }() // unblock a follow read when collection ends
	br := bufio.NewReaderSize(rc, 64<<10)
	pending := map[byte][]byte{} // partial messages (a long line split by the daemon) per stream
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("docker: log stream header: %w", err)
		}
		stream := hdr[0]
		n := binary.BigEndian.Uint32(hdr[4:])
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("docker: log stream frame: %w", err)
		}
		if stream != 1 && stream != 2 {
			return fmt.Errorf("docker: log stream: unexpected stream %d (is the container a TTY?)", stream)
		}
		msg := append(pending[stream], payload...)
		if !bytes.HasSuffix(msg, []byte("\n")) {
			pending[stream] = msg
			continue
		}
		delete(pending, stream)
		e, t, err := parseTimestamped(msg, stream)
		if err != nil {
			return err
		}
		e.Next = logCursor{Since: t.Add(time.Nanosecond)}
		select {
		case ch <- e:
		case <-ctx.Done():
			return nil
		}
	}
}

// parseTimestamped splits "<RFC3339Nano> <message>" and renders the time as the json-file does (UTC,
// trailing zeros trimmed), weighing the entry as its json-file line would be.
func parseTimestamped(msg []byte, stream byte) (logEntry, time.Time, error) {
	sp := bytes.IndexByte(msg, ' ')
	if sp < 0 {
		return logEntry{}, time.Time{}, fmt.Errorf("docker: log line without timestamp: %.60q", msg)
	}
	t, err := time.Parse(time.RFC3339Nano, string(msg[:sp]))
	if err != nil {
		return logEntry{}, time.Time{}, fmt.Errorf("docker: log timestamp: %w", err)
	}
	e := logEntry{Time: t.UTC().Format(time.RFC3339Nano), Stream: "stdout", Msg: string(msg[sp+1:])}
	if stream == 2 {
		e.Stream = "stderr"
	}
	if b, err := json.Marshal(proxy.DockerLogLine{Log: e.Msg, Stream: e.Stream, Time: e.Time}); err == nil {
		e.Weight = int64(len(b)) + 1
	}
	return e, t, nil
}
