//go:build integration

package harvest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
)

// TestLeftoverNICRestoredWithHarvesterDisabled starts the real invoker binary with harvester.enabled false and a
// state file that a crashed run left behind, naming two interfaces: a veth end of this test's in the root
// namespace (a real device, which answers the restore ioctl "coalescing unsupported") and an interface that
// does not exist. The invoker must act on the file before it serves: the veth entry leaves the file with a
// warning, the missing interface's entry stays for the next start with an error naming it, and the invoker
// then starts normally (harvesting off). Before the fix the binary built no harvester when it was disabled,
// so the file stayed as it was and nothing was logged.
func TestLeftoverNICRestoredWithHarvesterDisabled(t *testing.T) {
	svc := needServices(t)
	dir := t.TempDir()
	nemo := filepath.Join(dir, "nemo")
	require.NoError(t, itest.GoBuild(nemo, "github.com/nemo-edge/nemo/invoker/cmd/nemo"))
	r := newRun(t, svc)
	r.createPair()
	gone := "nemogone" + r.suffix

	stateFile := filepath.Join(r.dir, "harvester-nic.json")
	saved := func(rx int) map[string]any {
		return map[string]any{"coalesce": map[string]any{"RxCoalesceUsecs": rx},
			"saved_at": time.Now().UTC().Add(-time.Hour), "pid": 424242}
	}
	state := map[string]any{"version": 1, "interfaces": map[string]any{r.pair.PeerIf: saved(3), gone: saved(5)}}
	b, err := json.Marshal(state)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stateFile, b, 0o644))

	r.prepareKafkaAndStore()
	conf := map[string]any{
		"invoker":   map[string]any{"listenHost": "127.0.0.1"},
		"docker":    map[string]any{"mode": "publish", "publishHost": "127.0.0.1"},
		"harvester": map[string]any{"enabled": false, "stateFile": stateFile},
	}
	b, err = json.Marshal(conf)
	require.NoError(t, err)
	configPath := filepath.Join(r.dir, "nemo.json")
	require.NoError(t, os.WriteFile(configPath, b, 0o644))
	r.port = itest.FreePort(t)
	logPath := itest.LogFile(r.dir, fmt.Sprintf("invoker%d.log", r.id))
	env := itest.InvokerEnv{Kafka: r.svc.Kafka, Couch: r.svc.Couch, DBPrefix: r.dbPrefix, Port: r.port}.Environ()
	p := r.spawn(itest.ProcSpec{Name: "invoker", Bin: nemo, Env: env, LogPath: logPath,
		Args: []string{"invoker", "--id", strconv.Itoa(r.id), "--config", configPath}})
	r.invProc = p
	require.NoError(t, itest.WaitReady(p, r.url("/ping"), 60*time.Second), "invoker start\n%s", itest.Tail(logPath, 30))

	var dropped, kept []map[string]any
	for _, l := range itest.ReadLines(logPath) {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) != nil {
			continue
		}
		switch line["message"] {
		case "leftover NIC state for a device without coalescing support; dropping it":
			dropped = append(dropped, line)
		case "cannot restore leftover NIC coalescing; keeping the entry for the next start":
			kept = append(kept, line)
		}
	}
	require.Len(t, dropped, 1, "one warning for the veth entry\n%s", itest.Tail(logPath, 30))
	require.Equal(t, r.pair.PeerIf, dropped[0]["iface"])
	require.Equal(t, "warn", dropped[0]["level"])
	require.Equal(t, "harvester", dropped[0]["component"])
	require.Len(t, kept, 1, "one error for the missing interface\n%s", itest.Tail(logPath, 30))
	require.Equal(t, gone, kept[0]["iface"])
	require.Equal(t, "error", kept[0]["level"])

	b, err = os.ReadFile(stateFile)
	require.NoError(t, err)
	var left struct {
		Interfaces map[string]json.RawMessage `json:"interfaces"`
	}
	require.NoError(t, json.Unmarshal(b, &left), "%s", b)
	require.Len(t, left.Interfaces, 1, "state file after the start: %s", b)
	require.Contains(t, left.Interfaces, gone, "the entry that could not be restored stays for the next start")

	metrics, err := getBody(r.url("/metrics"))
	require.NoError(t, err)
	samples, _ := itest.ParseMetrics(string(metrics))
	_, harvesting := samples["nemo_harvest_active"]
	require.False(t, harvesting, "harvesting stays off: no harvester metrics with harvester.enabled false")
}

// createPair creates the run's namespace and veth pair (peer end in the root namespace); teardown deletes
// the namespace, which deletes both ends, also when the set-up failed half-way.
func (r *run) createPair() {
	t := r.t
	t.Helper()
	for _, n := range []string{r.pair.NFIf, r.pair.PeerIf} {
		if _, err := os.Stat(filepath.Join("/sys/class/net", n)); err == nil {
			t.Fatalf("interface %s already exists in the root namespace; not touching it", n)
		}
	}
	require.False(t, netns.Exists(r.pair.NFNetns), "namespace %s already exists; not touching it", r.pair.NFNetns)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.pair.Teardown(ctx); err != nil {
			t.Errorf("teardown %s: %v", r.pair.NFNetns, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := r.pair.Ensure(ctx)
	require.NoError(t, err, "create namespace %s and veth %s/%s", r.pair.NFNetns, r.pair.NFIf, r.pair.PeerIf)
}
