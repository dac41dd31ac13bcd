package config

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// Config is the invoker's whole configuration: the JSON file's shape (every section optional) and, after
// Load, the resolved values. Every field holds its effective value: defaults are filled in, nothing is
// left for a consumer to default. Write it back with json.Marshal to get a config file that loads into
// the same Config.
type Config struct {
	Invoker   InvokerSection   `json:"invoker"`
	Kafka     KafkaSection     `json:"kafka"`
	Store     StoreSection     `json:"store"`
	Pool      PoolSection      `json:"pool"`
	Docker    DockerSection    `json:"docker"`
	Scheduler SchedulerSection `json:"scheduler"`
	// EdgeFunctions are the functions this edge server hosts next to its NFs (paper §5.1: "add/delete edge
	// functions"): CPU pinning and pre-warm hints per action. Actions not listed run unpinned with hint auto.
	EdgeFunctions []EdgeFunction `json:"edgeFunctions"`
	// Harvester is the slack harvester's section (see HarvesterSection).
	Harvester HarvesterSection `json:"harvester"`
	Runtimes  RuntimesSection  `json:"runtimes"`
	Limits    LimitsSection    `json:"limits"`

	// Manifest is the parsed runtimes manifest with the registries applied. Load and Demo set it; Validate
	// (re)parses it from Runtimes.
	Manifest *wire.Manifest `json:"-"`

	// manifestFrom names where Runtimes.Manifest came from, for errors (RUNTIMES_MANIFEST when set by env).
	manifestFrom string
	// pendingID is the ZooKeeper id assignment Load left to do (see PendingID).
	pendingID *IDRequest
	// warnings are what Load accepted but an operator should change (Warnings).
	warnings []string
}

// InvokerSection identifies the invoker and configures its HTTP endpoint and logging.
type InvokerSection struct {
	// ID is N in invoker{N}: the --id flag, else the id ZooKeeper assigns to --uniqueName (when
	// ZooKeeperHosts is set), else this field. Required.
	ID int `json:"id"`
	// UniqueName and DisplayedName are --uniqueName/--displayedName; they appear in the instance id
	// ("invoker0/unique/displayed") and UniqueName in container names. Default "".
	UniqueName    string `json:"uniqueName,omitempty"`
	DisplayedName string `json:"displayedName,omitempty"`
	// ListenHost is the address the HTTP server binds. Default "" (every interface, as OpenWhisk).
	ListenHost string `json:"listenHost,omitempty"`
	// Port is the HTTP port (env PORT). Default 8080.
	Port int `json:"port"`
	// Username and Password guard /enable, /disable and /isEnabled (CONFIG_whisk_invoker_username/_password).
	// Default "invoker.user" / "invoker.pass". With these defaults the invoker refuses to listen on an
	// address other than loopback unless AllowDefaultCredentials is set.
	Username string `json:"username"`
	Password string `json:"password"`
	// AllowDefaultCredentials lets the invoker listen beyond loopback with the default credentials
	// (env NEMO_ALLOW_DEFAULT_CREDENTIALS=true): anyone who can reach the port can disable the invoker.
	// Default false.
	AllowDefaultCredentials bool `json:"allowDefaultCredentials,omitempty"`
	// ProtectMetrics puts GET /metrics behind the same credentials. Default false (Prometheus scrapes
	// without credentials, as OpenWhisk's invoker allows).
	ProtectMetrics bool `json:"protectMetrics,omitempty"`
	// MaxConnections caps the HTTP server's concurrent connections; more wait to be accepted. Default 64.
	MaxConnections int `json:"maxConnections"`
	// LogPath is the log file (paper §5.1); "" logs to stdout. Default "".
	LogPath string `json:"logPath,omitempty"`
	// LogLevel is trace, debug, info, warn or error. Default "info".
	LogLevel string `json:"logLevel"`
	// ZooKeeperHosts is where an invoker started with --uniqueName and no --id gets its id, as OpenWhisk's
	// invoker does (env ZOOKEEPER_HOSTS, a connect string "host:port[,host:port...][/chroot]"; see package
	// invoker/instanceid). Not used, and not checked, when the id is given. Default "".
	ZooKeeperHosts string `json:"zookeeperHosts,omitempty"`
	// ZooKeeperTimeout bounds that assignment, from connecting to the written mapping; when it runs out the
	// invoker exits with status 1 (worth retrying). Default "30s".
	ZooKeeperTimeout Duration `json:"zookeeperTimeout"`
	// ParameterStorageKey is OpenWhisk's parameter-encryption key, base64 of 16 (AES-128) or 32 (AES-256)
	// bytes (CONFIG_whisk_parameterStorage_key); the invoker decrypts the activation parameters the
	// controller locked with it. Default "": locked parameters reach the action as received, as in OpenWhisk.
	//
	// Deprecated: use ParameterStorage, OpenWhisk's own keys; this one still works, with a warning.
	ParameterStorageKey string `json:"parameterStorageKey,omitempty"`
	// ParameterStorage is OpenWhisk's whisk.parameter-storage: the keys the invoker decrypts locked
	// activation parameters with.
	ParameterStorage ParameterStorageSection `json:"parameterStorage"`
	// Protocol is "http" or "https" (CONFIG_whisk_invoker_protocol). Default "http".
	Protocol string `json:"protocol"`
	// HTTPS is the server's key material when Protocol is "https" (CONFIG_whisk_invoker_https_*).
	HTTPS KeystoreSection `json:"https"`
	// KamonTags spells OpenWhisk's own metric names on /metrics with tags (METRICS_KAMON_TAGS=true, what
	// the Grafana dashboards query) or with the tag folded into the name (OpenWhisk's default). Default false.
	KamonTags bool `json:"kamonTags,omitempty"`
}

