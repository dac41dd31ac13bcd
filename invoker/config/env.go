package config

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nemo-edge/nemo/invoker/wire"
)

// Environment variables Load reads (docs/protocol.md#environment, #devtools). The CONFIG_* names follow OpenWhisk's
// transformEnvironment.sh; a CONFIG_* (or DB_PREFIX) value starting with "$" names another variable to
// read. Each CONFIG_* name here also reads the same setting from OPENWHISK_CONFIG or a -D option
// (openwhisk.go); refuse.go stops the invoker on settings it cannot honour.
const (
	EnvPort         = "PORT"
	EnvKafkaHosts   = "KAFKA_HOSTS"
	EnvKafkaVersion = "NEMO_KAFKA_VERSION" // NEMO's own: the broker's protocol level
	// EnvAllowDefaultCredentials (NEMO's own) lets the invoker listen beyond loopback with the default
	// credentials: "true" (or yes/on).
	EnvAllowDefaultCredentials = "NEMO_ALLOW_DEFAULT_CREDENTIALS"
	EnvRuntimesManifest        = "RUNTIMES_MANIFEST"
	EnvAPIHostProto            = "WHISK_API_HOST_PROTO"
	EnvAPIHostName             = "WHISK_API_HOST_NAME"
	EnvAPIHostPort             = "WHISK_API_HOST_PORT"
	EnvZooKeeperHosts          = "ZOOKEEPER_HOSTS"

	EnvCouchProvider      = "CONFIG_whisk_couchdb_provider"
	EnvCouchProtocol      = "CONFIG_whisk_couchdb_protocol"
	EnvCouchHost          = "CONFIG_whisk_couchdb_host"
	EnvCouchPort          = "CONFIG_whisk_couchdb_port"
	EnvCouchUsername      = "CONFIG_whisk_couchdb_username"
	EnvCouchPassword      = "CONFIG_whisk_couchdb_password"
	EnvCouchWhisksDB      = "CONFIG_whisk_couchdb_databases_WhiskEntity"
	EnvCouchActivationsDB = "CONFIG_whisk_couchdb_databases_WhiskActivation"
	EnvCouchSubjectsDB    = "CONFIG_whisk_couchdb_databases_WhiskAuth"
	EnvDBPrefix           = "DB_PREFIX"

	EnvUserMemory        = "CONFIG_whisk_containerPool_userMemory"
	EnvUserCPUs          = "CONFIG_whisk_containerPool_userCpus"
	EnvPeekFactor        = "CONFIG_whisk_containerPool_concurrentPeekFactor"
	EnvNetwork           = "CONFIG_whisk_containerFactory_containerArgs_network"
	EnvExtraEnvVars      = "CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_" // + N
	EnvDNSServers        = "CONFIG_whisk_containerFactory_containerArgs_dnsServers_"   // + N
	EnvDNSSearch         = "CONFIG_whisk_containerFactory_containerArgs_dnsSearch_"    // + N
	EnvDNSOptions        = "CONFIG_whisk_containerFactory_containerArgs_dnsOptions_"   // + N
	EnvRuntimesRegistry  = "CONFIG_whisk_containerFactory_runtimesRegistry_url"
	EnvUserImagesReg     = "CONFIG_whisk_containerFactory_userImagesRegistry_url"
	EnvIdleContainer     = "CONFIG_whisk_containerProxy_timeouts_idleContainer"
	EnvPauseGrace        = "CONFIG_whisk_containerProxy_timeouts_pauseGrace"
	EnvPrewarmCheck      = "CONFIG_whisk_containerPool_prewarmExpirationCheckInterval"
	EnvReplication       = "CONFIG_whisk_kafka_replicationFactor"
	EnvTopicsPrefix      = "CONFIG_whisk_kafka_topics_prefix"
	EnvUserEventPrefix   = "CONFIG_whisk_kafka_topics_userEvent_prefix"
	EnvUserEvents        = "CONFIG_whisk_userEvents_enabled"
	EnvInvokerUsername   = "CONFIG_whisk_invoker_username"
	EnvInvokerPassword   = "CONFIG_whisk_invoker_password"
	EnvParameterKey      = "CONFIG_whisk_parameterStorage_key"
	EnvBypassPull        = "CONFIG_whisk_runtimes_bypassPullForLocalImages"
	EnvLocalImagePrefix  = "CONFIG_whisk_runtimes_localImagePrefix"
	EnvMemoryLimit       = "CONFIG_whisk_memory_"           // + min|max|std
	EnvTimeLimit         = "CONFIG_whisk_timeLimit_"        // + min|max|std
	EnvLogLimit          = "CONFIG_whisk_logLimit_"         // + min|max|std
	EnvConcurrencyLimit  = "CONFIG_whisk_concurrencyLimit_" // + min|max|std
	EnvPayloadMax        = "CONFIG_whisk_activation_payload_max"
	EnvPayloadTruncation = "CONFIG_whisk_activation_payload_truncation"
)

