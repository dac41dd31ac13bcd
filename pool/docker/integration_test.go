//go:build integration

package docker

// Integration tests against the real Docker engine and the images built by scripts/build-images.sh.
// Run: NEMO_DOCKER=1 go test -tags integration ./pool/docker/...   (benchmarks: add -run '^$' -bench .)

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

const (
	goImage     = "nemo/action-go:latest"
	pythonImage = "nemo/action-python:3.11"
	itInvoker   = "it-docker"
)

var (
	itPrefix  = fmt.Sprintf("wskit%d", os.Getpid()%100000)
	itCounter atomic.Uint64
	itOnce    sync.Once
	itCli     *client.Client
	itErr     error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if itCli != nil {
		// Nothing may leak: every test removes its containers; count what is left of this run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		left := countContainers(ctx, itCli, itPrefix)
		if left > 0 {
			fmt.Fprintf(os.Stderr, "integration: %d containers leaked with prefix %s; removing them\n", left, itPrefix)
			b := New(itCli, Config{}, zerolog.Nop())
			_, _ = b.Cleanup(ctx, itPrefix)
			code = 1
		}
		cancel()
		itCli.Close()
	}
	os.Exit(code)
}

func requireDocker(tb testing.TB) *client.Client {
	tb.Helper()
	if os.Getenv("NEMO_DOCKER") != "1" {
		tb.Skip("Docker integration tests need NEMO_DOCKER=1 and a running engine")
	}
	itOnce.Do(func() {
		itCli, itErr = NewClient()
		if itErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, itErr = itCli.Ping(ctx)
		}
	})
	if itErr != nil {
		tb.Skipf("Docker engine not reachable: %v", itErr)
	}
	return itCli
}

func requireImage(tb testing.TB, cli *client.Client, image string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		tb.Skipf("image %s missing (run scripts/build-images.sh%s): %v", image,
			map[bool]string{true: " --python", false: ""}[image == pythonImage], err)
	}
}

func countContainers(ctx context.Context, cli *client.Client, prefix string) int {
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", prefix+"_"))})
	if err != nil {
		return -1
	}
	n := 0
	for _, s := range list {
		if _, ok := ownName(s.Names, prefix); ok {
			n++
		}
	}
	return n
}

func itBackend(tb testing.TB, cfg Config) (*Backend, *client.Client) {
	tb.Helper()
	cli := requireDocker(tb)
	requireImage(tb, cli, goImage)
	cfg.InvokerID = itInvoker
	if cfg.UserMemoryMB == 0 {
		cfg.UserMemoryMB = 1024
	}
	log := zerolog.New(zerolog.NewTestWriter(tb)).Level(zerolog.WarnLevel)
	return New(cli, cfg, log), cli
}

func itName(what string) string {
	return fmt.Sprintf("%s_%d_guest_%s", itPrefix, itCounter.Add(1), what)
}

func goSpec(mem int) pool.Spec {
	return pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/it"}, Kind: "go:1.22", Image: goImage, MemoryMB: mem}
}

// itCreate creates a container and removes it when the test ends.
func itCreate(tb testing.TB, b *Backend, spec pool.Spec) *Container {
	tb.Helper()
	h, err := b.Create(context.Background(), itName("it"), spec)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(tb, b.Remove(ctx, h))
	})
	return h.(*Container)
}

func initBody(env map[string]string) []byte {
	v := map[string]any{"name": "it", "main": "main", "binary": false}
	if env != nil {
		v["env"] = env
	}
	b, _ := json.Marshal(map[string]any{"value": v})
	return b
}

func runBody(value map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"value": value, "namespace": "guest", "action_name": "/guest/it",
		"activation_id": "0123456789abcdef0123456789abcdef", "transaction_id": "tid", "deadline": "1717236980645"})
	return b
}

func itInit(t *testing.T, b *Backend, c *Container, env map[string]string) {
	t.Helper()
	res := b.Init(context.Background(), c, initBody(env), 10*time.Second)
	require.True(t, res.OK, "init: %s", res.Response.Result)
}

func result(t *testing.T, r proxy.Response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Result, &m), "%s", r.Result)
	return m
}

