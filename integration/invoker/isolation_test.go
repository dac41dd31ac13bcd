//go:build integration

package integration

import (
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
)

// isolationTargets are the places an action tries to reach: the invoker's HTTP endpoints, the Kafka broker
// and the store (both listening on every interface of this host, so only isolation keeps actions away),
// and another tenant's warm container.
type isolationTargets struct {
	gateway   string // the action network's gateway: this host as the containers see it
	invoker   int    // the invoker's HTTP port
	kafka     int
	store     int
	victimRun string // http://<victim IP>:8080/run
	victim    string // <victim IP>:8080
}

func (x isolationTargets) probe() map[string]any {
	gw := func(port int) string { return net.JoinHostPort(x.gateway, strconv.Itoa(port)) }
	return map[string]any{
		"connect": []string{gw(x.invoker), gw(x.kafka), gw(x.store), x.victim},
		"post":    []string{"http://" + gw(x.invoker) + "/disable", x.victimRun},
	}
}

// networkGateway is the IPv4 gateway of a Docker network.
func networkGateway(t *testing.T, network string) string {
	t.Helper()
	out, err := exec.Command("docker", "network", "inspect", network, "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}").Output()
	require.NoError(t, err, "inspect network %s", network)
	for _, f := range strings.Fields(string(out)) {
		if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
			return f
		}
	}
	t.Fatalf("network %s has no IPv4 gateway: %q", network, out)
	return ""
}

// actionContainerIP is the address on network of this invoker's container of action guest/<name>.
func actionContainerIP(t *testing.T, h *harness, name, network string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=nemo.invoker="+strconv.Itoa(h.id),
		"--filter", "label=nemo.action="+itest.Namespace+"/"+name).Output()
	require.NoError(t, err)
	ids := strings.Fields(string(out))
	require.Len(t, ids, 1, "one warm container of %s", name)
	ip, err := exec.Command("docker", "inspect", ids[0], "--format", "{{(index .NetworkSettings.Networks \""+network+"\").IPAddress}}").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(ip))
}

// runProbe runs action name blocking with content and returns its result object.
func runProbe(t *testing.T, h *harness, name string, content map[string]any) map[string]json.RawMessage {
	t.Helper()
	a := h.message(name, true, content, msgOptions{})
	h.produce(a.Raw)
	h.waitSlotFree(2*time.Minute, a.AID)
	code, result, _ := responseOf(t, h, a.AID)
	require.Zero(t, code, "probe %s: %v", name, result)
	return result
}

func stringMap(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var m map[string]string
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m
}