// ParameterStorageSection is whisk.parameter-storage (OPENWHISK_CONFIG, or -D in JAVA_OPTS/INVOKER_OPTS;
// current also as CONFIG_whisk_parameterStorage_current). The invoker decrypts each locked parameter with
// the key of the scheme the activation names for it; Current is the controller's choice for new
// parameters, checked here for consistency only.
type ParameterStorageSection struct {
	// Current is "off" (also "noop" or ""), "aes-128" or "aes-256". Default "off".
	Current string `json:"current,omitempty"`
	// AES128 and AES256 are base64 keys of 16 and 32 bytes (aes-128, aes-256). Default "".
	AES128 string `json:"aes128,omitempty"`
	AES256 string `json:"aes256,omitempty"`
}

// KeystoreSection is key material in a Java key store, as OpenWhisk deployments hand it over.
type KeystoreSection struct {
	// KeystorePath is a PKCS#12 or JKS file (_https_keystorePath).
	KeystorePath string `json:"keystorePath,omitempty"`
	// KeystorePassword opens it (_https_keystorePassword).
	KeystorePassword string `json:"keystorePassword,omitempty"`
	// KeystoreFlavor is "PKCS12" or "JKS" (_https_keystoreFlavor); the file's own format wins, as in Java.
	KeystoreFlavor string `json:"keystoreFlavor,omitempty"`
	// ClientAuth requires clients to present a certificate the key store trusts (_https_clientAuth).
	ClientAuth bool `json:"clientAuth,omitempty"`
}

