//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/filestore"
	"github.com/nemo-edge/nemo/invoker/store"
)

const (
	actionImage = "nemo/action-go:latest"
	namespace   = "guest"
	// userMemoryEnv is what the deployment sets; userMemoryWire is how pings and acks must carry it.
	userMemoryEnv  = "2048m"
	userMemoryWire = "2147483648 B"
	invokerUser    = "invoker.user"
	invokerPass    = "invoker.pass"
	fixturesDir    = "../../invoker/wire/testdata/fixtures"
	pouchServerBin = "/var/cache/nemo/pouchdb/node_modules/.bin/pouchdb-server"
)

// runtimesManifest maps the locally built test image as the go runtime and as a native blackbox (so
// its logs are sentinelled), without stem cells: every container a test sees is one it caused.
const runtimesManifest = `{"runtimes":{"go":[{"kind":"go:1.22","default":true,` +
	`"image":{"prefix":"nemo","name":"action-go","tag":"latest"},` +
	`"attached":{"attachmentName":"codefile","attachmentType":"application/octet-stream"}}]},` +
	`"blackboxes":[{"prefix":"nemo","name":"action-go","tag":"latest"}]}`

// ---------------------------------------------------------------------------------------------------
// Services and the binary

type services struct {
	kafka string   // host:port
	couch *url.URL // http://user:pass@127.0.0.1:5984
}

// needServices skips the test unless Kafka, CouchDB and Docker are named in the environment, and
// refuses (skips) addresses other than loopback: these tests dial only 127.0.0.1.
func needServices(t *testing.T) services {
	t.Helper()
	var missing []string
	k := os.Getenv("NEMO_KAFKA")
	if k == "" {
		missing = append(missing, "NEMO_KAFKA (e.g. 127.0.0.1:9092)")
	}
	c := os.Getenv("NEMO_COUCHDB")
	if c == "" {
		missing = append(missing, "NEMO_COUCHDB (e.g. http://nemo:nemo@127.0.0.1:5984)")
	}
	if os.Getenv("NEMO_DOCKER") != "1" {
		missing = append(missing, "NEMO_DOCKER=1")
	}
	if len(missing) > 0 {
		t.Skipf("invoker integration test needs real services; unset: %s (eval \"$(scripts/services.sh env)\")",
			strings.Join(missing, ", "))
	}
	u, err := url.Parse(c)
	require.NoError(t, err, "NEMO_COUCHDB")
	kh, _, err := net.SplitHostPort(k)
	require.NoError(t, err, "NEMO_KAFKA")
	for _, h := range []string{kh, u.Hostname()} {
		if h != "127.0.0.1" && h != "localhost" {
			t.Skipf("invoker integration tests dial only 127.0.0.1; NEMO_KAFKA/NEMO_COUCHDB name %q", h)
		}
	}
	if u.User == nil {
		t.Skip("NEMO_COUCHDB has no credentials; pouchdb-server needs Basic auth on every request")
	}
	if err := exec.Command("docker", "image", "inspect", actionImage).Run(); err != nil {
		t.Skipf("image %s is not built (scripts/build-images.sh builds it): %v", actionImage, err)
	}
	return services{kafka: k, couch: u}
}

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
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/nemo-edge/nemo/invoker/cmd/nemo")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build invoker/cmd/nemo: %v\n%s", err, out)
		}
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
	// couch overrides the CouchDB the invoker is given (a private pouchdb-server).
	couch *url.URL
	// config is merged over the default config file.
	config map[string]any
}

type harness struct {
	t          *testing.T
	svc        services
	bin        string
	id         int
	controller string
	dbPrefix   string
	couch      *url.URL
	store      *store.Store
	port       int
	dir        string
	configPath string

	kafka    sarama.Client
	admin    sarama.ClusterAdmin
	producer sarama.SyncProducer
	consumer sarama.Consumer
	acks     *ackLog

	mu    sync.Mutex
	procs []*proc
}

