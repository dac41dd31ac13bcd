package config

import (
	"encoding/base64"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHOCON(t *testing.T) {
	env := envFunc(map[string]string{"METRICS_KAMON": "true", "HOME_DIR": "/home/x"})
	cases := []struct {
		name, src string
		want      map[string]string
		err       string
	}{
		{"Helm's whiskconfig.conf", "# licence\n\ninclude classpath(\"application.conf\")\n\nwhisk {\n  metrics {\n    prometheus-enabled = true\n  }\n}\n",
			map[string]string{"whisk.metrics.prometheus-enabled": "true"}, ""},
		{"ansible's config.j2 (comments only)", "include classpath(\"application.conf\")\n\n# Specify any custom config here. For example\n# whisk {\n#   metrics {\n#     prometheus-enabled = true\n#   }\n# }", map[string]string{}, ""},
		{"dotted keys, colon, comma, // comment", `whisk.parameter-storage.current: "aes-128", whisk.parameter-storage.aes-128 = "a2V5"  // the key`,
			map[string]string{"whisk.parameter-storage.current": "aes-128", "whisk.parameter-storage.aes-128": "a2V5"}, ""},
		{"root braces and object without separator", `{ whisk { a = 1 } }`, map[string]string{"whisk.a": "1"}, ""},
		{"objects merge, scalars replace", "a { x = 1, y = 2 }\na { y = 3 }\nb = 1\nb = 2",
			map[string]string{"a.x": "1", "a.y": "3", "b": "2"}, ""},
		{"an object replaces a scalar and a scalar an object", "a = 1\na { x = 1 }\nb { x = 1 }\nb = 2",
			map[string]string{"a.x": "1", "b": "2"}, ""},
		{"unquoted concatenation (durations)", "idle-container = 10 minutes\npause-grace =   50 ms  ",
			map[string]string{"idle-container": "10 minutes", "pause-grace": "50 ms"}, ""},
		{"quoted escapes and triple quotes", `a = "x\"y\u0041"` + "\nb = \"\"\"line1\nline2\"\"\"",
			map[string]string{"a": `x"yA`, "b": "line1\nline2"}, ""},
		{"arrays flatten to indices, repeated arrays replace", "dns-servers = [\"1.1.1.1\", \"8.8.8.8\"]\nl = [1, 2, 3]\nl = [4]",
			map[string]string{"dns-servers.0": "1.1.1.1", "dns-servers.1": "8.8.8.8", "l.0": "4"}, ""},
		{"+= appends", "l = [a]\nl += b\nl += [c, d]", map[string]string{"l.0": "a", "l.1": "b", "l.2": "c", "l.3": "d"}, ""},
		{"array of objects", "x = [{ a = 1 }, { a = 2 }]", map[string]string{"x.0.a": "1", "x.1.a": "2"}, ""},
		{"substitutions: earlier path, environment, optional", "a = 1\nb = ${a}\nc = ${?METRICS_KAMON}\nd = ${?NOPE}\ne = ${HOME_DIR}\"/conf\"",
			map[string]string{"a": "1", "b": "1", "c": "true", "e": "/home/x/conf"}, ""},
		{"an unset optional substitution keeps the earlier value", "k = false\nk = ${?NOPE}", map[string]string{"k": "false"}, ""},
		{"quoted key", `"whisk".spi.LogStoreProvider = x`, map[string]string{"whisk.spi.LogStoreProvider": "x"}, ""},
		{"include of a file is refused", "include file(\"/etc/x.conf\")", nil, `line 1: include file("/etc/x.conf"): only include classpath(...)`},
		{"required substitution unset", "a = ${NOPE}", nil, "line 1: ${NOPE} is not set"},
		{"missing brace", "a {\n b = 1\n", nil, "line 3: missing '}'"},
		{"stray brace", "a = 1\n}", nil, "line 2: unexpected '}'"},
		{"no separator", "a b c\n", nil, `line 1: expected '=', ':' or '{' after "a b c"`},
		{"unterminated string", "a = \"x\n", nil, "line 1: unterminated string"},
		{"missing value", "a =\n", nil, "line 2: missing value"},
		{"junk after a value", "a = [1] x", nil, `line 1: unexpected 'x' after a value`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHOCON(tc.src, env)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSettingPathIsTransformEnvironmentsName(t *testing.T) {
	for name, want := range map[string]string{
		"CONFIG_whisk_containerPool_userMemory":                             "whisk.container-pool.user-memory",
		"CONFIG_whisk_spi_LogStoreProvider":                                 "whisk.spi.LogStoreProvider",
		"CONFIG_whisk_kafka_common_sslTruststoreLocation":                   "whisk.kafka.common.ssl-truststore-location",
		"CONFIG_whisk_containerFactory_containerArgs_dnsServers_0":          "whisk.container-factory.container-args.dns-servers.0",
		"CONFIG_logback_log_level":                                          "logback.log.level",
		"CONFIG_whisk_kafka_topics_invoker_retentionMs":                     "whisk.kafka.topics.invoker.retention-ms",
		"CONFIG_whisk_containerPool_prewarmExpirationCheckIntervalVariance": "whisk.container-pool.prewarm-expiration-check-interval-variance",
	} {
		got, ok := settingPath(name)
		assert.True(t, ok)
		assert.Equal(t, want, got, name)
	}
	_, ok := settingPath("KAFKA_HOSTS")
	assert.False(t, ok)
}

func TestShellWords(t *testing.T) {
	w, err := shellWords(`-Xmx512M  -Dwhisk.spi.ContainerFactoryProvider=org.x.Docker -Da.b='two words' "-Dc=d e" -De=\ f`)
	require.NoError(t, err)
	assert.Equal(t, []string{"-Xmx512M", "-Dwhisk.spi.ContainerFactoryProvider=org.x.Docker", "-Da.b=two words", "-Dc=d e", "-De= f"}, w)
	_, err = shellWords(`-Da='x`)
	require.ErrorContains(t, err, "unbalanced ' quote")
}

// The sources an OpenWhisk image reads, lowest first: the HOCON file, JAVA_OPTS, INVOKER_OPTS, CONFIG_*.
func TestOpenWhiskSourcesPrecedence(t *testing.T) {
	const key = "CONFIG_whisk_containerPool_userMemory"
	hocon := "whisk.container-pool.user-memory = 1024m\n"
	cases := []struct {
		name string
		env  map[string]string
		want MB
	}{
		{"HOCON file", map[string]string{EnvOpenWhiskConfig: hocon}, 1024},
		{"HOCON file, base64", map[string]string{EnvOpenWhiskEncodedConfig: base64.StdEncoding.EncodeToString([]byte(hocon))}, 1024},
		{"OPENWHISK_CONFIG wins over the encoded one", map[string]string{EnvOpenWhiskConfig: hocon,
			EnvOpenWhiskEncodedConfig: base64.StdEncoding.EncodeToString([]byte("whisk.container-pool.user-memory = 3g"))}, 1024},
		{"JAVA_OPTS over the file", map[string]string{EnvOpenWhiskConfig: hocon, EnvJavaOpts: "-Xmx1g -Dwhisk.container-pool.user-memory=1536m"}, 1536},
		{"INVOKER_OPTS over JAVA_OPTS", map[string]string{EnvJavaOpts: "-Dwhisk.container-pool.user-memory=1536m",
			EnvInvokerOpts: "-Dwhisk.container-pool.user-memory=1280m"}, 1280},
		{"CONFIG_ over everything", map[string]string{EnvOpenWhiskConfig: hocon, EnvInvokerOpts: "-Dwhisk.container-pool.user-memory=1280m",
			key: "4096m"}, 4096},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := with(baseEnv())
			for k, v := range tc.env {
				e[k] = v
			}
			for _, load := range loaders(e) {
				c, err := load([]string{"--id", "0"})
				require.NoError(t, err)
				assert.Equal(t, tc.want, c.Pool.UserMemoryMB)
			}
		})
	}
}

// loaders are Load and LoadEnviron over the same environment.
func loaders(e map[string]string) []func([]string) (*Config, error) {
	var environ []string
	for k, v := range e {
		environ = append(environ, k+"="+v)
	}
	sort.Strings(environ)
	return []func([]string) (*Config, error){
		func(args []string) (*Config, error) { return Load(args, envFunc(e)) },
		func(args []string) (*Config, error) { return LoadEnviron(args, environ) },
	}
}

func TestOpenWhiskConfigInvalid(t *testing.T) {
	for name, tc := range map[string]struct {
		kv         []string
		field, msg string
	}{
		"encoded config not base64": {[]string{EnvOpenWhiskEncodedConfig, "%%%"}, EnvOpenWhiskEncodedConfig, "not base64"},
		"HOCON syntax":              {[]string{EnvOpenWhiskConfig, "whisk {"}, EnvOpenWhiskConfig, "line 1: missing '}'"},
		"JAVA_OPTS quote":           {[]string{EnvJavaOpts, "-Da='b"}, EnvJavaOpts, "unbalanced"},
		"bad value from the file":   {[]string{EnvOpenWhiskConfig, "whisk.container-pool.user-memory = lots"}, "CONFIG_whisk_containerPool_userMemory", "lots"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, load := range loaders(with(baseEnv(), tc.kv...)) {
				_, err := load([]string{"--id", "0"})
				requireInvalid(t, err, tc.field, tc.msg)
			}
		})
	}
}

// Every setting that changes behaviour and that NEMO does not implement stops the invoker, naming where it
// was set.
func TestUnsupportedSettingsAreRefused(t *testing.T) {
	const fpcWhy = "new scheduler (FPC)"
	cases := []struct {
		name       string
		kv         []string
		field, msg string
		enumerated bool // found only when the environment can be listed (LoadEnviron)
	}{
		{"ElasticSearch activation store (ansible/Helm db_activation_backend)",
			[]string{"CONFIG_whisk_spi_ActivationStoreProvider", "org.apache.openwhisk.core.database.elasticsearch.ElasticSearchActivationStoreProvider"},
			"CONFIG_whisk_spi_ActivationStoreProvider", "ElasticSearch", false},
		{"MongoDB artifact store", []string{"CONFIG_whisk_spi_ArtifactStoreProvider", "org.apache.openwhisk.core.database.mongodb.MongoDBArtifactStoreProvider"},
			"CONFIG_whisk_spi_ArtifactStoreProvider", "MongoDB", false},
		{"a non-Docker log store", []string{"CONFIG_whisk_spi_LogStoreProvider", "org.apache.openwhisk.core.containerpool.logging.ElasticSearchLogStoreProvider"},
			"CONFIG_whisk_spi_LogStoreProvider", "other log stores", false},
		{"the Kubernetes container factory through INVOKER_OPTS (Helm's default impl)",
			[]string{EnvInvokerOpts, " -Dkubernetes.master=https://$KUBERNETES_SERVICE_HOST -Dwhisk.spi.ContainerFactoryProvider=org.apache.openwhisk.core.containerpool.kubernetes.KubernetesContainerFactoryProvider"},
			"INVOKER_OPTS -Dwhisk.spi.ContainerFactoryProvider", "invoker.containerFactory.impl=docker", false},
		{"container-args extra-args as a variable", []string{"CONFIG_whisk_containerFactory_containerArgs_extraArgs_label_0", "team=a"},
			"CONFIG_whisk_containerFactory_containerArgs_extraArgs_label_0", "extra-args", true},
		{"container-args extra-args in OPENWHISK_CONFIG", []string{EnvOpenWhiskConfig, `whisk.container-factory.container-args.extra-args { env = ["A=B"] }`},
			"OPENWHISK_CONFIG whisk.container-factory.container-args.extra-args.env.0", "extra-args", false},
		{"docker parallel runs", []string{"CONFIG_whisk_docker_client_parallelRuns", "5"}, "CONFIG_whisk_docker_client_parallelRuns", "concurrent container creations", false},
		{"an invoker topic setting NEMO would not apply", []string{"CONFIG_whisk_kafka_topics_invoker_maxMessageBytes", "1000"},
			"CONFIG_whisk_kafka_topics_invoker_maxMessageBytes", "retention-bytes, retention-ms and segment-bytes only", true},
		{"a raw Kafka client setting", []string{"CONFIG_whisk_kafka_consumer_maxPollIntervalMs", "1000"},
			"CONFIG_whisk_kafka_consumer_maxPollIntervalMs", "whisk.kafka.consumer.max-poll-interval-ms is not supported", true},
		{"FPC invoker SPI (ansible's scheduler_enable)", []string{"CONFIG_whisk_spi_InvokerProvider", "org.apache.openwhisk.core.invoker.FPCInvokerReactive",
			"CONFIG_whisk_etcd_hosts", "etcd:2379", "CONFIG_whisk_etcd_lease_timeout", "1", "CONFIG_whisk_etcd_pool_threads", "10",
			"CONFIG_whisk_invoker_containerCreation_maxPeek", "500"}, "CONFIG_whisk_spi_InvokerProvider", fpcWhy, false},
		{"FPC server SPI alone", []string{"CONFIG_whisk_spi_InvokerServerProvider", "org.apache.openwhisk.core.invoker.FPCInvokerServer"},
			"CONFIG_whisk_spi_InvokerServerProvider", fpcWhy, false},
		{"etcd without the SPI", []string{"CONFIG_whisk_etcd_hosts", "etcd:2379"}, "CONFIG_whisk_etcd_hosts", fpcWhy, false},
		{"etcd lease in OPENWHISK_CONFIG", []string{EnvOpenWhiskConfig, "whisk.etcd.lease.timeout = 1"}, "OPENWHISK_CONFIG whisk.etcd.lease.timeout", fpcWhy, false},
		{"a bad FPC value (fpc.Load's check)", []string{"CONFIG_whisk_spi_InvokerProvider", "org.example.Invoker"}, "CONFIG_whisk_spi_InvokerProvider", "unknown invoker provider", false},
		{"Kamon to StatsD", []string{EnvMetricsKamon, "true", "CONFIG_kamon_statsd_hostname", "statsd"}, EnvMetricsKamon, "StatsD are not supported", false},
		{"HTTPS without a key store", []string{EnvInvokerProtocol, "https"}, "invoker.https.keystorePath", "required with protocol https", false},
		{"a protocol other than http(s)", []string{EnvInvokerProtocol, "h2c"}, "invoker.protocol", `"h2c" is not http or https`, false},
		{"Kafka SASL with GSSAPI (Kafka's default mechanism)", []string{EnvKafkaSecurityProtocol, "SASL_PLAINTEXT"}, "kafka.security.saslMechanism", "GSSAPI", false},
		{"Kafka SASL without credentials", []string{EnvKafkaSecurityProtocol, "SASL_SSL", EnvKafkaSASLMechanism, "PLAIN"}, "kafka.security.saslUsername", "needs a username and password", false},
		{"Kafka security protocol unknown", []string{EnvKafkaSecurityProtocol, "TLS"}, "kafka.security.protocol", `"TLS" is not`, false},
		{"Kafka key store missing", []string{EnvKafkaSecurityProtocol, "SSL", EnvKafkaKeystore, "/nonexistent/kafka-keystore.jks"}, "kafka.security", "no such file", false},
		{"Kerberos login module", []string{EnvKafkaSecurityProtocol, "SASL_SSL", EnvKafkaSASLMechanism, "GSSAPI",
			EnvKafkaSASLJaasConfig, "com.sun.security.auth.module.Krb5LoginModule required;"}, EnvKafkaSASLJaasConfig, "Krb5LoginModule is not supported", false},
		{"the parameter key under a name OpenWhisk does not read", []string{EnvJavaOpts, "-Dwhisk.parameter-storage.aes128=AAAAAAAAAAAAAAAAAAAAAA=="},
			"JAVA_OPTS -Dwhisk.parameter-storage.aes128", "the keys are whisk.parameter-storage.aes-128 and aes-256", false},
		{"logback level unknown", []string{EnvLogLevel, "LOUD"}, EnvLogLevel, "not a logback level", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := with(baseEnv(), tc.kv...)
			for i, load := range loaders(e) {
				_, err := load([]string{"--id", "0"})
				if i == 0 && tc.enumerated {
					// Load cannot list CONFIG_* variables; only LoadEnviron (the invoker's) finds these.
					continue
				}
				requireInvalid(t, err, tc.field, tc.msg)
			}
		})
	}
}