// KafkaSection locates the brokers and names the topics.
type KafkaSection struct {
	// Brokers are host:port bootstrap addresses (env KAFKA_HOSTS, comma-separated). Required unless Embedded.
	Brokers []string `json:"brokers,omitempty"`
	// Embedded runs an in-process Kafka (kfake) instead of dialling Brokers: the demo mode. Default false.
	Embedded bool `json:"embedded,omitempty"`
	// Version is the Kafka protocol level (env NEMO_KAFKA_VERSION), e.g. "0.11.0.1" for OpenWhisk devtools'
	// broker. Default messaging.DefaultVersion.
	Version string `json:"version"`
	// TopicPrefix (CONFIG_whisk_kafka_topics_prefix) and UserEventPrefix
	// (CONFIG_whisk_kafka_topics_userEvent_prefix). Default "".
	TopicPrefix     string `json:"topicPrefix,omitempty"`
	UserEventPrefix string `json:"userEventPrefix,omitempty"`
	// ReplicationFactor of the invoker{N} topic it creates (CONFIG_whisk_kafka_replicationFactor). Default 1.
	ReplicationFactor int `json:"replicationFactor"`
	// UserEvents sends activation events to the events topic (CONFIG_whisk_userEvents_enabled). Default false.
	UserEvents bool `json:"userEvents"`
	// InvokerTopic overrides the topic configs invoker{N} is created with: retention.bytes, retention.ms,
	// segment.bytes (CONFIG_whisk_kafka_topics_invoker_{retentionBytes,retentionMs,segmentBytes}).
	InvokerTopic map[string]string `json:"invokerTopic,omitempty"`
	// Security is how the client authenticates to the brokers (CONFIG_whisk_kafka_common_*).
	Security KafkaSecuritySection `json:"security"`
}

// KafkaSecuritySection is the Kafka client's security settings, OpenWhisk's whisk.kafka.common.* (which
// it passes to the Java client as security.protocol, ssl.*, sasl.*).
type KafkaSecuritySection struct {
	// Protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (_securityProtocol). Default "PLAINTEXT".
	Protocol string `json:"protocol"`
	// TruststoreLocation/Password/Type: the CAs the brokers' certificates must chain to (_sslTruststore*).
	// Without a trust store the system's CAs are used.
	TruststoreLocation string `json:"truststoreLocation,omitempty"`
	TruststorePassword string `json:"truststorePassword,omitempty"`
	TruststoreType     string `json:"truststoreType,omitempty"`
	// KeystoreLocation/Password/Type and KeyPassword: the client certificate (_sslKeystore*, _sslKeyPassword).
	KeystoreLocation string `json:"keystoreLocation,omitempty"`
	KeystorePassword string `json:"keystorePassword,omitempty"`
	KeystoreType     string `json:"keystoreType,omitempty"`
	KeyPassword      string `json:"keyPassword,omitempty"`
	// VerifyHostname checks the broker's name against its certificate: ssl.endpoint.identification.algorithm
	// "https". OpenWhisk sets it to "" (no check). Default false.
	VerifyHostname bool `json:"verifyHostname,omitempty"`
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (_saslMechanism), with SASLUsername and
	// SASLPassword from sasl.jaas.config's username and password options (_saslJaasConfig).
	SASLMechanism string `json:"saslMechanism,omitempty"`
	SASLUsername  string `json:"saslUsername,omitempty"`
	SASLPassword  string `json:"saslPassword,omitempty"`
}

// Store kinds.
const (
	StoreCouchDB = "couchdb"
	StoreFile    = "file"
)

// StoreSection selects the artifact store.
type StoreSection struct {
	// Kind is "couchdb" (OpenWhisk deployments) or "file" (demo: a directory). Default "couchdb"; any
	// CONFIG_whisk_couchdb_* variable selects "couchdb".
	Kind string `json:"kind"`
	// Path is the file store's directory. Required for kind "file".
	Path string `json:"path,omitempty"`
	// CouchDB is used for kind "couchdb".
	CouchDB CouchDBSection `json:"couchdb"`
}

// CouchDBSection mirrors store.Config; each field's variable is the OpenWhisk one (CONFIG_whisk_couchdb_*).
type CouchDBSection struct {
	Protocol string `json:"protocol"` // _protocol: http or https. Default "http".
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port"` // _port. Default 5984.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// DBPrefix (env DB_PREFIX) names the databases not given explicitly: <prefix>whisks,
	// <prefix>activations, <prefix>subjects.
	DBPrefix      string `json:"dbPrefix,omitempty"`
	WhisksDB      string `json:"whisksDb,omitempty"`      // _databases_WhiskEntity
	ActivationsDB string `json:"activationsDb,omitempty"` // _databases_WhiskActivation
	SubjectsDB    string `json:"subjectsDb,omitempty"`    // _databases_WhiskAuth
	// RequestTimeout bounds each HTTP request to CouchDB and each attempt to store an activation record
	// (attempts go on until the store answers: an outage delays records, it loses none). Default 30s.
	RequestTimeout Duration `json:"requestTimeout"`
}

