package docker

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool"
)

func actionSpec(mem int) pool.Spec {
	return pool.Spec{
		Key:      pool.Key{Namespace: "guest", Action: "guest/hello"},
		Kind:     "go:1.22",
		Image:    "nemo/action-go:latest",
		MemoryMB: mem,
	}
}

func TestCPUShares(t *testing.T) {
	cases := []struct {
		user, mem int
		want      int64
	}{
		{1024, 256, 256}, // docs/protocol.md#limits example
		{2048, 256, 128},
		{2048, 128, 64},
		{320, 10, 32},    // fixture docker-run-args-test.json
		{2048, 700, 512}, // Long division: 2048/700 = 2
		{65536, 1, 2},    // floor of 2
		{128, 512, 1024}, // action larger than the pool
	}
	for _, c := range cases {
		assert.Equal(t, c.want, CPUShares(c.user, c.mem), "user %d mem %d", c.user, c.mem)
	}
}

func TestCPUQuota(t *testing.T) {
	assert.InDelta(t, 0.5, CPUQuota(2, 1024, 256), 1e-9)
	assert.InDelta(t, 0.01, CPUQuota(0.001, 2048, 128), 1e-9, "minimum 0.01")
	assert.InDelta(t, 0.33333, CPUQuota(1, 3072, 1024), 1e-9, "5 decimals")
}

func TestBuildCreatePublishMode(t *testing.T) {
	cfg := Config{
		InvokerID:   "7",
		APIHost:     "https://172.17.0.1",
		ExtraEnv:    []string{"K=V"},
		DNS:         []string{"10.0.0.2"},
		DNSSearch:   []string{"svc.local"},
		DNSOptions:  []string{"ndots:1"},
		CPUSet:      "1",
		UserCPUs:    2,
		ExtraLabels: map[string]string{"team": "edge"},
	}.withDefaults()
	req, err := buildCreate(cfg, "wsk0_12_guest_hello", actionSpec(256), 0)
	require.NoError(t, err)
	c, h := req.Config, req.Host

	assert.Equal(t, "nemo/action-go:latest", c.Image)
	assert.Equal(t, []string{"__OW_API_HOST=https://172.17.0.1", "K=V"}, c.Env)
	assert.Equal(t, map[string]string{
		LabelInvoker: "7", LabelAction: "guest/hello", LabelNamespace: "guest", LabelKind: "go:1.22",
		LabelMemory: "256", "team": "edge",
	}, c.Labels)
	assert.Contains(t, c.ExposedPorts, proxyPort)

	assert.Equal(t, int64(256<<20), h.Memory)
	assert.Equal(t, h.Memory, h.MemorySwap, "memory-swap equals memory")
	require.NotNil(t, h.PidsLimit)
	assert.Equal(t, int64(1024), *h.PidsLimit)
	assert.Equal(t, int64(128), h.CPUShares, "1024 / (2048/256)")
	assert.Equal(t, "1", h.CpusetCpus)
	assert.Equal(t, int64(250_000_000), h.NanoCPUs, "2 CPUs / (2048/256)")
	assert.ElementsMatch(t, []string{"NET_RAW", "NET_ADMIN"}, []string(h.CapDrop))
	assert.Equal(t, []string{"no-new-privileges"}, h.SecurityOpt, "no privilege gain through setuid or file capabilities")
	assert.False(t, h.ReadonlyRootfs, "read-only root only when configured")
	assert.Empty(t, h.Tmpfs)
	assert.Equal(t, "", c.User, "the image's user unless configured")
	require.Len(t, h.Ulimits, 1)
	assert.Equal(t, container.Ulimit{Name: "nofile", Soft: 1024, Hard: 1024}, *h.Ulimits[0])
	assert.Equal(t, "json-file", h.LogConfig.Type)
	assert.Equal(t, []string{"10.0.0.2"}, h.DNS)
	assert.Equal(t, []string{"svc.local"}, h.DNSSearch)
	assert.Equal(t, []string{"ndots:1"}, h.DNSOptions)
	assert.Equal(t, container.NetworkMode("bridge"), h.NetworkMode)
	require.Len(t, h.PortBindings[proxyPort], 1)
	assert.Equal(t, "127.0.0.1", h.PortBindings[proxyPort][0].HostIP, "published on loopback only")
	assert.Equal(t, "", h.PortBindings[proxyPort][0].HostPort, "Docker picks the port")
}

func TestBuildCreateStemCellLabels(t *testing.T) {
	spec := pool.Spec{Kind: "go:1.22", Image: "nemo/action-go:latest", MemoryMB: 128, Stem: true}
	req, err := buildCreate(Config{}.withDefaults(), "wsk0_1_prewarm_go122", spec, 0)
	require.NoError(t, err)
	assert.Equal(t, "true", req.Config.Labels[LabelStem])
	assert.NotContains(t, req.Config.Labels, LabelAction)
	assert.Equal(t, int64(0), req.Host.NanoCPUs, "no CPU quota unless UserCPUs is set")
	assert.Equal(t, "", req.Host.CpusetCpus)
	assert.Equal(t, []string{"__OW_API_HOST="}, req.Config.Env, "always set, empty by default")
}