// maxListIndex bounds the probing of CONFIG_..._N list variables: getenv cannot enumerate, so indices
// 0..maxListIndex-1 are looked up and the values kept in index order (gaps allowed).
const maxListIndex = 100

// env reads variables with OpenWhisk's conventions.
type env struct{ get func(string) string }

// config reads a CONFIG_* (or DB_PREFIX) variable: "$NAME" dereferences NAME; the value is trimmed.
func (e env) config(name string) string { return strings.TrimSpace(e.raw(name)) }

// raw is config without trimming (passwords).
func (e env) raw(name string) string {
	v := e.get(name)
	if strings.HasPrefix(v, "$") && len(v) > 1 {
		v = e.get(v[1:])
	}
	return v
}

// plain reads a non-CONFIG variable, trimmed, without dereferencing.
func (e env) plain(name string) string { return strings.TrimSpace(e.get(name)) }

// list reads prefix0, prefix1, ... (see maxListIndex); ok reports whether any was set.
func (e env) list(prefix string) (vals, names []string) {
	for i := range maxListIndex {
		name := prefix + strconv.Itoa(i)
		if v := e.config(name); v != "" {
			vals = append(vals, v)
			names = append(names, name)
		}
	}
	return vals, names
}

// applyEnv puts the environment over the file. Values are parsed here, so a malformed one is reported
// under its variable's name; range and consistency checks happen in Validate.
func (c *Config) applyEnv(getenv func(string) string) error {
	e := env{getenv}
	steps := []func(env) error{c.envInvoker, c.envKafka, c.envStore, c.envPool, c.envDocker, c.envRuntimes, c.envLimits}
	for _, step := range steps {
		if err := step(e); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) envInvoker(e env) error {
	if v := e.plain(EnvPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return invalid(EnvPort, "%q is not a port number (1-65535)", v)
		}
		c.Invoker.Port = p
	}
	if v := e.plain(EnvZooKeeperHosts); v != "" {
		c.Invoker.ZooKeeperHosts = v // parsed only when used (applyArgs): OpenWhisk ignores it when --id is given
	}
	if v := e.config(EnvInvokerUsername); v != "" {
		c.Invoker.Username = v
	}
	if v := e.raw(EnvInvokerPassword); v != "" {
		c.Invoker.Password = v
	}
	if v := e.plain(EnvAllowDefaultCredentials); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return invalid(EnvAllowDefaultCredentials, "%v", err)
		}
		c.Invoker.AllowDefaultCredentials = b
	}
	if v := e.raw(EnvParameterKey); v != "" {
		if _, err := wire.NewParameterKey(v); err != nil {
			return invalid(EnvParameterKey, "%v", err) // never echo the key itself
		}
		c.Invoker.ParameterStorageKey = v
	}
	return nil
}

func (c *Config) envKafka(e env) error {
	if raw := e.get(EnvKafkaHosts); raw != "" {
		var brokers []string
		for _, h := range strings.Split(raw, ",") {
			if h = strings.TrimSpace(h); h != "" {
				brokers = append(brokers, h)
			}
		}
		if len(brokers) == 0 {
			return invalid(EnvKafkaHosts, "empty")
		}
		for _, b := range brokers {
			if err := checkHostPort(b); err != nil {
				return invalid(EnvKafkaHosts, "%v", err)
			}
		}
		c.Kafka.Brokers = brokers
		c.Kafka.Embedded = false
	}
	if v := e.plain(EnvKafkaVersion); v != "" {
		c.Kafka.Version = v
	}
	if v := e.config(EnvReplication); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return invalid(EnvReplication, "%q is not an integer", v)
		}
		c.Kafka.ReplicationFactor = n
	}
	if v := e.config(EnvTopicsPrefix); v != "" {
		c.Kafka.TopicPrefix = v
	}
	if v := e.config(EnvUserEventPrefix); v != "" {
		c.Kafka.UserEventPrefix = v
	}
	if v := e.config(EnvUserEvents); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return invalid(EnvUserEvents, "%v", err)
		}
		c.Kafka.UserEvents = b
	}
	return nil
}

