//go:build integration

package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
)

// demoPrefix is the name prefix of the demo's containers (invoker/cmd/nemo, config.Demo).
const demoPrefix = "wskdemo0"

// activations is what `nemo demo` sends by default (-n 4): three blocking, then one non-blocking.
const activations = 4

func TestDemoScript(t *testing.T) {
	if os.Getenv("NEMO_DOCKER") != "1" {
		t.Skip("needs the Docker engine: NEMO_DOCKER=1 is not set (eval \"$(scripts/services.sh env)\")")
	}
	// scripts/demo.sh starts (and stops) a Docker engine when none answers; this test uses the running one.
	if out, err := docker(t, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("NEMO_DOCKER=1 but the engine does not answer: %v\n%s", err, out)
	}
	if _, err := docker(t, "image", "inspect", itest.ActionImage); err != nil {
		t.Skipf("image %s is not built (scripts/build-images.sh builds it): %v", itest.ActionImage, err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)

	// A container named like a real invoker0's: the demo's start-up and shutdown clean-ups must not touch it.
	decoy := "wsk0_" + itest.RandomHex(4) + "_nemo_demo_test_decoy"
	out, err := docker(t, "create", "--name", decoy, "--label", "nemo.test=integration-demo", itest.ActionImage)
	require.NoError(t, err, "create the decoy: %s", out)
	t.Cleanup(func() { _, _ = docker(t, "rm", "-f", decoy) })

	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	stdout, stderr, code := runScript(t, root, dir, filepath.Join(root, "scripts", "demo.sh"), "-dir", store)
	t.Logf("scripts/demo.sh -dir %s: exit %d\n%s", store, code, stdout)
	require.Equal(t, 0, code, "exit status; stderr:\n%s", stderr)
	assert.NotContains(t, stderr, "nemo:", "no error on stderr")

	run, err := parseDemo(stdout)
	require.NoError(t, err, "the demo's output does not have its documented shape:\n%s", stdout)

	t.Run("header", func(t *testing.T) {
		assert.Equal(t, demoPrefix+"_*", run.header["containers"])
		assert.True(t, strings.HasPrefix(run.header["store"], store+" "), "store line: %q", run.header["store"])
		assert.Contains(t, run.header["kafka"], "in-process")
		assert.Contains(t, run.header["invoker"], "http://127.0.0.1:")
	})

	t.Run("a cold answer, then warm ones from the same container", func(t *testing.T) {
		require.Len(t, run.activations, activations)
		cold := run.activations[0]
		assert.Equal(t, "cold", cold.answer, "the first activation starts the container")
		assert.NotNil(t, cold.initTime, "its record has an initTime: %s", cold.record)
		for i, a := range run.activations {
			assert.Equal(t, fmt.Sprintf("%d/%d", i+1, activations), a.position)
			var result struct {
				Greeting string `json:"greeting"`
				Runs     int    `json:"runs"`
			}
			require.NoError(t, json.Unmarshal([]byte(a.result), &result), "answer %d: %s", i+1, a.result)
			assert.Equal(t, fmt.Sprintf("Hello edge-%d!", i), result.Greeting, "answer %d", i+1)
			assert.Equal(t, i+1, result.Runs, "answer %d: the test action counts the requests its process served", i+1)
			if i == 0 {
				continue
			}
			assert.Equal(t, "warm", a.answer, "activation %d", i+1)
			assert.Nil(t, a.initTime, "a warm activation does not initialise: %s", a.record)
			assert.Less(t, a.answerMs, cold.answerMs, "activation %d: warm answer after the cold one's time", i+1)
		}
		assert.Regexp(t, `^1 cold \([0-9.]+ ms\), 3 warm \(median [0-9.]+ ms\)$`, run.summary)
	})

	t.Run("acks", func(t *testing.T) {
		for i, a := range run.activations {
			require.NotEmpty(t, a.acks, "activation %d", i+1)
			last := a.acks[len(a.acks)-1]
			assert.Contains(t, []string{"Completion", "Combined"}, last, "activation %d: the last ack frees the slot", i+1)
			if a.blocking {
				assert.Contains(t, []string{"Result", "Combined"}, a.acks[0], "activation %d: a blocking one gets its result first", i+1)
			} else {
				assert.Equal(t, []string{"Completion"}, a.acks, "activation %d: a non-blocking one gets only a completion", i+1)
			}
			assert.Equal(t, i < activations-1, a.blocking, "activation %d", i+1)
		}
	})

	t.Run("stored records", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(store, "activations"))
		require.NoError(t, err)
		var stored []string
		for _, e := range entries {
			name, err := url.PathUnescape(strings.TrimSuffix(e.Name(), ".json"))
			require.NoError(t, err)
			stored = append(stored, name)
		}
		var printed []string
		for i, a := range run.activations {
			assert.Equal(t, "guest/"+a.id, a.recordID, "activation %d: the record is the activation's", i+1)
			assert.True(t, strings.HasPrefix(a.record, "success, "), "activation %d: %s", i+1, a.record)
			assert.Regexp(t, `, 2 log lines$`, a.record, "activation %d: the test action logs one line to stdout and one to stderr", i+1)
			printed = append(printed, a.recordID)
			doc, err := os.ReadFile(filepath.Join(store, "activations", url.PathEscape(a.recordID)+".json"))
			require.NoError(t, err, "activation %d", i+1)
			var rec struct {
				ActivationID string `json:"activationId"`
				Response     struct {
					Result json.RawMessage `json:"result"`
				} `json:"response"`
			}
			require.NoError(t, json.Unmarshal(doc, &rec))
			assert.Equal(t, a.id, rec.ActivationID)
			assert.JSONEq(t, string(rec.Response.Result), a.result, "activation %d: the answer printed is the stored result", i+1)
		}
		slices.Sort(stored)
		slices.Sort(printed)
		assert.Equal(t, printed, stored, "the store holds exactly the printed records")
	})

	t.Run("metrics excerpt", func(t *testing.T) {
		count := map[string]float64{}
		for _, a := range run.activations {
			for _, k := range a.acks {
				count[k]++
			}
		}
		m := run.metrics
		assert.Equal(t, float64(activations), m[`nemo_activations_total{status="success"}`])
		assert.Equal(t, count["Completion"], m[`nemo_acks_total{kind="completion"}`], "as many completion acks as printed")
		assert.Equal(t, count["Result"], m[`nemo_acks_total{kind="result"}`], "as many result acks as printed")
		assert.GreaterOrEqual(t, m[`nemo_pool_memory_used_bytes{state="all"}`], 256.0*(1<<20), "the warm container holds its 256 MB")
		var invocations float64
		for k, v := range m {
			if strings.HasPrefix(k, "nemo_scheduler_state_total{") && k != `nemo_scheduler_state_total{state="S1"}` {
				invocations += v
			}
		}
		assert.Equal(t, float64(activations), invocations, "every invocation has one state among S2..S4-2")
		assert.Equal(t, 0.0, m["nemo_scheduler_invocations_in_flight"])
	})

	t.Run("containers", func(t *testing.T) {
		require.NotEmpty(t, run.containers, "the demo lists the pool's containers before it stops the invoker")
		for _, c := range run.containers {
			assert.True(t, strings.HasPrefix(c, demoPrefix+"_"), "container %q", c)
		}
		assert.Equal(t, "invoker; containers named "+demoPrefix+"_*: none left", run.stopped)

		names, err := docker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "name="+demoPrefix+"_")
		require.NoError(t, err, names)
		for _, n := range strings.Fields(names) {
			assert.False(t, strings.HasPrefix(n, demoPrefix+"_"), "container %s left behind", n)
		}
		state, err := docker(t, "inspect", "--format", "{{.State.Status}}", decoy)
		assert.NoError(t, err, "the decoy %s (a real invoker0's name) was removed by the demo: %s", decoy, state)
	})
}

