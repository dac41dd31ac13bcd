package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/metrics"
)

// fakeSwitch is a hand-written Switch with call counters, an injectable error and an optional gate that
// holds Enable until released (for the graceful-shutdown test).
type fakeSwitch struct {
	mu       sync.Mutex
	enabled  bool
	name     string
	err      error
	enables  int
	disables int
	gate     chan struct{} // when non-nil, Enable waits for it to close
	entered  chan struct{} // when non-nil, Enable signals it has started
	lastCtx  context.Context
}

func (f *fakeSwitch) Enable(ctx context.Context) (bool, error) {
	if f.entered != nil {
		close(f.entered)
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enables++
	f.lastCtx = ctx
	if f.err != nil {
		return false, f.err
	}
	was := f.enabled
	f.enabled = true
	return !was, nil
}

func (f *fakeSwitch) Disable(ctx context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disables++
	f.lastCtx = ctx
	if f.err != nil {
		return false, f.err
	}
	was := f.enabled
	f.enabled = false
	return was, nil
}

func (f *fakeSwitch) Enabled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.enabled
}

func (f *fakeSwitch) Name() string { return f.name }

func newTestServer(t *testing.T, sw *fakeSwitch, reg *metrics.Registry, cfg Config) *Server {
	t.Helper()
	return New(cfg, sw, reg, zerolog.Nop())
}

type call struct {
	method, path string
	user, pass   string // user "" = no Authorization header
	requestID    string
}

