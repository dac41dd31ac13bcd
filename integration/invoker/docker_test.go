//go:build integration

package integration

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
)

// statusOf returns the activation status code a blocking activation was answered with (its Result or
// Combined ack) and whether that ack said system error.
func statusOf(t *testing.T, h *harness, aid string) (code int64, systemError bool) {
	t.Helper()
	acks := h.acks.ForID(aid)
	require.NotEmpty(t, acks, "no ack for %s", aid)
	first := acks[0]
	act := object(t, first.Fields["response"])
	resp := object(t, act["response"])
	code = jsonInt(t, resp["statusCode"])
	last := acks[len(acks)-1]
	return code, string(last.Fields["isSystemError"]) == "true"
}

// TestDockerRestartMidRun: the Docker engine is restarted while the invoker holds a warm container and
// activations (of another action) keep arriving. The restart stops every container (no live-restore); the
// invoker learns it from the engine's event stream, destroys the dead container and returns its memory, answers every
// activation (those that met the engine down with a whisk error at worst, never a lost one or a developer
// error blamed on the action), runs the activations after the restart in new containers, and leaves no
// container behind when it stops.
//
// The engine restarted is one the test starts for itself (itest.StartDockerd: its own socket, data root,
// exec root and pid file, host networking), given the action image and named to the invoker and to the
// test's docker commands through DOCKER_HOST; the machine's engine is never touched, so the test runs
// whether or not a daemon is already running.
func TestDockerRestartMidRun(t *testing.T) {
	svc := itest.NeedServices(t)
	if os.Geteuid() != 0 {
		t.Fatal("TestDockerRestartMidRun starts a Docker daemon of its own, which needs root")
	}
	engine := itest.StartDockerd(t)
	require.NoError(t, engine.CopyImage(itest.ActionImage))
	t.Setenv("DOCKER_HOST", engine.Host)
	t.Logf("private dockerd pid %d on %s", engine.Pid(), engine.Host)
	t.Cleanup(func() {
		t.Logf("private dockerd restarts: %s", strings.Join(engine.Timeline, ", "))
		if t.Failed() {
			t.Logf("private dockerd log:\n%s", itest.Tail(engine.LogPath, 40))
		}
	})
	// Down for 3 s: longer than the 1 s ping period, so the invoker must notice the outage (a private daemon
	// restarts in about a second, faster than the machine's engine does).
	restart := func() error { return engine.Restart(3 * time.Second) }
	h := newHarness(t, svc, harnessOptions{config: map[string]any{
		"docker": map[string]any{"mode": "host", "publishHost": "127.0.0.1"},
	}})
	itest.SeedAction(t, h.store, "hello", 256, 10)
	// The activations sent while the engine restarts are of another action: none of them is handed the warm
	// hello container, so only the engine's event stream can tell the invoker that it died (a run on it would
	// fail and have the pool remove it on its own, and the watcher's report would find nothing to do).
	itest.SeedAction(t, h.store, "during", 256, 10)
	p := h.start()
	used := func() float64 {
		v, ok := h.metric(`nemo_pool_memory_used_bytes{state="all"}`)
		v /= 1 << 20 // MB
		require.True(t, ok, "nemo_pool_memory_used_bytes missing from /metrics")
		return v
	}

	// runOK sends one blocking activation, waits for it and requires that it ran.
	runOK := func(name string) string {
		t.Helper()
		a := h.message("hello", true, map[string]any{"name": name}, msgOptions{})
		h.produce(a.Raw)
		h.waitSlotFree(90*time.Second, a.AID)
		code, _ := statusOf(t, h, a.AID)
		require.Zero(t, code, "activation %s: %s", name, h.acks.ForID(a.AID)[0].Raw)
		return a.AID
	}

	var before []string
	for i := range 2 {
		before = append(before, runOK("before"+strconv.Itoa(i)))
	}
	require.Len(t, containersOf(t, h.id), 1, "one warm container before the restart")
	require.Equal(t, 256.0, used())

	restarted := make(chan error, 1)
	t0 := time.Now()
	go func() { restarted <- restart() }()
	var during []string
	var restartErr error
wait:
	for {
		a := h.message("during", true, map[string]any{"name": "during"}, msgOptions{})
		h.produce(a.Raw)
		during = append(during, a.AID)
		select {
		case restartErr = <-restarted:
			break wait
		case <-time.After(500 * time.Millisecond):
		}
	}
	require.NoError(t, restartErr)
	t.Logf("engine restarted in %v; %d activations produced meanwhile", time.Since(t0).Round(time.Millisecond), len(during))

	h.waitSlotFree(120*time.Second, during...)
	var ranDuring, whiskDuring int
	for _, aid := range during {
		code, sys := statusOf(t, h, aid)
		switch {
		case code == 0:
			ranDuring++
		case code == 3 && sys: // whisk error: no container could be provisioned while the engine was down
			whiskDuring++
		default:
			t.Errorf("activation %s during the restart: status %d (system error %v): %v", aid, code, sys, h.acks.ForID(aid)[0].Raw)
		}
	}

	var after []string
	for i := range 5 {
		after = append(after, runOK("after"+strconv.Itoa(i)))
	}

	// Pings resume at the first tick after the engine is back (1 s at most).
	// (The engine may drop the event stream more than once while it stops, so wait for the last word.)
	const withholding, pinging = "withholding pings until the invoker can serve again", "pinging again: the invoker can serve"
	lastPingState := func() string {
		last := ""
		for _, l := range readLog(p.LogPath) {
			if m := l.str("message"); m == withholding || m == pinging {
				last = m
			}
		}
		return last
	}
	for deadline := time.Now().Add(10 * time.Second); lastPingState() != pinging; time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "pings did not resume after the engine came back")
	}
	destroyed, withheld, resumed := 0, 0, 0
	for _, l := range readLog(p.LogPath) {
		switch l.str("message") {
		case "container stopped outside the pool's control; destroying it",
			"container stopped by itself before it was initialised": // a start the restart cut short
			destroyed++
		case withholding:
			withheld++
		case pinging:
			resumed++
		}
	}
	// Health is earned: no pings while the engine was away (the restart takes seconds, pings are 1 s apart).
	require.NotZero(t, withheld, "the invoker kept pinging while Docker was down")
	require.Equal(t, withheld, resumed, "pings resumed after each outage")
	require.NotZero(t, destroyed, "the invoker never learned that its container stopped: the watcher was not tested")
	died, ok := h.metric("nemo_pool_containers_died_total")
	require.True(t, ok, "nemo_pool_containers_died_total missing from /metrics")
	require.Equal(t, float64(destroyed), died, "the metric counts the containers the log reports")
	// Memory accounting is exact: what the pool holds is what is running.
	live := containersOf(t, h.id)
	if float64(256*len(live)) != used() {
		ps, _ := engine.Docker(10*time.Second, "ps", "-a", "--filter", "label=nemo.invoker="+strconv.Itoa(h.id),
			"--format", "{{.Names}} {{.State}} {{.Status}}")
		t.Logf("the invoker's containers on the engine:\n%s", ps)
	}
	require.Equal(t, float64(256*len(live)), used(), "pool memory vs %d live containers", len(live))
	t.Logf("Docker restart: before 2/2 ran; during %d produced: %d ran, %d whisk errors; after 5/5 ran; "+
		"containers destroyed as stopped: %d; live containers now %d (pool holds %.0f MB)",
		len(during), ranDuring, whiskDuring, destroyed, len(live), used())

	require.Equal(t, 0, h.stop(p), "invoker exit code")
	require.Empty(t, containersOf(t, h.id), "containers left after the invoker stopped")
	for _, aid := range append(append(before, during...), after...) {
		h.waitRecord(aid, 30*time.Second)
	}
}