func newHarness(t *testing.T, svc services, opts harnessOptions) *harness {
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
		couch:      svc.couch,
	}
	if opts.couch != nil {
		h.couch = opts.couch
	}
	h.dbPrefix = fmt.Sprintf("it_inv%d_", h.id)
	// Registered first, so it runs last: after the processes are gone and their logs are complete.
	t.Cleanup(h.dumpLogsOnFailure)

	// CouchDB: the three databases, as OpenWhisk's deployment creates them.
	cfg, err := store.ConfigFromURL(h.couch.String(), h.dbPrefix)
	require.NoError(t, err)
	h.store, err = store.New(cfg, zerolog.Nop(), store.WithRequestTimeout(10*time.Second))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, h.store.EnsureDBs(ctx), "create test databases")

	// Kafka: the controller's side.
	kc := sarama.NewConfig()
	kc.Version = sarama.V2_1_0_0
	kc.ClientID = fmt.Sprintf("nemo-it-controller%s", h.controller)
	kc.Producer.Return.Successes = true
	kc.Producer.RequiredAcks = sarama.WaitForLocal
	kc.Consumer.Return.Errors = false
	kc.Metadata.RefreshFrequency = 2 * time.Second
	h.kafka, err = sarama.NewClient([]string{svc.kafka}, kc)
	require.NoError(t, err, "kafka client")
	h.admin, err = sarama.NewClusterAdminFromClient(h.kafka)
	require.NoError(t, err)
	h.producer, err = sarama.NewSyncProducerFromClient(h.kafka)
	require.NoError(t, err)
	// The consumer gets its own connections: Kafka answers one request per connection at a time, so a
	// produce sharing a connection with a long-polling fetch would wait for the fetch (up to 500 ms).
	h.consumer, err = sarama.NewConsumer([]string{svc.kafka}, kc)
	require.NoError(t, err)

	// The controller creates completed{C} and health; the test plays the controller.
	h.createTopic(h.completedTopic())
	h.createTopic("health")
	h.acks = newAckLog()
	h.consume(h.completedTopic(), sarama.OffsetOldest, h.acks.add)

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

func (h *harness) invokerTopic() string   { return "invoker" + strconv.Itoa(h.id) }
func (h *harness) completedTopic() string { return "completed" + h.controller }
func (h *harness) name() string           { return "invoker" + strconv.Itoa(h.id) }

// environ is the environment an OpenWhisk deployment would give the invoker container, on top of the
// test's own (minus anything that would configure the invoker behind the test's back).
func (h *harness) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "CONFIG_"), strings.HasPrefix(k, "NEMO_"), strings.HasPrefix(k, "WHISK_"),
			strings.HasPrefix(k, "OPENWHISK_"), k == "KAFKA_HOSTS", k == "PORT", k == "RUNTIMES_MANIFEST", k == "DB_PREFIX":
			continue
		}
		env = append(env, kv)
	}
	pass, _ := h.couch.User.Password()
	port := h.couch.Port()
	if port == "" {
		port = "5984"
	}
	return append(env,
		"KAFKA_HOSTS="+h.svc.kafka,
		// 3.9 is the broker's level; at ≥ 2.3 the consumer is a static group member, so a restarted
		// invoker gets its partition back at once (with 2.1.0 it waits out the 30 s session timeout).
		"NEMO_KAFKA_VERSION=3.9.0",
		"CONFIG_whisk_couchdb_protocol="+h.couch.Scheme,
		"CONFIG_whisk_couchdb_host="+h.couch.Hostname(),
		"CONFIG_whisk_couchdb_port="+port,
		"CONFIG_whisk_couchdb_username="+h.couch.User.Username(),
		"CONFIG_whisk_couchdb_password="+pass,
		"CONFIG_whisk_couchdb_databases_WhiskEntity="+h.dbPrefix+"whisks",
		"CONFIG_whisk_couchdb_databases_WhiskActivation="+h.dbPrefix+"activations",
		"CONFIG_whisk_couchdb_databases_WhiskAuth="+h.dbPrefix+"subjects",
		"RUNTIMES_MANIFEST="+runtimesManifest,
		"PORT="+strconv.Itoa(h.port),
		"CONFIG_whisk_containerPool_userMemory="+userMemoryEnv,
	)
}