func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, nil)
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if c.requestID != "" {
		req.Header.Set(HeaderRequestID, c.requestID)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var tidRE = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

func TestEndpoints(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.Counter("nemo_test_total", "A test counter.", "kind").With("x").Add(3)
	const u, p = "invoker.user", "invoker.pass"

	cases := []struct {
		name        string
		enabled     bool
		call        call
		status      int
		contentType string
		body        string // exact; "" with bodyContains
		contains    string
		enables     int
		disables    int
	}{
		{name: "GET /ping", call: call{method: "GET", path: "/ping"}, status: 200, contentType: "text/plain; charset=UTF-8", body: "pong"},
		{name: "GET /ping with credentials", call: call{method: "GET", path: "/ping", user: u, pass: p}, status: 200, body: "pong"},
		{name: "GET /ping with bad credentials is still open", call: call{method: "GET", path: "/ping", user: "x", pass: "y"}, status: 200, body: "pong"},
		{name: "POST /ping without credentials", call: call{method: "POST", path: "/ping"}, status: 401, contains: MsgCredentialsMissing},
		{name: "POST /ping with credentials", call: call{method: "POST", path: "/ping", user: u, pass: p}, status: 405, contains: "supported methods: GET, HEAD"},
		{name: "GET /metrics", call: call{method: "GET", path: "/metrics"}, status: 200, contentType: ContentTypeMetrics, contains: `nemo_test_total{kind="x"} 3`},
		{name: "POST /metrics with credentials", call: call{method: "POST", path: "/metrics", user: u, pass: p}, status: 405},
		{name: "POST /enable when disabled", call: call{method: "POST", path: "/enable", user: u, pass: p}, status: 200,
			contentType: "text/plain; charset=UTF-8", body: "invoker0 is now enabled.", enables: 1},
		{name: "POST /enable when enabled", enabled: true, call: call{method: "POST", path: "/enable", user: u, pass: p}, status: 200,
			body: "invoker0 is already enabled.", enables: 1},
		{name: "POST /disable when enabled", enabled: true, call: call{method: "POST", path: "/disable", user: u, pass: p}, status: 200,
			body: "invoker0 is now disabled.", disables: 1},
		{name: "POST /disable when disabled", call: call{method: "POST", path: "/disable", user: u, pass: p}, status: 200,
			body: "invoker0 is already disabled.", disables: 1},
		{name: "POST /enable without credentials", call: call{method: "POST", path: "/enable"}, status: 401, contains: MsgCredentialsMissing},
		{name: "POST /enable wrong password", call: call{method: "POST", path: "/enable", user: u, pass: "nope"}, status: 401, contains: MsgCredentialsInvalid},
		{name: "POST /enable wrong user", call: call{method: "POST", path: "/enable", user: "root", pass: p}, status: 401, contains: MsgCredentialsInvalid},
		{name: "POST /disable without credentials", call: call{method: "POST", path: "/disable"}, status: 401, contains: MsgCredentialsMissing},
		{name: "GET /enable with credentials", call: call{method: "GET", path: "/enable", user: u, pass: p}, status: 405, contains: "supported methods: POST"},
		{name: "GET /isEnabled true", enabled: true, call: call{method: "GET", path: "/isEnabled", user: u, pass: p}, status: 200,
			contentType: "application/json", body: `{"enabled":true}`},
		{name: "GET /isEnabled false", call: call{method: "GET", path: "/isEnabled", user: u, pass: p}, status: 200, body: `{"enabled":false}`},
		{name: "GET /isEnabled without credentials", call: call{method: "GET", path: "/isEnabled"}, status: 401, contains: MsgCredentialsMissing},
		{name: "POST /isEnabled", call: call{method: "POST", path: "/isEnabled", user: u, pass: p}, status: 405},
		{name: "unknown path without credentials", call: call{method: "GET", path: "/invokers"}, status: 401, contentType: "application/json", contains: MsgCredentialsMissing},
		{name: "unknown path bad credentials", call: call{method: "GET", path: "/invokers", user: u, pass: "x"}, status: 401, contains: MsgCredentialsInvalid},
		{name: "unknown path valid credentials", call: call{method: "GET", path: "/invokers", user: u, pass: p}, status: 404, contentType: "application/json", contains: MsgNotFound},
		{name: "trailing slash is another path", call: call{method: "GET", path: "/ping/", user: u, pass: p}, status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sw := &fakeSwitch{name: "invoker0", enabled: tc.enabled}
			rec := do(t, newTestServer(t, sw, reg, Config{}), tc.call)
			assert.Equal(t, tc.status, rec.Code)
			if tc.contentType != "" {
				assert.Equal(t, tc.contentType, rec.Header().Get("Content-Type"))
			}
			if tc.body != "" {
				assert.Equal(t, tc.body, rec.Body.String())
			}
			if tc.contains != "" {
				assert.Contains(t, rec.Body.String(), tc.contains)
			}
			assert.Equal(t, tc.enables, sw.enables, "Enable calls")
			assert.Equal(t, tc.disables, sw.disables, "Disable calls")
			tid := rec.Header().Get(HeaderRequestID)
			assert.Regexp(t, tidRE, tid, "every response carries a generated X-Request-ID")
			if rec.Code >= 400 {
				var e struct{ Error, Code string }
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), "error bodies are JSON: %s", rec.Body)
				assert.NotEmpty(t, e.Error)
				assert.Equal(t, tid, e.Code, "code is the request's transid")
			}
			if rec.Code == 401 {
				assert.Equal(t, `Basic realm="invoker"`, rec.Header().Get("WWW-Authenticate"))
			}
			if rec.Code == 405 {
				assert.NotEmpty(t, rec.Header().Get("Allow"))
			}
		})
	}
}

func TestEnabledStateFollowsSwitch(t *testing.T) {
	sw := &fakeSwitch{name: "invoker3/edge"}
	s := newTestServer(t, sw, nil, Config{})
	auth := call{user: "invoker.user", pass: "invoker.pass"}
	step := func(method, path, want string) {
		c := auth
		c.method, c.path = method, path
		rec := do(t, s, c)
		require.Equal(t, 200, rec.Code)
		assert.Equal(t, want, rec.Body.String())
	}
	step("POST", "/enable", "invoker3/edge is now enabled.")
	step("GET", "/isEnabled", `{"enabled":true}`)
	step("POST", "/enable", "invoker3/edge is already enabled.")
	step("POST", "/disable", "invoker3/edge is now disabled.")
	step("GET", "/isEnabled", `{"enabled":false}`)
	step("POST", "/disable", "invoker3/edge is already disabled.")
}

