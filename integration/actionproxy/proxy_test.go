package actionproxy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// testActionBinary builds ./testaction once per test binary (the proxy runs it as a real child).
func testActionBinary(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "testaction")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "testaction")
		cmd := exec.Command("go", "build", "-o", buildPath, "./testaction")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			buildPath = string(out)
		}
	})
	require.NoError(t, buildErr, buildPath)
	b, err := os.ReadFile(buildPath)
	require.NoError(t, err)
	return b
}

type harness struct {
	srv            *Server
	ts             *httptest.Server
	stdout, stderr *os.File
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	dir := t.TempDir()
	var err error
	h := &harness{}
	h.stdout, err = os.Create(filepath.Join(dir, "stdout"))
	require.NoError(t, err)
	h.stderr, err = os.Create(filepath.Join(dir, "stderr"))
	require.NoError(t, err)
	cfg.Dir = filepath.Join(dir, "action")
	cfg.Stdout, cfg.Stderr = h.stdout, h.stderr
	h.srv = New(cfg)
	h.ts = httptest.NewServer(h.srv)
	t.Cleanup(func() {
		h.ts.Close()
		h.srv.Close()
		h.stdout.Close()
		h.stderr.Close()
	})
	return h
}

func (h *harness) post(t *testing.T, path string, body any) (int, string) {
	t.Helper()
	return h.postCtx(t, context.Background(), path, body)
}

func (h *harness) postCtx(t *testing.T, ctx context.Context, path string, body any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.ts.URL+path, bytes.NewReader(b))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(rb)
}

func readFile(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	return string(b)
}

func initBody(code string, binary bool, env map[string]any) map[string]any {
	v := map[string]any{"name": "t", "main": "main", "binary": binary, "env": env}
	if code != "" {
		v["code"] = code
	}
	return map[string]any{"value": v}
}

func runBody(value any) map[string]any {
	return map[string]any{"value": value, "activation_id": "aid1", "namespace": "guest", "deadline": "1717236980645"}
}

func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	return e.Error
}

func TestInitBinaryThenRunWarm(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true})
	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	st, body := h.post(t, "/init", initBody(code, true, map[string]any{"FOO": "bar", "N": 7}))
	require.Equal(t, http.StatusOK, st, body)
	assert.JSONEq(t, `{"ok":true}`, body)

	st, body = h.post(t, "/run", runBody(map[string]any{"name": "World", "log_lines": 2}))
	require.Equal(t, http.StatusOK, st, body)
	assert.JSONEq(t, `{"greeting":"Hello World!","runs":1,"activation_id":"aid1","env_FOO":"bar"}`, body)
	st, body = h.post(t, "/run", runBody(map[string]any{}))
	require.Equal(t, http.StatusOK, st, body)
	assert.Contains(t, body, `"runs":2`, "the same process serves the second run")

	for _, f := range []*os.File{h.stdout, h.stderr} {
		out := readFile(t, f)
		assert.Equal(t, "log line 0\nlog line 1\n"+Sentinel+"\n"+Sentinel+"\n", out, f.Name())
	}
}

func TestSecondInitRefused(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true, DefaultExec: "/bin/true"})
	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	st, _ := h.post(t, "/init", initBody(code, true, nil))
	require.Equal(t, http.StatusOK, st)
	st, body := h.post(t, "/init", initBody(code, true, nil))
	assert.Equal(t, http.StatusForbidden, st)
	assert.Equal(t, MsgInitTwice, errorOf(t, body))
}

func TestInitZipWithExec(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "exec", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	require.NoError(t, err)
	_, err = w.Write(testActionBinary(t))
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	st, body := h.post(t, "/init", initBody(base64.StdEncoding.EncodeToString(buf.Bytes()), true, nil))
	require.Equal(t, http.StatusOK, st, body)
	st, body = h.post(t, "/run", runBody(map[string]any{"name": "zip"}))
	require.Equal(t, http.StatusOK, st, body)
	assert.Contains(t, body, "Hello zip!")
}

