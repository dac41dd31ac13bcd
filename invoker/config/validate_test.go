package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool/docker"
	"github.com/nemo-edge/nemo/scheduler"
)

// validConfig is Demo with a couchdb store, brokers, two NFs and edge functions: every section in use.
func validConfig() *Config {
	c := Demo()
	c.Kafka.Embedded = false
	c.Kafka.Brokers = []string{"127.0.0.1:9092"}
	c.Store = StoreSection{Kind: StoreCouchDB, CouchDB: CouchDBSection{Protocol: "http", Host: "127.0.0.1", Port: 5984,
		Username: "nemo", Password: "nemo", DBPrefix: "local_"}}
	c.Harvester.Enabled = true
	c.Harvester.NFs = []HarvestNF{
		{Name: "fw", Interface: "eth1", Cores: []int{1}},
		{Name: "nat", Interface: "eth2", Cores: []int{3, 2}},
		{Name: "idle", Interface: "eth3"},
	}
	c.EdgeFunctions = []EdgeFunction{
		{Namespace: "guest", Action: "fw-stats", NF: "fw"},
		{Namespace: "guest", Action: "img/resize", CPUSet: "4"},
	}
	c.Runtimes.Manifest = json.RawMessage(smallManifest)
	return c
}

func TestValidConfig(t *testing.T) {
	c := validConfig()
	require.NoError(t, c.Validate())
	assert.Equal(t, "local_whisks", c.Store.CouchDB.WhisksDB, "database names derived from the prefix")
	assert.Equal(t, "1", c.EdgeFunctions[0].CPUSet, "cpuset derived from the NF's cores")
	assert.Equal(t, PrewarmAuto, c.EdgeFunctions[0].Prewarm)
	assert.Equal(t, []string{"nodejs:20", "python:3"}, c.Manifest.Kinds(), "manifest re-parsed")
	require.NoError(t, c.Validate(), "Validate is idempotent")
}

func TestDemoIsValid(t *testing.T) {
	c := Demo()
	require.NoError(t, c.Validate())
	assert.Equal(t, "127.0.0.1:8085", c.ListenAddr())
	assert.True(t, c.Kafka.Embedded)
	assert.Equal(t, StoreFile, c.Store.Kind)
	assert.Equal(t, NetworkPublish, c.Docker.Mode)
	assert.Equal(t, "127.0.0.1", c.Docker.PublishHost)
	assert.Equal(t, "wskdemo0", c.ContainerPrefix(), "apart from a real invoker0's wsk0_… containers")
	for kind, image := range map[string]string{
		"go:1.22": "nemo/action-go:latest", "go:default": "nemo/action-go:latest",
		"python:3": "nemo/action-python:3.11", "python:default": "nemo/action-python:3.11",
	} {
		rk, err := c.Manifest.Resolve(kind)
		require.NoError(t, err, kind)
		assert.Equal(t, image, rk.Image, kind)
	}
	assert.True(t, c.Manifest.IsBlackboxNative("nemo/action-go:latest"), "the test image is a native blackbox")
	assert.True(t, c.Manifest.IsBlackboxNative("nemo/action-go"), "untagged means latest")
	assert.Empty(t, c.StemCells())
}