func TestSwitchErrorAndDeadline(t *testing.T) {
	sw := &fakeSwitch{name: "invoker0", err: errors.New("kafka down")}
	s := newTestServer(t, sw, nil, Config{SwitchTimeout: 3 * time.Second})
	rec := do(t, s, call{method: "POST", path: "/enable", user: "invoker.user", pass: "invoker.pass"})
	assert.Equal(t, 500, rec.Code)
	assert.Contains(t, rec.Body.String(), "invoker0 could not be enabled: kafka down")
	dl, ok := sw.lastCtx.Deadline()
	require.True(t, ok, "Enable gets a bounded context")
	assert.WithinDuration(t, time.Now().Add(3*time.Second), dl, 2*time.Second)

	rec = do(t, s, call{method: "POST", path: "/disable", user: "invoker.user", pass: "invoker.pass"})
	assert.Equal(t, 500, rec.Code)
	assert.Contains(t, rec.Body.String(), "could not be disabled")
}

func TestCustomCredentials(t *testing.T) {
	sw := &fakeSwitch{name: "invoker0"}
	s := newTestServer(t, sw, nil, Config{Username: "ops", Password: "s3cret"})
	assert.Equal(t, 401, do(t, s, call{method: "POST", path: "/enable", user: "invoker.user", pass: "invoker.pass"}).Code,
		"defaults no longer work")
	assert.Equal(t, 200, do(t, s, call{method: "POST", path: "/enable", user: "ops", pass: "s3cret"}).Code)
	assert.Equal(t, 401, do(t, s, call{method: "POST", path: "/enable", user: "ops", pass: "s3cret "}).Code)
}

func TestMetricsWithoutRegistry(t *testing.T) {
	s := newTestServer(t, &fakeSwitch{name: "invoker0"}, nil, Config{})
	assert.Equal(t, 401, do(t, s, call{method: "GET", path: "/metrics"}).Code, "2022+ behaviour: falls through to the credentials block")
	assert.Equal(t, 404, do(t, s, call{method: "GET", path: "/metrics", user: "invoker.user", pass: "invoker.pass"}).Code)
}

func TestRequestID(t *testing.T) {
	s := newTestServer(t, &fakeSwitch{name: "invoker0"}, nil, Config{})
	t.Run("incoming id is echoed", func(t *testing.T) {
		rec := do(t, s, call{method: "GET", path: "/ping", requestID: "sid_invokerHealth"})
		assert.Equal(t, "sid_invokerHealth", rec.Header().Get(HeaderRequestID))
	})
	t.Run("incoming id is the error code", func(t *testing.T) {
		rec := do(t, s, call{method: "GET", path: "/nowhere", requestID: "k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s"})
		assert.Equal(t, "k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s", rec.Header().Get(HeaderRequestID))
		assert.JSONEq(t, `{"error":"`+MsgCredentialsMissing+`","code":"k3Mx7QpZ2bN9aLr4Vt8WcY1dEf6GhJ0s"}`, rec.Body.String())
	})
	t.Run("unusable incoming ids are replaced", func(t *testing.T) {
		for _, bad := range []string{strings.Repeat("a", 129), "has space", "tab\tid", "ünïcode"} {
			rec := do(t, s, call{method: "GET", path: "/ping", requestID: bad})
			assert.Regexp(t, tidRE, rec.Header().Get(HeaderRequestID), "%q", bad)
		}
	})
	t.Run("generated ids differ", func(t *testing.T) {
		seen := map[string]bool{}
		for range 200 {
			id := NewTransID()
			require.Regexp(t, tidRE, id)
			require.False(t, seen[id], "duplicate id %s", id)
			seen[id] = true
		}
	})
}

