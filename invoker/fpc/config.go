package fpc

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// The SPI class names an OpenWhisk deployment sets to choose the invoker's scheduler protocol and HTTP API
// (reference.conf whisk.spi.InvokerProvider / InvokerServerProvider).
const (
	ClassicInvokerProvider = "org.apache.openwhisk.core.invoker.InvokerReactive"
	FPCInvokerProvider     = "org.apache.openwhisk.core.invoker.FPCInvokerReactive"
	DefaultServerProvider  = "org.apache.openwhisk.core.invoker.DefaultInvokerServer"
	FPCServerProvider      = "org.apache.openwhisk.core.invoker.FPCInvokerServer"
)

// Environment variables Load reads. OpenWhisk's transformEnvironment.sh turns CONFIG_a_bC into the system
// property a.b-c, leaving PascalCase parts alone (so CONFIG_whisk_spi_InvokerProvider is whisk.spi.InvokerProvider).
const (
	EnvInvokerProvider       = "CONFIG_whisk_spi_InvokerProvider"
	EnvInvokerServerProvider = "CONFIG_whisk_spi_InvokerServerProvider"
	EnvEtcdHosts             = "CONFIG_whisk_etcd_hosts"
	EnvEtcdUsername          = "CONFIG_whisk_etcd_username"
	EnvEtcdPassword          = "CONFIG_whisk_etcd_password"
	EnvEtcdLeaseTimeout      = "CONFIG_whisk_etcd_lease_timeout"
	EnvEtcdPoolThreads       = "CONFIG_whisk_etcd_pool_threads"
	EnvClusterName           = "CONFIG_whisk_cluster_name"
	EnvMaxPeek               = "CONFIG_whisk_invoker_containerCreation_maxPeek"
	EnvGRPCTLS               = "CONFIG_whisk_scheduler_grpc_tls"
	EnvRetryInterval         = "CONFIG_whisk_scheduler_dataManagementService_retryInterval"
	EnvKeepingDuration       = "CONFIG_whisk_containerProxy_timeouts_keepingDuration"
	EnvMemorySyncInterval    = "CONFIG_whisk_containerPool_memorySyncInterval"
	EnvBatchDeletionSize     = "CONFIG_whisk_containerPool_batchDeletionSize"
	EnvPrewarmPromotion      = "CONFIG_whisk_containerPool_prewarmPromotion"
	EnvResourceTags          = "CONFIG_whisk_invoker_resource_tags"
	EnvDedicatedNamespaces   = "CONFIG_whisk_invoker_dedicated_namespaces"
	// EnvHealthActionKind is NEMO's own: the runtime kind of the self-test's health action (default
	// nodejs:default, OpenWhisk's; a kind the manifest lacks falls back to a family default, see docs/fpc.md).
	EnvHealthActionKind = "NEMO_FPC_HEALTH_ACTION_KIND"
	// EnvRescheduleOnContainerFailure is NEMO's own: true gives an activation whose container failed before
	// the action saw it back to the scheduler (RescheduleActivation), as OpenWhisk's FPC invoker does (the
	// default); false moves it to another container of this invoker, as classic mode does.
	EnvRescheduleOnContainerFailure = "NEMO_FPC_RESCHEDULE_ON_CONTAINER_FAILURE"
	// EnvCreationLimitCheck is NEMO's own: the namespace-limit check at container creation. "on" (default,
	// OpenWhisk 2.0.0 and later) answers InvalidActionLimitError; "compat" answers DBFetchError with that name
	// in the reason, for ef725a6 schedulers that cannot parse it; "off" does not check (ef725a6's invoker).
	EnvCreationLimitCheck = "NEMO_FPC_CREATION_LIMIT_CHECK"
	// The namespace default limits (whisk.namespace-default-limit.*): the bounds of a namespace whose limits
	// document does not set them, for the check at creation. Each pair applies only when both are set, as
	// upstream falls back to the system's limits otherwise.
	EnvNamespaceDefaultMemoryMin      = "CONFIG_whisk_namespaceDefaultLimit_memory_min"
	EnvNamespaceDefaultMemoryMax      = "CONFIG_whisk_namespaceDefaultLimit_memory_max"
	EnvNamespaceDefaultTimeMin        = "CONFIG_whisk_namespaceDefaultLimit_timeLimit_min"
	EnvNamespaceDefaultTimeMax        = "CONFIG_whisk_namespaceDefaultLimit_timeLimit_max"
	EnvNamespaceDefaultLogsMin        = "CONFIG_whisk_namespaceDefaultLimit_logLimit_min"
	EnvNamespaceDefaultLogsMax        = "CONFIG_whisk_namespaceDefaultLimit_logLimit_max"
	EnvNamespaceDefaultConcurrencyMin = "CONFIG_whisk_namespaceDefaultLimit_concurrencyLimit_min"
	EnvNamespaceDefaultConcurrencyMax = "CONFIG_whisk_namespaceDefaultLimit_concurrencyLimit_max"
)