// envStore applies CONFIG_whisk_couchdb_* (a value "$VAR" names another variable): any of them selects the
// CouchDB store; DB_PREFIX names the databases not given. The result is checked in Validate.
func (c *Config) envStore(e env) error {
	if v := e.config(EnvCouchProvider); v != "" && !strings.EqualFold(v, "CouchDB") {
		return invalid(EnvCouchProvider, "%q is not supported (only CouchDB)", v)
	}
	db := &c.Store.CouchDB
	set := false
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{EnvCouchHost, &db.Host}, {EnvCouchUsername, &db.Username},
		{EnvCouchWhisksDB, &db.WhisksDB}, {EnvCouchActivationsDB, &db.ActivationsDB}, {EnvCouchSubjectsDB, &db.SubjectsDB},
	} {
		if v := e.config(f.name); v != "" {
			*f.dst, set = v, true
		}
	}
	if v := e.config(EnvCouchProtocol); v != "" {
		db.Protocol, set = strings.ToLower(v), true
	}
	if v := e.raw(EnvCouchPassword); v != "" {
		db.Password, set = v, true
	}
	if v := e.config(EnvCouchPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return invalid(EnvCouchPort, "%q is not a port number (1-65535)", v)
		}
		db.Port, set = p, true
	}
	if v := e.config(EnvDBPrefix); v != "" {
		db.DBPrefix = v
	}
	if set {
		c.Store.Kind = StoreCouchDB
	}
	return nil
}

func (c *Config) envPool(e env) error {
	if v := e.config(EnvUserMemory); v != "" {
		mb, err := parseSizeMB(v)
		if err != nil {
			return invalid(EnvUserMemory, "%v", err)
		}
		c.Pool.UserMemoryMB = mb
	}
	if v := e.config(EnvPeekFactor); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return invalid(EnvPeekFactor, "%q is not a number", v)
		}
		c.Pool.ConcurrentPeekFactor = f
	}
	for _, d := range []struct {
		name string
		dst  *Duration
	}{{EnvPauseGrace, &c.Pool.PauseGrace}, {EnvIdleContainer, &c.Pool.IdleTimeout},
		{EnvPrewarmCheck, &c.Pool.PrewarmExpirationCheckInterval}} {
		if v := e.config(d.name); v != "" {
			t, err := parseDuration(v)
			if err != nil {
				return invalid(d.name, "%v", err)
			}
			*d.dst = Duration(t)
		}
	}
	return nil
}

func (c *Config) envDocker(e env) error {
	if v := e.config(EnvNetwork); v != "" {
		c.Docker.Network = v
	}
	if v := e.config(EnvUserCPUs); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return invalid(EnvUserCPUs, "%q is not a number", v)
		}
		c.Docker.UserCPUs = f
	}
	if vals, names := e.list(EnvExtraEnvVars); vals != nil {
		for i, v := range vals {
			if !strings.Contains(v, "=") {
				vals[i] = v + "=" // a bare KEY is KEY= (OpenWhisk's extraEnvVarMap)
				v = vals[i]
			}
			if err := checkEnvVar(v); err != nil {
				return invalid(names[i], "%v", err)
			}
		}
		c.Docker.ExtraEnv = vals
	}
	if vals, names := e.list(EnvDNSServers); vals != nil {
		for i, v := range vals {
			if net.ParseIP(v) == nil {
				return invalid(names[i], "%q is not an IP address", v)
			}
		}
		c.Docker.DNS = vals
	}
	if vals, _ := e.list(EnvDNSSearch); vals != nil {
		c.Docker.DNSSearch = vals
	}
	if vals, _ := e.list(EnvDNSOptions); vals != nil {
		c.Docker.DNSOptions = vals
	}
	apiHost, err := apiHostFromEnv(e)
	if err != nil {
		return err
	}
	if apiHost != "" {
		c.Docker.APIHost = apiHost
	}
	return nil
}

