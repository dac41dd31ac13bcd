package config

import (
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvVariables(t *testing.T) {
	cases := []struct {
		name  string
		env   []string // pairs over baseEnv
		check func(t *testing.T, c *Config)
	}{
		{"PORT", []string{"PORT", "8085"}, func(t *testing.T, c *Config) { assert.Equal(t, 8085, c.Invoker.Port) }},
		{"KAFKA_HOSTS several with blanks", []string{"KAFKA_HOSTS", " kafka.docker:9092 , 10.0.0.5:9093,"}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"kafka.docker:9092", "10.0.0.5:9093"}, c.Kafka.Brokers)
		}},
		{"NEMO_KAFKA_VERSION", []string{"NEMO_KAFKA_VERSION", "0.11.0.1"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "0.11.0.1", c.Kafka.Version)
			assert.Equal(t, "0.11.0.1", c.MessagingConfig().Version)
		}},
		{"RUNTIMES_MANIFEST", nil, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"nodejs:20", "python:3"}, c.Manifest.Kinds())
			rk, err := c.Manifest.Resolve("nodejs:default")
			require.NoError(t, err)
			assert.Equal(t, "openwhisk/action-nodejs-v20:nightly", rk.Image)
		}},
		{"WHISK_API_HOST_NAME only: https, default port dropped", []string{"WHISK_API_HOST_NAME", "172.17.0.1"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "https://172.17.0.1", c.Docker.APIHost)
		}},
		{"WHISK_API_HOST_PROTO/PORT non-default", []string{"WHISK_API_HOST_PROTO", "HTTP", "WHISK_API_HOST_NAME", "Edge.Local", "WHISK_API_HOST_PORT", "3233"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "http://edge.local:3233", c.Docker.APIHost)
		}},
		{"WHISK_API_HOST http on 80 drops the port", []string{"WHISK_API_HOST_PROTO", "http", "WHISK_API_HOST_NAME", "h", "WHISK_API_HOST_PORT", "80"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "http://h", c.Docker.APIHost)
		}},
		{"WHISK_API_HOST https on 80 keeps the port", []string{"WHISK_API_HOST_PROTO", "https", "WHISK_API_HOST_NAME", "h", "WHISK_API_HOST_PORT", "80"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "https://h:80", c.Docker.APIHost)
		}},
		{"WHISK_API_HOST IPv6", []string{"WHISK_API_HOST_NAME", "fd00::1", "WHISK_API_HOST_PORT", "8443"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "https://[fd00::1]:8443", c.Docker.APIHost)
		}},
		{"CONFIG_whisk_couchdb_* explicit", []string{
			"CONFIG_whisk_couchdb_provider", "CouchDB", "CONFIG_whisk_couchdb_protocol", "HTTPS", "CONFIG_whisk_couchdb_port", "6984",
			"CONFIG_whisk_couchdb_databases_WhiskEntity", "w", "CONFIG_whisk_couchdb_databases_WhiskActivation", "a",
			"CONFIG_whisk_couchdb_databases_WhiskAuth", "s", "DB_PREFIX", ""}, func(t *testing.T, c *Config) {
			assert.Equal(t, StoreCouchDB, c.Store.Kind)
			assert.Equal(t, store.Config{Protocol: "https", Host: "127.0.0.1", Port: 6984, Username: "nemo", Password: "nemo",
				WhisksDB: "w", ActivationsDB: "a", SubjectsDB: "s"}, c.StoreConfig())
		}},
		{"DB_PREFIX names the databases", nil, func(t *testing.T, c *Config) {
			assert.Equal(t, "local_whisks", c.Store.CouchDB.WhisksDB)
			assert.Equal(t, "local_activations", c.Store.CouchDB.ActivationsDB)
			assert.Equal(t, "local_subjects", c.Store.CouchDB.SubjectsDB)
		}},
		{"CONFIG_whisk_couchdb_password not trimmed", []string{"CONFIG_whisk_couchdb_password", " p w "}, func(t *testing.T, c *Config) {
			assert.Equal(t, " p w ", c.Store.CouchDB.Password)
		}},
		{"$ dereferences another variable", []string{"CONFIG_whisk_couchdb_password", "$DB_PASS", "DB_PASS", "from-ref",
			"CONFIG_whisk_couchdb_host", "$DB_HOST", "DB_HOST", "couch.internal"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "from-ref", c.Store.CouchDB.Password)
			assert.Equal(t, "couch.internal", c.Store.CouchDB.Host)
		}},
		{"CONFIG_whisk_containerPool_userMemory 1024m", []string{"CONFIG_whisk_containerPool_userMemory", "1024m"}, func(t *testing.T, c *Config) {
			assert.Equal(t, MB(1024), c.Pool.UserMemoryMB)
			assert.Equal(t, int64(1<<30), c.InstanceID().UserMemoryBytes)
		}},
		{"CONFIG_whisk_containerPool_userMemory 4 g", []string{"CONFIG_whisk_containerPool_userMemory", "4 g"}, func(t *testing.T, c *Config) {
			assert.Equal(t, MB(4096), c.Pool.UserMemoryMB)
		}},
		{"CONFIG_whisk_containerPool_userMemory bare bytes", []string{"CONFIG_whisk_containerPool_userMemory", "1073741824"}, func(t *testing.T, c *Config) {
			assert.Equal(t, MB(1024), c.Pool.UserMemoryMB)
		}},
		{"CONFIG_whisk_containerPool_userCpus", []string{"CONFIG_whisk_containerPool_userCpus", "2.5"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 2.5, c.Docker.UserCPUs)
		}},
		{"CONFIG_whisk_containerPool_concurrentPeekFactor", []string{"CONFIG_whisk_containerPool_concurrentPeekFactor", "0.75"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 0.75, c.Pool.ConcurrentPeekFactor)
		}},
		{"CONFIG_whisk_containerFactory_containerArgs_network", []string{"CONFIG_whisk_containerFactory_containerArgs_network", "openwhisk_default"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "openwhisk_default", c.Docker.Network)
			assert.Equal(t, "openwhisk_default", c.DockerConfig().Network)
		}},
		{"extraEnvVars_N in index order, gaps allowed", []string{
			"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_2", "B=2",
			"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_0", "__OW_ALLOW_CONCURRENT=true",
			"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_10", "C=x=y"}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"__OW_ALLOW_CONCURRENT=true", "B=2", "C=x=y"}, c.Docker.ExtraEnv)
		}},
		{"dnsServers_N", []string{"CONFIG_whisk_containerFactory_containerArgs_dnsServers_0", "10.0.0.2",
			"CONFIG_whisk_containerFactory_containerArgs_dnsServers_1", "1.1.1.1"}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"10.0.0.2", "1.1.1.1"}, c.Docker.DNS)
		}},
		{"dnsSearch_N and dnsOptions_N", []string{"CONFIG_whisk_containerFactory_containerArgs_dnsSearch_0", "svc.local",
			"CONFIG_whisk_containerFactory_containerArgs_dnsOptions_0", "ndots:2"}, func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"svc.local"}, c.Docker.DNSSearch)
			assert.Equal(t, []string{"ndots:2"}, c.Docker.DNSOptions)
		}},
		{"idleContainer HOCON", []string{"CONFIG_whisk_containerProxy_timeouts_idleContainer", "10 minutes"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 10*time.Minute, c.Pool.IdleTimeout.D())
		}},
		{"pauseGrace HOCON seconds", []string{"CONFIG_whisk_containerProxy_timeouts_pauseGrace", "10 seconds"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 10*time.Second, c.Pool.PauseGrace.D())
		}},
		{"parameterStorage key", []string{"CONFIG_whisk_parameterStorage_key", "MDEyMzQ1Njc4OWFiY2RlZg=="}, func(t *testing.T, c *Config) {
			require.NotNil(t, c.ParameterKey())
			assert.Equal(t, "aes128", c.ParameterKey().Scheme())
		}},
		{"prewarmExpirationCheckInterval HOCON", []string{"CONFIG_whisk_containerPool_prewarmExpirationCheckInterval", "30 seconds"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 30*time.Second, c.PoolConfig().Pool.StemCheckInterval)
		}},
		{"pauseGrace HOCON 1.0.0 milliseconds", []string{"CONFIG_whisk_containerProxy_timeouts_pauseGrace", "50 milliseconds"}, func(t *testing.T, c *Config) {
			assert.Equal(t, 50*time.Millisecond, c.Pool.PauseGrace.D())
			assert.Equal(t, 50*time.Millisecond, c.PoolConfig().Pool.PauseGrace)
		}},
		{"CONFIG_whisk_kafka_replicationFactor", []string{"CONFIG_whisk_kafka_replicationFactor", "3"}, func(t *testing.T, c *Config) {
			assert.Equal(t, int16(3), c.MessagingConfig().ReplicationFactor)
		}},
		{"CONFIG_whisk_kafka_topics_prefix", []string{"CONFIG_whisk_kafka_topics_prefix", "ow_"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "ow_invoker0", c.MessagingConfig().InvokerTopic())
		}},
		{"CONFIG_whisk_kafka_topics_userEvent_prefix", []string{"CONFIG_whisk_kafka_topics_userEvent_prefix", "ue_"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "ue_events", c.MessagingConfig().EventsTopic())
		}},
		{"CONFIG_whisk_userEvents_enabled", []string{"CONFIG_whisk_userEvents_enabled", "true"}, func(t *testing.T, c *Config) {
			assert.True(t, c.Kafka.UserEvents)
		}},
		{"CONFIG_whisk_userEvents_enabled HOCON on/off", []string{"CONFIG_whisk_userEvents_enabled", "off"}, func(t *testing.T, c *Config) {
			assert.False(t, c.Kafka.UserEvents)
		}},
		{"CONFIG_whisk_invoker_username/_password", []string{"CONFIG_whisk_invoker_username", "admin", "CONFIG_whisk_invoker_password", "pw"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "admin", c.Invoker.Username)
			assert.Equal(t, "pw", c.Invoker.Password)
		}},
		{"bypassPullForLocalImages + localImagePrefix", []string{"CONFIG_whisk_runtimes_bypassPullForLocalImages", "true",
			"CONFIG_whisk_runtimes_localImagePrefix", "mylocal"}, func(t *testing.T, c *Config) {
			assert.True(t, c.Manifest.IsBlackboxNative("mylocal/thing:1"))
			assert.False(t, c.Manifest.IsBlackboxNative("other/thing:1"))
		}},
		{"localImagePrefix without bypass has no effect", []string{"CONFIG_whisk_runtimes_localImagePrefix", "mylocal"}, func(t *testing.T, c *Config) {
			assert.False(t, c.Manifest.IsBlackboxNative("mylocal/thing:1"))
		}},
		{"runtimesRegistry_url", []string{"CONFIG_whisk_containerFactory_runtimesRegistry_url", "registry.local:5000"}, func(t *testing.T, c *Config) {
			rk, err := c.Manifest.Resolve("python:3")
			require.NoError(t, err)
			assert.Equal(t, "registry.local:5000/openwhisk/action-python-v3.11:nightly", rk.Image)
		}},
		{"userImagesRegistry_url", []string{"CONFIG_whisk_containerFactory_userImagesRegistry_url", "users.local:5000"}, func(t *testing.T, c *Config) {
			assert.Equal(t, "users.local:5000", c.Manifest.UserImagesRegistry)
		}},
		{"CONFIG_whisk_memory_*", []string{"CONFIG_whisk_memory_min", "64m", "CONFIG_whisk_memory_max", "2g", "CONFIG_whisk_memory_std", "128 MB"}, func(t *testing.T, c *Config) {
			assert.Equal(t, MBRange{Min: 64, Max: 2048, Std: 128}, c.Limits.Memory)
		}},
		{"CONFIG_whisk_timeLimit_*", []string{"CONFIG_whisk_timeLimit_min", "50 ms", "CONFIG_whisk_timeLimit_max", "10 minutes", "CONFIG_whisk_timeLimit_std", "2 minutes"}, func(t *testing.T, c *Config) {
			assert.Equal(t, DurationRange{Min: Duration(50 * time.Millisecond), Max: Duration(10 * time.Minute), Std: Duration(2 * time.Minute)}, c.Limits.Time)
			assert.Equal(t, 2*time.Minute, c.PoolConfig().DefaultTimeout)
		}},
		{"CONFIG_whisk_logLimit_*", []string{"CONFIG_whisk_logLimit_min", "0 m", "CONFIG_whisk_logLimit_max", "20 m", "CONFIG_whisk_logLimit_std", "5m"}, func(t *testing.T, c *Config) {
			assert.Equal(t, MBRange{Min: 0, Max: 20, Std: 5}, c.Limits.Logs)
		}},
		{"CONFIG_whisk_concurrencyLimit_*", []string{"CONFIG_whisk_concurrencyLimit_min", "1", "CONFIG_whisk_concurrencyLimit_max", "500", "CONFIG_whisk_concurrencyLimit_std", "1"}, func(t *testing.T, c *Config) {
			assert.Equal(t, IntRange{Min: 1, Max: 500, Std: 1}, c.Limits.Concurrency)
			// 2048/128 = 16 containers × 500 × 0.5 = 4000
			assert.Equal(t, 4000, c.MaxPeek())
		}},
		{"CONFIG_whisk_activation_payload_*", []string{"CONFIG_whisk_activation_payload_max", "2m", "CONFIG_whisk_activation_payload_truncation", "1m"}, func(t *testing.T, c *Config) {
			assert.Equal(t, int64(2<<20), c.DockerConfig().MaxResponseBytes)
			assert.Equal(t, 2<<20+6068, c.MessagingConfig().MaxRequestBytes)
		}},
		{"unknown CONFIG_* keys are ignored", []string{"CONFIG_whisk_spi_LoadBalancerProvider", "x", "CONFIG_whisk_docker_containerFactory_useRunc", "false",
			"CONFIG_whisk_nonsense", "{{"}, func(t *testing.T, c *Config) {
			plain, err := Load([]string{"--id", "0"}, envFunc(baseEnv()))
			require.NoError(t, err)
			assert.Equal(t, string(marshalIndent(t, plain)), string(marshalIndent(t, c)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), tc.env...)))
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestEnvInvalid(t *testing.T) {
	cases := []struct {
		name       string
		env        []string
		field, msg string
	}{
		{"PORT not a number", []string{"PORT", "http"}, "PORT", `"http" is not a port number`},
		{"PORT out of range", []string{"PORT", "70000"}, "PORT", "not a port number"},
		{"KAFKA_HOSTS blank", []string{"KAFKA_HOSTS", " , "}, "KAFKA_HOSTS", "empty"},
		{"KAFKA_HOSTS no port", []string{"KAFKA_HOSTS", "kafka.docker"}, "KAFKA_HOSTS", `"kafka.docker" is not host:port`},
		{"KAFKA_HOSTS bad port", []string{"KAFKA_HOSTS", "kafka:x"}, "KAFKA_HOSTS", `port "x"`},
		{"KAFKA_HOSTS unset", []string{"KAFKA_HOSTS", ""}, "kafka.brokers", "set KAFKA_HOSTS"},
		{"NEMO_KAFKA_VERSION unknown", []string{"NEMO_KAFKA_VERSION", "3.9"}, "kafka.version", `"3.9" is not a Kafka version`},
		{"RUNTIMES_MANIFEST unset", []string{"RUNTIMES_MANIFEST", ""}, "runtimes.manifest", "not set"},
		{"RUNTIMES_MANIFEST invalid JSON", []string{"RUNTIMES_MANIFEST", `{"runtimes": x}`}, "RUNTIMES_MANIFEST", "invalid JSON at offset 13"},
		{"RUNTIMES_MANIFEST truncated", []string{"RUNTIMES_MANIFEST", `{"runtimes": {`}, "RUNTIMES_MANIFEST", "invalid JSON"},
		{"RUNTIMES_MANIFEST breaks a manifest rule", []string{"RUNTIMES_MANIFEST", `{"runtimes":{"go":[{"kind":"go:1","image":{"name":"a"}},{"kind":"go:2","image":{"name":"b"}}]}}`},
			"RUNTIMES_MANIFEST", `family "go" has several versions but no default`},
		{"RUNTIMES_MANIFEST empty object", []string{"RUNTIMES_MANIFEST", `{}`}, "RUNTIMES_MANIFEST", "no runtimes"},
		{"RUNTIMES_MANIFEST not an object", []string{"RUNTIMES_MANIFEST", `[]`}, "RUNTIMES_MANIFEST", "want a JSON object"},
		{"WHISK_API_HOST_PORT without name", []string{"WHISK_API_HOST_PORT", "443"}, "WHISK_API_HOST_NAME", "not set"},
		{"WHISK_API_HOST_PROTO ftp", []string{"WHISK_API_HOST_NAME", "h", "WHISK_API_HOST_PROTO", "ftp"}, "WHISK_API_HOST_PROTO", "must be http or https"},
		{"WHISK_API_HOST_PORT bad", []string{"WHISK_API_HOST_NAME", "h", "WHISK_API_HOST_PORT", "0"}, "WHISK_API_HOST_PORT", "not a port number"},
		{"WHISK_API_HOST_NAME with a path", []string{"WHISK_API_HOST_NAME", "h/x"}, "WHISK_API_HOST_NAME", "not a host name"},
		{"couchdb provider", []string{"CONFIG_whisk_couchdb_provider", "CosmosDB"}, "CONFIG_whisk_couchdb_provider", "only CouchDB"},
		{"couchdb port", []string{"CONFIG_whisk_couchdb_port", "abc"}, "CONFIG_whisk_couchdb_port", "not a port number"},
		{"couchdb protocol", []string{"CONFIG_whisk_couchdb_protocol", "ftp"}, "store.couchdb.protocol", "CONFIG_whisk_couchdb_protocol"},
		{"couchdb host missing", []string{"CONFIG_whisk_couchdb_host", ""}, "store.couchdb.host", "set CONFIG_whisk_couchdb_host"},
		{"couchdb username missing", []string{"CONFIG_whisk_couchdb_username", ""}, "store.couchdb.username", "set CONFIG_whisk_couchdb_username"},
		{"couchdb db missing", []string{"DB_PREFIX", ""}, "store.couchdb.whisksDb", "CONFIG_whisk_couchdb_databases_WhiskEntity"},
		{"couchdb db name", []string{"CONFIG_whisk_couchdb_databases_WhiskActivation", "Acts"}, "store.couchdb.activationsDb", "lowercase"},
		{"userMemory not a size", []string{"CONFIG_whisk_containerPool_userMemory", "lots"}, "CONFIG_whisk_containerPool_userMemory", "not a size"},
		{"userMemory not whole MB", []string{"CONFIG_whisk_containerPool_userMemory", "1000k"}, "CONFIG_whisk_containerPool_userMemory", "whole number of MB"},
		{"userMemory below cold reserve", []string{"CONFIG_whisk_containerPool_userMemory", "512m"}, "pool.coldReserveMB", "512 must be less than pool.userMemoryMB (512)"},
		{"userCpus", []string{"CONFIG_whisk_containerPool_userCpus", "two"}, "CONFIG_whisk_containerPool_userCpus", "not a number"},
		{"peek factor", []string{"CONFIG_whisk_containerPool_concurrentPeekFactor", "x"}, "CONFIG_whisk_containerPool_concurrentPeekFactor", "not a number"},
		{"extraEnvVars without a key", []string{"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_1", "=FOO"}, "CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_1", `"=FOO" is not KEY=VALUE`},
		{"dnsServers not an IP", []string{"CONFIG_whisk_containerFactory_containerArgs_dnsServers_0", "dns.local"}, "CONFIG_whisk_containerFactory_containerArgs_dnsServers_0", "not an IP address"},
		{"idleContainer", []string{"CONFIG_whisk_containerProxy_timeouts_idleContainer", "10 fortnights"}, "CONFIG_whisk_containerProxy_timeouts_idleContainer", "not a duration"},
		{"pauseGrace", []string{"CONFIG_whisk_containerProxy_timeouts_pauseGrace", "soon"}, "CONFIG_whisk_containerProxy_timeouts_pauseGrace", "not a duration"},
		{"pauseGrace zero", []string{"CONFIG_whisk_containerProxy_timeouts_pauseGrace", "0 seconds"}, "pool.pauseGrace", "0 is not allowed"},
		{"parameterStorage key of 24 bytes", []string{"CONFIG_whisk_parameterStorage_key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"}, "CONFIG_whisk_parameterStorage_key", "want 16 (AES-128) or 32 (AES-256)"},
		{"prewarmExpirationCheckInterval zero", []string{"CONFIG_whisk_containerPool_prewarmExpirationCheckInterval", "0 seconds"}, "pool.prewarmExpirationCheckInterval", "must be positive"},
		{"replicationFactor", []string{"CONFIG_whisk_kafka_replicationFactor", "one"}, "CONFIG_whisk_kafka_replicationFactor", "not an integer"},
		{"replicationFactor zero", []string{"CONFIG_whisk_kafka_replicationFactor", "0"}, "kafka.replicationFactor", "out of range"},
		{"topics prefix", []string{"CONFIG_whisk_kafka_topics_prefix", "a b"}, "kafka.topicPrefix", "topic names allow only"},
		{"userEvent prefix", []string{"CONFIG_whisk_kafka_topics_userEvent_prefix", "a/b"}, "kafka.userEventPrefix", "topic names allow only"},
		{"userEvents", []string{"CONFIG_whisk_userEvents_enabled", "maybe"}, "CONFIG_whisk_userEvents_enabled", "not a boolean"},
		{"invoker username with colon", []string{"CONFIG_whisk_invoker_username", "a:b"}, "invoker.username", "contains ':'"},
		{"bypassPull", []string{"CONFIG_whisk_runtimes_bypassPullForLocalImages", "2"}, "CONFIG_whisk_runtimes_bypassPullForLocalImages", "not a boolean"},
		{"runtimes registry", []string{"CONFIG_whisk_containerFactory_runtimesRegistry_url", "user@host"}, "runtimes.registry", "not an image registry"},
		{"memory limit size", []string{"CONFIG_whisk_memory_max", "big"}, "CONFIG_whisk_memory_max", "not a size"},
		{"memory std above max", []string{"CONFIG_whisk_memory_std", "1g"}, "limits.memory.max", "512 MB is below limits.memory.std (1024 MB)"},
		{"memory min zero", []string{"CONFIG_whisk_memory_min", "0m"}, "limits.memory.min", "0 MB is below 1 MB"},
		{"time limit", []string{"CONFIG_whisk_timeLimit_std", "forever"}, "CONFIG_whisk_timeLimit_std", "not a duration"},
		{"time std below min", []string{"CONFIG_whisk_timeLimit_std", "10 ms"}, "limits.time.std", "10ms is below limits.time.min (100ms)"},
		{"log limit", []string{"CONFIG_whisk_logLimit_max", "-1m"}, "CONFIG_whisk_logLimit_max", "not a size"},
		{"concurrency limit", []string{"CONFIG_whisk_concurrencyLimit_max", "many"}, "CONFIG_whisk_concurrencyLimit_max", "not an integer"},
		{"concurrency min zero", []string{"CONFIG_whisk_concurrencyLimit_min", "0"}, "limits.concurrency.min", "0 is below 1"},
		{"payload max", []string{"CONFIG_whisk_activation_payload_max", "1k"}, "CONFIG_whisk_activation_payload_max", "whole number of MB"},
		{"payload max zero", []string{"CONFIG_whisk_activation_payload_max", "0m"}, "limits.payloadMaxMB", "at least 1"},
		{"payload truncation", []string{"CONFIG_whisk_activation_payload_truncation", "x"}, "CONFIG_whisk_activation_payload_truncation", "not a size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), tc.env...)))
			requireInvalid(t, err, tc.field, tc.msg)
		})
	}
}

