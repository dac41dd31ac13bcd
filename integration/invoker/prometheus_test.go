//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
)

// prometheusBin finds Debian's prometheus and promtool: $NEMO_PROMETHEUS_BIN (scripts/test.sh unpacks the
// package there), else PATH.
func prometheusBin(t *testing.T, name string) string {
	t.Helper()
	if d := os.Getenv("NEMO_PROMETHEUS_BIN"); d != "" {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found (scripts/test.sh unpacks Debian's prometheus package and sets NEMO_PROMETHEUS_BIN)", name)
	}
	return p
}

// openWhiskName: the metric families OpenWhisk's invoker exports through Kamon (counter_…, gauge_…,
// histogram_…), which keep OpenWhisk's spelling.
func openWhiskName(name string) bool {
	for _, prefix := range []string{"counter_", "gauge_", "histogram_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestMetricsForPrometheus: after cold and warm activations, /metrics passes `promtool check metrics`,
// carries OpenWhisk's own metric names beside NEMO's (the tags-off spellings, OpenWhisk's default), and a
// real Prometheus scrapes it and answers queries on those names.
func TestMetricsForPrometheus(t *testing.T) {
	svc := itest.NeedServices(t)
	promtool, prom := prometheusBin(t, "promtool"), prometheusBin(t, "prometheus")
	h := newHarness(t, svc, harnessOptions{})
	itest.SeedAction(t, h.store, "hello", 256, 10)
	h.start()
	for i := range 2 { // a cold start, then a warm one
		a := h.message("hello", true, map[string]any{"name": strconv.Itoa(i)}, msgOptions{})
		h.produce(a.Raw)
		h.waitSlotFree(90*time.Second, a.AID)
	}
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		body = h.http(http.MethodGet, "/metrics", "", "").body
		if strings.Contains(body, "counter_invoker_containerStart_warmed_counter_total 1") {
			break
		}
	}
	for _, sample := range []string{
		"counter_invoker_containerStart_cold_counter_total 1",
		"counter_invoker_containerStart_warmed_counter_total 1",
		"gauge_containerPool_idlesCount_counter 1",
		"gauge_containerPool_activeCount_counter 0",
		"gauge_containerPool_prewarmCount_counter ",
		"gauge_containerPool_idlesSize_counter_bytes 2.68435456e+08",
		"nemo_pool_user_memory_bytes ",
	} {
		require.Contains(t, body, "\n"+sample, "/metrics:\n%s", body)
	}
	require.NotContains(t, body, "_mb{")

	// promtool exits 1 on text it cannot parse and 3 on naming remarks. OpenWhisk's own names are
	// camelCase with the type in the name (Kamon's spelling, which operators' dashboards query), so
	// remarks are expected on them and on nothing else: every nemo_* name must pass the lint.
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "promtool check metrics:\n%s", out)
		require.Equal(t, 3, exit.ExitCode(), "promtool could not parse /metrics:\n%s\n--- /metrics:\n%s", out, body)
	}
	for _, remark := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if remark == "" {
			continue
		}
		name, _, _ := strings.Cut(remark, " ")
		require.Truef(t, openWhiskName(name), "promtool remark on a name that is not OpenWhisk's: %q\n--- /metrics:\n%s", remark, body)
	}

	// A real Prometheus scraping the invoker every second.
	dir := t.TempDir()
	promPort := itest.FreePort(t)
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: nemo\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n", h.port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	p := itest.Spawn(t, itest.ProcSpec{Name: "prometheus", Bin: prom, Dir: dir, LogPath: itest.LogFile(dir, "prometheus.log"),
		Args: []string{"--config.file=" + filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(promPort)}})
	t.Cleanup(func() { _ = p.Terminate(20 * time.Second) })
	query := func(q string) (float64, bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
			"http://127.0.0.1:"+strconv.Itoa(promPort)+"/api/v1/query?query="+url.QueryEscape(q), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) == 0 || len(r.Data.Result[0].Value) < 2 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil
	}
	for q, want := range map[string]float64{
		`up{job="nemo"}`: 1,
		`counter_invoker_containerStart_cold_counter_total{job="nemo"}`:   1,
		`counter_invoker_containerStart_warmed_counter_total{job="nemo"}`: 1,
		`gauge_containerPool_idlesCount_counter{job="nemo"}`:              1,
		`nemo_activations_total{job="nemo",status="success"}`:             2,
	} {
		var got float64
		var ok bool
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if got, ok = query(q); ok && got == want {
				break
			}
			require.False(t, p.Exited(), "prometheus exited: %s\n%s", p.Describe(), itest.Tail(p.LogPath, 20))
		}
		require.True(t, ok && got == want, "Prometheus: %s = %v (found %v), want %v\n%s", q, got, ok, want, itest.Tail(p.LogPath, 20))
	}
}
