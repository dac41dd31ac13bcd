//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
)

// TestFourInvokersOneHost runs invokers 0..3 of one deployment side by side on this host and this Kafka, as
// a DaemonSet per node or ansible's several invokers per host do (ids N..N+3 here, so as not to meet other
// tests' invoker0): each on its own port, each sent a burst of activations on its own topic at once. Every
// activation is answered exactly once, by the invoker whose topic carried it (the ack names the instance),
// every container is named with its own invoker's prefix, and each invoker leaves nothing behind when it
// stops.
func TestFourInvokersOneHost(t *testing.T) {
	svc := itest.NeedServices(t)
	bin := buildNemo(t)
	prefix := "it_" + itest.RandomHex(4) + "_"
	st := itest.OpenStore(t, svc.Couch, prefix)
	itest.SeedAction(t, st, "multi-hello", 128, 1)
	first := 200000 + rand.IntN(700000)
	const n, perInvoker = 4, 8

	type inv struct {
		id   int
		port int
		ctl  *itest.Controller
		acks *itest.AckLog
		proc *itest.Proc
		log  string
		sent []string
	}
	// All four harvest one NF with one host state file and one Click segment, as invokers sharing a
	// host's NFs do: the segment has one writer at a time, the others start anyway.
	shared := t.TempDir()
	cfgPath := filepath.Join(shared, "nemo.json")
	require.NoError(t, os.WriteFile(cfgPath, fmt.Appendf(nil,
		`{"harvester": {"enabled": true, "stateFile": %q, "nfs": [{"name": "fw", "interface": "lo", "shm": %q}]}}`,
		filepath.Join(shared, "harvester-nic.json"), filepath.Join(shared, "nemo-fw")), 0o644))
	invs := make([]*inv, n)
	for i := range invs {
		v := &inv{id: first + i, port: itest.FreePort(t)}
		// One controller index per invoker keeps each invoker's acks on a topic of their own.
		v.ctl = itest.NewController(t, svc.Kafka, v.id, strconv.Itoa(v.id))
		v.acks = v.ctl.ConsumeAcks(t)
		v.log = itest.LogFile(t.TempDir(), fmt.Sprintf("nemo-%d.log", v.id))
		env := itest.InvokerEnv{Kafka: svc.Kafka, Couch: svc.Couch, DBPrefix: prefix, Port: v.port}.Environ()
		v.proc = itest.Spawn(t, itest.ProcSpec{Name: "nemo " + strconv.Itoa(v.id), Bin: bin,
			Args: []string{"invoker", "--id", strconv.Itoa(v.id), "--uniqueName", strconv.Itoa(v.id), "--config", cfgPath},
			// 1 GB each: four pools of the same host side by side. Not the default credentials, which
			// are refused on every interface.
			Env: append(env, "CONFIG_whisk_containerPool_userMemory=1024m",
				"CONFIG_whisk_invoker_username=it.user", "CONFIG_whisk_invoker_password=it-multi"), LogPath: v.log})
		invs[i] = v
	}
	t.Cleanup(func() {
		for _, v := range invs {
			if !v.proc.Exited() {
				_ = v.proc.Terminate(90 * time.Second)
			}
		}
	})
	for _, v := range invs {
		require.NoError(t, itest.WaitReady(v.proc, "http://127.0.0.1:"+strconv.Itoa(v.port)+"/ping", 2*time.Minute),
			"%s", itest.Tail(v.log, 30))
	}

	// The bursts go out at once, non-blocking and blocking mixed.
	var wg sync.WaitGroup
	for _, v := range invs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perInvoker {
				aid := itest.RandomHex(16)
				msg, err := itest.Activation{Action: "multi-hello", AID: aid, TransID: itest.TransID(itest.RandomHex(16)),
					Blocking: j%2 == 0, Controller: strconv.Itoa(v.id), Content: map[string]any{"name": aid}}.Marshal()
				if err != nil {
					t.Error(err)
					return
				}
				v.ctl.Produce(t, msg)
				v.sent = append(v.sent, aid)
			}
		}()
	}
	wg.Wait()

	for _, v := range invs {
		ok := v.acks.WaitFor(3*time.Minute, func(acks []itest.Ack) bool {
			return len(slotFreeIDs(acks)) >= perInvoker
		})
		require.True(t, ok, "invoker %d answered %d of %d: %s\n%s", v.id, len(slotFreeIDs(acksOf(v.acks))), perInvoker,
			v.proc.Describe(), itest.Tail(v.log, 30))
	}
	for _, v := range invs {
		acks := acksOf(v.acks)
		free := slotFreeIDs(acks)
		for _, aid := range v.sent {
			require.Equal(t, 1, free[aid], "invoker %d: activation %s answered %d times", v.id, aid, free[aid])
		}
		require.Len(t, free, perInvoker, "invoker %d answered activations it was not sent", v.id)
		for _, a := range acks {
			raw, ok := a.Fields["instance"]
			if !ok {
				continue
			}
			var inst struct {
				Instance int `json:"instance"`
			}
			require.NoError(t, json.Unmarshal(raw, &inst))
			require.Equal(t, v.id, inst.Instance, "an ack on completed%d from another invoker", v.id)
		}
		names := mustContainerNames(t, v.id)
		require.NotEmpty(t, names, "invoker %d ran no container", v.id)
		for _, name := range names {
			require.True(t, strings.HasPrefix(name, "wsk"+strconv.Itoa(v.id)+strconv.Itoa(v.id)+"_"),
				"invoker %d's container %s is not under its own prefix", v.id, name)
		}
		sessions := scrapeSample(t, v.port, "nemo_harvest_sessions_total")
		require.GreaterOrEqual(t, sessions, float64(perInvoker), "invoker %d harvested around %v of its %d activations", v.id, sessions, perInvoker)
	}
	writers := func(alive []*inv) []int {
		var ids []int
		for _, v := range alive {
			if scrapeSample(t, v.port, `nemo_harvest_click_writer{nf="fw"}`) == 1 {
				ids = append(ids, v.id)
			}
		}
		return ids
	}
	require.Len(t, writers(invs), 1, "one writer of the shared Click segment")

	// Each stops on its own; the others' containers stay until they stop in turn, and one of the
	// others takes the Click segment over.
	for i, v := range invs {
		require.NoError(t, v.proc.Terminate(90*time.Second))
		require.Empty(t, mustContainers(t, v.id), "invoker %d left containers", v.id)
		for _, w := range invs[i+1:] {
			require.NotEmpty(t, mustContainers(t, w.id), "stopping invoker %d removed invoker %d's containers", v.id, w.id)
		}
		if rest := invs[i+1:]; len(rest) > 0 {
			var ids []int
			require.Eventually(t, func() bool { ids = writers(rest); return len(ids) == 1 }, 30*time.Second, 200*time.Millisecond,
				"after invoker %d stopped, writers of the Click segment: %v", v.id, ids)
		}
	}
	_, err := os.Stat(filepath.Join(shared, "harvester-nic.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "the invokers left NIC state behind")
}

// scrapeSample reads one sample from an invoker's /metrics; -1 when the series is absent.
func scrapeSample(t *testing.T, port int, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			require.NoError(t, err, "%q", line)
			return v
		}
	}
	return -1
}

func acksOf(l *itest.AckLog) []itest.Ack {
	acks, _ := l.Snapshot()
	return acks
}

// slotFreeIDs counts the slot-freeing acks per activation id.
func slotFreeIDs(acks []itest.Ack) map[string]int {
	out := map[string]int{}
	for _, a := range acks {
		if a.SlotFree() {
			out[a.AID]++
		}
	}
	return out
}

// mustContainerNames lists the names of the containers labelled nemo.invoker=<id>.
func mustContainerNames(t *testing.T, id int) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "label=nemo.invoker="+strconv.Itoa(id)).Output()
	require.NoError(t, err)
	return strings.Fields(string(out))
}