// apiHostFromEnv builds __OW_API_HOST from WHISK_API_HOST_PROTO (default https), _NAME and _PORT
// (default 443), normalised like Akka's Uri.normalize: lower-case scheme, default port dropped.
// "" when none of the three is set.
func apiHostFromEnv(e env) (string, error) {
	proto, name, port := e.plain(EnvAPIHostProto), e.plain(EnvAPIHostName), e.plain(EnvAPIHostPort)
	if proto == "" && name == "" && port == "" {
		return "", nil
	}
	if name == "" {
		return "", invalid(EnvAPIHostName, "not set (%s/%s are)", EnvAPIHostProto, EnvAPIHostPort)
	}
	if proto == "" {
		proto = "https"
	}
	proto = strings.ToLower(proto)
	if proto != "http" && proto != "https" {
		return "", invalid(EnvAPIHostProto, "%q must be http or https", proto)
	}
	if strings.ContainsAny(name, "/?#@ :") && net.ParseIP(strings.Trim(name, "[]")) == nil {
		return "", invalid(EnvAPIHostName, "%q is not a host name", name)
	}
	if port == "" {
		port = "443"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", invalid(EnvAPIHostPort, "%q is not a port number (1-65535)", port)
	}
	host := strings.ToLower(name)
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil && ip.To4() == nil {
		host = "[" + strings.Trim(host, "[]") + "]"
	}
	if (proto == "https" && p == 443) || (proto == "http" && p == 80) {
		return proto + "://" + host, nil
	}
	return proto + "://" + host + ":" + strconv.Itoa(p), nil
}

func (c *Config) envRuntimes(e env) error {
	if raw := e.get(EnvRuntimesManifest); strings.TrimSpace(raw) != "" {
		if err := checkJSON(EnvRuntimesManifest, []byte(raw)); err != nil {
			return err
		}
		c.Runtimes.Manifest = json.RawMessage(raw)
		c.Runtimes.ManifestPath = ""
		c.manifestFrom = EnvRuntimesManifest
	}
	if v := e.config(EnvRuntimesRegistry); v != "" {
		c.Runtimes.Registry = v
	}
	if v := e.config(EnvUserImagesReg); v != "" {
		c.Runtimes.UserImagesRegistry = v
	}
	if v := e.config(EnvBypassPull); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return invalid(EnvBypassPull, "%v", err)
		}
		c.Runtimes.BypassPullForLocalImages = b
	}
	if v := e.config(EnvLocalImagePrefix); v != "" {
		c.Runtimes.LocalImagePrefix = v
	}
	return nil
}

// checkJSON reports a syntax error with its offset.
func checkJSON(where string, b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return jsonError(where, b, err)
	}
	return nil
}

func (c *Config) envLimits(e env) error {
	for _, r := range []struct {
		prefix string
		rng    *MBRange
	}{{EnvMemoryLimit, &c.Limits.Memory}, {EnvLogLimit, &c.Limits.Logs}} {
		for _, f := range []struct {
			key string
			dst *MB
		}{{"min", &r.rng.Min}, {"max", &r.rng.Max}, {"std", &r.rng.Std}} {
			if v := e.config(r.prefix + f.key); v != "" {
				mb, err := parseSizeMB(v)
				if err != nil {
					return invalid(r.prefix+f.key, "%v", err)
				}
				*f.dst = mb
			}
		}
	}
	for _, f := range []struct {
		key string
		dst *Duration
	}{{"min", &c.Limits.Time.Min}, {"max", &c.Limits.Time.Max}, {"std", &c.Limits.Time.Std}} {
		if v := e.config(EnvTimeLimit + f.key); v != "" {
			d, err := parseDuration(v)
			if err != nil {
				return invalid(EnvTimeLimit+f.key, "%v", err)
			}
			*f.dst = Duration(d)
		}
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"min", &c.Limits.Concurrency.Min}, {"max", &c.Limits.Concurrency.Max}, {"std", &c.Limits.Concurrency.Std}} {
		if v := e.config(EnvConcurrencyLimit + f.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return invalid(EnvConcurrencyLimit+f.key, "%q is not an integer", v)
			}
			*f.dst = n
		}
	}
	for _, f := range []struct {
		name string
		dst  *MB
	}{{EnvPayloadMax, &c.Limits.PayloadMaxMB}, {EnvPayloadTruncation, &c.Limits.PayloadTruncationMB}} {
		if v := e.config(f.name); v != "" {
			mb, err := parseSizeMB(v)
			if err != nil {
				return invalid(f.name, "%v", err)
			}
			*f.dst = mb
		}
	}
	return nil
}

// checkHostPort accepts "host:port" with a port in 1..65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a port number", s, port)
	}
	return nil
}

// checkEnvVar accepts KEY=VALUE with a non-empty key free of blanks.
func checkEnvVar(s string) error {
	k, _, ok := strings.Cut(s, "=")
	if !ok || k == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	return nil
}
