package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testCID = "c0ffee0000000000000000000000000000000000000000000000000000000001"

// testBackend is a Backend on the fake API with a v1 cgroup tree in a temp dir.
func testBackend(t *testing.T, api *fakeAPI, cfg Config) (*Backend, string) {
	t.Helper()
	root := t.TempDir()
	cfg.CgroupRoot = root
	if cfg.InitRetryInterval == 0 {
		cfg.InitRetryInterval = 10 * time.Millisecond
	}
	b := New(api, cfg, zerolog.Nop())
	b.freezer = newFreezer(root, false)
	return b, root
}

// containerAt is a Container whose proxy is at url (an httptest server).
func containerAt(url string) *Container {
	addr := strings.TrimPrefix(url, "http://")
	return &Container{id: testCID, name: "wsk0_1_guest_hello", addr: addr, http: newProxyClient(addr, 1)}
}

func respond(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func chunked(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		for i := 0; i < len(body); i += 10 {
			_, _ = io.WriteString(w, body[i:min(i+10, len(body))])
			w.(http.Flusher).Flush()
		}
	}
}

// hang never answers. It reads the body first: only then does the server notice the client going away.
func hang(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(20 * time.Second):
	}
}

func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func intPtr(n int) *int { return &n }

func resultJSON(t *testing.T, r proxy.Response) string {
	t.Helper()
	if r.Result == nil {
		return ""
	}
	return string(r.Result)
}

// errJSON is {"error": msg} as the wire package writes it (no HTML escaping).
func errJSON(msg string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"error": msg})
	return strings.TrimSuffix(b.String(), "\n")
}