// What the upstream deployments set at their defaults and NEMO accepts without doing anything of it, because
// OpenWhisk's classic invoker does nothing of it either.
func TestAcceptedOpenWhiskSettings(t *testing.T) {
	e := with(baseEnv(),
		"CONFIG_whisk_spi_LogStoreProvider", "org.apache.openwhisk.core.containerpool.logging.DockerToActivationLogStoreProvider",
		"CONFIG_whisk_spi_InvokerProvider", "", "CONFIG_whisk_spi_InvokerServerProvider", "",
		EnvInvokerOpts, " -Dwhisk.spi.ContainerFactoryProvider=org.apache.openwhisk.core.containerpool.docker.DockerContainerFactoryProvider",
		EnvJavaOpts, "-Xmx512M -XX:+CrashOnOutOfMemoryError",
		"CONFIG_whisk_containerProxy_timeouts_keepingDuration", "60 minutes",
		"CONFIG_whisk_containerPool_memorySyncInterval", "1 second", "CONFIG_whisk_containerPool_batchDeletionSize", "10",
		"CONFIG_whisk_containerPool_prewarmPromotion", "false", "CONFIG_whisk_containerPool_prewarmMaxRetryLimit", "5",
		"CONFIG_whisk_cluster_name", "whisk", "CONFIG_whisk_invoker_resource_tags", " '' ",
		"CONFIG_whisk_kafka_topics_completed_retentionBytes", "104857600",
		"CONFIG_whisk_kafka_common_securityProtocol", "PLAINTEXT",
		EnvMetricsKamon, "true", EnvOpenWhiskEncodedConfig, base64.StdEncoding.EncodeToString([]byte("include classpath(\"application.conf\")\nwhisk { metrics { prometheus-enabled = true } }")),
	)
	for _, load := range loaders(e) {
		c, err := load([]string{"--id", "0"})
		require.NoError(t, err)
		assert.Empty(t, c.Warnings())
	}
}

