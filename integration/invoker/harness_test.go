//go:build integration

package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/store"
)

const (
	// userMemoryWire is how pings and acks must carry the user memory the deployment sets (itest.UserMemory).
	userMemoryWire = "2147483648 B"
	invokerUser    = "invoker.user"
	invokerPass    = "invoker.pass"
	fixturesDir    = "../../invoker/wire/testdata/fixtures"
	pouchServerBin = "/var/cache/nemo/pouchdb/node_modules/.bin/pouchdb-server"
)

// ---------------------------------------------------------------------------------------------------
// The binary

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// nemoBinary builds invoker/cmd/nemo once per test binary run.
func nemoBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "nemo-it-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "nemo")
		buildErr = itest.GoBuild(binPath, "github.com/nemo-edge/nemo/invoker/cmd/nemo")
	})
	require.NoError(t, buildErr)
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// ---------------------------------------------------------------------------------------------------
// The harness: one invoker id, one controller id, one database prefix per test.

type harnessOptions struct {
	// couch overrides the CouchDB the invoker is given (a private pouchdb-server, a fault proxy).
	couch *url.URL
	// kafka overrides the broker the invoker and the test's controller use (a private broker).
	kafka string
	// config is merged over the default config file.
	config map[string]any
	// env is set over the deployment environment the invoker gets ("" removes a variable).
	env map[string]string
}

type harness struct {
	t          *testing.T
	svc        itest.Services
	bin        string
	id         int
	controller string
	dbPrefix   string
	couch      *url.URL
	store      *store.Store
	port       int
	dir        string
	configPath string

	ctl  *itest.Controller
	acks *itest.AckLog
	env  map[string]string

	mu    sync.Mutex
	procs []*itest.Proc
}