// PoolSection bounds the container pool (paper §5.1: 2048 MB, 6 pre-warmed functions, 512 MB for cold
// invocations).
type PoolSection struct {
	// UserMemoryMB is the memory for all action containers (CONFIG_whisk_containerPool_userMemory).
	// Default 2048.
	UserMemoryMB MB `json:"userMemoryMB"`
	// MaxWarm bounds the function containers kept warm; with the scheduler it bounds its pre-warm pool
	// instead (containers that cannot be evicted at once), and idle ones may fill the memory. -1 =
	// unbounded. Default 6.
	MaxWarm int `json:"maxWarm"`
	// ColdReserveMB is memory only on-demand cold starts may use; 0 = none. Default 512.
	ColdReserveMB MB `json:"coldReserveMB"`
	// PauseGrace is how long an idle container stays unfrozen (CONFIG_whisk_containerProxy_timeouts_pauseGrace).
	// Negative = never freeze. Default 10s.
	PauseGrace Duration `json:"pauseGrace"`
	// IdleTimeout removes idle warm containers (CONFIG_whisk_containerProxy_timeouts_idleContainer)
	// when the scheduler is disabled; with it, scheduler.keepAlive decides. Negative = never. Default 10m.
	IdleTimeout Duration `json:"idleTimeout"`
	// ConcurrentPeekFactor sizes the Kafka prefetch (CONFIG_whisk_containerPool_concurrentPeekFactor).
	// Default 0.5.
	ConcurrentPeekFactor float64 `json:"concurrentPeekFactor"`
	// PrewarmExpirationCheckInterval is how often reactive stem cells (a manifest stem cell with "reactive")
	// are resized from the cold starts since the last check and their unused surplus expired
	// (CONFIG_whisk_containerPool_prewarmExpirationCheckInterval). Default 1m.
	PrewarmExpirationCheckInterval Duration `json:"prewarmExpirationCheckInterval"`
	// PrewarmExpirationCheckInitDelay is when the first of those checks runs
	// (CONFIG_whisk_containerPool_prewarmExpirationCheckInitDelay); 0 = after one interval. Default 0.
	PrewarmExpirationCheckInitDelay Duration `json:"prewarmExpirationCheckInitDelay"`
	// PrewarmExpirationCheckIntervalVariance adds up to this much, drawn once at start, to the interval, so
	// that invokers started together do not check together (…IntervalVariance). Default 0.
	PrewarmExpirationCheckIntervalVariance Duration `json:"prewarmExpirationCheckIntervalVariance"`
	// StemCells overrides the manifest's stem cells: null (the default) takes them from the manifest,
	// [] disables them.
	StemCells []StemCellSpec `json:"stemCells"`
}

// StemCellSpec is one prewarm configuration: Count containers of Kind with MemoryMB.
type StemCellSpec struct {
	Kind     string `json:"kind"`
	MemoryMB MB     `json:"memoryMB"`
	Count    int    `json:"count"`
}

// Docker network modes (DockerSection.Mode).
const (
	// NetworkIP dials <container IP>:8080 on DockerSection.Network, as OpenWhisk deployments do.
	NetworkIP = "ip"
	// NetworkPublish publishes the container's 8080 on PublishHost (127.0.0.1) and dials that.
	NetworkPublish = "publish"
	// NetworkHost runs containers in the host network, the proxy listening on PublishHost:<free port>.
	NetworkHost = "host"
)