// Every /run outcome of docs/protocol.md#errors, through a real HTTP exchange.
func TestRunOutcomeTable(t *testing.T) {
	big := strings.Repeat("y", 100)
	cases := []struct {
		name      string
		handler   http.HandlerFunc
		timeout   time.Duration
		oomKills  int64 // memory cgroup counter
		dockerOOM bool  // inspect State.OOMKilled
		code      int
		result    string
		size      *int
		timedOut  bool
		dead      bool
	}{
		{name: "success object", handler: respond(200, `{"greeting": "hi"}`), code: 0,
			result: `{"greeting":"hi"}`, size: intPtr(18)},
		{name: "success array", handler: respond(200, `[1,2]`), code: 0, result: `[1,2]`, size: intPtr(5)},
		{name: "application error", handler: respond(200, `{"error":{"why":"boom"}}`), code: 1,
			result: `{"error":{"why":"boom"}}`, size: intPtr(24)},
		{name: "size counts UTF-16 units", handler: respond(200, `{"s":"é😀"}`), code: 0,
			result: `{"s":"é😀"}`, size: intPtr(11)},
		{name: "200 scalar", handler: respond(200, `42`), code: 2,
			result: errJSON(proxy.MsgNotJSON("42")), size: intPtr(2), dead: true},
		{name: "200 not json", handler: respond(200, `hello`), code: 2,
			result: errJSON(proxy.MsgNotJSON("hello")), size: intPtr(5), dead: true},
		{name: "200 empty", handler: respond(200, ``), code: 2,
			result: errJSON(proxy.MsgNotJSON("")), size: intPtr(0), dead: true},
		{name: "502 with error", handler: respond(502, `{"error":"The action did not return a dictionary or array."}`),
			code: 2, result: errJSON("The action did not return a dictionary or array."), size: intPtr(60), dead: true},
		{name: "500 object without error", handler: respond(500, `{"a":1}`), code: 2,
			result: errJSON(proxy.MsgNotJSON(`{"a":1}`)), size: intPtr(7), dead: true},
		{name: "500 array", handler: respond(500, `[1]`), code: 2,
			result: errJSON(proxy.MsgNotJSON(`[1]`)), size: intPtr(3), dead: true},
		{name: "too large with length", handler: respond(200, big), code: 1,
			result: errJSON(proxy.MsgTruncated(100, 64, big[:16]))},
		{name: "too large chunked", handler: chunked(200, big), code: 1,
			result: errJSON(proxy.MsgTruncated(100, 64, big[:16]))},
		{name: "204 is no response", handler: respond(204, ``), code: 2,
			result: errJSON(proxy.MsgAbnormalRun), dead: true},
		{name: "connection dropped", handler: hangUp, code: 2, result: errJSON(proxy.MsgAbnormalRun), dead: true},
		{name: "connection dropped after OOM kill (docker)", handler: hangUp, dockerOOM: true, code: 2,
			result: errJSON(proxy.MsgMemoryExhausted), dead: true},
		{name: "proxy reports exit after OOM kill (cgroup)", handler: respond(400, `{"error":"command exited"}`),
			oomKills: 1, code: 2, result: errJSON(proxy.MsgMemoryExhausted), dead: true},
		{name: "proxy reports exit without OOM", handler: respond(400, `{"error":"command exited"}`), code: 2,
			result: `{"error":"command exited"}`, size: intPtr(26), dead: true},
		{name: "timeout", handler: hang, timeout: 150 * time.Millisecond, code: 2,
			result: errJSON(proxy.MsgTimeout(150)), timedOut: true, dead: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			insp := inspectRunning(testCID, 1, "127.0.0.1", "1")
			insp.State.OOMKilled = tc.dockerOOM
			api.inspect[testCID] = insp
			b, root := testBackend(t, api, Config{MaxResponseBytes: 64, TruncationBytes: 16})
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c := containerAt(srv.URL)
			c.cg = fakeV1Cgroup(t, root, testCID, tc.oomKills)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			res := b.Run(context.Background(), c, []byte(`{"value":{}}`), timeout)
			assert.Equal(t, tc.code, res.Response.StatusCode)
			assert.Equal(t, tc.result, resultJSON(t, res.Response))
			assert.Equal(t, tc.size, res.Response.Size)
			assert.Equal(t, tc.timedOut, res.TimedOut)
			assert.Equal(t, tc.dead, res.Dead)
			assert.False(t, res.Reschedule, "the container is running: the action may have seen the request")
			assert.False(t, res.End.Before(res.Start))
			if tc.timedOut {
				assert.GreaterOrEqual(t, res.End.Sub(res.Start), timeout)
			}
		})
	}
}

func TestRunConnectionRefused(t *testing.T) {
	api := newFakeAPI()
	api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
	b, _ := testBackend(t, api, Config{})
	res := b.Run(context.Background(), containerAt("http://"+deadAddr(t)), []byte(`{}`), 5*time.Second)
	assert.True(t, res.Reschedule, "a refused connection never reached the action: the pool runs it elsewhere")
	assert.True(t, res.Dead)
	assert.False(t, res.TimedOut)
	assert.Equal(t, proxy.StatusDeveloperError, res.Response.StatusCode, "the response if it cannot be run elsewhere")
	assert.Equal(t, errJSON(proxy.MsgAbnormalRun), string(res.Response.Result))
}

