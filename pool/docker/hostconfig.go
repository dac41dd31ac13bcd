package docker

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/nemo-edge/nemo/pool"
)

// Labels written on every action container, so operators and Cleanup can find them.
const (
	LabelInvoker   = "nemo.invoker"
	LabelAction    = "nemo.action"    // fully qualified action doc id; absent for stem cells
	LabelNamespace = "nemo.namespace" // invoking namespace; absent for stem cells
	LabelKind      = "nemo.kind"
	LabelMemory    = "nemo.memory" // MB
	LabelStem      = "nemo.stem"   // "true" for a prewarmed stem cell
)

// ProxyPort is the action proxy's port inside the container.
const ProxyPort = 8080

var proxyPort = nat.Port(strconv.Itoa(ProxyPort) + "/tcp")

// validName is Docker's container name rule.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CPUShares is OpenWhisk's share for a container: max(int(1024 / (userMemory / memory)), 2), the ratio being a
// Long division of byte counts (ContainerPoolConfig.cpuShare).
func CPUShares(userMemoryMB, memoryMB int) int64 {
	ratio := (int64(userMemoryMB) << 20) / (int64(memoryMB) << 20)
	if ratio < 1 {
		ratio = 1 // an action larger than the pool; OpenWhisk would divide by zero
	}
	s := int64(1024.0 / float64(ratio))
	if s < 2 {
		s = 2
	}
	return s
}

// CPUQuota is OpenWhisk's --cpus: round5(userCPUs / (userMemory / memory)), at least 0.01.
func CPUQuota(userCPUs float64, userMemoryMB, memoryMB int) float64 {
	c := userCPUs / (float64(userMemoryMB) / float64(memoryMB))
	c = math.Round(c*1e5) / 1e5
	return math.Max(c, 0.01)
}

// createRequest is everything ContainerCreate needs.
type createRequest struct {
	Config  *container.Config
	Host    *container.HostConfig
	Network *network.NetworkingConfig
}

// buildCreate translates spec into OpenWhisk's docker run flags. hostPort is the OW_LISTEN port in
// NetworkHost mode (ignored otherwise).
func buildCreate(cfg Config, name string, spec pool.Spec, hostPort int) (createRequest, error) {
	if !validName.MatchString(name) {
		return createRequest{}, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	if spec.MemoryMB <= 0 {
		return createRequest{}, fmt.Errorf("docker: spec %s: memory must be > 0, got %d", spec.Key, spec.MemoryMB)
	}
	if spec.Image == "" {
		return createRequest{}, fmt.Errorf("docker: spec %s: no image", spec.Key)
	}
	mem := int64(spec.MemoryMB) << 20
	pids := int64(1024)
	// OpenWhisk always passes __OW_API_HOST, empty when unconfigured (fixture docker-run-args-test.json).
	env := append([]string{"__OW_API_HOST=" + cfg.APIHost}, cfg.ExtraEnv...)

	labels := map[string]string{
		LabelInvoker: cfg.InvokerID,
		LabelKind:    spec.Kind,
		LabelMemory:  strconv.Itoa(spec.MemoryMB),
	}
	if spec.Stem {
		labels[LabelStem] = "true"
	}
	if !spec.Key.IsZero() {
		labels[LabelAction] = spec.Key.Action
		labels[LabelNamespace] = spec.Key.Namespace
	}
	for k, v := range cfg.ExtraLabels {
		labels[k] = v
	}

	res := container.Resources{
		CPUShares:  CPUShares(cfg.UserMemoryMB, spec.MemoryMB),
		Memory:     mem,
		MemorySwap: mem,
		PidsLimit:  &pids,
		CpusetCpus: cmp.Or(spec.CPUSet, cfg.CPUSet),
		Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1024}},
	}
	if cfg.UserCPUs > 0 {
		res.NanoCPUs = int64(math.Round(CPUQuota(cfg.UserCPUs, cfg.UserMemoryMB, spec.MemoryMB) * 1e9))
	}
	cc := &container.Config{
		Image:  spec.Image,
		Env:    env,
		Labels: labels,
	}
	cc.User = cfg.User
	hc := &container.HostConfig{
		Resources:  res,
		CapDrop:    []string{"NET_RAW", "NET_ADMIN"},
		DNS:        cfg.DNS,
		DNSSearch:  cfg.DNSSearch,
		DNSOptions: cfg.DNSOptions,
		LogConfig:  container.LogConfig{Type: "json-file"},
		// Beyond OpenWhisk: no process in an action container gains privileges through setuid binaries
		// or file capabilities.
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: cfg.ReadOnlyRootfs,
	}
	if cfg.ReadOnlyRootfs && len(cfg.WritablePaths) > 0 {
		// Scratch space the runtime may need, counted against the container's memory limit.
		hc.Tmpfs = map[string]string{}
		size := max(min(spec.MemoryMB/4, 64), 1)
		for _, p := range cfg.WritablePaths {
			hc.Tmpfs[p] = "rw,nosuid,nodev,mode=1777,size=" + strconv.Itoa(size) + "m"
		}
	}
	switch cfg.Mode {
	case NetworkPublish:
		hc.NetworkMode = container.NetworkMode(cfg.Network)
		cc.ExposedPorts = nat.PortSet{proxyPort: struct{}{}}
		// HostPort "" lets Docker pick a free port; Create reads it back from inspect.
		hc.PortBindings = nat.PortMap{proxyPort: {{HostIP: cfg.PublishHost, HostPort: ""}}}
	case NetworkContainerIP:
		hc.NetworkMode = container.NetworkMode(cfg.Network)
	case NetworkHost:
		hc.NetworkMode = "host"
		cc.Env = append(cc.Env, "OW_LISTEN="+cfg.PublishHost+":"+strconv.Itoa(hostPort))
	default:
		return createRequest{}, fmt.Errorf("docker: unknown network mode %q", cfg.Mode)
	}
	return createRequest{Config: cc, Host: hc}, nil
}