func TestITColdThenWarm(t *testing.T) {
	for _, src := range []LogSource{LogFile, LogAPI} {
		t.Run(string(src), func(t *testing.T) {
			b, _ := itBackend(t, Config{LogSource: src})
			c := itCreate(t, b, goSpec(128))
			assert.True(t, strings.HasPrefix(c.Addr(), "127.0.0.1:"), "tests dial loopback only: %s", c.Addr())
			assert.True(t, c.UsesCgroupFreezer())
			res := b.Init(context.Background(), c, initBody(nil), 10*time.Second)
			require.True(t, res.OK, "%s", res.Response.Result)
			t.Logf("init took %v", res.Duration)

			r1 := b.Run(context.Background(), c, runBody(map[string]any{"name": "World", "log_lines": 2}), 5*time.Second)
			require.Equal(t, proxy.StatusSuccess, r1.Response.StatusCode, "%s", r1.Response.Result)
			m := result(t, r1.Response)
			assert.Equal(t, "Hello World!", m["greeting"])
			assert.Equal(t, float64(1), m["runs"])
			assert.Equal(t, "0123456789abcdef0123456789abcdef", m["activation_id"])
			require.NotNil(t, r1.Response.Size)
			assert.Equal(t, len(r1.Response.Result), *r1.Response.Size)

			logs := b.Logs(context.Background(), c, 10<<20, pool.LogOptions{Sentinels: true})
			require.False(t, logs.Failed, "%v", logs.Lines)
			require.Len(t, logs.Lines, 4, "%v", logs.Lines)
			sort.Strings(logs.Lines) // the two streams interleave
			for _, l := range logs.Lines {
				assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z +std(out|err): log line [01]$`, l)
				assert.NotContains(t, l, proxy.LogSentinel)
			}

			r2 := b.Run(context.Background(), c, runBody(map[string]any{"name": "again"}), 5*time.Second)
			require.Equal(t, proxy.StatusSuccess, r2.Response.StatusCode)
			assert.Equal(t, float64(2), result(t, r2.Response)["runs"], "warm: same process")
			logs = b.Logs(context.Background(), c, 10<<20, pool.LogOptions{Sentinels: true})
			assert.False(t, logs.Failed)
			assert.Empty(t, logs.Lines, "the second activation printed nothing; the cursor skipped the first")
		})
	}
}

func TestITInitWithBinaryCode(t *testing.T) {
	b, _ := itBackend(t, Config{})
	bin := filepath.Join(t.TempDir(), "testaction")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "../../integration/actionproxy/testaction")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	code, err := os.ReadFile(bin)
	require.NoError(t, err)
	body, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "it", "main": "main", "binary": true,
		"code": base64.StdEncoding.EncodeToString(code), "env": map[string]string{"FOO": "bar"}}})

	c := itCreate(t, b, goSpec(128))
	res := b.Init(context.Background(), c, body, 10*time.Second)
	require.True(t, res.OK, "%s", res.Response.Result)
	r := b.Run(context.Background(), c, runBody(map[string]any{"name": "bin"}), 5*time.Second)
	require.Equal(t, proxy.StatusSuccess, r.Response.StatusCode, "%s", r.Response.Result)
	assert.Equal(t, "bar", result(t, r.Response)["env_FOO"])

	again := b.Init(context.Background(), c, body, 10*time.Second)
	assert.False(t, again.OK, "a second init is refused by the runtime")
	assert.JSONEq(t, `{"error":"Cannot initialize the action more than once."}`, string(again.Response.Result))
}

func TestITFreezeThaw(t *testing.T) {
	b, cli := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	itInit(t, b, c, nil)
	ctx := context.Background()

	require.NoError(t, b.Freeze(ctx, c))
	insp, err := cli.ContainerInspect(ctx, c.ID())
	require.NoError(t, err)
	assert.True(t, insp.State.Running, "Docker still reports a cgroup-frozen container as running")
	assert.False(t, insp.State.Paused)
	frozen, err := b.freezer.Frozen(*c.cg)
	require.NoError(t, err)
	assert.True(t, frozen)

	done := make(chan pool.RunResult, 1)
	go func() { done <- b.Run(ctx, c, runBody(map[string]any{"name": "frozen"}), 20*time.Second) }()
	select {
	case r := <-done:
		t.Fatalf("/run completed while frozen: %s", r.Response.Result)
	case <-time.After(500 * time.Millisecond):
	}
	thawedAt := time.Now()
	require.NoError(t, b.Thaw(ctx, c))
	select {
	case r := <-done:
		require.Equal(t, proxy.StatusSuccess, r.Response.StatusCode, "%s", r.Response.Result)
		assert.Equal(t, "Hello frozen!", result(t, r.Response)["greeting"])
		t.Logf("/run completed %v after thaw", r.End.Sub(thawedAt))
	case <-time.After(10 * time.Second):
		t.Fatal("/run did not complete after thaw")
	}

	// Remove works on a frozen container (thaw first).
	require.NoError(t, b.Freeze(ctx, c))
	require.NoError(t, b.Remove(ctx, c))
	_, err = cli.ContainerInspect(ctx, c.ID())
	assert.Error(t, err, "removed")
}

func TestITImageMissing(t *testing.T) {
	b, cli := itBackend(t, Config{})
	before := countContainers(context.Background(), cli, itPrefix)
	spec := goSpec(128)
	spec.Image = "nemo/does-not-exist:latest"
	_, err := b.Create(context.Background(), itName("noimage"), spec)
	assert.ErrorIs(t, err, ErrImageNotFound)
	assert.Equal(t, before, countContainers(context.Background(), cli, itPrefix), "nothing left behind")
}

func TestITKilledFromOutside(t *testing.T) {
	b, cli := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	itInit(t, b, c, nil)
	require.NoError(t, cli.ContainerKill(context.Background(), c.ID(), "KILL"))
	r := b.Run(context.Background(), c, runBody(nil), 5*time.Second)
	assert.True(t, r.Reschedule, "the container stopped before /run: the pool runs the activation elsewhere")
	assert.Equal(t, proxy.StatusDeveloperError, r.Response.StatusCode)
	assert.JSONEq(t, errJSON(proxy.MsgAbnormalRun), string(r.Response.Result))
	assert.True(t, r.Dead)
	assert.False(t, r.TimedOut)
}

func TestITOOM(t *testing.T) {
	b, _ := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(64))
	itInit(t, b, c, nil)
	r := b.Run(context.Background(), c, runBody(map[string]any{"alloc_mb": 256}), 20*time.Second)
	assert.Equal(t, proxy.StatusDeveloperError, r.Response.StatusCode)
	assert.JSONEq(t, errJSON(proxy.MsgMemoryExhausted), string(r.Response.Result))
	assert.True(t, r.Dead)
}

func TestITInitFails(t *testing.T) {
	b, _ := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	res := b.Init(context.Background(), c, initBody(map[string]string{"TESTACTION_INIT": "fail"}), 10*time.Second)
	assert.False(t, res.OK)
	assert.True(t, res.Dead)
	assert.Equal(t, proxy.StatusDeveloperError, res.Response.StatusCode)
	assert.Contains(t, string(res.Response.Result), "Cannot start action: command exited: exit status 3")

	logs := b.Logs(context.Background(), c, 10<<20, pool.LogOptions{DeveloperError: true}) // developer error: no sentinels to wait for
	assert.False(t, logs.Failed)
	joined := strings.Join(logs.Lines, "\n")
	assert.Contains(t, joined, "stderr: testaction: failing at init as requested")
	assert.Contains(t, logs.Lines[len(logs.Lines)-1], proxy.MsgLogsMissingDevError)
}

func TestITInitHangs(t *testing.T) {
	b, _ := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	res := b.Init(context.Background(), c, initBody(map[string]string{"TESTACTION_INIT": "hang"}), time.Second)
	assert.False(t, res.OK)
	assert.True(t, res.Dead)
	assert.JSONEq(t, errJSON(proxy.MsgInitTimeout(1000)), string(res.Response.Result))
	assert.GreaterOrEqual(t, res.Duration, time.Second)
}

func TestITRunBadOutputs(t *testing.T) {
	b, _ := itBackend(t, Config{})
	t.Run("non-json", func(t *testing.T) {
		c := itCreate(t, b, goSpec(128))
		itInit(t, b, c, nil)
		r := b.Run(context.Background(), c, runBody(map[string]any{"non_json": true}), 5*time.Second)
		assert.Equal(t, proxy.StatusDeveloperError, r.Response.StatusCode)
		assert.JSONEq(t, `{"error":"The action did not return a dictionary or array."}`, string(r.Response.Result))
		assert.True(t, r.Dead)
	})
	t.Run("huge output", func(t *testing.T) {
		c := itCreate(t, b, goSpec(256))
		itInit(t, b, c, nil)
		r := b.Run(context.Background(), c, runBody(map[string]any{"output_bytes": 2 << 20}), 10*time.Second)
		assert.Equal(t, proxy.StatusApplicationError, r.Response.StatusCode)
		var e struct{ Error string }
		require.NoError(t, json.Unmarshal(r.Response.Result, &e))
		wantLen := len(`{"data":""}`) + (2 << 20)
		assert.True(t, strings.HasPrefix(e.Error, fmt.Sprintf(
			"The action produced a response that exceeded the allowed length: %d > 1048576 bytes. The truncated response was: {\"data\":\"xxx", wantLen)),
			"%.200s", e.Error)
		assert.False(t, r.Dead, "an application error keeps the container")
		ok := b.Run(context.Background(), c, runBody(nil), 5*time.Second)
		assert.Equal(t, proxy.StatusSuccess, ok.Response.StatusCode, "still serves after a truncated reply")
	})
}

func TestITLogFloodTruncated(t *testing.T) {
	b, _ := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	itInit(t, b, c, nil)
	r := b.Run(context.Background(), c, runBody(map[string]any{"log_lines": 3000, "log_line_bytes": 200}), 20*time.Second)
	require.Equal(t, proxy.StatusSuccess, r.Response.StatusCode)
	const limit = 64 << 10
	logs := b.Logs(context.Background(), c, limit, pool.LogOptions{Sentinels: true})
	assert.True(t, logs.Truncated)
	assert.False(t, logs.Failed, "drained up to the sentinels")
	assert.Less(t, len(logs.Lines), 600, "about 64 KiB of 270-byte json lines")
	assert.Greater(t, len(logs.Lines), 100)
	assert.Contains(t, logs.Lines[len(logs.Lines)-1], proxy.MsgLogsTruncated(limit))

	r = b.Run(context.Background(), c, runBody(map[string]any{"log_lines": 1}), 5*time.Second)
	require.Equal(t, proxy.StatusSuccess, r.Response.StatusCode)
	logs = b.Logs(context.Background(), c, limit, pool.LogOptions{Sentinels: true})
	assert.Len(t, logs.Lines, 2, "the next activation sees only its own lines: %v", logs.Lines)
}

func TestITTimeout(t *testing.T) {
	b, _ := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	itInit(t, b, c, nil)
	r := b.Run(context.Background(), c, runBody(map[string]any{"sleep_ms": 5000}), 500*time.Millisecond)
	assert.Equal(t, proxy.StatusDeveloperError, r.Response.StatusCode)
	assert.JSONEq(t, errJSON(proxy.MsgTimeout(500)), string(r.Response.Result))
	assert.True(t, r.TimedOut)
	assert.True(t, r.Dead, "a timed-out container is destroyed")
}

func TestITHostNetwork(t *testing.T) {
	b, _ := itBackend(t, Config{Mode: NetworkHost})
	c := itCreate(t, b, goSpec(128))
	itInit(t, b, c, nil)
	r := b.Run(context.Background(), c, runBody(map[string]any{"name": "host"}), 5*time.Second)
	require.Equal(t, proxy.StatusSuccess, r.Response.StatusCode, "%s", r.Response.Result)
}

func TestITPython(t *testing.T) {
	b, cli := itBackend(t, Config{})
	requireImage(t, cli, pythonImage)
	spec := pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/py"}, Kind: "python:3", Image: pythonImage, MemoryMB: 128}
	c := itCreate(t, b, spec)
	code := "import os\ndef main(args):\n    print('hello from python')\n    return {'greeting': 'Hello ' + args.get('name', 'x'), 'aid': os.environ.get('__OW_ACTIVATION_ID')}\n"
	body, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "py", "main": "main", "binary": false, "code": code}})
	res := b.Init(context.Background(), c, body, 10*time.Second)
	require.True(t, res.OK, "%s", res.Response.Result)
	r := b.Run(context.Background(), c, runBody(map[string]any{"name": "py"}), 5*time.Second)
	require.Equal(t, proxy.StatusSuccess, r.Response.StatusCode, "%s", r.Response.Result)
	assert.Equal(t, map[string]any{"greeting": "Hello py", "aid": "0123456789abcdef0123456789abcdef"}, result(t, r.Response))
	logs := b.Logs(context.Background(), c, 1<<20, pool.LogOptions{Sentinels: true})
	require.False(t, logs.Failed, "%v", logs.Lines)
	require.Len(t, logs.Lines, 1)
	assert.Contains(t, logs.Lines[0], "stdout: hello from python")
}

func TestITCleanup(t *testing.T) {
	b, cli := itBackend(t, Config{})
	ctx := context.Background()
	prefix := itPrefix + "cl"
	var frozen *Container
	for i := 0; i < 3; i++ {
		h, err := b.Create(ctx, fmt.Sprintf("%s_%d_guest_left", prefix, i+1), goSpec(128))
		require.NoError(t, err)
		if i == 0 {
			frozen = h.(*Container)
		}
	}
	itInit(t, b, frozen, nil)
	require.NoError(t, b.Freeze(ctx, frozen))
	require.Equal(t, 3, countContainers(ctx, cli, prefix))

	// A fresh backend (as after an invoker restart) finds and removes them.
	b2, _ := itBackend(t, Config{})
	n, err := b2.Cleanup(ctx, prefix)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, 0, countContainers(ctx, cli, prefix), "none leaked")
}

// BenchmarkFreezeThawVsPause measures, on one container, b.N cgroup freeze+thaw cycles and then b.N Docker
// pause+unpause cycles, each followed (untimed) by a /run that checks the action still answers, and reports
// both medians and their ratio (goal ≥ 30×). The phases are not interleaved: right after a pause/unpause the
// daemon and containerd are still busy with its events, which slowed an immediately following cgroup freeze
// about 7× on this 2-core host.
func BenchmarkFreezeThawVsPause(b *testing.B) {
	be, cli := itBackend(b, Config{})
	c := itCreate(b, be, goSpec(128))
	if res := be.Init(context.Background(), c, initBody(nil), 10*time.Second); !res.OK {
		b.Fatalf("init: %s", res.Response.Result)
	}
	ctx := context.Background()
	alive := func(i int) {
		b.StopTimer()
		defer b.StartTimer()
		if r := be.Run(ctx, c, runBody(nil), 5*time.Second); r.Response.StatusCode != proxy.StatusSuccess {
			b.Fatalf("container not alive after cycle %d: %s", i, r.Response.Result)
		}
	}
	var cg, fr, th, dp []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := be.Freeze(ctx, c); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := be.Thaw(ctx, c); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		cg, fr, th = append(cg, t2.Sub(t0)), append(fr, t1.Sub(t0)), append(th, t2.Sub(t1))
		alive(i)
	}
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := cli.ContainerPause(ctx, c.ID()); err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerUnpause(ctx, c.ID()); err != nil {
			b.Fatal(err)
		}
		dp = append(dp, time.Since(t0))
		// The daemon applies its own "paused" event asynchronously and may still believe the container paused
		// right after unpause returns (the next pause then fails "already paused"): wait for it, untimed.
		b.StopTimer()
		waitUnpaused(b, cli, c.ID())
		b.StartTimer()
		alive(i)
	}
	b.StopTimer()
	mc, md := median(cg), median(dp)
	b.ReportMetric(float64(mc.Microseconds()), "cgroup-µs/cycle")
	b.ReportMetric(float64(median(fr).Microseconds()), "freeze-µs")
	b.ReportMetric(float64(median(th).Microseconds()), "thaw-µs")
	b.ReportMetric(float64(md.Microseconds()), "pause-µs/cycle")
	b.ReportMetric(float64(md)/float64(mc), "pause/cgroup")
}

func waitUnpaused(b *testing.B, cli *client.Client, id string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		insp, err := cli.ContainerInspect(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		if !insp.State.Paused {
			return
		}
		time.Sleep(time.Millisecond)
	}
	b.Fatal("the daemon still reports the container paused 5 s after unpause")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// A container killed from outside is reported by the event stream (pool.DeathWatcher).
func TestITWatchDeathsReportsAKill(t *testing.T) {
	b, cli := itBackend(t, Config{})
	c := itCreate(t, b, goSpec(128))
	d := watch(t, b, itPrefix)
	// No wait for the subscription: it asks the daemon to replay the last seconds of events.
	require.NoError(t, cli.ContainerKill(context.Background(), c.ID(), "KILL"))
	for {
		if name := d.next(t); name == c.Name() {
			break // earlier tests' stopped containers of the same prefix may come first
		}
	}
}