// A proxy in front of the container (docker-proxy on a published port) accepts the connection and drops it
// when the container is gone; whether the action could have seen the request depends on when the container
// stopped.
func TestRunDroppedByProxyOfStoppedContainer(t *testing.T) {
	for _, tc := range []struct {
		name          string
		state         func(insp *container.InspectResponse, runStart time.Time)
		removed       bool
		wantDelivered bool
	}{
		{name: "stopped before /run", state: func(i *container.InspectResponse, s time.Time) {
			i.State.Running, i.State.Status = false, "exited"
			i.State.FinishedAt = s.Add(-time.Second).UTC().Format(time.RFC3339Nano)
		}},
		{name: "removed", removed: true},
		{name: "stopped during /run (the action crashed)", wantDelivered: true, state: func(i *container.InspectResponse, s time.Time) {
			i.State.Running, i.State.Status = false, "exited"
			i.State.FinishedAt = s.Add(time.Hour).UTC().Format(time.RFC3339Nano)
		}},
		{name: "still running", wantDelivered: true, state: func(*container.InspectResponse, time.Time) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			b, _ := testBackend(t, api, Config{})
			srv := httptest.NewServer(http.HandlerFunc(hangUp))
			defer srv.Close()
			runStart := time.Now()
			if !tc.removed {
				insp := inspectRunning(testCID, 1, "127.0.0.1", "1")
				tc.state(&insp, runStart)
				api.inspect[testCID] = insp
			}
			res := b.Run(context.Background(), containerAt(srv.URL), []byte(`{}`), 5*time.Second)
			assert.Equal(t, !tc.wantDelivered, res.Reschedule)
			assert.True(t, res.Dead)
			assert.Equal(t, proxy.StatusDeveloperError, res.Response.StatusCode)
		})
	}
}

func TestRunCancelledByCallerIsWhiskError(t *testing.T) {
	api := newFakeAPI()
	api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
	b, _ := testBackend(t, api, Config{})
	srv := httptest.NewServer(http.HandlerFunc(hang))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res := b.Run(ctx, containerAt(srv.URL), []byte(`{}`), 10*time.Second)
	assert.Equal(t, proxy.StatusWhiskError, res.Response.StatusCode)
	assert.Equal(t, errJSON(proxy.MsgAbnormalRun), string(res.Response.Result))
	assert.True(t, res.Dead)
	assert.False(t, res.TimedOut)
}

func TestRunSendsBodyAsGiven(t *testing.T) {
	var got []byte
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		ctype = r.Header.Get("Content-Type")
		assert.Equal(t, "/run", r.URL.Path)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	b, _ := testBackend(t, newFakeAPI(), Config{})
	body := []byte(`{"value":{"name":"World"},"deadline":"1717236980645"}`)
	res := b.Run(context.Background(), containerAt(srv.URL), body, time.Second)
	assert.Equal(t, proxy.StatusSuccess, res.Response.StatusCode)
	assert.Equal(t, body, got)
	assert.Equal(t, "application/json", ctype)
}

// Warm runs reuse one keep-alive connection per container.
func TestRunReusesConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(respond(200, `{}`))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	b, _ := testBackend(t, newFakeAPI(), Config{})
	c := containerAt(srv.URL)
	for i := 0; i < 5; i++ {
		require.Equal(t, 0, b.Run(context.Background(), c, []byte(`{}`), time.Second).Response.StatusCode)
	}
	assert.Equal(t, int32(1), conns.Load())
}