// NamespaceDefaults are whisk.namespace-default-limit.*; a pair is nil when not (completely) set.
type NamespaceDefaults struct {
	MemoryMB    *[2]int           // min, max
	Time        *[2]time.Duration // min, max
	LogsMB      *[2]int           // min, max
	Concurrency *[2]int           // min, max
}

// Mode is the scheduler protocol the invoker speaks.
type Mode int

const (
	// Classic: ActivationMessages on invoker<N>, pings on health (the default where nothing is set).
	Classic Mode = iota
	// FPC: container creations on invoker<N>, activations pulled over gRPC, health in etcd.
	FPC
)

func (m Mode) String() string {
	if m == FPC {
		return "fpc"
	}
	return "classic"
}

// Server is the flavour of the invoker's HTTP API.
type Server int

const (
	// DefaultServer: /enable, /disable, /isEnabled with basic auth.
	DefaultServer Server = iota
	// FPCServer: the same plus /pool and /pool/count, and CORS headers.
	FPCServer
)

func (s Server) String() string {
	if s == FPCServer {
		return "fpc"
	}
	return "default"
}

// Config is what FPC mode reads from an OpenWhisk invoker's environment. Defaults are OpenWhisk's (code and
// application.conf); Load fills the etcd and max-peek settings only in FPC mode, where they are required.
type Config struct {
	Mode   Mode
	Server Server

	EtcdEndpoints []string      // host:port, plaintext etcd v3 API
	EtcdUsername  string        // both or neither
	EtcdPassword  string        //
	LeaseTTL      time.Duration // whole seconds (whisk.etcd.lease.timeout is an integer of seconds)
	EtcdThreads   int           // whisk.etcd.pool.threads: read and checked for parity, unused by the Go client

	ClusterName string // first segment of every etcd key
	MaxPeek     int    // Kafka max-poll-records for invoker<N>
	GRPCTLS     bool   // whisk.scheduler.grpc.tls

	RetryInterval      time.Duration // etcd write retry period
	KeepingDuration    time.Duration // how long a kept paused container lives
	MemorySyncInterval time.Duration // resource record refresh period
	BatchDeletionSize  int           // containers stopped per round on /disable
	PrewarmPromotion   bool          // a larger prewarm may serve a smaller action

	ResourceTags        []string // published in the resource record
	DedicatedNamespaces []string //

	HealthActionKind             string // the health action's kind ("" = nodejs:default)
	RescheduleOnContainerFailure bool   // hand a container failure's activation back to the scheduler
	CreationLimitCheck           string // "on" (default), "compat" or "off"
	NamespaceDefaults            NamespaceDefaults
}

// Defaults returns OpenWhisk's defaults (classic mode, etcd unset).
func Defaults() Config {
	return Config{
		Mode:               Classic,
		Server:             DefaultServer,
		ClusterName:        wire.DefaultClusterName,
		RetryInterval:      time.Second,
		KeepingDuration:    10 * time.Minute,
		MemorySyncInterval: time.Second,
		BatchDeletionSize:  10,
		// OpenWhisk's FPC invoker hands every run whose container failed back to the scheduler.
		RescheduleOnContainerFailure: true,
	}
}

// ErrInvalid is wrapped by every error Load returns; the message names the variable.
var ErrInvalid = errors.New("fpc: invalid configuration")

func invalid(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, name, fmt.Sprintf(format, args...))
}

// env reads CONFIG_* variables as transformEnvironment.sh does: a value "$NAME" is replaced by NAME's value
// when that is non-empty (and kept literally otherwise), and an empty value counts as unset.
type env func(string) string

func (e env) get(name string) string {
	v := e(name)
	if strings.HasPrefix(v, "$") {
		if d := e(v[1:]); d != "" {
			v = d
		}
	}
	return strings.TrimSpace(v)
}