func TestExtraEnvVarWithoutValueIsKeyEquals(t *testing.T) {
	c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(),
		"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_0", "__OW_ALLOW_CONCURRENT=true",
		"CONFIG_whisk_containerFactory_containerArgs_extraEnvVars_1", "EMPTY")))
	require.NoError(t, err)
	assert.Equal(t, []string{"__OW_ALLOW_CONCURRENT=true", "EMPTY="}, c.Docker.ExtraEnv)
	assert.Equal(t, []string{"__OW_ALLOW_CONCURRENT=true", "EMPTY="}, c.DockerConfig().ExtraEnv)
}

func TestLogbackLevel(t *testing.T) {
	for v, want := range map[string]string{"INFO": "info", "debug": "debug", "WARN": "warn", "ERROR": "error", "OFF": "disabled", "ALL": "trace", "TRACE": "trace"} {
		c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), EnvLogLevel, v)))
		require.NoError(t, err)
		assert.Equal(t, want, c.Invoker.LogLevel, v)
	}
	c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), EnvOpenWhiskConfig, "logback.log.level = DEBUG")))
	require.NoError(t, err)
	assert.Equal(t, "debug", c.Invoker.LogLevel, "from the HOCON file too")
}

func TestParameterStorageFromOpenWhiskKeys(t *testing.T) {
	k128 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	k256 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	t.Run("both keys from OPENWHISK_CONFIG, current from the variable", func(t *testing.T) {
		c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(),
			EnvOpenWhiskConfig, "whisk.parameter-storage { aes-128 = \""+k128+"\"\n aes-256 = \""+k256+"\" }",
			EnvParameterCurrent, "aes-256")))
		require.NoError(t, err)
		assert.Equal(t, ParameterStorageSection{Current: "aes-256", AES128: k128, AES256: k256}, c.Invoker.ParameterStorage)
		require.NotNil(t, c.ParameterKey())
		assert.Equal(t, "aes128+aes256", c.ParameterKey().Scheme())
		assert.Empty(t, c.Warnings())
	})
	t.Run("a -D option as Helm's invoker.jvmOptions would pass it", func(t *testing.T) {
		c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), EnvJavaOpts, "-Xmx512M -Dwhisk.parameter-storage.aes-128="+k128)))
		require.NoError(t, err)
		assert.Equal(t, "aes128", c.ParameterKey().Scheme())
	})
	t.Run("the deprecated key still works, with a warning", func(t *testing.T) {
		c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), EnvParameterKey, k256)))
		require.NoError(t, err)
		assert.Equal(t, "aes256", c.ParameterKey().Scheme())
		require.Len(t, c.Warnings(), 1)
		assert.Contains(t, c.Warnings()[0], EnvParameterKey+" is deprecated")
	})
	t.Run("the deprecated key in the config file warns too", func(t *testing.T) {
		p := writeFile(t, "c.json", `{"invoker": {"parameterStorageKey": "`+k128+`"}}`)
		c, err := Load([]string{"--id", "0", "--config", p}, envFunc(baseEnv()))
		require.NoError(t, err)
		assert.Equal(t, "aes128", c.ParameterKey().Scheme())
		require.Len(t, c.Warnings(), 1)
		assert.Contains(t, c.Warnings()[0], "invoker.parameterStorageKey is deprecated")
	})
	for name, tc := range map[string]struct {
		kv         []string
		field, msg string
	}{
		"current without its key":  {[]string{EnvParameterCurrent, "aes-128"}, "invoker.parameterStorage.current", `"aes-128" has no key`},
		"current unknown":          {[]string{EnvParameterCurrent, "rot13"}, "invoker.parameterStorage.current", "not off, noop"},
		"aes-128 of 32 bytes":      {[]string{EnvOpenWhiskConfig, `whisk.parameter-storage.aes-128 = "` + k256 + `"`}, "invoker.parameterStorage.aes128", "32 bytes, want 16"},
		"old and new for one slot": {[]string{EnvParameterKey, k128, EnvOpenWhiskConfig, `whisk.parameter-storage.aes-128 = "` + k128 + `"`}, "invoker.parameterStorageKey", "both set"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(), tc.kv...)))
			requireInvalid(t, err, tc.field, tc.msg)
			assert.NotContains(t, err.Error(), k128)
			assert.NotContains(t, err.Error(), k256)
		})
	}
}