func TestInitOutcomeTable(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		ok      bool
		result  string
	}{
		{"ok", respond(200, `{"ok":true}`), 0, true, ""},
		{"ok ignores body", respond(200, `not json`), 0, true, ""},
		{"error member", respond(502, `{"error":"cannot start action: boom"}`), 0, false, `{"error":"cannot start action: boom"}`},
		{"second init refused", respond(403, `{"error":"Cannot initialize the action more than once."}`), 0, false,
			`{"error":"Cannot initialize the action more than once."}`},
		{"object without error", respond(500, `{"x":1}`), 0, false, errJSON(proxy.MsgInitFailed(`{"x":1}`))},
		{"not json", respond(500, `oops`), 0, false, errJSON(proxy.MsgInitFailed("oops"))},
		{"empty", respond(500, ``), 0, false, errJSON(proxy.MsgInitFailed(""))},
		{"too large", respond(500, strings.Repeat("z", 80)), 0, false,
			errJSON(proxy.MsgTruncated(80, 64, strings.Repeat("z", 16)))},
		{"hangs", hang, 150 * time.Millisecond, false, errJSON(proxy.MsgInitTimeout(150))},
		{"503 unhealthy", respond(503, `{"error":"unhealthy"}`), 0, false, `{"error":"unhealthy"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
			b, _ := testBackend(t, api, Config{MaxResponseBytes: 64, TruncationBytes: 16})
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			res := b.Init(context.Background(), containerAt(srv.URL), []byte(`{"value":{}}`), timeout)
			assert.Equal(t, tc.ok, res.OK)
			assert.Equal(t, !tc.ok, res.Dead)
			assert.Equal(t, strings.HasPrefix(tc.name, "503"), res.Reschedule, "only a 503 moves the activation (ContainerHealthError)")
			if tc.ok {
				assert.Equal(t, proxy.StatusSuccess, res.Response.StatusCode)
			} else {
				assert.Equal(t, proxy.StatusDeveloperError, res.Response.StatusCode)
				assert.Equal(t, tc.result, resultJSON(t, res.Response))
				assert.Nil(t, res.Response.Size)
			}
			assert.Greater(t, res.Duration, time.Duration(0))
		})
	}
}

// /init retries while the proxy is not listening yet, then succeeds.
func TestInitRetriesUntilListening(t *testing.T) {
	addr := deadAddr(t)
	api := newFakeAPI()
	api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
	b, _ := testBackend(t, api, Config{InitRetryInterval: 20 * time.Millisecond})
	var inits atomic.Int32
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inits.Add(1)
			_, _ = io.WriteString(w, `{"ok":true}`)
		})}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(l)
	}()
	res := b.Init(context.Background(), containerAt("http://"+addr), []byte(`{}`), 5*time.Second)
	require.True(t, res.OK, "%s", res.Response.Result)
	assert.Equal(t, int32(1), inits.Load(), "exactly one init reaches the proxy")
	assert.GreaterOrEqual(t, res.Duration, 300*time.Millisecond)
	assert.GreaterOrEqual(t, api.callCount("inspect"), 1, "liveness checked while retrying")
}

// dropFirst accepts connections and drops the first n, as docker-proxy does for a published port whose
// container is not listening yet: with a reset (rst) or a plain close. Depending on timing the client then
// sees a reset, EOF, a broken pipe or a closed connection.
type dropFirst struct {
	net.Listener
	rst bool
	n   atomic.Int32
}

func (l *dropFirst) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || l.n.Add(-1) < 0 {
			return c, err
		}
		if l.rst {
			_ = c.(*net.TCPConn).SetLinger(0)
		}
		c.Close()
	}
}

func TestInitRetriesThroughDroppedConnections(t *testing.T) {
	for _, tc := range []struct {
		name string
		rst  bool
		body int
	}{{"reset small body", true, 2}, {"close small body", false, 2}, {"reset 4MB body", true, 4 << 20}, {"close 4MB body", false, 4 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
			b, _ := testBackend(t, api, Config{InitRetryInterval: time.Millisecond})
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			dl := &dropFirst{Listener: l, rst: tc.rst}
			dl.n.Store(10)
			srv := &http.Server{Handler: respond(200, `{"ok":true}`)}
			go func() { _ = srv.Serve(dl) }()
			defer srv.Close()
			res := b.Init(context.Background(), containerAt("http://"+l.Addr().String()), make([]byte, tc.body), 10*time.Second)
			assert.True(t, res.OK, "%s", res.Response.Result)
			assert.Less(t, dl.n.Load(), int32(0), "every dropped connection was retried")
		})
	}
}

// A container that is gone stops the retries early with OpenWhisk's init connection error.
func TestInitStopsRetryingWhenContainerDied(t *testing.T) {
	for _, oom := range []bool{false, true} {
		t.Run(fmt.Sprintf("oom=%v", oom), func(t *testing.T) {
			api := newFakeAPI()
			insp := inspectRunning(testCID, 1, "127.0.0.1", "1")
			insp.State.Running, insp.State.Status, insp.State.OOMKilled = false, "exited", oom
			api.inspect[testCID] = insp
			b, _ := testBackend(t, api, Config{})
			start := time.Now()
			res := b.Init(context.Background(), containerAt("http://"+deadAddr(t)), []byte(`{}`), 10*time.Second)
			assert.Less(t, time.Since(start), 5*time.Second, "gave up long before the init timeout")
			assert.False(t, res.OK)
			assert.True(t, res.Dead)
			want := proxy.MsgAbnormalInit
			if oom {
				want = proxy.MsgMemoryExhausted
			}
			assert.Equal(t, errJSON(want), string(res.Response.Result))
		})
	}
}

// Refused until the timeout while the container runs: an init timeout.
func TestInitRefusedUntilTimeout(t *testing.T) {
	api := newFakeAPI()
	api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
	b, _ := testBackend(t, api, Config{})
	res := b.Init(context.Background(), containerAt("http://"+deadAddr(t)), []byte(`{}`), 400*time.Millisecond)
	assert.False(t, res.OK)
	assert.Equal(t, errJSON(proxy.MsgInitTimeout(400)), string(res.Response.Result))
	assert.GreaterOrEqual(t, res.Duration, 400*time.Millisecond)
}

func TestForeignHandle(t *testing.T) {
	b, _ := testBackend(t, newFakeAPI(), Config{})
	type other struct{ *Container }
	h := other{}
	assert.True(t, b.Init(context.Background(), h, nil, time.Second).Dead)
	assert.True(t, b.Run(context.Background(), h, nil, time.Second).Dead)
	assert.True(t, b.Logs(context.Background(), h, 1024, pool.LogOptions{Sentinels: true}).Failed)
	assert.ErrorIs(t, b.Freeze(context.Background(), h), ErrForeignHandle)
	assert.ErrorIs(t, b.Thaw(context.Background(), h), ErrForeignHandle)
	assert.ErrorIs(t, b.Remove(context.Background(), h), ErrForeignHandle)
}

// The pure mapping honours "duration ≥ timeout" even when a reply arrived (OpenWhisk checks it first).
func TestMapRunLateReplyIsTimeout(t *testing.T) {
	resp, timedOut, dead := mapRun(reply{Status: 200, Body: []byte(`{}`), Elapsed: time.Second}, time.Second, failureFacts{}, 1<<20)
	assert.True(t, timedOut)
	assert.True(t, dead)
	assert.Equal(t, errJSON(proxy.MsgTimeout(1000)), string(resp.Result))
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// fakeV1Cgroup creates freezer and memory directories for id under root and returns their ref.
func fakeV1Cgroup(t *testing.T, root, id string, oomKills int64) *cgroupRef {
	t.Helper()
	ref := &cgroupRef{
		FreezerDir: filepath.Join(root, "freezer", "docker", id),
		MemoryDir:  filepath.Join(root, "memory", "docker", id),
	}
	require.NoError(t, os.MkdirAll(ref.FreezerDir, 0o755))
	require.NoError(t, os.MkdirAll(ref.MemoryDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ref.FreezerDir, "freezer.state"), []byte("THAWED\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(ref.MemoryDir, "memory.oom_control"),
		[]byte(fmt.Sprintf("oom_kill_disable 0\nunder_oom 0\noom_kill %d\n", oomKills)), 0o644))
	return ref
}

// HTTP 503 from the runtime is OpenWhisk's ContainerHealthError: the activation is run on another container.
func TestRun503IsRescheduled(t *testing.T) {
	api := newFakeAPI()
	api.inspect[testCID] = inspectRunning(testCID, 1, "127.0.0.1", "1")
	b, _ := testBackend(t, api, Config{})
	srv := httptest.NewServer(respond(503, `{"error":"unhealthy"}`))
	defer srv.Close()
	res := b.Run(context.Background(), containerAt(srv.URL), []byte(`{}`), 5*time.Second)
	assert.True(t, res.Reschedule)
	assert.True(t, res.Dead)
}