// TestOverTCP runs the real server: HEAD /ping (the devtools health probe), keep-alive, graceful shutdown.
func TestOverTCP(t *testing.T) {
	sw := &fakeSwitch{name: "invoker0", gate: make(chan struct{}), entered: make(chan struct{})}
	s := newTestServer(t, sw, metrics.NewRegistry(), Config{ShutdownTimeout: 5 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	// HEAD /ping: 200, no body, Content-Length 4, X-Request-ID (curl --head --fail).
	resp, err := http.Head(base + "/ping")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, int64(4), resp.ContentLength)
	assert.Regexp(t, tidRE, resp.Header.Get(HeaderRequestID))

	resp, err = http.Get(base + "/ping")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "pong", string(body))

	// An /enable in flight when ctx is cancelled still completes.
	req, err := http.NewRequest("POST", base+"/enable", nil)
	require.NoError(t, err)
	req.SetBasicAuth("invoker.user", "invoker.pass")
	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-sw.entered
	cancel()
	// New connections are refused once shutdown has begun; wait for that before releasing the request.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}, 5*time.Second, 10*time.Millisecond)
	close(sw.gate)
	r := <-inflight
	require.NoError(t, r.err)
	assert.Equal(t, 200, r.code)
	assert.Equal(t, "invoker0 is now enabled.", r.body)
	require.NoError(t, <-served)
}

func TestListenAndServeErrors(t *testing.T) {
	s := newTestServer(t, &fakeSwitch{name: "invoker0"}, nil, Config{})
	err := s.ListenAndServe(context.Background(), "127.0.0.1:notaport")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server: listen 127.0.0.1:notaport")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln.Close() // a dead listener: Serve reports it at once
	err = s.Serve(context.Background(), ln)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server: serve")
}

func TestListenAndServeStopsOnCancel(t *testing.T) {
	s := newTestServer(t, &fakeSwitch{name: "invoker0"}, nil, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, addr) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	assert.Equal(t, "invoker.user", c.Username)
	assert.Equal(t, "invoker.pass", c.Password)
	assert.Equal(t, 5*time.Second, c.ReadHeaderTimeout)
	assert.Equal(t, 10*time.Second, c.ReadTimeout)
	assert.Equal(t, 30*time.Second, c.WriteTimeout)
	assert.Equal(t, 60*time.Second, c.IdleTimeout)
	c = Config{Username: "u"}.withDefaults()
	assert.Equal(t, "u", c.Username)
	assert.Equal(t, "", c.Password, "an explicit user keeps an empty password")
}

// With ProtectMetrics, /metrics wants the same credentials as /enable; /ping stays open.
func TestProtectedMetrics(t *testing.T) {
	s := newTestServer(t, &fakeSwitch{name: "invoker0"}, metrics.NewRegistry(), Config{ProtectMetrics: true})
	assert.Equal(t, 401, do(t, s, call{method: "GET", path: "/metrics"}).Code)
	assert.Equal(t, 401, do(t, s, call{method: "GET", path: "/metrics", user: "invoker.user", pass: "wrong"}).Code)
	assert.Equal(t, 200, do(t, s, call{method: "GET", path: "/metrics", user: "invoker.user", pass: "invoker.pass"}).Code)
	assert.Equal(t, 200, do(t, s, call{method: "GET", path: "/ping"}).Code)
	open := newTestServer(t, &fakeSwitch{name: "invoker0"}, metrics.NewRegistry(), Config{})
	assert.Equal(t, 200, do(t, open, call{method: "GET", path: "/metrics"}).Code, "open unless configured")
}

// At most MaxConnections connections are served at once: the next one waits until one closes, and a
// shutdown is not held up by the wait.
func TestConnectionsAreCapped(t *testing.T) {
	s := newTestServer(t, &fakeSwitch{name: "invoker0"}, metrics.NewRegistry(), Config{MaxConnections: 2, ShutdownTimeout: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	addr := ln.Addr().String()

	// Two clients that hold their connections open (keep-alive after one request each).
	var holders []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = io.WriteString(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		buf := make([]byte, 512)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, err := c.Read(buf)
		require.NoError(t, err)
		require.Contains(t, string(buf[:n]), "200 OK")
		holders = append(holders, c)
	}
	third := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/ping")
		if err == nil {
			resp.Body.Close()
		}
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("a third connection was served while two were open (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	holders[0].Close()
	require.NoError(t, <-third, "served once a slot freed")

	cancel()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	holders[1].Close()
}