func TestKafkaSecuritySettings(t *testing.T) {
	c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(),
		EnvKafkaSecurityProtocol, "sasl_plaintext", EnvKafkaSASLMechanism, "SCRAM-SHA-512",
		EnvKafkaSASLJaasConfig, `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p w;d";`,
		"CONFIG_whisk_kafka_topics_invoker_retentionMs", "300000", "CONFIG_whisk_kafka_topics_invoker_retentionBytes", "104857600")))
	require.NoError(t, err)
	assert.Equal(t, KafkaSecuritySection{Protocol: KafkaSASLPlaintext, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "alice", SASLPassword: "p w;d"}, c.Kafka.Security)
	assert.Equal(t, map[string]string{"retention.ms": "300000", "retention.bytes": "104857600"}, c.Kafka.InvokerTopic)
	m := c.MessagingConfig()
	assert.Equal(t, "300000", m.InvokerTopicConfigs()["retention.ms"])
	assert.Equal(t, "536870912", m.InvokerTopicConfigs()["segment.bytes"], "OpenWhisk's default where nothing overrides it")
}

func TestParseJAAS(t *testing.T) {
	u, p, err := parseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="pa ss";`)
	require.NoError(t, err)
	assert.Equal(t, "u", u)
	assert.Equal(t, "pa ss", p)
	_, _, err = parseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required username="u";`)
	require.ErrorContains(t, err, "needs username")
	_, _, err = parseJAAS(`nonsense`)
	require.ErrorContains(t, err, "not a JAAS")
	assert.False(t, strings.Contains(err.Error(), "secret"))
}

func TestPrewarmCheckTiming(t *testing.T) {
	c, err := Load([]string{"--id", "0"}, envFunc(with(baseEnv(),
		EnvPrewarmInitDelay, "10 minutes", EnvPrewarmVariance, "10 seconds", EnvPrewarmCheck, "1 minute")))
	require.NoError(t, err)
	pc := c.PoolConfig().Pool
	assert.Equal(t, "10m0s", pc.StemCheckInitDelay.String())
	assert.GreaterOrEqual(t, pc.StemCheckInterval.Seconds(), 60.0)
	assert.Less(t, pc.StemCheckInterval.Seconds(), 70.0, "interval + [0, variance) seconds, drawn once")
}