func TestValidateInvalid(t *testing.T) {
	cases := []struct {
		name       string
		mutate     func(c *Config)
		field, msg string
	}{
		// invoker
		{"id unset", func(c *Config) { c.Invoker.ID = unsetID }, "invoker.id", "not set"},
		{"id negative", func(c *Config) { c.Invoker.ID = -2 }, "invoker.id", "-2 is negative"},
		{"port zero", func(c *Config) { c.Invoker.Port = 0 }, "invoker.port", "0 is not a port number"},
		{"port too big", func(c *Config) { c.Invoker.Port = 65536 }, "invoker.port", "65536 is not a port number"},
		{"listen host", func(c *Config) { c.Invoker.ListenHost = "http://x" }, "invoker.listenHost", "not a host"},
		{"username empty", func(c *Config) { c.Invoker.Username = "" }, "invoker.username", "empty"},
		{"log level", func(c *Config) { c.Invoker.LogLevel = "loud" }, "invoker.logLevel", `"loud" is not one of trace, debug, info, warn, error`},
		{"unique name newline", func(c *Config) { c.Invoker.UniqueName = "a\nb" }, "invoker.uniqueName", "line break"},
		{"displayed name newline", func(c *Config) { c.Invoker.DisplayedName = "a\rb" }, "invoker.displayedName", "line break"},
		{"max connections", func(c *Config) { c.Invoker.MaxConnections = 0 }, "invoker.maxConnections", "at least 1"},
		{"default credentials on every interface", func(c *Config) { c.Invoker.ListenHost = "" }, "invoker.password",
			"the default credentials on every interface would let anyone who reaches the port disable this invoker"},
		{"default credentials on a LAN address", func(c *Config) { c.Invoker.ListenHost = "10.1.2.3" }, "invoker.password",
			"NEMO_ALLOW_DEFAULT_CREDENTIALS=true"},
		// docker (isolation)
		{"firewall", func(c *Config) { c.Docker.Firewall = "maybe" }, "docker.firewall", `"maybe" is not one of auto, on, off`},
		{"firewall on with host networking", func(c *Config) { c.Docker.Mode, c.Docker.Firewall = NetworkHost, "on" }, "docker.firewall", "needs a bridge network"},
		{"user", func(c *Config) { c.Docker.User = "no body" }, "docker.user", "is not a user"},
		// kafka
		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, "kafka.brokers", "empty: set KAFKA_HOSTS or kafka.brokers"},
		{"brokers with embedded", func(c *Config) { c.Kafka.Embedded = true }, "kafka.brokers", "must be empty when kafka.embedded"},
		{"broker without port", func(c *Config) { c.Kafka.Brokers = []string{"k:1", "kafka"} }, "kafka.brokers[1]", `"kafka" is not host:port`},
		{"broker without host", func(c *Config) { c.Kafka.Brokers = []string{":9092"} }, "kafka.brokers[0]", "has no host"},
		{"version empty", func(c *Config) { c.Kafka.Version = "" }, "kafka.version", "empty"},
		{"version unknown", func(c *Config) { c.Kafka.Version = "9.9.9" }, "kafka.version", `"9.9.9" is not a Kafka version`},
		{"topic prefix", func(c *Config) { c.Kafka.TopicPrefix = "a*" }, "kafka.topicPrefix", "topic names allow only"},
		{"user event prefix", func(c *Config) { c.Kafka.UserEventPrefix = "é" }, "kafka.userEventPrefix", "topic names allow only"},
		{"replication factor", func(c *Config) { c.Kafka.ReplicationFactor = 40000 }, "kafka.replicationFactor", "out of range [1, 32767]"},
		// store
		{"store kind", func(c *Config) { c.Store.Kind = "mongo" }, "store.kind", `"mongo" must be "couchdb" or "file"`},
		{"file store without path", func(c *Config) { c.Store.Kind = StoreFile }, "store.path", "empty"},
		{"couchdb protocol", func(c *Config) { c.Store.CouchDB.Protocol = "tcp" }, "store.couchdb.protocol", `"tcp" must be http or https`},
		{"couchdb host", func(c *Config) { c.Store.CouchDB.Host = "" }, "store.couchdb.host", "empty"},
		{"couchdb host with path", func(c *Config) { c.Store.CouchDB.Host = "h/db" }, "store.couchdb.host", "not a host name"},
		{"couchdb port", func(c *Config) { c.Store.CouchDB.Port = 0 }, "store.couchdb.port", "0 is not a port number"},
		{"couchdb username", func(c *Config) { c.Store.CouchDB.Username = "" }, "store.couchdb.username", "empty"},
		{"couchdb whisks db", func(c *Config) { c.Store.CouchDB.DBPrefix = "" }, "store.couchdb.whisksDb", "empty"},
		{"couchdb activations db", func(c *Config) { c.Store.CouchDB.ActivationsDB = "9acts" }, "store.couchdb.activationsDb", "must start with a lowercase letter"},
		{"couchdb subjects db", func(c *Config) { c.Store.CouchDB.SubjectsDB = "subj ects" }, "store.couchdb.subjectsDb", "invalid character ' '"},
		// runtimes
		{"no manifest", func(c *Config) { c.Runtimes.Manifest = nil }, "runtimes.manifest", "not set: set RUNTIMES_MANIFEST"},
		{"manifest not JSON", func(c *Config) { c.Runtimes.Manifest = json.RawMessage(`{"runtimes":}`) }, "runtimes.manifest", "invalid JSON at offset 12"},
		{"manifest bad stem cell", func(c *Config) {
			c.Runtimes.Manifest = json.RawMessage(`{"runtimes":{"go":[{"kind":"go:1","image":{"name":"a"},"stemCells":[{"initialCount":0,"memory":"256 MB"}]}]}}`)
		}, "runtimes.manifest", "initialCount must be positive"},
		{"user images registry", func(c *Config) { c.Runtimes.UserImagesRegistry = "a b" }, "runtimes.userImagesRegistry", "not an image registry"},
		{"local image prefix", func(c *Config) { c.Runtimes.LocalImagePrefix = "me@x" }, "runtimes.localImagePrefix", "not an image registry or prefix"},
		// limits
		{"memory min", func(c *Config) { c.Limits.Memory.Min = 0 }, "limits.memory.min", "0 MB is below 1 MB"},
		{"memory std", func(c *Config) { c.Limits.Memory.Std = 64 }, "limits.memory.std", "64 MB is below limits.memory.min (128 MB)"},
		{"memory max", func(c *Config) { c.Limits.Memory.Max = 200 }, "limits.memory.max", "200 MB is below limits.memory.std (256 MB)"},
		{"logs min", func(c *Config) { c.Limits.Logs.Min = -1 }, "limits.logs.min", "-1 MB is below 0 MB"},
		{"logs max", func(c *Config) { c.Limits.Logs.Max = 5 }, "limits.logs.max", "5 MB is below limits.logs.std (10 MB)"},
		{"time min", func(c *Config) { c.Limits.Time.Min = 0 }, "limits.time.min", "is below"},
		{"time max", func(c *Config) { c.Limits.Time.Max = Duration(time.Second) }, "limits.time.max", "1s is below limits.time.std (1m)"},
		{"concurrency max", func(c *Config) { c.Limits.Concurrency.Std = 2 }, "limits.concurrency.max", "1 is below limits.concurrency.std (2)"},
		{"payload max", func(c *Config) { c.Limits.PayloadMaxMB = 0 }, "limits.payloadMaxMB", "at least 1"},
		{"payload truncation", func(c *Config) { c.Limits.PayloadTruncationMB = -1 }, "limits.payloadTruncationMB", "at least 1"},
		// pool
		{"user memory", func(c *Config) { c.Pool.UserMemoryMB = 0 }, "pool.userMemoryMB", "0 must be positive"},
		{"cold reserve negative", func(c *Config) { c.Pool.ColdReserveMB = -1 }, "pool.coldReserveMB", "negative"},
		{"cold reserve = user memory", func(c *Config) { c.Pool.ColdReserveMB = 2048 }, "pool.coldReserveMB", "2048 must be less than pool.userMemoryMB (2048)"},
		{"max warm zero", func(c *Config) { c.Pool.MaxWarm = 0 }, "pool.maxWarm", "0 must be at least 1 (or -1 for unbounded)"},
		{"max warm -2", func(c *Config) { c.Pool.MaxWarm = -2 }, "pool.maxWarm", "-2 must be at least 1"},
		{"pause grace zero", func(c *Config) { c.Pool.PauseGrace = 0 }, "pool.pauseGrace", "0 is not allowed"},
		{"idle timeout zero", func(c *Config) { c.Pool.IdleTimeout = 0 }, "pool.idleTimeout", "0 is not allowed"},
		{"peek factor", func(c *Config) { c.Pool.ConcurrentPeekFactor = 0 }, "pool.concurrentPeekFactor", "must be a positive number"},
		{"stem cell kind empty", func(c *Config) { c.Pool.StemCells = []StemCellSpec{{MemoryMB: 256, Count: 1}} }, "pool.stemCells[0].kind", "empty"},
		{"stem cell kind unknown", func(c *Config) { c.Pool.StemCells = []StemCellSpec{{Kind: "rust:1", MemoryMB: 256, Count: 1}} }, "pool.stemCells[0].kind", `"rust:1" is not a kind of the runtimes manifest (nodejs:20, python:3)`},
		{"stem cell memory", func(c *Config) { c.Pool.StemCells = []StemCellSpec{{Kind: "python:3", Count: 1}} }, "pool.stemCells[0].memoryMB", "0 must be positive"},
		{"stem cell count", func(c *Config) { c.Pool.StemCells = []StemCellSpec{{Kind: "python:3", MemoryMB: 256}} }, "pool.stemCells[0].count", "0 must be positive"},
		{"stem cells too big", func(c *Config) { c.Pool.StemCells = []StemCellSpec{{Kind: "python:3", MemoryMB: 512, Count: 4}} }, "pool.stemCells", "stem cells need 2048 MB, more than pool.userMemoryMB - pool.coldReserveMB (1536 MB)"},
		{"manifest stem cells too big", func(c *Config) { c.Pool.UserMemoryMB = 768 }, "runtimes.manifest", "stem cells need 512 MB, more than pool.userMemoryMB - pool.coldReserveMB (256 MB)"},
		// docker
		{"docker mode", func(c *Config) { c.Docker.Mode = "bridge" }, "docker.mode", `"bridge" is not one of ip, publish, host`},
		{"docker network", func(c *Config) { c.Docker.Network = " " }, "docker.network", "empty"},
		{"docker publish host", func(c *Config) { c.Docker.PublishHost = "localhost" }, "docker.publishHost", `"localhost" is not an IP address`},
		{"docker user cpus", func(c *Config) { c.Docker.UserCPUs = -1 }, "docker.userCpus", "must be 0 (no quota) or positive"},
		{"docker log source", func(c *Config) { c.Docker.LogSource = "syslog" }, "docker.logSource", `"syslog" is not one of auto, file, api`},
		{"docker cgroup root", func(c *Config) { c.Docker.CgroupRoot = "sys/fs/cgroup" }, "docker.cgroupRoot", "must be an absolute path"},
		{"docker api host", func(c *Config) { c.Docker.APIHost = "172.17.0.1" }, "docker.apiHost", "not an http(s) URL"},
		{"docker cpuset syntax", func(c *Config) { c.Docker.CPUSet = "1-" }, "docker.cpuset", `"1-" is not a cpuset`},
		{"docker cpuset descending", func(c *Config) { c.Docker.CPUSet = "3-1" }, "docker.cpuset", "descending"},
		{"docker cpuset too high", func(c *Config) { c.Docker.CPUSet = "5000" }, "docker.cpuset", "out of range"},
		{"docker extra env", func(c *Config) { c.Docker.ExtraEnv = []string{"A=1", "=x"} }, "docker.extraEnv[1]", "not KEY=VALUE"},
		{"docker dns", func(c *Config) { c.Docker.DNS = []string{"ns1"} }, "docker.dns[0]", "not an IP address"},
		{"docker dns search", func(c *Config) { c.Docker.DNSSearch = []string{""} }, "docker.dnsSearch[0]", "non-empty word"},
		{"docker dns options", func(c *Config) { c.Docker.DNSOptions = []string{"a b"} }, "docker.dnsOptions[0]", "non-empty word"},
		// scheduler
		{"prewarm interval", func(c *Config) { c.Scheduler.PrewarmInterval = 0 }, "scheduler.prewarmInterval", "must be positive"},
		{"failure backoff", func(c *Config) { c.Scheduler.FailureBackoff = -1 }, "scheduler.failureBackoff", "must be positive"},
		{"prewarm timeout", func(c *Config) { c.Scheduler.PrewarmTimeout = 0 }, "scheduler.prewarmTimeout", "must be positive"},
		{"control timeout", func(c *Config) { c.Scheduler.ControlTimeout = 0 }, "scheduler.controlTimeout", "must be positive"},
		{"keep alive", func(c *Config) { c.Scheduler.KeepAlive = 0 }, "scheduler.keepAlive", "0 is not allowed"},
		{"max suspend", func(c *Config) { c.Scheduler.MaxSuspend = 0 }, "scheduler.maxSuspend", "0 is not allowed"},
		{"min score", func(c *Config) { c.Scheduler.MinScore = 0 }, "scheduler.minScore", "must be positive"},
		{"replace margin", func(c *Config) { c.Scheduler.ReplaceMargin = -1 }, "scheduler.replaceMargin", "must be positive"},
		{"evict", func(c *Config) { c.Scheduler.Evict = "random" }, "scheduler.evict", `"random" is not one of score, lru`},
		{"score kind", func(c *Config) { c.Scheduler.Score.Kind = "faascache" }, "scheduler.score.kind", `"faascache" is not one of expected-benefit, paper`},
		{"score slack", func(c *Config) { c.Scheduler.Score.Slack = 0 }, "scheduler.score.slack", "must be positive"},
		{"score min horizon", func(c *Config) { c.Scheduler.Score.MinHorizon = 0 }, "scheduler.score.minHorizon", "must be positive"},
		{"score recency", func(c *Config) { c.Scheduler.Score.RecencyScale = 0 }, "scheduler.score.recencyScale", "must be positive"},
		{"score cost weight", func(c *Config) { c.Scheduler.Score.CostWeight = 1.5 }, "scheduler.score.costWeight", "out of range [0, 1]"},
		{"history half life", func(c *Config) { c.Scheduler.History.RateHalfLife = 0 }, "scheduler.history.rateHalfLife", "must be positive"},
		{"history gap decay", func(c *Config) { c.Scheduler.History.GapDecay = 1 }, "scheduler.history.gapDecay", "out of range (0, 1)"},
		{"history smoothing", func(c *Config) { c.Scheduler.History.TimeSmoothing = 0 }, "scheduler.history.timeSmoothing", "out of range (0, 1]"},
		// harvester (its own Validate; first problem reported, the rest counted)
		{"harvester nf interface", func(c *Config) { c.Harvester.NFs[1].Interface = "" }, "harvester.nfs[1].interface", "required"},
		{"harvester several problems", func(c *Config) { c.Harvester.Linger = Duration(2 * time.Minute); c.Harvester.NFs[0].Name = "" }, "harvester.linger", "2m0s exceeds 1m (and 1 more)"},
		// edge functions
		{"ef namespace", func(c *Config) { c.EdgeFunctions[0].Namespace = "" }, "edgeFunctions[0].namespace", "not a namespace name"},
		{"ef action empty", func(c *Config) { c.EdgeFunctions[1].Action = "" }, "edgeFunctions[1].action", "not an action name"},
		{"ef action too deep", func(c *Config) { c.EdgeFunctions[1].Action = "a/b/c" }, "edgeFunctions[1].action", `want "name" or "package/name"`},
		{"ef action chars", func(c *Config) { c.EdgeFunctions[1].Action = "img/re*size" }, "edgeFunctions[1].action", "not an action name"},
		{"ef duplicate", func(c *Config) { c.EdgeFunctions[1].Action = "fw-stats" }, "edgeFunctions[1].action", `"guest/fw-stats" duplicates edgeFunctions[0]`},
		{"ef prewarm", func(c *Config) { c.EdgeFunctions[0].Prewarm = "sometimes" }, "edgeFunctions[0].prewarm", `"sometimes" is not one of auto, always, never`},
		{"ef unknown nf", func(c *Config) { c.EdgeFunctions[0].NF = "dpi" }, "edgeFunctions[0].nf", `"dpi" is not a harvester NF`},
		{"ef nf without cores", func(c *Config) { c.EdgeFunctions[0].NF = "idle" }, "edgeFunctions[0].nf", `NF "idle" lists no cores`},
		{"ef cpuset", func(c *Config) { c.EdgeFunctions[1].CPUSet = "x" }, "edgeFunctions[1].cpuset", "not a cpuset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(c)
			requireInvalid(t, c.Validate(), tc.field, tc.msg)
		})
	}
}