func TestInitZipRejectsEscapingEntries(t *testing.T) {
	h := newHarness(t, Config{})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("../evil")
	require.NoError(t, err)
	_, _ = w.Write([]byte("x"))
	require.NoError(t, zw.Close())
	st, body := h.post(t, "/init", initBody(base64.StdEncoding.EncodeToString(buf.Bytes()), true, nil))
	assert.Equal(t, http.StatusBadGateway, st)
	assert.Contains(t, errorOf(t, body), "escapes")
}

func TestInitWithoutCode(t *testing.T) {
	h := newHarness(t, Config{})
	st, body := h.post(t, "/init", initBody("", false, nil))
	assert.Equal(t, http.StatusForbidden, st)
	assert.Equal(t, MsgNoCode, errorOf(t, body))

	bin := filepath.Join(t.TempDir(), "baked")
	require.NoError(t, os.WriteFile(bin, testActionBinary(t), 0o755))
	h2 := newHarness(t, Config{DefaultExec: bin, WaitForAck: true})
	st, body = h2.post(t, "/init", initBody("", false, nil))
	require.Equal(t, http.StatusOK, st, body)
	st, body = h2.post(t, "/run", runBody(map[string]any{"name": "baked"}))
	require.Equal(t, http.StatusOK, st, body)
	assert.Contains(t, body, "Hello baked!")
}

func TestInitBadRequests(t *testing.T) {
	h := newHarness(t, Config{})
	req, err := http.NewRequest(http.MethodPost, h.ts.URL+"/init", strings.NewReader("{not json"))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	st, body := h.post(t, "/init", initBody("%%%", true, nil))
	assert.Equal(t, http.StatusBadGateway, st)
	assert.Contains(t, errorOf(t, body), "base64")

	st, body = h.post(t, "/init", initBody("print('hi')", false, nil))
	assert.Equal(t, http.StatusBadGateway, st, "plain text without a launcher")
	assert.Contains(t, errorOf(t, body), "neither a zip nor an executable")
}

func TestInitFailingAction(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true})
	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	st, body := h.post(t, "/init", initBody(code, true, map[string]any{"TESTACTION_INIT": "fail"}))
	assert.Equal(t, http.StatusBadGateway, st)
	assert.Contains(t, errorOf(t, body), "Cannot start action: command exited: exit status 3")
	assert.Contains(t, readFile(t, h.stderr), "failing at init")

	// A failed init leaves the proxy uninitialised, so a later init may succeed.
	st, body = h.post(t, "/init", initBody(code, true, nil))
	assert.Equal(t, http.StatusOK, st, body)
}

func TestInitHangingActionGivesUpWithClient(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true})
	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	st, body := h.postCtx(t, ctx, "/init", initBody(code, true, map[string]any{"TESTACTION_INIT": "hang"}))
	assert.Equal(t, 0, st, "no reply while the action hangs: %s", body)
	assert.Contains(t, body, "deadline exceeded")
	// The hung child was killed and the proxy is still uninitialised.
	require.Eventually(t, func() bool {
		st, _ := h.post(t, "/run", runBody(map[string]any{}))
		return st == http.StatusForbidden
	}, 5*time.Second, 20*time.Millisecond)
}