// Load reads the configuration from the environment. The invoker SPI chooses the mode (unset: classic, the
// image default of the releases NEMO replaces); the server SPI chooses the HTTP flavour independently, as in
// the Scala invoker. In FPC mode the etcd hosts, lease timeout, pool threads and max-peek are required.
func Load(getenv func(string) string) (Config, error) {
	e := env(getenv)
	c := Defaults()
	switch v := e.get(EnvInvokerProvider); v {
	case "", ClassicInvokerProvider:
		c.Mode = Classic
	case FPCInvokerProvider:
		c.Mode = FPC
	default:
		return c, invalid(EnvInvokerProvider, "unknown invoker provider %q (want %s or %s)", v, ClassicInvokerProvider, FPCInvokerProvider)
	}
	switch v := e.get(EnvInvokerServerProvider); v {
	case "", DefaultServerProvider:
		c.Server = DefaultServer
	case FPCServerProvider:
		c.Server = FPCServer
	default:
		return c, invalid(EnvInvokerServerProvider, "unknown invoker server provider %q (want %s or %s)", v, DefaultServerProvider, FPCServerProvider)
	}
	if v := e.get(EnvClusterName); v != "" {
		if strings.Contains(v, "/") {
			return c, invalid(EnvClusterName, "%q: the cluster name is the first segment of every etcd key and cannot contain '/'", v)
		}
		c.ClusterName = v
	}
	var err error
	if c.GRPCTLS, err = boolVar(e, EnvGRPCTLS, c.GRPCTLS); err != nil {
		return c, err
	}
	if c.PrewarmPromotion, err = boolVar(e, EnvPrewarmPromotion, c.PrewarmPromotion); err != nil {
		return c, err
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{EnvRetryInterval, &c.RetryInterval}, {EnvKeepingDuration, &c.KeepingDuration}, {EnvMemorySyncInterval, &c.MemorySyncInterval}} {
		if *d.dst, err = durationVar(e, d.name, *d.dst); err != nil {
			return c, err
		}
	}
	if c.BatchDeletionSize, err = intVar(e, EnvBatchDeletionSize, c.BatchDeletionSize, 1); err != nil {
		return c, err
	}
	c.ResourceTags = listVar(e, EnvResourceTags)
	c.DedicatedNamespaces = listVar(e, EnvDedicatedNamespaces)
	c.HealthActionKind = e.get(EnvHealthActionKind)
	if c.RescheduleOnContainerFailure, err = boolVar(e, EnvRescheduleOnContainerFailure, true); err != nil {
		return c, err
	}
	if c.NamespaceDefaults, err = namespaceDefaults(e); err != nil {
		return c, err
	}
	switch v := strings.ToLower(e.get(EnvCreationLimitCheck)); v {
	case "", "on", "compat", "off":
		c.CreationLimitCheck = v
	default:
		return c, invalid(EnvCreationLimitCheck, "%q: want on, compat or off", v)
	}
	if c.Mode != FPC {
		return c, nil
	}
	return c, c.loadFPC(e)
}

// loadFPC reads what only FPC mode needs; each of these is loadConfigOrThrow upstream, so a missing one stops
// the invoker.
func (c *Config) loadFPC(e env) error {
	hosts := e.get(EnvEtcdHosts)
	if hosts == "" {
		return invalid(EnvEtcdHosts, "required in FPC mode (comma-separated host:port of the etcd cluster)")
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		ep, err := etcdEndpoint(h)
		if err != nil {
			return invalid(EnvEtcdHosts, "%v", err)
		}
		c.EtcdEndpoints = append(c.EtcdEndpoints, ep)
	}
	if len(c.EtcdEndpoints) == 0 {
		return invalid(EnvEtcdHosts, "%q names no endpoint", hosts)
	}
	c.EtcdUsername, c.EtcdPassword = e.get(EnvEtcdUsername), e.get(EnvEtcdPassword)
	if (c.EtcdUsername == "") != (c.EtcdPassword == "") {
		return invalid(EnvEtcdUsername, "etcd username and password must be given together")
	}
	secs, err := intVar(e, EnvEtcdLeaseTimeout, 0, 1)
	if err != nil {
		return err
	}
	if secs == 0 {
		return invalid(EnvEtcdLeaseTimeout, "required in FPC mode (lease TTL in seconds)")
	}
	c.LeaseTTL = time.Duration(secs) * time.Second
	if c.EtcdThreads, err = intVar(e, EnvEtcdPoolThreads, 0, 1); err != nil {
		return err
	}
	if c.EtcdThreads == 0 {
		return invalid(EnvEtcdPoolThreads, "required in FPC mode")
	}
	if c.MaxPeek, err = intVar(e, EnvMaxPeek, 0, 1); err != nil {
		return err
	}
	if c.MaxPeek == 0 {
		return invalid(EnvMaxPeek, "required in FPC mode (Kafka max-poll-records for invoker<N>)")
	}
	return nil
}

