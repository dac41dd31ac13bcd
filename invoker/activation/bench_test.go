package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/metrics"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// The benchmarks below measure what the invoker spends on one warm activation in-process: from the Kafka
// record's bytes to the marshalled acks and the marshalled activation document, through the real
// activation path and the real pool.Manager. What is faked is only the I/O at the edges:
//   - the container backend (benchBackend): /run answers at once with the reply of a hello-world action,
//     and its log collection parses and formats json-file lines with the same pool/proxy codecs the Docker
//     backend uses, without reading a file;
//   - the producer (fakeAcker of path_test.go): marshals every ack, as invoker/messaging's Producer does,
//     and sends nothing;
//   - the artifact store (benchStore, fakeStore of path_test.go underneath): serves the action and encodes
//     every activation document as invoker/store does before its _bulk_docs batch, and writes nothing.
//
// ns/op is therefore CPU per activation of NEMO's own code without Kafka, HTTP, CouchDB and Docker, not the
// end-to-end figure of docs/benchmarks.md (1c), which includes sarama, net/http and the json-file tail.
//
//	go test -run NONE -bench Process -benchmem -count 5 ./invoker/activation/

// benchStore serves actions from fakeStore and encodes each record as invoker/store does, keeping nothing.
type benchStore struct {
	*fakeStore
	docBytes atomic.Int64
}

func (s *benchStore) PutActivation(ctx context.Context, a *wire.WhiskActivation) error {
	doc, err := a.Document(a.End)
	if err != nil {
		return err
	}
	s.docBytes.Add(int64(len(doc)))
	return nil
}

type benchHandle struct{ id, name string }

func (h *benchHandle) ID() string   { return h.id }
func (h *benchHandle) Name() string { return h.name }

// benchBackend is an in-process container backend. Every /run answers with runReply; Logs parses
// logFile's json-file lines (two action lines and the two sentinels) with proxy.ParseDockerLogLine and
// formats the kept ones with proxy.FormatLogLine, as pool/docker's collector does.
type benchBackend struct {
	mu      sync.Mutex
	seq     int
	runs    atomic.Int64
	logFile [][]byte
}

