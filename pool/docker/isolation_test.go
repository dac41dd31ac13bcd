package docker

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/network"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules: replies to the host's own connections and DNS pass, everything else from the action bridge
// to this host is refused, as is every forbidden address beyond it; the jumps come first in their chains,
// and removing undoes exactly what installing did.
func TestFirewallPlan(t *testing.T) {
	forbidden := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.5:9092"), netip.MustParseAddrPort("10.0.0.6:5984")}
	install, remove := firewallPlan("7", "br-0123456789ab", "DOCKER-USER", forbidden)
	got := make([]string, len(install))
	for i, a := range install {
		got[i] = strings.Join(a, " ")
	}
	assert.Equal(t, []string{
		"-N NEMO-IN-7", "-F NEMO-IN-7",
		"-A NEMO-IN-7 -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
		"-A NEMO-IN-7 -p udp --dport 53 -j RETURN",
		"-A NEMO-IN-7 -p tcp --dport 53 -j RETURN",
		"-A NEMO-IN-7 -p tcp -j REJECT --reject-with tcp-reset",
		"-A NEMO-IN-7 -j REJECT --reject-with icmp-port-unreachable",
		"-N NEMO-FWD-7", "-F NEMO-FWD-7",
		"-A NEMO-FWD-7 -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
		"-A NEMO-FWD-7 -d 10.0.0.5 -p tcp --dport 9092 -j REJECT --reject-with tcp-reset",
		"-A NEMO-FWD-7 -d 10.0.0.6 -p tcp --dport 5984 -j REJECT --reject-with tcp-reset",
		"-I INPUT 1 -i br-0123456789ab -j NEMO-IN-7",
		"-I DOCKER-USER 1 -i br-0123456789ab -j NEMO-FWD-7",
	}, got)
	got = got[:0]
	for _, a := range remove {
		got = append(got, strings.Join(a, " "))
	}
	assert.Equal(t, []string{
		"-D INPUT -i br-0123456789ab -j NEMO-IN-7",
		"-D DOCKER-USER -i br-0123456789ab -j NEMO-FWD-7",
		"-F NEMO-IN-7", "-X NEMO-IN-7", "-F NEMO-FWD-7", "-X NEMO-FWD-7",
	}, got)
	in, fwd := firewallChains("wsk123456789012345678901234")
	assert.LessOrEqual(t, len(in), 28, "iptables chain names are at most 28 characters")
	assert.LessOrEqual(t, len(fwd), 28)
}

// fakeNetworks is the network part of the engine.
type fakeNetworks struct {
	*fakeAPI
	mu       sync.Mutex
	networks map[string]network.Inspect
	created  []network.CreateOptions
}

func (f *fakeNetworks) NetworkInspect(ctx context.Context, id string, _ network.InspectOptions) (network.Inspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.networks[id]
	if !ok {
		return n, notFound("network " + id)
	}
	return n, nil
}

func (f *fakeNetworks) NetworkCreate(ctx context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, o)
	opts := map[string]string{optBridgeName: "lo"} // an interface every network namespace has
	for k, v := range o.Options {
		opts[k] = v
	}
	f.networks[name] = network.Inspect{Name: name, ID: "0123456789abcdef", Driver: o.Driver, Options: opts}
	return network.CreateResponse{ID: "0123456789abcdef"}, nil
}

// fakeIptables is a script standing in for iptables: it appends its arguments to a file and keeps the
// inserted jumps, so that deleting one succeeds once per insertion (as iptables -D does).
func fakeIptables(t *testing.T) (cmd, logPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath = filepath.Join(dir, "calls")
	state := filepath.Join(dir, "jumps")
	cmd = filepath.Join(dir, "iptables")
	script := `#!/bin/sh
echo "$*" >> ` + logPath + `
touch ` + state + `
shift 2
op=$1; shift
case "$op" in
-I) chain=$1; shift 2; echo "$chain $*" >> ` + state + ` ;;
-D) n=$(grep -cxF "$*" ` + state + `); [ "$n" -gt 0 ] || exit 1
    grep -vxF "$*" ` + state + ` > ` + state + `.new; i=1; while [ $i -lt $n ]; do echo "$*" >> ` + state + `.new; i=$((i+1)); done
    mv ` + state + `.new ` + state + ` ;;
esac
exit 0
`
	require.NoError(t, os.WriteFile(cmd, []byte(script), 0o755))
	return cmd, logPath
}