// DockerSection configures action containers (docker run flags, docs/protocol.md#limits).
type DockerSection struct {
	// Mode is "ip", "publish" or "host" ("container-ip" is read as "ip"). Default "ip".
	Mode string `json:"mode"`
	// Network is the Docker network (CONFIG_whisk_containerFactory_containerArgs_network). Default
	// "nemo-actions", which the invoker creates, when missing, as a bridge without inter-container traffic
	// (an existing network is used as it is, with a warning when its containers can reach each other).
	Network string `json:"network"`
	// Firewall is "auto", "on" or "off": iptables rules on the action network's bridge that keep action
	// containers from this host's services (the invoker's HTTP port, a local Kafka or CouchDB) and from
	// the Kafka brokers and CouchDB wherever they run. "auto" installs them when the invoker runs in the
	// host's network namespace with iptables at hand and warns otherwise; "on" refuses to start without
	// them. Default "auto".
	Firewall string `json:"firewall"`
	// User runs action processes as this user ("uid[:gid]"); "" keeps the image's. Default "".
	User string `json:"user,omitempty"`
	// ReadOnlyRootfs gives action containers a read-only root filesystem with a tmpfs /tmp (runtimes that
	// write elsewhere do not work with it). Default false.
	ReadOnlyRootfs bool `json:"readOnlyRootfs,omitempty"`
	// PublishHost is the host IP for modes publish and host. Default "127.0.0.1".
	PublishHost string `json:"publishHost"`
	// APIHost is __OW_API_HOST (WHISK_API_HOST_PROTO/_NAME/_PORT, normalised). Default "".
	APIHost string `json:"apiHost,omitempty"`
	// ExtraEnv are KEY=VALUE variables for every container (..._containerArgs_extraEnvVars_N).
	ExtraEnv []string `json:"extraEnv,omitempty"`
	// DNS, DNSSearch, DNSOptions: ..._containerArgs_dnsServers_N / _dnsSearch_N / _dnsOptions_N.
	DNS        []string `json:"dns,omitempty"`
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	DNSOptions []string `json:"dnsOptions,omitempty"`
	// CPUSet pins action containers that no edge function entry pins (cpuset syntax). Default "": none.
	CPUSet string `json:"cpuset,omitempty"`
	// UserCPUs is whisk.container-pool.user-cpus (CONFIG_whisk_containerPool_userCpus); 0 = no CPU quota.
	UserCPUs float64 `json:"userCpus,omitempty"`
	// LogSource is "auto", "file" or "api". Default "auto".
	LogSource string `json:"logSource"`
	// CgroupRoot is the cgroup filesystem mount (freezer). Default "/sys/fs/cgroup".
	CgroupRoot string `json:"cgroupRoot"`
}

// SchedulerSection tunes NEMO's function controller (paper §4.3).
type SchedulerSection struct {
	// Enabled runs the function controller; false leaves a plain OpenWhisk-like pool. Default true.
	Enabled bool `json:"enabled"`
	// PrewarmInterval is the pre-warm daemon period. Default 3s (paper §5.1).
	PrewarmInterval Duration `json:"prewarmInterval"`
	// KeepAlive, when positive, stops an idle warm container whose function was not invoked for this long
	// (and is not expected soon). Negative = never: idle containers are kept, frozen, until memory is
	// needed, when the pool evicts the least valuable one (the default, "-1s"; docs/simulator.md).
	KeepAlive Duration `json:"keepAlive"`
	// MinScore is the score a function needs to be pre-warmed. Default: the scheduler's (0.5).
	MinScore float64 `json:"minScore"`
	// ReplaceMargin: idle containers worth less than this × the best candidate's score are replaced.
	// Default 0.5.
	ReplaceMargin float64 `json:"replaceMargin"`
	// FreeSlotsOnly pre-warms only into free slots (never replaces). Default false.
	FreeSlotsOnly bool `json:"freeSlotsOnly"`
	// Evict is "score" (lowest value first) or "lru" (least recently invoked: the paper). Default "score".
	Evict string `json:"evict"`
	// Trim stops the least valuable idle containers above pool.maxWarm every tick. Default false.
	Trim bool `json:"trim"`
	// MaxSuspend bounds how long a pre-warm stays suspended for an invocation; negative = until the
	// invocation ends (the paper). Default 10s.
	MaxSuspend Duration `json:"maxSuspend"`
	// ThreadManagement suspends (freezes) pre-warms in flight while an invocation runs (states S3, S4-2);
	// false lets them run on beside it. Default true.
	ThreadManagement bool `json:"threadManagement"`
	// FailureBackoff: a function whose pre-warm failed is not pre-warmed again for this long. Default 1m.
	FailureBackoff Duration `json:"failureBackoff"`
	// PrewarmTimeout is the /init timeout of a pre-warm. Default 60s.
	PrewarmTimeout Duration `json:"prewarmTimeout"`
	// ControlTimeout bounds each suspend/resume/evict call. Default 10s.
	ControlTimeout Duration       `json:"controlTimeout"`
	Score          ScoreSection   `json:"score"`
	History        HistorySection `json:"history"`
}