// runReply is what pool/docker makes of the hello action's /run answer {"payload":"Hello World, bench"}.
func runReply() proxy.Response {
	size := len(`{"payload":"Hello World, bench"}`)
	return proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{"payload":"Hello World, bench"}`), Size: &size}
}

func newBenchBackend() *benchBackend {
	lines := []string{
		`{"log":"handling activation for bench\n","stream":"stdout","time":"2026-12-07T17:20:31.118276113Z"}`,
		`{"log":"payload \"Hello World, bench\" in 41 µs\n","stream":"stderr","time":"2026-12-07T17:20:31.118321804Z"}`,
		`{"log":"` + proxy.LogSentinel + `\n","stream":"stdout","time":"2026-12-07T17:20:31.118402417Z"}`,
		`{"log":"` + proxy.LogSentinel + `\n","stream":"stderr","time":"2026-12-07T17:20:31.118409922Z"}`,
	}
	b := &benchBackend{}
	for _, l := range lines {
		b.logFile = append(b.logFile, []byte(l))
	}
	return b
}

func (b *benchBackend) Create(ctx context.Context, name string, spec pool.Spec) (pool.Handle, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	return &benchHandle{id: fmt.Sprintf("bench%d", b.seq), name: name}, nil
}

func (b *benchBackend) Init(ctx context.Context, h pool.Handle, body []byte, timeout time.Duration) pool.InitResult {
	return pool.InitResult{OK: true, Duration: time.Millisecond}
}

func (b *benchBackend) Run(ctx context.Context, h pool.Handle, body []byte, timeout time.Duration) pool.RunResult {
	b.runs.Add(1)
	start := time.Now()
	return pool.RunResult{Response: runReply(), Start: start, End: start.Add(time.Millisecond)}
}

func (b *benchBackend) Logs(ctx context.Context, h pool.Handle, limitBytes int64, opts pool.LogOptions) pool.LogResult {
	var res pool.LogResult
	if limitBytes == 0 {
		return res
	}
	for _, raw := range b.logFile {
		l, err := proxy.ParseDockerLogLine(raw)
		if err != nil {
			res.Failed = true
			return res
		}
		if l.IsSentinel() {
			continue
		}
		res.Lines = append(res.Lines, proxy.FormatLogLine(l.Time, l.Stream, l.Log))
	}
	return res
}

func (b *benchBackend) Freeze(ctx context.Context, h pool.Handle) error { return nil }
func (b *benchBackend) Thaw(ctx context.Context, h pool.Handle) error   { return nil }
func (b *benchBackend) Remove(ctx context.Context, h pool.Handle) error { return nil }
func (b *benchBackend) Cleanup(ctx context.Context, prefix string) (int, error) {
	return 0, nil
}

// benchMessage is the blocking fixture as a controller sends it (spray-json writes compact JSON), with
// blocking set as asked.
func benchMessage(b *testing.B, blocking bool) []byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtures, "activation-message-blocking.json"))
	if err != nil {
		b.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, raw); err != nil {
		b.Fatal(err)
	}
	msg := c.Bytes()
	if !blocking {
		msg = bytes.Replace(msg, []byte(`"blocking":true`), []byte(`"blocking":false`), 1)
	}
	return msg
}

func benchAction(b *testing.B, logsMB int) *wire.Action {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtures, "action-doc-nodejs-inline.json"))
	if err != nil {
		b.Fatal(err)
	}
	a, err := wire.ParseAction(raw)
	if err != nil {
		b.Fatal(err)
	}
	a.Namespace, a.Name, a.Version, a.Rev = "guest", "hello", "0.0.2", "2-5a0b4d1c8e2f43b7a9d6c3e1f0b2a4c7"
	a.Limits.LogsMB = logsMB
	return a
}

// benchCases are the three ways a warm activation is answered (package doc, Acknowledgements).
var benchCases = []struct {
	name     string
	blocking bool
	logsMB   int
	acks     int
}{
	{"blocking-split", true, 10, 2}, // Result, then Completion after the logs
	{"blocking-nologs", true, 0, 1}, // one Combined
	{"non-blocking", false, 10, 1},  // one Completion after the logs
}

// BenchmarkProcess runs warm activations one after the other through Path.Process and pool.Manager.
func BenchmarkProcess(b *testing.B) {
	for _, tc := range benchCases {
		b.Run(tc.name, func(b *testing.B) {
			runner, stop := benchManager(b)
			defer stop()
			benchProcess(b, runner, tc.blocking, tc.logsMB, tc.acks)
		})
	}
}

// BenchmarkProcessNoPool is BenchmarkProcess with the pool replaced by fakeRunner (a fixed outcome, no
// /run body, no log lines), to tell the activation path's own share from the pool's.
func BenchmarkProcessNoPool(b *testing.B) {
	for _, tc := range benchCases {
		b.Run(tc.name, func(b *testing.B) {
			o := successOutcome()
			o.InitDuration, o.ContainerState = 0, "warm"
			benchProcess(b, &fakeRunner{outcome: o}, tc.blocking, tc.logsMB, tc.acks)
		})
	}
}

func benchManager(b *testing.B) (*pool.Manager, func()) {
	b.Helper()
	m, err := pool.NewManager(context.Background(), pool.ManagerConfig{}, newBenchBackend(), zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	return m, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Close(ctx)
	}
}

func benchProcess(b *testing.B, runner Runner, blocking bool, logsMB, wantAcks int) {
	manifest, err := os.ReadFile(filepath.Join(fixtures, "runtimes.json"))
	if err != nil {
		b.Fatal(err)
	}
	m, err := wire.ParseManifest(manifest)
	if err != nil {
		b.Fatal(err)
	}
	st := &benchStore{fakeStore: newFakeStore()}
	st.actions["guest/hello"] = benchAction(b, logsMB)
	acks := &fakeAcker{}
	cfg := Config{
		Instance: wire.InvokerInstanceID{Instance: 0, UserMemoryBytes: 2048 << 20, Tags: []string{}, DedicatedNamespaces: []string{}},
		Manifest: m,
	}
	// Info level into a discarding writer: the lines are built as in production, and not written.
	p := New(cfg, st, runner, acks, metrics.NewRegistry(), zerolog.New(io.Discard).Level(zerolog.InfoLevel))
	msg := benchMessage(b, blocking)
	ctx := context.Background()

	// One activation outside the timing makes the container warm (and checks the setup).
	if r := p.Process(ctx, Item{Value: msg}); r != ResultRan {
		b.Fatalf("setup activation: %s", r)
	}
	if len(acks.acks) != wantAcks {
		b.Fatalf("setup activation sent %d acks, want %d", len(acks.acks), wantAcks)
	}
	ackBytes := 0
	for _, a := range acks.acks {
		ackBytes += len(a.body)
	}
	acks.acks = acks.acks[:0]

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := p.Process(ctx, Item{Value: msg}); r != ResultRan {
			b.Fatalf("activation: %s", r)
		}
		acks.mu.Lock()
		if len(acks.acks) != wantAcks {
			acks.mu.Unlock()
			b.Fatalf("%d acks, want %d", len(acks.acks), wantAcks)
		}
		acks.acks = acks.acks[:0]
		acks.mu.Unlock()
	}
	b.StopTimer()
	b.ReportMetric(float64(ackBytes), "ack-B/op")
	b.ReportMetric(float64(st.docBytes.Load())/float64(b.N+1), "doc-B/op")
}