// etcdEndpoint accepts host:port, or an http:// URL of one (etcd-java's forEndpoints takes both); the
// connection is plaintext, so https is refused.
func etcdEndpoint(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, "http://"); ok {
		s = strings.TrimSuffix(rest, "/")
	} else if strings.Contains(s, "://") {
		return "", fmt.Errorf("%q: only plaintext host:port endpoints are supported", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || host == "" {
		return "", fmt.Errorf("%q is not host:port with a port in 1-65535", s)
	}
	return s, nil
}

// namespaceDefaults reads the whisk.namespace-default-limit pairs (sizes as "<n> MB", durations as HOCON).
func namespaceDefaults(e env) (NamespaceDefaults, error) {
	var d NamespaceDefaults
	size := func(name string) (int, bool, error) {
		v := e.get(name)
		if v == "" {
			return 0, false, nil
		}
		b, err := wire.ParseByteSize(v)
		if err != nil || b < 0 {
			return 0, false, invalid(name, "%q is not a size (e.g. \"512 MB\")", v)
		}
		return int(b >> 20), true, nil
	}
	sizes := func(minName, maxName string) (*[2]int, error) {
		lo, okLo, err := size(minName)
		if err != nil {
			return nil, err
		}
		hi, okHi, err := size(maxName)
		if err != nil || !okLo || !okHi {
			return nil, err
		}
		return &[2]int{lo, hi}, nil
	}
	ints := func(minName, maxName string) (*[2]int, error) {
		if e.get(minName) == "" || e.get(maxName) == "" {
			return nil, nil
		}
		lo, err := intVar(e, minName, 0, 0)
		if err != nil {
			return nil, err
		}
		hi, err := intVar(e, maxName, 0, 0)
		if err != nil {
			return nil, err
		}
		return &[2]int{lo, hi}, nil
	}
	var err error
	if d.MemoryMB, err = sizes(EnvNamespaceDefaultMemoryMin, EnvNamespaceDefaultMemoryMax); err != nil {
		return d, err
	}
	if d.LogsMB, err = sizes(EnvNamespaceDefaultLogsMin, EnvNamespaceDefaultLogsMax); err != nil {
		return d, err
	}
	if d.Concurrency, err = ints(EnvNamespaceDefaultConcurrencyMin, EnvNamespaceDefaultConcurrencyMax); err != nil {
		return d, err
	}
	if e.get(EnvNamespaceDefaultTimeMin) != "" && e.get(EnvNamespaceDefaultTimeMax) != "" {
		lo, err := durationVar(e, EnvNamespaceDefaultTimeMin, 0)
		if err != nil {
			return d, err
		}
		hi, err := durationVar(e, EnvNamespaceDefaultTimeMax, 0)
		if err != nil {
			return d, err
		}
		d.Time = &[2]time.Duration{lo, hi}
	}
	return d, nil
}

func boolVar(e env, name string, dflt bool) (bool, error) {
	v := e.get(name)
	switch strings.ToLower(v) {
	case "":
		return dflt, nil
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return dflt, invalid(name, "%q is not a boolean (true/false, yes/no, on/off)", v)
}

// durationVar reads a HOCON duration: "<n> <unit>", a Go duration, or a bare number of milliseconds.
func durationVar(e env, name string, dflt time.Duration) (time.Duration, error) {
	v := e.get(name)
	if v == "" {
		return dflt, nil
	}
	var d time.Duration
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(ms) * time.Millisecond
	} else if d, err = wire.ParseScalaDuration(v); err != nil {
		return dflt, invalid(name, "%q is not a duration (e.g. \"1 second\", \"10 minutes\")", v)
	}
	if d <= 0 {
		return dflt, invalid(name, "%q must be positive", v)
	}
	return d, nil
}

func intVar(e env, name string, dflt, min int) (int, error) {
	v := e.get(name)
	if v == "" {
		return dflt, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return dflt, invalid(name, "%q is not an integer ≥ %d", v, min)
	}
	return n, nil
}

// listVar splits a comma-separated value as Invoker.scala does for tags (trimmed; an empty value is no list).
func listVar(e env, name string) []string {
	v := e.get(name)
	if v == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