// Score kinds (ScoreSection.Kind).
const (
	ScoreExpectedBenefit = "expected-benefit"
	ScorePaper           = "paper"
)

// ScoreSection selects and tunes the pre-warm score.
type ScoreSection struct {
	// Kind is "expected-benefit" (default) or "paper" (b_warm × frequency / recency).
	Kind string `json:"kind"`
	// Slack and MinHorizon shape expected-benefit's look-ahead. Defaults 9s and 10s.
	Slack      Duration `json:"slack"`
	MinHorizon Duration `json:"minHorizon"`
	// CostWeight in [0,1] mixes the cold cost into expected-benefit. Default 0.
	CostWeight float64 `json:"costWeight"`
	// RecencyScale is the paper score's recency scale. Default 10m.
	RecencyScale Duration `json:"recencyScale"`
}

// HistorySection tunes the per-function history.
type HistorySection struct {
	// RateHalfLife of the decayed invocation rate. Default 10m.
	RateHalfLife Duration `json:"rateHalfLife"`
	// GapDecay in (0,1): weight kept by older inter-arrival samples. Default 0.97.
	GapDecay float64 `json:"gapDecay"`
	// TimeSmoothing in (0,1]: weight of a new init/run time. Default 0.3.
	TimeSmoothing float64 `json:"timeSmoothing"`
}

// Pre-warm hints (EdgeFunction.Prewarm).
const (
	PrewarmAuto   = "auto"   // the scheduler decides from history
	PrewarmAlways = "always" // keep one warm whenever memory allows (from its first invocation on)
	PrewarmNever  = "never"  // never pre-warm; invocations still run
)

// EdgeFunction configures one hosted action.
type EdgeFunction struct {
	// Namespace is the action's namespace (e.g. "guest"). Required.
	Namespace string `json:"namespace"`
	// Action is "name" or "package/name". Required.
	Action string `json:"action"`
	// NF names a harvester NF (harvester.nfs[].name) whose cores the function's containers share (paper
	// §5.1: EFs are bound to the NF's core). Optional.
	NF string `json:"nf,omitempty"`
	// CPUSet pins the function's containers (cpuset syntax). Default: the NF's cores when NF is set.
	CPUSet string `json:"cpuset,omitempty"`
	// Prewarm is the hint "auto", "always" or "never" for the function controller (scheduler.Hint):
	// "always" pre-warms it ahead of scored functions and keeps one idle container of it last in every
	// eviction order; the controller learns its image and memory from its first invocation, so it is not
	// pre-warmed before that. Default "auto".
	Prewarm string `json:"prewarm"`
}

// DocID is the action's fully qualified document id, "namespace/[package/]name" (pool.Key.Action).
func (e EdgeFunction) DocID() string { return e.Namespace + "/" + e.Action }