func (h *harness) cleanup() {
	h.mu.Lock()
	procs := append([]*proc(nil), h.procs...)
	h.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			p.waitExit(10 * time.Second)
		}
	}
	// Safety net: containers this test's invoker left (a failed test, a SIGKILL without restart).
	if ids := containersOf(h.t, h.id); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	if h.consumer != nil {
		_ = h.consumer.Close()
	}
	if h.producer != nil {
		_ = h.producer.Close()
	}
	if h.admin != nil {
		for _, topic := range []string{h.invokerTopic(), h.completedTopic()} {
			_ = h.admin.DeleteTopic(topic)
		}
		_ = h.admin.DeleteConsumerGroup(h.invokerTopic())
	}
	if h.kafka != nil {
		_ = h.kafka.Close()
	}
	if h.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.store.DeleteDBs(ctx)
		_ = h.store.Close()
	}
}

func (h *harness) dumpLogsOnFailure() {
	if !h.t.Failed() {
		return
	}
	h.mu.Lock()
	procs := append([]*proc(nil), h.procs...)
	h.mu.Unlock()
	for i, p := range procs {
		lines := itest.ReadLines(p.logPath)
		const keep = 250
		from := 0
		if len(lines) > keep {
			from = len(lines) - keep
		}
		h.t.Logf("---- %s process %d (%s), log lines %d..%d of %d ----\n%s", h.name(), i+1, p.describe(),
			from+1, len(lines), len(lines), strings.Join(lines[from:], "\n"))
	}
}

// ---------------------------------------------------------------------------------------------------
// Invoker processes

type proc struct {
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	started time.Time
	ended   time.Time
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) waitExit(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// exitCode is the process's exit status (-1 when killed by a signal or still running).
func (p *proc) exitCode() int {
	if !p.exited() || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) describe() string {
	if !p.exited() {
		return fmt.Sprintf("pid %d, running", p.cmd.Process.Pid)
	}
	return fmt.Sprintf("pid %d, %v after %v", p.cmd.Process.Pid, p.cmd.ProcessState, p.ended.Sub(p.started).Round(time.Millisecond))
}

// spawn starts `nemo args...` with env, its stdout and stderr going to a log file of its own.
func (h *harness) spawn(env []string, args ...string) *proc {
	h.t.Helper()
	h.mu.Lock()
	n := len(h.procs) + 1
	h.mu.Unlock()
	logDir := h.dir
	if d := os.Getenv("NEMO_IT_LOGDIR"); d != "" {
		logDir = d // keep the invoker logs after the test (debugging)
	}
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", h.name(), n))
	f, err := os.Create(logPath)
	require.NoError(h.t, err)
	cmd := exec.Command(h.bin, args...)
	cmd.Env = env
	cmd.Dir = h.dir
	cmd.Stdout, cmd.Stderr = f, f
	p := &proc{cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	require.NoError(h.t, cmd.Start(), "start %s", h.bin)
	p.started = time.Now()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		p.ended = time.Now()
		_ = f.Close()
		close(p.done)
	}()
	return p
}

// start runs `nemo invoker --id N --config file` and waits until it answers GET /ping (the HTTP port is
// bound last in the start-up order, PROTOCOL.md §9.2).
func (h *harness) start() *proc {
	h.t.Helper()
	p := h.spawn(h.environ(), "invoker", "--id", strconv.Itoa(h.id), "--config", h.configPath)
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		if p.exited() {
			h.t.Fatalf("%s exited during start-up: %s\n%s", h.name(), p.describe(), itest.Tail(p.logPath, 30))
		}
		resp, err := client.Get(h.url("/ping"))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				h.t.Logf("%s process %d ready after %v", h.name(), len(h.procs), time.Since(p.started).Round(time.Millisecond))
				return p
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s did not answer /ping within 90 s", h.name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (h *harness) stop(p *proc) int {
	h.t.Helper()
	require.NoError(h.t, p.cmd.Process.Signal(syscall.SIGTERM))
	if !p.waitExit(100 * time.Second) {
		_ = p.cmd.Process.Kill()
		p.waitExit(10 * time.Second)
		h.t.Fatalf("%s did not exit within 100 s of SIGTERM", h.name())
	}
	return p.exitCode()
}

// kill sends SIGKILL: no drain, no commit, no container removal.
func (h *harness) kill(p *proc) {
	h.t.Helper()
	require.NoError(h.t, p.cmd.Process.Kill())
	require.True(h.t, p.waitExit(10*time.Second), "process did not die after SIGKILL")
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
	for _, l := range strings.Split(a.body, "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			require.NoError(h.t, err, "metric line %q", l)
			return f, true
		}
	}
	return 0, false
}