func TestPrepareCreatesAnIsolatedNetworkAndInstallsTheFirewall(t *testing.T) {
	cmd, calls := fakeIptables(t)
	api := &fakeNetworks{fakeAPI: newFakeAPI(), networks: map[string]network.Inspect{}}
	b := New(api, Config{InvokerID: "7", Mode: NetworkContainerIP, Network: "nemo-actions", Iptables: cmd,
		Forbidden: []string{"127.0.0.1:9092", "not-a-host-port"}}, zerolog.Nop())
	require.NoError(t, b.Prepare(context.Background()))
	require.Len(t, api.created, 1)
	assert.Equal(t, "bridge", api.created[0].Driver)
	assert.Equal(t, "false", api.created[0].Options[optICC], "no inter-container traffic")

	raw, err := os.ReadFile(calls)
	require.NoError(t, err)
	log := string(raw)
	assert.Contains(t, log, "-w 5 -I INPUT 1 -i lo -j NEMO-IN-7")
	assert.Contains(t, log, "-A NEMO-FWD-7 -d 127.0.0.1 -p tcp --dport 9092 -j REJECT")

	require.NoError(t, os.WriteFile(calls, nil, 0o644))
	require.NoError(t, b.Prepare(context.Background()), "a second Prepare (a restart) finds the network")
	assert.Len(t, api.created, 1)

	require.NoError(t, os.WriteFile(calls, nil, 0o644))
	require.NoError(t, b.Unprepare(context.Background()))
	raw, _ = os.ReadFile(calls)
	assert.Equal(t, "-w 5 -D INPUT -i lo -j NEMO-IN-7\n-w 5 -D DOCKER-USER -i lo -j NEMO-FWD-7\n"+
		"-w 5 -F NEMO-IN-7\n-w 5 -X NEMO-IN-7\n-w 5 -F NEMO-FWD-7\n-w 5 -X NEMO-FWD-7\n", string(raw))
}

func TestPrepareWithoutIptables(t *testing.T) {
	api := &fakeNetworks{fakeAPI: newFakeAPI(), networks: map[string]network.Inspect{}}
	cfg := Config{Mode: NetworkContainerIP, Network: "nemo-actions", Iptables: "/nonexistent/iptables"}
	b := New(api, cfg, zerolog.Nop())
	assert.NoError(t, b.Prepare(context.Background()), "auto: warn and go on")
	cfg.Firewall = FirewallOn
	b = New(api, cfg, zerolog.Nop())
	assert.ErrorIs(t, b.Prepare(context.Background()), ErrIsolation, "on: refuse to start")
	cfg.Mode = NetworkHost
	b = New(api, cfg, zerolog.Nop())
	assert.ErrorIs(t, b.Prepare(context.Background()), ErrIsolation, "host networking cannot be firewalled")
}

// An existing network is used as it is (the operator chose it), with a warning when its containers can
// reach each other.
func TestPrepareKeepsAnExistingNetwork(t *testing.T) {
	api := &fakeNetworks{fakeAPI: newFakeAPI(), networks: map[string]network.Inspect{
		"bridge": {Name: "bridge", ID: "95cb207a052a", Driver: "bridge", Options: map[string]string{optICC: "true", optBridgeName: "docker0"}},
	}}
	var buf strings.Builder
	b := New(api, Config{Mode: NetworkPublish, Network: "bridge", Firewall: FirewallOff}, zerolog.New(&buf))
	require.NoError(t, b.Prepare(context.Background()))
	assert.Empty(t, api.created)
	assert.Contains(t, buf.String(), "can reach each other")
	assert.Equal(t, "docker0", bridgeName(api.networks["bridge"]))
	assert.Equal(t, "br-0123456789ab", bridgeName(network.Inspect{ID: "0123456789abcdef0123"}))
}
