package config

import (
	"fmt"
	"strconv"
	"strings"
)

// OpenWhisk settings read from every source (owSource: CONFIG_* variables, OPENWHISK_CONFIG, -D options),
// beyond the CONFIG_* variables env.go reads one by one.
const (
	EnvLogLevel              = "CONFIG_logback_log_level"
	EnvParameterCurrent      = "CONFIG_whisk_parameterStorage_current"
	EnvInvokerProtocol       = "CONFIG_whisk_invoker_protocol"
	EnvHTTPSKeystorePath     = "CONFIG_whisk_invoker_https_keystorePath"
	EnvHTTPSKeystorePassword = "CONFIG_whisk_invoker_https_keystorePassword"
	EnvHTTPSKeystoreFlavor   = "CONFIG_whisk_invoker_https_keystoreFlavor"
	EnvHTTPSClientAuth       = "CONFIG_whisk_invoker_https_clientAuth"
	EnvInvokerTopic          = "CONFIG_whisk_kafka_topics_invoker_" // + retentionBytes|retentionMs|segmentBytes
	EnvPrewarmInitDelay      = "CONFIG_whisk_containerPool_prewarmExpirationCheckInitDelay"
	EnvPrewarmVariance       = "CONFIG_whisk_containerPool_prewarmExpirationCheckIntervalVariance"

	EnvKafkaSecurityProtocol = "CONFIG_whisk_kafka_common_securityProtocol"
	EnvKafkaTruststore       = "CONFIG_whisk_kafka_common_sslTruststoreLocation"
	EnvKafkaTruststorePass   = "CONFIG_whisk_kafka_common_sslTruststorePassword"
	EnvKafkaTruststoreType   = "CONFIG_whisk_kafka_common_sslTruststoreType"
	EnvKafkaKeystore         = "CONFIG_whisk_kafka_common_sslKeystoreLocation"
	EnvKafkaKeystorePass     = "CONFIG_whisk_kafka_common_sslKeystorePassword"
	EnvKafkaKeystoreType     = "CONFIG_whisk_kafka_common_sslKeystoreType"
	EnvKafkaKeyPassword      = "CONFIG_whisk_kafka_common_sslKeyPassword"
	EnvKafkaEndpointIdent    = "CONFIG_whisk_kafka_common_sslEndpointIdentificationAlgorithm"
	EnvKafkaSASLMechanism    = "CONFIG_whisk_kafka_common_saslMechanism"
	EnvKafkaSASLJaasConfig   = "CONFIG_whisk_kafka_common_saslJaasConfig"
)

// The parameter-storage keys, which only a HOCON file or a -D option can spell (transformEnvironment.sh
// cannot produce "aes-128" from a variable name).
const (
	settingAES128 = "whisk.parameter-storage.aes-128"
	settingAES256 = "whisk.parameter-storage.aes-256"
)

// Kafka security protocols (KafkaSecuritySection.Protocol).
const (
	KafkaPlaintext     = "PLAINTEXT"
	KafkaSSL           = "SSL"
	KafkaSASLPlaintext = "SASL_PLAINTEXT"
	KafkaSASLSSL       = "SASL_SSL"
)

// logbackLevels maps logback's levels (CONFIG_logback_log_level) onto the invoker's.
var logbackLevels = map[string]string{
	"ALL": "trace", "TRACE": "trace", "DEBUG": "debug", "INFO": "info", "WARN": "warn", "ERROR": "error", "OFF": "disabled",
}

