package docker

import (
	"time"
)

// NetworkMode selects how the invoker reaches a container's action proxy.
type NetworkMode string

const (
	// NetworkPublish runs the container on Config.Network and publishes port 8080 on Config.PublishHost
	// (127.0.0.1) with a port Docker picks; the address is PublishHost:<port>. Tests use this mode.
	NetworkPublish NetworkMode = "publish"
	// NetworkContainerIP runs the container on Config.Network and dials <container IP>:8080, as OpenWhisk
	// deployments do.
	NetworkContainerIP NetworkMode = "container-ip"
	// NetworkHost runs the container in the host network namespace and tells the proxy to listen on
	// PublishHost:<free port> (OW_LISTEN; NEMO's proxy honours it, OpenWhisk runtimes do not).
	NetworkHost NetworkMode = "host"
)

// LogSource selects where activation logs are read from.
type LogSource string

const (
	// LogAuto reads the json-file directly when the inspected LogPath is readable, else uses the API.
	LogAuto LogSource = "auto"
	// LogFile reads <LogPath> (the container's json-file) from a per-container byte offset, as OpenWhisk does.
	LogFile LogSource = "file"
	// LogAPI follows GET /containers/{id}/logs with timestamps from a per-container time cursor.
	LogAPI LogSource = "api"
)

// Config configures a Backend. Zero values take the defaults stated on each field.
type Config struct {
	// InvokerID is written to the nemo.invoker label of every container. Default is "0".
	InvokerID string
	// Mode is the network mode. Default is NetworkPublish.
	Mode NetworkMode
	// Network is the Docker network for NetworkPublish and NetworkContainerIP. Default is "bridge".
	Network string
	// PublishHost is the host address for NetworkPublish and NetworkHost. Default is "127.0.0.1".
	PublishHost string
	// UserMemoryMB is the pool's user memory, the basis of CPU shares (docs/protocol.md#limits). Default is 2048.
	UserMemoryMB int
	// UserCPUs, when > 0, limits each container to round5(UserCPUs / (UserMemory/memory)) CPUs, at least
	// 0.01 (OpenWhisk's user-cpus). Default is 0: no CPU quota.
	UserCPUs float64
	// CPUSet pins every action container to these CPUs (cpuset.cpus syntax, e.g. "1" or "2-3"), e.g. the cores
	// an NF is not using. Default is "": no pinning.
	CPUSet string
	// APIHost is passed as __OW_API_HOST (always set, as OpenWhisk does). Default is "".
	APIHost string
	// ExtraEnv holds additional KEY=VALUE variables for every container. Default is none.
	ExtraEnv []string
	// DNS, DNSSearch and DNSOptions are docker run --dns, --dns-search and --dns-option. Default is none.
	DNS, DNSSearch, DNSOptions []string
	// ExtraLabels are added to every container. Default is none.
	ExtraLabels map[string]string
	// Firewall says whether Prepare installs host firewall rules keeping action containers from this
	// host's services and from Forbidden (see isolation.go). Default is FirewallAuto.
	Firewall FirewallMode
	// Forbidden are host:port addresses action containers must not reach besides this host: the Kafka
	// brokers and the store. Default is none.
	Forbidden []string
	// Iptables is the iptables command. Default is "iptables".
	Iptables string
	// User runs the action's processes as this user ("uid[:gid]" or a name the image knows); "" keeps the
	// image's user. Runtimes that write to their image's files need a user allowed to. Default is "".
	User string
	// ReadOnlyRootfs mounts the container's root filesystem read-only, with a small tmpfs at each of
	// WritablePaths. Runtimes that write elsewhere (code unpacked into the image's directories) fail to
	// initialise with it. Default is false.
	ReadOnlyRootfs bool
	// WritablePaths are the tmpfs mounts of a read-only root filesystem (size min(memory/4, 64 MB)).
	// Default is ["/tmp"].
	WritablePaths []string
	// LogSource is where logs come from. Default is LogAuto.
	LogSource LogSource
	// MaxResponseBytes is the largest /run or /init body accepted whole (whisk.activation.payload.max).
	// Default is 1048576.
	MaxResponseBytes int64
	// TruncationBytes is how much of a too-large body is kept in the error (payload.truncation).
	// Default is 1048576.
	TruncationBytes int64
	// DockerTimeout bounds create, start, inspect, list and remove calls. Default is 60 s.
	DockerTimeout time.Duration
	// FreezeTimeout bounds each freeze and thaw (cgroup or docker pause). Default is 10 s.
	FreezeTimeout time.Duration
	// CgroupRoot is the cgroup filesystem mount. Default is "/sys/fs/cgroup".
	CgroupRoot string
	// InitRetryInterval is the pause between /init attempts refused by a proxy that is not listening yet.
	// Default is 50 ms.
	InitRetryInterval time.Duration
	// LogPollInterval is the longest json-file poll period while waiting for sentinels (polling starts at
	// 0.5 ms and backs off to it). Default is 5 ms.
	LogPollInterval time.Duration
	// LogIdleTimeout ends log collection when no line arrives for this long. Default is 2 s.
	LogIdleTimeout time.Duration
	// LogQuietPeriod is how long a developer error's log must stay quiet before collection asks whether
	// more can come (see Backend.Logs). Default is 250 ms.
	LogQuietPeriod time.Duration
}

func (c Config) withDefaults() Config {
	if c.InvokerID == "" {
		c.InvokerID = "0"
	}
	if c.Mode == "" {
		c.Mode = NetworkPublish
	}
	if c.Network == "" {
		c.Network = "bridge"
	}
	if c.PublishHost == "" {
		c.PublishHost = "127.0.0.1"
	}
	if c.UserMemoryMB <= 0 {
		c.UserMemoryMB = 2048
	}
	if c.LogSource == "" {
		c.LogSource = LogAuto
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 1 << 20
	}
	if c.TruncationBytes <= 0 {
		c.TruncationBytes = 1 << 20
	}
	if c.DockerTimeout <= 0 {
		c.DockerTimeout = 60 * time.Second
	}
	if c.FreezeTimeout <= 0 {
		c.FreezeTimeout = 10 * time.Second
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = "/sys/fs/cgroup"
	}
	if c.InitRetryInterval <= 0 {
		c.InitRetryInterval = 50 * time.Millisecond
	}
	if c.LogPollInterval <= 0 {
		c.LogPollInterval = 5 * time.Millisecond
	}
	if c.LogIdleTimeout <= 0 {
		c.LogIdleTimeout = 2 * time.Second
	}
	if c.Firewall == "" {
		c.Firewall = FirewallAuto
	}
	if c.Iptables == "" {
		c.Iptables = "iptables"
	}
	if c.WritablePaths == nil {
		c.WritablePaths = []string{"/tmp"}
	}
	if c.LogQuietPeriod <= 0 {
		c.LogQuietPeriod = 250 * time.Millisecond
	}
	return c
}
