package docker

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingServer is an HTTP server that counts the connections it accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func addrOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func TestProxyClientKeepsOneConnectionAcrossExchanges(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.Equal(t, "/run", r.URL.Path)
		_, _ = w.Write(append([]byte(`{"echo":`), append(body, '}')...))
	})
	pc := newProxyClient(addrOf(srv), 1)
	for i := range 5 {
		r := pc.post(context.Background(), "/run", []byte(`{"i":1}`), 1<<20, 1<<10)
		require.NoError(t, r.Err, "exchange %d", i)
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, `{"echo":{"i":1}}`, string(r.Body))
		require.EqualValues(t, len(r.Body), r.Length)
	}
	assert.EqualValues(t, 1, conns.Load(), "five exchanges on one keep-alive connection")
}

func TestProxyClientKeepsAsManyIdleConnectionsAsTheContainerRunsAtOnce(t *testing.T) {
	release := make(chan struct{})
	var inside sync.WaitGroup
	inside.Add(3)
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Wait") == "" {
			inside.Done()
			<-release
		}
		_, _ = w.Write([]byte(`{}`))
	})
	pc := newProxyClient(addrOf(srv), 2)
	var done sync.WaitGroup
	for range 3 {
		done.Add(1)
		go func() {
			defer done.Done()
			r := pc.post(context.Background(), "/run", []byte(`{}`), 1<<20, 1<<10)
			assert.NoError(t, r.Err)
		}()
	}
	inside.Wait()
	close(release)
	done.Wait()
	assert.EqualValues(t, 3, conns.Load(), "three exchanges at once need three connections")
	pc.mu.Lock()
	assert.Len(t, pc.idle, 2, "idle connections are capped at the container's concurrency")
	pc.mu.Unlock()
}

// rawServer answers each connection's requests with the canned responses of answer, in order, then
// closes the connection when answer returns close=true.
func rawServer(t *testing.T, answer func(conn int, req int) (resp string, closeAfter bool)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(conns.Add(1))
			go func() {
				defer func() { _ = c.Close() }()
				buf := make([]byte, 64<<10)
				for req := 1; ; req++ {
					if _, err := c.Read(buf); err != nil { // the tests' requests fit one read
						return
					}
					resp, closeAfter := answer(n, req)
					_, _ = c.Write([]byte(resp))
					if closeAfter {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &conns
}

func TestProxyClientDoesNotReuseAConnectionTheProxyClosed(t *testing.T) {
	addr, conns := rawServer(t, func(int, int) (string, bool) {
		// Keep-alive by the headers, yet the proxy closes right after (as an idle timeout would).
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", true
	})
	pc := newProxyClient(addr, 1)
	require.NoError(t, pc.post(context.Background(), "/run", []byte(`{}`), 1<<20, 1<<10).Err)
	require.Eventually(t, func() bool {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		return len(pc.idle) == 1 && !peerOpen(pc.idle[0].c)
	}, 2*time.Second, 5*time.Millisecond, "the idle connection is seen closed by the peer")
	r := pc.post(context.Background(), "/run", []byte(`{}`), 1<<20, 1<<10)
	require.NoError(t, r.Err, "the second exchange goes over a fresh connection, not the closed one")
	assert.EqualValues(t, 2, conns.Load())
}

func TestProxyClientHonoursConnectionClose(t *testing.T) {
	addr, conns := rawServer(t, func(int, int) (string, bool) {
		return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", false
	})
	pc := newProxyClient(addr, 1)
	for range 2 {
		require.NoError(t, pc.post(context.Background(), "/run", []byte(`{}`), 1<<20, 1<<10).Err)
	}
	assert.EqualValues(t, 2, conns.Load(), "a response with Connection: close ends its connection")
}

func TestProxyClientReadsChunkedBodiesAndReusesTheConnection(t *testing.T) {
	addr, conns := rawServer(t, func(int, int) (string, bool) {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n", false
	})
	pc := newProxyClient(addr, 1)
	for range 2 {
		r := pc.post(context.Background(), "/run", []byte(`{}`), 1<<20, 1<<10)
		require.NoError(t, r.Err)
		require.Equal(t, `{"a":1}`, string(r.Body))
	}
	assert.EqualValues(t, 1, conns.Load())
}

func TestProxyClientTruncatesLargeBodies(t *testing.T) {
	for _, tc := range []struct {
		name, resp string
		conns      int32
	}{
		// An unread body leaves its connection unusable.
		{"known length: head kept, connection dropped", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 2},
		{"chunked: rest counted, connection kept", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, conns := rawServer(t, func(int, int) (string, bool) { return tc.resp, false })
			pc := newProxyClient(addr, 1)
			for range 2 {
				r := pc.post(context.Background(), "/run", []byte(`{}`), 8, 4)
				require.NoError(t, r.Err)
				assert.True(t, r.Truncated)
				assert.Equal(t, "0123", string(r.Body))
				assert.EqualValues(t, 10, r.Length)
			}
			assert.Equal(t, tc.conns, conns.Load())
		})
	}
}

func TestProxyClientReportsAProxyThatHangsUp(t *testing.T) {
	addr, _ := rawServer(t, func(int, int) (string, bool) { return "", true })
	pc := newProxyClient(addr, 1)
	r := pc.post(context.Background(), "/run", []byte(`{}`), 1<<20, 1<<10)
	require.ErrorIs(t, r.Err, errProxyClosedConn)
	assert.Zero(t, r.Status)
	assert.True(t, r.noResponse())
}

func TestProxyClientStopsAtTheContextsEnd(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	addr, _ := rawServer(t, func(int, int) (string, bool) { <-block; return "", true })
	pc := newProxyClient(addr, 1)

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		r := pc.post(ctx, "/run", []byte(`{}`), 1<<20, 1<<10)
		require.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		r := pc.post(ctx, "/run", []byte(`{}`), 1<<20, 1<<10)
		require.ErrorIs(t, r.Err, context.Canceled)
		assert.False(t, retryableInit(r), "a cancelled exchange is not retried as a proxy still starting")
	})
	pc.mu.Lock()
	assert.Empty(t, pc.idle, "an interrupted connection is not kept")
	pc.mu.Unlock()
}

func TestProxyClientRefusedConnectionIsReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	r := newProxyClient(addr, 1).post(context.Background(), "/init", []byte(`{}`), 1<<20, 1<<10)
	require.Error(t, r.Err)
	assert.True(t, errors.Is(r.Err, syscall.ECONNREFUSED), "got %v", r.Err)
	assert.True(t, retryableInit(r), "nothing listening yet: /init retries")
}