// applyOpenWhisk reads the OpenWhisk settings that may come from any source. Values are parsed here (a
// malformed one is reported under where it came from); Validate checks the result.
func (c *Config) applyOpenWhisk(src owSource) error {
	for _, step := range []func(owSource) error{c.owLogLevel, c.owParameterStorage, c.owHTTPS, c.owKafka, c.owPool, c.owMetrics} {
		if err := step(src); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) owLogLevel(src owSource) error {
	v, from := src.lookup(EnvLogLevel)
	if v == "" {
		return nil
	}
	level, ok := logbackLevels[strings.ToUpper(v)]
	if !ok {
		return invalid(from, "%q is not a logback level (TRACE, DEBUG, INFO, WARN, ERROR, OFF, ALL)", v)
	}
	c.Invoker.LogLevel = level
	return nil
}

func (c *Config) owParameterStorage(src owSource) error {
	ps := &c.Invoker.ParameterStorage
	if v, _ := src.lookup(EnvParameterCurrent); v != "" {
		ps.Current = strings.ToLower(v)
	}
	for _, k := range []struct {
		path string
		dst  *string
	}{{settingAES128, &ps.AES128}, {settingAES256, &ps.AES256}} {
		if st := src.s[k.path]; strings.TrimSpace(st.value) != "" {
			*k.dst = strings.TrimSpace(st.value)
		}
	}
	for _, wrong := range []string{"whisk.parameter-storage.aes128", "whisk.parameter-storage.aes256", "whisk.parameter-storage.key"} {
		if st := src.s[wrong]; strings.TrimSpace(st.value) != "" {
			right := strings.Replace(strings.TrimPrefix(wrong, "whisk.parameter-storage."), "aes", "aes-", 1)
			return invalid(st.from, "OpenWhisk reads no key %s: the keys are whisk.parameter-storage.aes-128 and aes-256 (%s here?), which only OPENWHISK_CONFIG or a -D option in JAVA_OPTS/INVOKER_OPTS can spell", wrong, right)
		}
	}
	switch v, _ := src.lookup(EnvParameterKey); {
	case v != "":
		c.warnings = append(c.warnings, EnvParameterKey+" is deprecated: give the key as OpenWhisk does, whisk.parameter-storage.aes-128 or aes-256 (OPENWHISK_CONFIG or -D in JAVA_OPTS)")
	case c.Invoker.ParameterStorageKey != "":
		c.warnings = append(c.warnings, "invoker.parameterStorageKey is deprecated: set invoker.parameterStorage.aes128 or aes256 (OpenWhisk's whisk.parameter-storage.aes-128 / aes-256)")
	}
	return nil
}

func (c *Config) owHTTPS(src owSource) error {
	in := &c.Invoker
	if v, _ := src.lookup(EnvInvokerProtocol); v != "" {
		in.Protocol = strings.ToLower(v)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{EnvHTTPSKeystorePath, &in.HTTPS.KeystorePath}, {EnvHTTPSKeystoreFlavor, &in.HTTPS.KeystoreFlavor}} {
		if v, _ := src.lookup(f.name); v != "" {
			*f.dst = v
		}
	}
	if v, _ := src.lookupRaw(EnvHTTPSKeystorePassword); v != "" {
		in.HTTPS.KeystorePassword = v
	}
	if v, from := src.lookup(EnvHTTPSClientAuth); v != "" {
		b, err := parseBool(v)
		if err != nil {
			return invalid(from, "%v", err)
		}
		in.HTTPS.ClientAuth = b
	}
	return nil
}

func (c *Config) owKafka(src owSource) error {
	k := &c.Kafka
	for _, name := range []string{"retentionBytes", "retentionMs", "segmentBytes"} {
		v, from := src.lookup(EnvInvokerTopic + name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 || n == 0 {
			return invalid(from, "%q is not a positive integer (or -1)", v)
		}
		if k.InvokerTopic == nil {
			k.InvokerTopic = map[string]string{}
		}
		path, _ := settingPath(EnvInvokerTopic + name)
		k.InvokerTopic[invokerTopicSettings[strings.TrimPrefix(path, "whisk.kafka.topics.invoker.")]] = strconv.FormatInt(n, 10)
	}
	sec := &k.Security
	if v, _ := src.lookup(EnvKafkaSecurityProtocol); v != "" {
		sec.Protocol = strings.ToUpper(v)
	}
	for _, f := range []struct {
		name string
		dst  *string
		raw  bool
	}{
		{EnvKafkaTruststore, &sec.TruststoreLocation, false}, {EnvKafkaTruststorePass, &sec.TruststorePassword, true},
		{EnvKafkaTruststoreType, &sec.TruststoreType, false}, {EnvKafkaKeystore, &sec.KeystoreLocation, false},
		{EnvKafkaKeystorePass, &sec.KeystorePassword, true}, {EnvKafkaKeystoreType, &sec.KeystoreType, false},
		{EnvKafkaKeyPassword, &sec.KeyPassword, true}, {EnvKafkaSASLMechanism, &sec.SASLMechanism, false},
	} {
		v, _ := src.lookup(f.name)
		if f.raw {
			v, _ = src.lookupRaw(f.name)
		}
		if v != "" {
			*f.dst = v
		}
	}
	if v, from := src.lookup(EnvKafkaEndpointIdent); v != "" {
		switch strings.ToLower(v) {
		case "https":
			sec.VerifyHostname = true
		default:
			return invalid(from, "%q: ssl.endpoint.identification.algorithm is \"https\" or empty", v)
		}
	}
	if v, from := src.lookupRaw(EnvKafkaSASLJaasConfig); v != "" {
		user, pass, err := parseJAAS(v)
		if err != nil {
			return invalid(from, "%v", err)
		}
		sec.SASLUsername, sec.SASLPassword = user, pass
	}
	return nil
}

func (c *Config) owPool(src owSource) error {
	for _, d := range []struct {
		name string
		dst  *Duration
	}{{EnvPrewarmInitDelay, &c.Pool.PrewarmExpirationCheckInitDelay}, {EnvPrewarmVariance, &c.Pool.PrewarmExpirationCheckIntervalVariance}} {
		if v, from := src.lookup(d.name); v != "" {
			t, err := parseDuration(v)
			if err != nil {
				return invalid(from, "%v", err)
			}
			*d.dst = Duration(t)
		}
	}
	return nil
}

func (c *Config) owMetrics(src owSource) error {
	tags, _, set, err := metricSwitch(src, "CONFIG_whisk_metrics_kamonTagsEnabled", EnvMetricsKamonTags)
	if err != nil {
		return err
	}
	if set {
		c.Invoker.KamonTags = tags
	}
	logs, from, _, err := metricSwitch(src, "CONFIG_whisk_metrics_logsEnabled", EnvMetricsLog)
	if err != nil {
		return err
	}
	if logs {
		c.warnings = append(c.warnings, from+": OpenWhisk's [marker:…] metric log lines are not written; "+
			"NEMO's logs are JSON lines with each activation's transid, and its metrics (OpenWhisk's names included) are on /metrics")
	}
	return nil
}

// parseJAAS reads the username and password options of a sasl.jaas.config value such as
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="secret";
func parseJAAS(s string) (user, pass string, err error) {
	fields := strings.Fields(strings.TrimSuffix(strings.TrimSpace(s), ";"))
	if len(fields) < 2 {
		return "", "", errorf("%q is not a JAAS login module configuration (module flag options…;)", redact(s))
	}
	module := fields[0]
	if !strings.HasSuffix(module, ".PlainLoginModule") && !strings.HasSuffix(module, ".ScramLoginModule") {
		return "", "", errorf("login module %s is not supported (PlainLoginModule or ScramLoginModule)", module)
	}
	rest := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";"))
	rest = strings.TrimSpace(strings.TrimPrefix(rest, module))
	for _, flag := range []string{"required", "requisite", "sufficient", "optional"} {
		if r, ok := strings.CutPrefix(rest, flag); ok {
			rest = strings.TrimSpace(r)
			break
		}
	}
	opts, err := shellWords(rest)
	if err != nil {
		return "", "", errorf("login module options: %v", err)
	}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "username":
			user = v
		case "password":
			pass = v
		}
	}
	if user == "" || pass == "" {
		return "", "", errorf("the login module configuration needs username=\"…\" and password=\"…\"")
	}
	return user, pass, nil
}

// redact keeps a JAAS value's module name and hides its options (which carry the password).
func redact(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0] + " …"
	}
	return ""
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