// ---------------------------------------------------------------------------------------------------
// Kafka: topics, producing activations, consuming acks and pings

func (h *harness) createTopic(name string) {
	h.t.Helper()
	err := h.admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			require.NoError(h.t, err, "create topic %s", name)
		}
	}
}

// consume reads every partition of topic from offset into fn, until the harness closes its consumer.
func (h *harness) consume(topic string, offset int64, fn func(*sarama.ConsumerMessage)) {
	h.t.Helper()
	var parts []int32
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if parts, err = h.consumer.Partitions(topic); err == nil && len(parts) > 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("topic %s has no partitions: %v", topic, err)
		}
	}
	for _, part := range parts {
		var pc sarama.PartitionConsumer
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if pc, err = h.consumer.ConsumePartition(topic, part, offset); err == nil {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("consume %s/%d: %v", topic, part, err)
			}
		}
		go func() {
			for m := range pc.Messages() {
				fn(m)
			}
		}()
	}
}

func (h *harness) produce(value []byte) {
	h.t.Helper()
	_, _, err := h.producer.SendMessage(&sarama.ProducerMessage{Topic: h.invokerTopic(), Value: sarama.ByteEncoder(value)})
	require.NoError(h.t, err, "produce to %s", h.invokerTopic())
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

// message builds an ActivationMessage as the controller writes it (PROTOCOL.md §2.2).
func (h *harness) message(action string, blocking bool, content map[string]any, o msgOptions) activation {
	h.t.Helper()
	aid := itest.RandomHex(16)
	tid := o.transid
	if tid == nil {
		tid = json.RawMessage(fmt.Sprintf(`[%q,%d]`, randomAlnum(32), time.Now().UnixMilli()))
	}
	var rev any
	if o.revision != nil {
		rev = *o.revision
	}
	m := map[string]any{
		"transid":  tid,
		"action":   map[string]string{"path": namespace, "name": action, "version": "0.0.1"},
		"revision": rev,
		"user": map[string]any{
			"subject":   namespace,
			"namespace": map[string]string{"name": namespace, "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			"authkey":   map[string]string{"api_key": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:it"},
			"rights":    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
			"limits":    map[string]any{},
		},
		"activationId":        aid,
		"rootControllerIndex": map[string]string{"asString": h.controller, "instanceType": "controller"},
		"blocking":            blocking,
		"initArgs":            []string{},
		"lockedArgs":          map[string]string{},
	}
	if content != nil {
		m["content"] = content
	}
	b, err := json.Marshal(m)
	require.NoError(h.t, err)
	return activation{AID: aid, TransID: tid, Blocking: blocking, Raw: b}
}

// ack is one record read from completed{C}, classified the way the controller does (by field names).
type ack struct {
	Kind   string // "result", "completion" or "combined"
	AID    string
	Raw    []byte
	Fields map[string]json.RawMessage
	At     time.Time
}

func (a ack) slotFree() bool { return a.Kind != "result" }

func classifyAck(raw []byte) (ack, error) {
	a := ack{Raw: append([]byte(nil), raw...), At: time.Now()}
	if err := json.Unmarshal(raw, &a.Fields); err != nil {
		return a, fmt.Errorf("ack is not a JSON object: %w", err)
	}
	_, inst := a.Fields["instance"]
	resp, hasResp := a.Fields["response"]
	switch {
	case inst && hasResp:
		a.Kind = "combined"
	case inst:
		a.Kind = "completion"
	default:
		a.Kind = "result"
	}
	if a.Kind == "completion" {
		if err := json.Unmarshal(a.Fields["activationId"], &a.AID); err != nil {
			return a, fmt.Errorf("completion without activationId: %w", err)
		}
		return a, nil
	}
	if err := json.Unmarshal(resp, &a.AID); err == nil {
		return a, nil // shrunk: the activation id
	}
	var act struct {
		ActivationID string `json:"activationId"`
	}
	if err := json.Unmarshal(resp, &act); err != nil || act.ActivationID == "" {
		return a, fmt.Errorf("response is neither an id nor an activation: %s", resp)
	}
	a.AID = act.ActivationID
	return a, nil
}

// ackLog collects the acks of completed{C} and lets a test wait on them.
type ackLog struct {
	mu      sync.Mutex
	acks    []ack
	bad     []string
	changed chan struct{}
}

func newAckLog() *ackLog { return &ackLog{changed: make(chan struct{})} }

func (l *ackLog) add(m *sarama.ConsumerMessage) {
	a, err := classifyAck(m.Value)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.bad = append(l.bad, fmt.Sprintf("%v: %s", err, m.Value))
	} else {
		l.acks = append(l.acks, a)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *ackLog) snapshot() ([]ack, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ack(nil), l.acks...), append([]string(nil), l.bad...)
}