// TestStoreEnv checks the CouchDB settings Load derives from CONFIG_whisk_couchdb_* (OpenWhisk's names, "$VAR"
// indirection as transformEnvironment.sh does it, DB_PREFIX for the database names an explicit name overrides).
func TestStoreEnv(t *testing.T) {
	base := store.Config{Protocol: "http", Host: "127.0.0.1", Port: 5984, Username: "nemo", Password: "nemo",
		WhisksDB: "local_whisks", ActivationsDB: "local_activations", SubjectsDB: "local_subjects"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want func(*store.Config)
	}{
		{"defaults and prefix", baseEnv(), func(*store.Config) {}},
		{"protocol and port normalised",
			with(baseEnv(), "CONFIG_whisk_couchdb_protocol", "HTTPS", "CONFIG_whisk_couchdb_port", " 6984 ", "CONFIG_whisk_couchdb_host", " db "),
			func(c *store.Config) { c.Protocol, c.Port, c.Host = "https", 6984, "db" }},
		{"dollar indirection", with(baseEnv(), "CONFIG_whisk_couchdb_password", "$PW", "PW", " spaced ", "DB_PREFIX", "$PFX", "PFX", "p_"),
			func(c *store.Config) {
				c.Password = " spaced "
				c.WhisksDB, c.ActivationsDB, c.SubjectsDB = "p_whisks", "p_activations", "p_subjects"
			}},
		{"explicit database name wins over the prefix", with(baseEnv(), "CONFIG_whisk_couchdb_databases_WhiskEntity", "ents", "DB_PREFIX", "x_"),
			func(c *store.Config) {
				c.WhisksDB, c.ActivationsDB, c.SubjectsDB = "ents", "x_activations", "x_subjects"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]string{"--id", "0"}, envFunc(tc.env))
			require.NoError(t, err)
			want := base
			tc.want(&want)
			assert.Equal(t, want, c.StoreConfig())
		})
	}
}

func TestParameterKeyErrorDoesNotEchoTheKey(t *testing.T) {
	const key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3" // 24 bytes: neither AES-128 nor AES-256
	_, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), "CONFIG_whisk_parameterStorage_key", key)))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), key)
}