// runScript runs a script in its own process group (killed whole on timeout) and returns its stdout,
// stderr and exit status. The environment keeps PATH, HOME, DOCKER_HOST and Go's settings; the services
// state directory is the test's own, so that nothing the script might start or stop is anyone else's.
func runScript(t *testing.T, dir, stateDir, script string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(itest.CleanEnviron(), "NEMO_STATE="+filepath.Join(stateDir, "services"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("%s: %v (timeout: %v)\nstdout:\n%s\nstderr:\n%s", script, err, ctx.Err(), stdout.String(), stderr.String())
	return "", "", 0
}

func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// demoRun is what `nemo demo` printed, read back by the shape runDemo documents.
type demoRun struct {
	header      map[string]string
	activations []demoActivation
	summary     string
	containers  []string
	metrics     map[string]float64
	stopped     string
}

type demoActivation struct {
	position string // "I/N"
	id       string
	blocking bool
	acks     []string // kinds, in order
	recordID string
	record   string // the record line after the id
	initTime *int
	answer   string // cold | warm
	answerMs float64
	result   string
}

var (
	reHeader     = regexp.MustCompile(`^  (kafka|store|containers|invoker) +(.+)$`)
	reActivation = regexp.MustCompile(`^activation (\d+/\d+) ([0-9a-f]{32}) (blocking|non-blocking)$`)
	reAck        = regexp.MustCompile(`^  ack +(Result|Completion|Combined) +after ([0-9.]+) ms$`)
	reRecord     = regexp.MustCompile(`^  record +(\S+/[0-9a-f]{32}): (.+)$`)
	reInitTime   = regexp.MustCompile(`, initTime (\d+) ms`)
	reAnswer     = regexp.MustCompile(`^  answer +(cold|warm), after ([0-9.]+) ms: (.+)$`)
	reSummary    = regexp.MustCompile(`^  summary +(.+)$`)
	reContainer  = regexp.MustCompile(`^  container +(\S+) (\S+)$`)
	reMetrics    = regexp.MustCompile(`^metrics \(excerpt of http://\S+/metrics\)$`)
	reSample     = regexp.MustCompile(`^  (nemo_\S+ \S+)$`)
	reStopped    = regexp.MustCompile(`^  stopped +(.+)$`)
)

// parseDemo reads the demo's output; a line it does not expect where it is, or a block with a part
// missing, is an error.
func parseDemo(out string) (*demoRun, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "NEMO demo: ") {
		return nil, errors.New("no \"NEMO demo: \" header line")
	}
	r := &demoRun{header: map[string]string{}}
	var cur *demoActivation
	var samples []string
	inMetrics := false
	for n, l := range lines[1:] {
		bad := func(what string) error { return fmt.Errorf("line %d: %s: %q", n+2, what, l) }
		var m []string
		switch {
		case l == "":
			inMetrics = false
		case inMetrics:
			if m = reSample.FindStringSubmatch(l); m == nil {
				return nil, bad("not a metrics sample")
			}
			samples = append(samples, m[1])
		case len(r.activations) == 0 && cur == nil && reHeader.MatchString(l):
			m = reHeader.FindStringSubmatch(l)
			r.header[m[1]] = m[2]
		case reActivation.MatchString(l):
			m = reActivation.FindStringSubmatch(l)
			r.activations = append(r.activations, demoActivation{position: m[1], id: m[2], blocking: m[3] == "blocking"})
			cur = &r.activations[len(r.activations)-1]
		case reAck.MatchString(l):
			if cur == nil || cur.recordID != "" {
				return nil, bad("ack outside an activation's acks")
			}
			cur.acks = append(cur.acks, reAck.FindStringSubmatch(l)[1])
		case reRecord.MatchString(l):
			m = reRecord.FindStringSubmatch(l)
			if cur == nil || len(cur.acks) == 0 || cur.recordID != "" {
				return nil, bad("record out of place")
			}
			cur.recordID, cur.record = m[1], m[2]
			if it := reInitTime.FindStringSubmatch(m[2]); it != nil {
				v, _ := strconv.Atoi(it[1])
				cur.initTime = &v
			}
		case reAnswer.MatchString(l):
			m = reAnswer.FindStringSubmatch(l)
			if cur == nil || cur.recordID == "" || cur.answer != "" {
				return nil, bad("answer out of place")
			}
			cur.answer, cur.result = m[1], m[3]
			cur.answerMs, _ = strconv.ParseFloat(m[2], 64)
			cur = nil
		case reSummary.MatchString(l):
			r.summary = reSummary.FindStringSubmatch(l)[1]
		case reContainer.MatchString(l):
			r.containers = append(r.containers, reContainer.FindStringSubmatch(l)[1])
		case reMetrics.MatchString(l):
			inMetrics = true
		case reStopped.MatchString(l):
			r.stopped = reStopped.FindStringSubmatch(l)[1]
		default:
			return nil, bad("unexpected line")
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("activation %s has no answer", cur.id)
	}
	for _, part := range []struct {
		name string
		ok   bool
	}{{"activations", len(r.activations) > 0}, {"summary", r.summary != ""}, {"metrics", len(samples) > 0}, {"stopped", r.stopped != ""}} {
		if !part.ok {
			return nil, fmt.Errorf("no %s", part.name)
		}
	}
	metrics, malformed := itest.ParseMetrics(strings.Join(samples, "\n"))
	if len(malformed) > 0 {
		return nil, fmt.Errorf("malformed metrics samples %q", malformed)
	}
	r.metrics = metrics
	return r, nil
}