// TestActionsCannotReachWhatTheyMustNot: an action tries to disable its invoker over HTTP (with OpenWhisk's
// default credentials), to connect to Kafka, the store and another tenant's warm container, and to POST
// /run to that container. Without NEMO's isolation (the control run: the default bridge, no firewall)
// every attempt succeeds, as the probes found; with it every attempt fails. The protected run also uses a
// non-root user and a read-only root filesystem, and its containers run with no-new-privileges.
func TestActionsCannotReachWhatTheyMustNot(t *testing.T) {
	svc := itest.NeedServices(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables is not installed")
	}
	probeImage := itest.BuildActionImage(t)
	broker := itest.StartBroker(t, itest.BrokerOptions{ListenHost: "0.0.0.0"})
	store := itest.NewFaultProxy(t, svc.Couch, "0.0.0.0") // the invoker's CouchDB, reachable on every interface
	_, storePort, _ := net.SplitHostPort(store.Addr)
	sp, _ := strconv.Atoi(storePort)

	run := func(t *testing.T, docker map[string]any, network string) (*harness, isolationTargets, map[string]json.RawMessage) {
		h := newHarness(t, svc, harnessOptions{kafka: broker.Addr, couch: store.URL,
			config: map[string]any{"invoker": map[string]any{"listenHost": ""}, "docker": docker},
			env:    map[string]string{"NEMO_ALLOW_DEFAULT_CREDENTIALS": "true"}})
		seedAction(t, h.store, "victim", blackbox(probeImage), 128, 10, time.Minute)
		seedAction(t, h.store, "attacker", blackbox(probeImage), 128, 10, time.Minute)
		p := h.start()
		t.Cleanup(func() {
			if !p.Exited() {
				h.stopClean(t, p)
			}
		})
		runProbe(t, h, "victim", map[string]any{"name": "victim"})
		ip := actionContainerIP(t, h, "victim", network)
		x := isolationTargets{gateway: networkGateway(t, network), invoker: h.port, kafka: broker.Port, store: sp,
			victim: net.JoinHostPort(ip, "8080"), victimRun: "http://" + net.JoinHostPort(ip, "8080") + "/run"}
		return h, x, runProbe(t, h, "attacker", x.probe())
	}

	t.Run("control: no isolation", func(t *testing.T) {
		h, x, res := run(t, map[string]any{"mode": "ip", "network": "bridge", "firewall": "off"}, "bridge")
		connect, post := stringMap(t, res["connect"]), stringMap(t, res["post"])
		t.Logf("without isolation: connect %v, post %v", connect, post)
		for addr, outcome := range connect {
			assert.Equal(t, "connected", outcome, "the probe reaches %s when nothing stops it", addr)
		}
		assert.Equal(t, "200", post["http://"+net.JoinHostPort(x.gateway, strconv.Itoa(x.invoker))+"/disable"],
			"the action disables its own invoker")
		assert.Equal(t, "200", post[x.victimRun], "the action runs code in another tenant's container")
		a := h.http("GET", "/isEnabled", invokerUser, invokerPass)
		assert.JSONEq(t, `{"enabled":false}`, a.body)
	})

	t.Run("isolated", func(t *testing.T) {
		h, x, res := run(t, map[string]any{"mode": "ip", "firewall": "on", "user": "65534:65534", "readOnlyRootfs": true},
			"nemo-actions")
		connect, post := stringMap(t, res["connect"]), stringMap(t, res["post"])
		t.Logf("with isolation: connect %v, post %v", connect, post)
		require.Len(t, connect, 4)
		for addr, outcome := range connect {
			assert.NotEqual(t, "connected", outcome, "the action reached %s", addr)
		}
		for u, outcome := range post {
			_, err := strconv.Atoi(outcome)
			assert.Error(t, err, "the action got an HTTP answer (%s) from %s", outcome, u)
		}
		a := h.http("GET", "/isEnabled", invokerUser, invokerPass)
		assert.JSONEq(t, `{"enabled":true}`, a.body, "the invoker is still enabled")

		// The container's own limits.
		who := runProbe(t, h, "attacker", map[string]any{"whoami": true})
		assert.Equal(t, "65534", string(who["uid"]), "a non-root user")
		ro := runProbe(t, h, "attacker", map[string]any{"write_file": "/owned"})
		assert.Contains(t, string(ro["write_file"]), "read-only file system")
		tmp := runProbe(t, h, "attacker", map[string]any{"write_file": "/tmp/scratch"})
		assert.Equal(t, `"ok"`, string(tmp["write_file"]), "/tmp stays writable")
		out, err := exec.Command("docker", "ps", "-q", "--filter", "label=nemo.invoker="+strconv.Itoa(h.id)).Output()
		require.NoError(t, err)
		for _, id := range strings.Fields(string(out)) {
			opts, err := exec.Command("docker", "inspect", id, "--format", "{{json .HostConfig.SecurityOpt}}").Output()
			require.NoError(t, err)
			assert.Contains(t, string(opts), "no-new-privileges", "container %s", id)
		}
		rules, err := exec.Command("iptables", "-S").Output()
		require.NoError(t, err)
		chain := "NEMO-IN-" + strconv.Itoa(h.id)
		assert.Contains(t, string(rules), chain, "the invoker installed its rules")
		for _, p := range h.procs {
			h.stopClean(t, p)
		}
		rules, err = exec.Command("iptables", "-S").Output()
		require.NoError(t, err)
		assert.NotContains(t, string(rules), chain, "and removed them when it stopped")
		_ = x
	})

	t.Run("default credentials beyond loopback are refused", func(t *testing.T) {
		h := newHarness(t, svc, harnessOptions{kafka: broker.Addr, couch: store.URL,
			config: map[string]any{"invoker": map[string]any{"listenHost": ""}}})
		p := itest.Spawn(t, itest.ProcSpec{Name: "nemo", Bin: h.bin, Env: h.environ(), Dir: h.dir,
			LogPath: filepath.Join(h.dir, "refused.log"),
			Args:    []string{"invoker", "--id", strconv.Itoa(h.id), "--config", h.configPath}})
		require.True(t, p.WaitExit(30*time.Second), "the invoker started with default credentials on every interface")
		assert.Equal(t, 2, p.ExitCode(), "a configuration error")
		assert.Contains(t, itest.Tail(p.LogPath, 5), "the default credentials on every interface would let anyone who reaches the port disable this invoker")
	})
}