// RuntimesSection gives the runtimes manifest (docs/protocol.md#runtime-manifest) and the image registries.
type RuntimesSection struct {
	// Manifest is the manifest JSON inline (env RUNTIMES_MANIFEST). One of Manifest and ManifestPath is
	// required.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// ManifestPath is a manifest file; relative paths are relative to the config file.
	ManifestPath string `json:"manifestPath,omitempty"`
	// Registry prefixes managed runtime images (CONFIG_whisk_containerFactory_runtimesRegistry_url).
	Registry string `json:"registry,omitempty"`
	// UserImagesRegistry prefixes blackbox images (..._userImagesRegistry_url).
	UserImagesRegistry string `json:"userImagesRegistry,omitempty"`
	// BypassPullForLocalImages and LocalImagePrefix: blackbox images under that prefix are not pulled
	// (CONFIG_whisk_runtimes_bypassPullForLocalImages / _localImagePrefix).
	BypassPullForLocalImages bool   `json:"bypassPullForLocalImages,omitempty"`
	LocalImagePrefix         string `json:"localImagePrefix,omitempty"`
}

// LimitsSection holds OpenWhisk's system action limits; the invoker uses the std values for actions whose
// document carries none, concurrency.max for the Kafka prefetch and the payload sizes for /run bodies and
// acks.
type LimitsSection struct {
	Memory      MBRange       `json:"memory"`      // CONFIG_whisk_memory_*: 128/512/256 MB
	Time        DurationRange `json:"time"`        // CONFIG_whisk_timeLimit_*: 100ms/5m/1m
	Logs        MBRange       `json:"logs"`        // CONFIG_whisk_logLimit_*: 0/10/10 MB
	Concurrency IntRange      `json:"concurrency"` // CONFIG_whisk_concurrencyLimit_*: 1/1/1
	// PayloadMaxMB and PayloadTruncationMB: CONFIG_whisk_activation_payload_max/_truncation. Default 1.
	PayloadMaxMB        MB `json:"payloadMaxMB"`
	PayloadTruncationMB MB `json:"payloadTruncationMB"`
}

// MBRange is a min/max/std size limit in MB.
type MBRange struct {
	Min MB `json:"min"`
	Max MB `json:"max"`
	Std MB `json:"std"`
}

// DurationRange is a min/max/std time limit.
type DurationRange struct {
	Min Duration `json:"min"`
	Max Duration `json:"max"`
	Std Duration `json:"std"`
}

// IntRange is a min/max/std count limit.
type IntRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
	Std int `json:"std"`
}

// The invoker's default credentials (OpenWhisk's) and action network (NEMO's).
const (
	DefaultUsername = "invoker.user"
	DefaultPassword = "invoker.pass"
	DefaultNetwork  = "nemo-actions"
)

// unsetID marks an invoker id nobody gave.
const unsetID = math.MinInt32