// waitFor waits until cond holds over all acks so far; false on timeout.
func (l *ackLog) waitFor(timeout time.Duration, cond func([]ack) bool) bool {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		ok := cond(l.acks)
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

func (l *ackLog) forID(aid string) []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ack
	for _, a := range l.acks {
		if a.AID == aid {
			out = append(out, a)
		}
	}
	return out
}

// slotFreeCounts counts Completion and Combined acks per activation id.
func slotFreeCounts(acks []ack) map[string]int {
	n := map[string]int{}
	for _, a := range acks {
		if a.slotFree() {
			n[a.AID]++
		}
	}
	return n
}

// waitSlotFree waits until every id has a slot-freeing ack; it fails the test naming the missing ones.
func (h *harness) waitSlotFree(timeout time.Duration, aids ...string) {
	h.t.Helper()
	ok := h.acks.waitFor(timeout, func(acks []ack) bool {
		n := slotFreeCounts(acks)
		for _, id := range aids {
			if n[id] == 0 {
				return false
			}
		}
		return true
	})
	if !ok {
		acks, _ := h.acks.snapshot()
		n := slotFreeCounts(acks)
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

type pingLog struct {
	mu      sync.Mutex
	pings   []ping
	changed chan struct{}
}

// watchPings consumes topic health from its current end and keeps this invoker's pings.
func (h *harness) watchPings() *pingLog {
	h.t.Helper()
	l := &pingLog{changed: make(chan struct{})}
	h.consume("health", sarama.OffsetNewest, func(m *sarama.ConsumerMessage) {
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
		l.mu.Lock()
		l.pings = append(l.pings, p)
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	})
	return l
}

func (l *pingLog) snapshot() []ping {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ping(nil), l.pings...)
}

func (l *pingLog) waitFor(timeout time.Duration, cond func([]ping) bool) bool {
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		ok := cond(l.pings)
		ch := l.changed
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// ---------------------------------------------------------------------------------------------------
// CouchDB: seeding actions and reading activation records

// seedAction writes blackbox action guest/<name> running the test image, as the controller does.
func (h *harness) seedAction(st *store.Store, name string, memoryMB, logsMB int) string {
	h.t.Helper()
	a := filestore.SampleAction(actionImage, time.Now().UnixMilli())
	a.ID, a.Name = namespace+"/"+name, name
	a.Limits.MemoryMB, a.Limits.LogsMB = memoryMB, logsMB
	doc, err := a.MarshalJSON()
	require.NoError(h.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rev, err := st.PutActionDoc(ctx, doc)
	require.NoError(h.t, err, "seed action %s", a.ID)
	return rev
}

// record reads activation document guest/<aid> from the activations database as raw fields; ok is
// false when it does not exist (yet).
func (h *harness) record(aid string) (map[string]json.RawMessage, bool) {
	h.t.Helper()
	base := *h.couch
	base.User = nil
	u := fmt.Sprintf("%s/%s/%s", strings.TrimRight(base.String(), "/"), url.PathEscape(h.dbPrefix+"activations"),
		url.PathEscape(namespace+"/"+aid))
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
			h.t.Fatalf("activation record %s/%s not in %sactivations within %v", namespace, aid, h.dbPrefix, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------------
// Docker

// containersOf lists the ids of all containers (any state) labelled nemo.invoker=<id>.
func containersOf(t *testing.T, id int) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "label=nemo.invoker="+strconv.Itoa(id)).Output()
	if err != nil {
		t.Errorf("docker ps: %v", err)
		return nil
	}
	return strings.Fields(string(out))
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