func TestEdgeFunctionLookups(t *testing.T) {
	c := validConfig()
	c.Docker.CPUSet = "6-7"
	c.EdgeFunctions = append(c.EdgeFunctions, EdgeFunction{Namespace: "/guest/", Action: "nat-audit", NF: "nat", Prewarm: PrewarmNever})
	c.EdgeFunctions[1].Prewarm = PrewarmAlways
	require.NoError(t, c.Validate())
	assert.Equal(t, "1", c.CPUSetFor("guest/fw-stats"))
	assert.Equal(t, "4", c.CPUSetFor("/guest/img/resize"))
	assert.Equal(t, "2-3", c.CPUSetFor("guest/nat-audit"), "NF cores, sorted and merged")
	assert.Equal(t, "6-7", c.CPUSetFor("guest/other"), "docker.cpuset for the rest")
	assert.Equal(t, PrewarmNever, c.PrewarmHint("guest/nat-audit"))
	assert.Equal(t, PrewarmAuto, c.PrewarmHint("guest/unknown"))
	hint := c.SchedulerConfig().Controller.Hint
	require.NotNil(t, hint, "the function controller gets the hints")
	assert.Equal(t, scheduler.HintNever, hint("guest/nat-audit"))
	assert.Equal(t, scheduler.HintAlways, hint("guest/img/resize"))
	assert.Equal(t, scheduler.HintAuto, hint("guest/unknown"))
	_, ok := c.EdgeFunction("other/fw-stats")
	assert.False(t, ok, "namespaces are not mixed up")
}