// Defaults returns the configuration every source is layered over: OpenWhisk's invoker defaults, the
// paper's pool sizes, no invoker id and no runtimes manifest (both are required).
func Defaults() *Config {
	p := pool.DefaultConfig()
	si := scheduler.DefaultInvokerConfig()
	sc, hist := si.Controller, si.Controller.History
	return &Config{
		Invoker: InvokerSection{ID: unsetID, Port: 8080, Username: DefaultUsername, Password: DefaultPassword, LogLevel: "info",
			MaxConnections: 64, ZooKeeperTimeout: Duration(30 * time.Second), Protocol: "http"},
		Kafka: KafkaSection{Version: messaging.DefaultVersion, ReplicationFactor: 1, Security: KafkaSecuritySection{Protocol: KafkaPlaintext}},
		Store: StoreSection{Kind: StoreCouchDB, CouchDB: CouchDBSection{Protocol: "http", Port: 5984, RequestTimeout: Duration(30 * time.Second)}},
		Pool: PoolSection{UserMemoryMB: MB(p.UserMemoryMB), MaxWarm: p.MaxWarm, ColdReserveMB: MB(p.ColdReserveMB),
			PauseGrace: Duration(p.PauseGrace), IdleTimeout: Duration(p.IdleTimeout), ConcurrentPeekFactor: 0.5,
			PrewarmExpirationCheckInterval: Duration(p.StemCheckInterval)},
		Docker: DockerSection{Mode: NetworkIP, Network: DefaultNetwork, Firewall: "auto", PublishHost: "127.0.0.1",
			LogSource: "auto", CgroupRoot: "/sys/fs/cgroup"},
		Scheduler: SchedulerSection{
			Enabled: true, PrewarmInterval: Duration(sc.Tick), KeepAlive: Duration(sc.StopAfter),
			MinScore: sc.MinScore, ReplaceMargin: sc.ReplaceMargin, Evict: "score", MaxSuspend: Duration(sc.MaxSuspend),
			ThreadManagement: true, FailureBackoff: Duration(sc.FailureBackoff), PrewarmTimeout: Duration(si.PrewarmTimeout),
			ControlTimeout: Duration(si.ControlTimeout),
			Score: ScoreSection{Kind: ScoreExpectedBenefit, Slack: Duration(scheduler.DefaultSlack),
				MinHorizon: Duration(scheduler.DefaultMinHorizon), RecencyScale: Duration(scheduler.DefaultRecencyScale)},
			History: HistorySection{RateHalfLife: Duration(hist.RateHalfLife), GapDecay: hist.GapDecay,
				TimeSmoothing: hist.TimeSmoothing},
		},
		Harvester: defaultHarvesterSection(),
		Limits: LimitsSection{
			Memory:       MBRange{Min: 128, Max: 512, Std: 256},
			Time:         DurationRange{Min: Duration(100 * time.Millisecond), Max: Duration(5 * time.Minute), Std: Duration(time.Minute)},
			Logs:         MBRange{Min: 0, Max: 10, Std: 10},
			Concurrency:  IntRange{Min: 1, Max: 1, Std: 1},
			PayloadMaxMB: 1, PayloadTruncationMB: 1,
		},
	}
}

// DemoManifest maps runtime kinds to the locally built test images (scripts/build-images.sh):
// go:1.22 → nemo/action-go:latest (the static action proxy; it also serves as the native blackbox
// image), python:3 → nemo/action-python:3.11.
const DemoManifest = `{
  "runtimes": {
    "go": [{"kind": "go:1.22", "default": true,
            "image": {"prefix": "nemo", "name": "action-go", "tag": "latest"},
            "attached": {"attachmentName": "codefile", "attachmentType": "text/plain"}}],
    "python": [{"kind": "python:3", "default": true,
                "image": {"prefix": "nemo", "name": "action-python", "tag": "3.11"},
                "attached": {"attachmentName": "codefile", "attachmentType": "text/plain"}}]
  },
  "blackboxes": [{"prefix": "nemo", "name": "action-go", "tag": "latest"}]
}`

// Demo returns the self-contained configuration of the demo: invoker 0 on 127.0.0.1:8085, an in-process
// Kafka, a file store under the temporary directory (<TMPDIR>/nemo-demo/store, created by the store),
// action containers published on 127.0.0.1 and named wskdemo0_… (uniqueName "demo", so that the demo's
// start-up cleanup leaves a real invoker0's wsk0_… containers alone), DemoManifest, no harvester. It is
// valid as returned.
func Demo() *Config {
	c := Defaults()
	c.Invoker.ID = 0
	c.Invoker.UniqueName = "demo"
	c.Invoker.ListenHost = "127.0.0.1"
	c.Invoker.Port = 8085
	c.Kafka.Embedded = true
	c.Store = StoreSection{Kind: StoreFile, Path: filepath.Join(os.TempDir(), "nemo-demo", "store"),
		CouchDB: CouchDBSection{Protocol: "http", Port: 5984, RequestTimeout: Duration(30 * time.Second)}}
	c.Docker.Mode = NetworkPublish
	c.Runtimes.Manifest = json.RawMessage(DemoManifest)
	m, err := wire.ParseManifest([]byte(DemoManifest))
	if err != nil {
		panic("config: DemoManifest: " + err.Error()) // a constant; TestDemoIsValid guards it
	}
	c.Manifest = m
	return c
}