func newHarness(t *testing.T, svc itest.Services, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{
		t:   t,
		svc: svc,
		bin: nemoBinary(t),
		// Ids unique to this test: fresh invoker{N} topic and consumer group, container prefix wsk{N}_,
		// completed{C} topic; the random part keeps reruns apart from earlier runs' leftovers.
		id:         100000 + mrand.IntN(800000),
		controller: strconv.Itoa(100000 + mrand.IntN(800000)),
		dir:        t.TempDir(),
		couch:      svc.Couch,
	}
	if opts.couch != nil {
		h.couch = opts.couch
	}
	if opts.kafka != "" {
		h.svc.Kafka = opts.kafka
	}
	h.env = opts.env
	h.dbPrefix = fmt.Sprintf("it_inv%d_", h.id)
	// Registered first, so it runs last: after the processes are gone and their logs are complete.
	t.Cleanup(h.dumpLogsOnFailure)

	// CouchDB: the three databases, as OpenWhisk's deployment creates them. Kafka: the test plays the
	// controller (completed{C}, health). Both clean up after h.cleanup, which is registered later.
	h.store = itest.OpenStore(t, h.couch, h.dbPrefix)
	h.ctl = itest.NewController(t, h.svc.Kafka, h.id, h.controller)
	h.acks = h.ctl.ConsumeAcks(t)

	t.Cleanup(h.cleanup)

	// The config file: NEMO's own knobs. Everything an OpenWhisk deployment sets comes from the env.
	conf := map[string]any{
		"invoker": map[string]any{"listenHost": "127.0.0.1"},
		"docker":  map[string]any{"mode": "publish", "publishHost": "127.0.0.1"},
	}
	for k, v := range opts.config {
		if sub, ok := v.(map[string]any); ok {
			if cur, ok := conf[k].(map[string]any); ok {
				for kk, vv := range sub {
					cur[kk] = vv
				}
				continue
			}
		}
		conf[k] = v
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	require.NoError(t, err)
	h.configPath = filepath.Join(h.dir, "nemo.json")
	require.NoError(t, os.WriteFile(h.configPath, b, 0o644))
	h.port = itest.FreePort(t)
	t.Logf("invoker%d, controller %s, databases %s*, http 127.0.0.1:%d", h.id, h.controller, h.dbPrefix, h.port)
	return h
}

func (h *harness) name() string { return "invoker" + strconv.Itoa(h.id) }

// environ is the environment an OpenWhisk deployment would give the invoker container, on top of the
// test's own (minus anything that would configure the invoker behind the test's back).
func (h *harness) environ() []string {
	env := itest.InvokerEnv{Kafka: h.svc.Kafka, Couch: h.couch, DBPrefix: h.dbPrefix, Port: h.port}.Environ()
	if len(h.env) == 0 {
		return env
	}
	out := env[:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); h.env[k] == "" {
			if _, drop := h.env[k]; !drop {
				out = append(out, kv)
			}
		}
	}
	for k, v := range h.env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// cleanup kills the invoker processes and removes their containers; the Kafka topics and the databases
// go afterwards (their cleanups were registered first).
func (h *harness) cleanup() {
	h.mu.Lock()
	procs := append([]*itest.Proc(nil), h.procs...)
	h.mu.Unlock()
	for _, p := range procs {
		if !p.Exited() {
			_ = p.Kill()
		}
	}
	// Safety net: containers this test's invoker left (a failed test, a SIGKILL without restart).
	itest.RemoveContainers(containersOf(h.t, h.id))
}

func (h *harness) dumpLogsOnFailure() {
	if !h.t.Failed() {
		return
	}
	h.mu.Lock()
	procs := append([]*itest.Proc(nil), h.procs...)
	h.mu.Unlock()
	for i, p := range procs {
		lines := itest.ReadLines(p.LogPath)
		const keep = 250
		from := 0
		if len(lines) > keep {
			from = len(lines) - keep
		}
		h.t.Logf("---- %s process %d (%s), log lines %d..%d of %d ----\n%s", h.name(), i+1, p.Describe(),
			from+1, len(lines), len(lines), strings.Join(lines[from:], "\n"))
	}
}

// ---------------------------------------------------------------------------------------------------
// Invoker processes

// start runs `nemo invoker --id N --config file`, its stdout and stderr going to a log file of its own,
// and waits until it answers GET /ping (the HTTP port is bound last in the start-up order, docs/protocol.md#start-up-order).
func (h *harness) start() *itest.Proc {
	h.t.Helper()
	h.mu.Lock()
	n := len(h.procs) + 1
	h.mu.Unlock()
	p := itest.Spawn(h.t, itest.ProcSpec{Name: "nemo", Bin: h.bin, Env: h.environ(), Dir: h.dir,
		LogPath: itest.LogFile(h.dir, fmt.Sprintf("%s-%d.log", h.name(), n)),
		Args:    []string{"invoker", "--id", strconv.Itoa(h.id), "--config", h.configPath}})
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	if err := itest.WaitReady(p, h.url("/ping"), 90*time.Second); err != nil {
		h.t.Fatalf("%s: %v\n%s", h.name(), err, itest.Tail(p.LogPath, 30))
	}
	h.t.Logf("%s process %d ready after %v", h.name(), n, time.Since(p.Started).Round(time.Millisecond))
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (h *harness) stop(p *itest.Proc) int {
	h.t.Helper()
	if err := p.Terminate(100 * time.Second); err != nil {
		h.t.Fatalf("stop %s: %v", h.name(), err)
	}
	return p.ExitCode()
}

// kill sends SIGKILL: no drain, no commit, no container removal.
func (h *harness) kill(p *itest.Proc) {
	h.t.Helper()
	require.NoError(h.t, p.Kill())
}

// ---------------------------------------------------------------------------------------------------
// HTTP to the invoker

func (h *harness) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", h.port, path) }

type httpAnswer struct {
	status int
	body   string
	header http.Header
}

func (h *harness) http(method, path, user, pass string) httpAnswer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url(path), nil)
	require.NoError(h.t, err)
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	require.NoError(h.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return httpAnswer{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// metric returns the value of one sample line of /metrics ("name{labels}"), and whether it exists.
func (h *harness) metric(sample string) (float64, bool) {
	h.t.Helper()
	a := h.http(http.MethodGet, "/metrics", "", "")
	require.Equal(h.t, http.StatusOK, a.status)
	samples, malformed := itest.ParseMetrics(a.body)
	for _, l := range malformed {
		if strings.HasPrefix(l, sample+" ") {
			h.t.Fatalf("metric line %q: the value is not a number", l)
		}
	}
	v, ok := samples[sample]
	return v, ok
}

// ---------------------------------------------------------------------------------------------------
// Kafka: producing activations, waiting for acks, watching pings

func (h *harness) produce(value []byte) {
	h.t.Helper()
	h.ctl.Produce(h.t, value)
}

// activation is one ActivationMessage the test sent.
type activation struct {
	AID      string
	TransID  json.RawMessage
	Blocking bool
	Raw      []byte
}

type msgOptions struct {
	// transid replaces the default ["<32 alnum>",<now ms>].
	transid json.RawMessage
	// revision is the action revision; nil sends null (the invoker reads the latest).
	revision *string
}

// message builds an ActivationMessage as the controller writes it (docs/protocol.md#activationmessage).
func (h *harness) message(action string, blocking bool, content map[string]any, o msgOptions) activation {
	h.t.Helper()
	tid := o.transid
	if tid == nil {
		tid = itest.TransID(randomAlnum(32))
	}
	m := itest.Activation{Action: action, AID: itest.RandomHex(16), TransID: tid, Revision: o.revision,
		Blocking: blocking, Content: content, Controller: h.controller}
	b, err := m.Marshal()
	require.NoError(h.t, err)
	return activation{AID: m.AID, TransID: tid, Blocking: blocking, Raw: b}
}

// waitSlotFree waits until every id has a slot-freeing ack; it fails the test naming the missing ones.
func (h *harness) waitSlotFree(timeout time.Duration, aids ...string) {
	h.t.Helper()
	ok := h.acks.WaitFor(timeout, func(acks []itest.Ack) bool {
		n := itest.SlotFreeCounts(acks)
		for _, id := range aids {
			if n[id] == 0 {
				return false
			}
		}
		return true
	})
	if !ok {
		acks, _ := h.acks.Snapshot()
		n := itest.SlotFreeCounts(acks)
		var missing []string
		for _, id := range aids {
			if n[id] == 0 {
				missing = append(missing, id)
			}
		}
		h.t.Fatalf("no slot-freeing ack within %v for %d of %d activations (e.g. %v)", timeout, len(missing), len(aids),
			missing[:min(len(missing), 5)])
	}
}

// ping is one PingMessage of this invoker on topic health.
type ping struct {
	Raw     []byte
	Fields  map[string]json.RawMessage
	Enabled bool
	At      time.Time
}

// watchPings consumes topic health from its current end and keeps this invoker's pings.
func (h *harness) watchPings() *itest.Journal[ping] {
	h.t.Helper()
	l := &itest.Journal[ping]{}
	h.ctl.Consume(h.t, "health", sarama.OffsetNewest, func(m *sarama.ConsumerMessage) {
		var p ping
		p.Raw, p.At = append([]byte(nil), m.Value...), time.Now()
		if json.Unmarshal(m.Value, &p.Fields) != nil {
			return
		}
		var name struct {
			Instance *int `json:"instance"`
		}
		if json.Unmarshal(p.Fields["name"], &name) != nil || name.Instance == nil || *name.Instance != h.id {
			return // another invoker's
		}
		p.Enabled = true // absent means enabled
		if e, ok := p.Fields["isEnabled"]; ok {
			_ = json.Unmarshal(e, &p.Enabled)
		}
		l.Append(p)
	})
	return l
}

// ---------------------------------------------------------------------------------------------------
// CouchDB: reading activation records

// record reads activation document guest/<aid> from the activations database as raw fields; ok is
// false when it does not exist (yet).
func (h *harness) record(aid string) (map[string]json.RawMessage, bool) {
	h.t.Helper()
	base := *h.couch
	base.User = nil
	u := fmt.Sprintf("%s/%s/%s", strings.TrimRight(base.String(), "/"), url.PathEscape(h.dbPrefix+"activations"),
		url.PathEscape(itest.Namespace+"/"+aid))
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(h.t, err)
	pass, _ := h.couch.User.Password()
	req.SetBasicAuth(h.couch.User.Username(), pass)
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(h.t, err, "GET %s", u)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	if resp.StatusCode == http.StatusNotFound {
		return nil, false
	}
	require.Equal(h.t, http.StatusOK, resp.StatusCode, "GET %s: %s", u, b)
	var f map[string]json.RawMessage
	require.NoError(h.t, json.Unmarshal(b, &f), "record %s", b)
	return f, true
}

// waitRecord polls until the record exists (it is written in parallel with the slot-freeing ack).
func (h *harness) waitRecord(aid string, timeout time.Duration) map[string]json.RawMessage {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if f, ok := h.record(aid); ok {
			return f
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("activation record %s/%s not in %sactivations within %v", itest.Namespace, aid, h.dbPrefix, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------------
// Docker

// containersOf lists the ids of all containers (any state) labelled nemo.invoker=<id>.
func containersOf(t *testing.T, id int) []string {
	t.Helper()
	ids, err := itest.InvokerContainers(id)
	if err != nil {
		t.Error(err)
	}
	return ids
}

func containerExists(id string) bool {
	return exec.Command("docker", "inspect", "--type", "container", id).Run() == nil
}

// ---------------------------------------------------------------------------------------------------
// Invoker log (zerolog JSON lines)

type logLine map[string]any

func (l logLine) str(k string) string {
	s, _ := l[k].(string)
	return s
}

func readLog(path string) []logLine {
	var out []logLine
	for _, s := range itest.ReadLines(path) {
		var l logLine
		if json.Unmarshal([]byte(s), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// waitLogLine waits until a line containing substr is appended to the log at path (lines written
// before the call do not count); false when timeout passes first.
func waitLogLine(path, substr string, timeout time.Duration) bool {
	start := len(itest.ReadLines(path))
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		lines := itest.ReadLines(path)
		for _, l := range lines[min(start, len(lines)):] {
			if strings.Contains(l, substr) {
				return true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// ---------------------------------------------------------------------------------------------------
// JSON shape helpers

// fixture reads one of invoker/wire's golden fixtures as raw fields.
func fixture(t *testing.T, name string) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	require.NoError(t, err)
	var f map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &f), name)
	return f
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func object(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var f map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &f), "want a JSON object, got %s", raw)
	return f
}

// annotations turns [{"key":k,"value":v}] into a map.
func annotations(t *testing.T, raw json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var kvs []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	require.NoError(t, json.Unmarshal(raw, &kvs), "annotations %s", raw)
	out := map[string]json.RawMessage{}
	for _, kv := range kvs {
		out[kv.Key] = kv.Value
	}
	return out
}

func jsonString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	require.NoError(t, json.Unmarshal(raw, &s), "want a JSON string, got %s", raw)
	return s
}

func jsonInt(t *testing.T, raw json.RawMessage) int64 {
	t.Helper()
	var n int64
	require.NoError(t, json.Unmarshal(raw, &n), "want a JSON integer, got %s", raw)
	return n
}

// compactJSON normalises raw JSON for comparisons of values (not of bytes).
func compactJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, raw))
	return b.String()
}

// ---------------------------------------------------------------------------------------------------
// Small utilities

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