func TestEdgeFunctionsArePinnedToTheirCPUSet(t *testing.T) {
	c := validConfig()
	require.NoError(t, c.Validate())
	assert.Equal(t, "1", c.EdgeFunctionCPUSet("guest/fw-stats"), "the NF's cores")
	assert.Equal(t, "4", c.EdgeFunctionCPUSet("guest/img/resize"))
	assert.Equal(t, "", c.EdgeFunctionCPUSet("guest/other"), "not an edge function: the backend default")
}

// The default credentials are refused only where others can reach them: loopback is fine, so is an
// operator's explicit acceptance, and so are credentials of one's own.
func TestDefaultCredentialsBeyondLoopbackNeedConsent(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(c *Config)
		ok   bool
	}{
		{"loopback", func(c *Config) { c.Invoker.ListenHost = "127.0.0.1" }, true},
		{"localhost", func(c *Config) { c.Invoker.ListenHost = "localhost" }, true},
		{"IPv6 loopback", func(c *Config) { c.Invoker.ListenHost = "::1" }, true},
		{"every interface", func(c *Config) { c.Invoker.ListenHost = "" }, false},
		{"every interface, accepted", func(c *Config) { c.Invoker.ListenHost, c.Invoker.AllowDefaultCredentials = "", true }, true},
		{"every interface, own password", func(c *Config) { c.Invoker.ListenHost, c.Invoker.Password = "", "s3cret" }, true},
		{"every interface, own user", func(c *Config) { c.Invoker.ListenHost, c.Invoker.Username = "", "ops" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			if tc.ok {
				assert.NoError(t, c.Validate())
			} else {
				assert.ErrorContains(t, c.Validate(), "invoker.password")
			}
		})
	}
	c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), "CONFIG_whisk_invoker_password", "",
		"NEMO_ALLOW_DEFAULT_CREDENTIALS", "yes")))
	require.NoError(t, err, "the environment can accept the risk")
	assert.True(t, c.Invoker.AllowDefaultCredentials)
	_, err = Load([]string{"--id", "0"}, envFunc(with(baseEnv(), "CONFIG_whisk_invoker_password", "")))
	assert.ErrorContains(t, err, "invoker.password", "and without it the invoker refuses to start")
	_, err = Load([]string{"--id", "0"}, envFunc(with(baseEnv(), "NEMO_ALLOW_DEFAULT_CREDENTIALS", "perhaps")))
	assert.ErrorContains(t, err, "NEMO_ALLOW_DEFAULT_CREDENTIALS")
}

// The Docker backend is told what action containers must not reach (the brokers and the store), and the
// activation path the system's limits.
func TestIsolationAndLimitsReachTheComponents(t *testing.T) {
	c := validConfig()
	c.Kafka.Brokers = []string{"10.0.0.5:9092", "kafka.lan:9093"}
	d := c.DockerConfig()
	assert.Equal(t, []string{"10.0.0.5:9092", "kafka.lan:9093", "127.0.0.1:5984"}, d.Forbidden)
	assert.Equal(t, docker.FirewallAuto, d.Firewall)
	l := c.ActionLimits()
	assert.Equal(t, 512, l.MaxMemoryMB)
	assert.Equal(t, 5*time.Minute, l.MaxTimeout)
	assert.Equal(t, 10, l.MaxLogsMB)
	assert.Equal(t, DefaultNetwork, Defaults().Docker.Network, "an isolated network of NEMO's own by default")
}