// The OpenWhisk reference arguments (DockerContainerFactoryTests) map onto the create request.
func TestBuildCreateMatchesOpenWhiskFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/docker-run-args-test.json") // copy of the OpenWhisk fixture
	require.NoError(t, err)
	var args []string
	require.NoError(t, json.Unmarshal(raw, &args))
	flags := map[string][]string{}
	for i := 0; i+1 < len(args); i += 2 {
		flags[args[i]] = append(flags[args[i]], args[i+1])
	}
	cfg := Config{
		Mode:         NetworkContainerIP,
		Network:      flags["--network"][0],
		UserMemoryMB: 320,
		ExtraEnv:     flags["-e"][1:],
		DNS:          flags["--dns"],
	}.withDefaults()
	spec := pool.Spec{Kind: "nodejs:20", Image: "img", MemoryMB: 10}
	req, err := buildCreate(cfg, flags["--name"][0], spec, 0)
	require.NoError(t, err)
	assert.Equal(t, flags["--cpu-shares"][0], itoa(req.Host.CPUShares))
	assert.Equal(t, flags["--memory"][0], itoa(req.Host.Memory>>20)+"m")
	assert.Equal(t, flags["--memory-swap"][0], itoa(req.Host.MemorySwap>>20)+"m")
	assert.Equal(t, flags["--network"][0], string(req.Host.NetworkMode))
	assert.Equal(t, flags["-e"], req.Config.Env)
	assert.Equal(t, flags["--dns"], req.Host.DNS)
	assert.Empty(t, req.Host.PortBindings, "container-ip mode publishes nothing")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestBuildCreateHostMode(t *testing.T) {
	req, err := buildCreate(Config{Mode: NetworkHost}.withDefaults(), "wsk0_3_guest_hello", actionSpec(128), 41234)
	require.NoError(t, err)
	assert.Equal(t, container.NetworkMode("host"), req.Host.NetworkMode)
	assert.Contains(t, req.Config.Env, "OW_LISTEN=127.0.0.1:41234")
	assert.Empty(t, req.Host.PortBindings)
}

func TestBuildCreateRejectsBadInput(t *testing.T) {
	cfg := Config{}.withDefaults()
	_, err := buildCreate(cfg, "bad name!", actionSpec(128), 0)
	assert.ErrorIs(t, err, ErrBadName)
	_, err = buildCreate(cfg, "_leading", actionSpec(128), 0)
	assert.ErrorIs(t, err, ErrBadName)
	_, err = buildCreate(cfg, "wsk0_1_a_b", actionSpec(0), 0)
	assert.ErrorContains(t, err, "memory")
	spec := actionSpec(128)
	spec.Image = ""
	_, err = buildCreate(cfg, "wsk0_1_a_b", spec, 0)
	assert.ErrorContains(t, err, "no image")
	_, err = buildCreate(Config{Mode: "bogus"}.withDefaults(), "wsk0_1_a_b", actionSpec(128), 0)
	assert.ErrorContains(t, err, "network mode")
}

func TestBuildCreatePinsToTheSpecCPUSet(t *testing.T) {
	spec := pool.Spec{Kind: "go:1.22", Image: "nemo/action-go:latest", MemoryMB: 128, CPUSet: "3"}
	req, err := buildCreate(Config{CPUSet: "1"}.withDefaults(), "wsk0_1_guest_fw", spec, 0)
	require.NoError(t, err)
	assert.Equal(t, "3", req.Host.CpusetCpus, "an edge function's cpuset wins over the backend default")
	spec.CPUSet = ""
	req, err = buildCreate(Config{CPUSet: "1"}.withDefaults(), "wsk0_2_guest_other", spec, 0)
	require.NoError(t, err)
	assert.Equal(t, "1", req.Host.CpusetCpus)
}

// A non-root user and a read-only root filesystem with tmpfs scratch space, when the operator asks.
func TestBuildCreateUserAndReadOnlyRoot(t *testing.T) {
	cfg := Config{User: "65534:65534", ReadOnlyRootfs: true, WritablePaths: []string{"/tmp", "/action"}}.withDefaults()
	req, err := buildCreate(cfg, "wsk0_1_guest_hello", actionSpec(128), 0)
	require.NoError(t, err)
	assert.Equal(t, "65534:65534", req.Config.User)
	assert.True(t, req.Host.ReadonlyRootfs)
	assert.Equal(t, map[string]string{
		"/tmp":    "rw,nosuid,nodev,mode=1777,size=32m",
		"/action": "rw,nosuid,nodev,mode=1777,size=32m",
	}, req.Host.Tmpfs, "a quarter of the memory, at most 64 MB")
	assert.Equal(t, []string{"no-new-privileges"}, req.Host.SecurityOpt)
}