func TestRunOutcomes(t *testing.T) {
	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	cases := []struct {
		name   string
		value  any
		status int
		check  func(t *testing.T, body string)
	}{
		{"echo object", map[string]any{"echo": true, "k": "v"}, 200, func(t *testing.T, b string) {
			assert.JSONEq(t, `{"echo":true,"k":"v"}`, b)
		}},
		{"echo array", []any{1, "two"}, 200, func(t *testing.T, b string) { assert.JSONEq(t, `[1,"two"]`, b) }},
		{"application error", map[string]any{"error": "boom"}, 200, func(t *testing.T, b string) {
			assert.JSONEq(t, `{"error":"boom"}`, b)
		}},
		{"non json", map[string]any{"non_json": true}, 502, func(t *testing.T, b string) {
			assert.Equal(t, MsgNotDictionary, errorOf(t, b))
		}},
		{"scalar", map[string]any{"scalar": true}, 502, func(t *testing.T, b string) {
			assert.Equal(t, MsgNotDictionary, errorOf(t, b))
		}},
		{"large output", map[string]any{"output_bytes": 3 << 20}, 200, func(t *testing.T, b string) {
			assert.Greater(t, len(b), 3<<20)
		}},
		{"crash", map[string]any{"exit": 4}, 400, func(t *testing.T, b string) {
			assert.Equal(t, MsgExited, errorOf(t, b))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{WaitForAck: true})
			st, body := h.post(t, "/init", initBody(code, true, nil))
			require.Equal(t, 200, st, body)
			st, body = h.post(t, "/run", runBody(tc.value))
			assert.Equal(t, tc.status, st, body)
			tc.check(t, body)
			assert.Contains(t, readFile(t, h.stdout), Sentinel)
			assert.Contains(t, readFile(t, h.stderr), Sentinel)
		})
	}
}

func TestRunAfterCrashAndBeforeInit(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true})
	st, body := h.post(t, "/run", runBody(map[string]any{}))
	assert.Equal(t, http.StatusForbidden, st)
	assert.Equal(t, MsgNotReady, errorOf(t, body))

	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	st, _ = h.post(t, "/init", initBody(code, true, nil))
	require.Equal(t, 200, st)
	st, _ = h.post(t, "/run", runBody(map[string]any{"exit": 1}))
	require.Equal(t, http.StatusBadRequest, st)
	st, body = h.post(t, "/run", runBody(map[string]any{}))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Equal(t, MsgExited, errorOf(t, body))
}

func TestRunTimedOutMarksDesynced(t *testing.T) {
	h := newHarness(t, Config{WaitForAck: true})
	code := base64.StdEncoding.EncodeToString(testActionBinary(t))
	st, _ := h.post(t, "/init", initBody(code, true, nil))
	require.Equal(t, 200, st)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	st, _ = h.postCtx(t, ctx, "/run", runBody(map[string]any{"sleep_ms": 400}))
	assert.Equal(t, 0, st)
	// The late result must not answer the next request.
	time.Sleep(500 * time.Millisecond)
	st, body := h.post(t, "/run", runBody(map[string]any{"name": "next"}))
	assert.Equal(t, http.StatusBadRequest, st)
	assert.NotContains(t, body, "Hello")
}

func TestLauncherRunsPlainCode(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	// The launcher gets [codeDir, main]; here it runs the source as a shell actionloop.
	h := newHarness(t, Config{
		WaitForAck: true,
		SourceName: "main.sh",
		Launcher:   []string{"/bin/sh", "-c", `exec /bin/sh "$0/main.sh" "$1"`},
	})
	script := `[ -n "$__OW_WAIT_FOR_ACK" ] && echo '{"ok":true}' >&3
while read line; do echo "main is $1"; echo '{"sh":"'"$1"'"}' >&3; done`
	body := initBody(script, false, nil)
	body["value"].(map[string]any)["main"] = "entry"
	st, rb := h.post(t, "/init", body)
	require.Equal(t, 200, st, rb)
	st, rb = h.post(t, "/run", runBody(map[string]any{}))
	require.Equal(t, 200, st, rb)
	assert.JSONEq(t, `{"sh":"entry"}`, rb)
	assert.Equal(t, "main is entry\n"+Sentinel+"\n", readFile(t, h.stdout))
}

func TestEnvStrings(t *testing.T) {
	got := envStrings(map[string]json.RawMessage{
		"S": json.RawMessage(`"str"`), "N": json.RawMessage(`12`), "B": json.RawMessage(`true`),
		"Z": json.RawMessage(`null`), "O": json.RawMessage(`{ "a" : 1 }`),
	})
	assert.ElementsMatch(t, []string{"S=str", "N=12", "B=true", "Z=", `O={"a":1}`}, got)
}
