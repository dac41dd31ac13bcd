package config

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/nemo-edge/nemo/invoker/tlsconf"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// validateOpenWhisk checks the settings applyOpenWhisk reads: parameter keys, the HTTPS key store, Kafka
// security, the invoker topic's configs. Key stores are opened here, so a wrong path or password stops the
// invoker at start with the setting's name.
func (c *Config) validateOpenWhisk() error {
	for _, check := range []func() error{c.validateParameterStorage, c.validateHTTPS, c.validateKafkaSecurity} {
		if err := check(); err != nil {
			return err
		}
	}
	for k := range c.Kafka.InvokerTopic {
		if !contains([]string{"retention.bytes", "retention.ms", "segment.bytes"}, k) {
			return invalid("kafka.invokerTopic", "%q: only retention.bytes, retention.ms and segment.bytes", k)
		}
	}
	if c.Pool.PrewarmExpirationCheckInitDelay < 0 {
		return invalid("pool.prewarmExpirationCheckInitDelay", "%s is negative", c.Pool.PrewarmExpirationCheckInitDelay)
	}
	if c.Pool.PrewarmExpirationCheckIntervalVariance < 0 {
		return invalid("pool.prewarmExpirationCheckIntervalVariance", "%s is negative", c.Pool.PrewarmExpirationCheckIntervalVariance)
	}
	return nil
}

func (c *Config) validateParameterStorage() error {
	ps := c.Invoker.ParameterStorage
	for _, k := range []struct{ field, b64, scheme string }{
		{"invoker.parameterStorage.aes128", ps.AES128, "aes-128"}, {"invoker.parameterStorage.aes256", ps.AES256, "aes-256"},
	} {
		if k.b64 == "" {
			continue
		}
		a, b := k.b64, ""
		if k.scheme == "aes-256" {
			a, b = "", k.b64
		}
		if _, err := wire.NewParameterKeys(a, b); err != nil {
			return invalid(k.field, "%v", err) // never echo a key
		}
	}
	if old := c.Invoker.ParameterStorageKey; old != "" {
		k, err := wire.NewParameterKey(old)
		if err != nil {
			return invalid("invoker.parameterStorageKey", "%v", err)
		}
		if (k.Scheme() == "aes128" && ps.AES128 != "") || (k.Scheme() == "aes256" && ps.AES256 != "") {
			return invalid("invoker.parameterStorageKey", "the deprecated key and invoker.parameterStorage.%s are both set; keep the latter", k.Scheme())
		}
	}
	aes128, aes256 := c.parameterKeys()
	switch cur := strings.ToLower(ps.Current); cur {
	case "", "off", "noop":
	case "aes-128", "aes-256":
		if (cur == "aes-128" && aes128 == "") || (cur == "aes-256" && aes256 == "") {
			return invalid("invoker.parameterStorage.current", "%q has no key: set whisk.parameter-storage.%s (the key the controller encrypts with)", cur, cur)
		}
	default:
		return invalid("invoker.parameterStorage.current", "%q is not off, noop, aes-128 or aes-256", ps.Current)
	}
	return nil
}

func (c *Config) validateHTTPS() error {
	in := c.Invoker
	switch in.Protocol {
	case "http":
		return nil
	case "https":
	default:
		return invalid("invoker.protocol", "%q is not http or https", in.Protocol)
	}
	if in.HTTPS.KeystorePath == "" {
		return invalid("invoker.https.keystorePath", "required with protocol https (%s)", EnvHTTPSKeystorePath)
	}
	if f := strings.ToUpper(in.HTTPS.KeystoreFlavor); f != "" && f != "PKCS12" && f != "JKS" {
		return invalid("invoker.https.keystoreFlavor", "%q is not PKCS12 or JKS", in.HTTPS.KeystoreFlavor)
	}
	if _, err := c.ServerTLS(); err != nil {
		return invalidCause("invoker.https.keystorePath", err, "%v", err)
	}
	return nil
}

func (c *Config) validateKafkaSecurity() error {
	sec := c.Kafka.Security
	switch sec.Protocol {
	case KafkaPlaintext, KafkaSSL, KafkaSASLPlaintext, KafkaSASLSSL:
	default:
		return invalid("kafka.security.protocol", "%q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", sec.Protocol)
	}
	if sec.Protocol == KafkaSASLPlaintext || sec.Protocol == KafkaSASLSSL {
		switch sec.SASLMechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		case "", "GSSAPI":
			return invalid("kafka.security.saslMechanism", "%s needs sasl.mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Kafka's default, GSSAPI/Kerberos, is not supported)", sec.Protocol)
		default:
			return invalid("kafka.security.saslMechanism", "%q is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", sec.SASLMechanism)
		}
		if sec.SASLUsername == "" || sec.SASLPassword == "" {
			return invalid("kafka.security.saslUsername", "%s needs a username and password (%s)", sec.Protocol, EnvKafkaSASLJaasConfig)
		}
	}
	if _, err := c.KafkaTLS(); err != nil {
		return invalidCause("kafka.security", err, "%v", err)
	}
	return nil
}

// ServerTLS is the invoker's HTTPS server configuration, nil for protocol http.
func (c *Config) ServerTLS() (*tls.Config, error) {
	in := c.Invoker
	if in.Protocol != "https" {
		return nil, nil
	}
	ks, err := tlsconf.Load(in.HTTPS.KeystorePath, in.HTTPS.KeystorePassword, in.HTTPS.KeystoreFlavor, "")
	if err != nil {
		return nil, err
	}
	return tlsconf.Server(ks, in.HTTPS.ClientAuth)
}

// KafkaTLS is the Kafka client's TLS configuration, nil for PLAINTEXT and SASL_PLAINTEXT.
func (c *Config) KafkaTLS() (*tls.Config, error) {
	sec := c.Kafka.Security
	if sec.Protocol != KafkaSSL && sec.Protocol != KafkaSASLSSL {
		return nil, nil
	}
	var trust, key *tlsconf.Store
	var err error
	if sec.TruststoreLocation != "" {
		if trust, err = tlsconf.Load(sec.TruststoreLocation, sec.TruststorePassword, sec.TruststoreType, ""); err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
	}
	if sec.KeystoreLocation != "" {
		if key, err = tlsconf.Load(sec.KeystoreLocation, sec.KeystorePassword, sec.KeystoreType, sec.KeyPassword); err != nil {
			return nil, fmt.Errorf("key store: %w", err)
		}
		if key.Certificate == nil {
			return nil, fmt.Errorf("key store %s holds no private key", sec.KeystoreLocation)
		}
	}
	return tlsconf.Client(trust, key, sec.VerifyHostname)
}
