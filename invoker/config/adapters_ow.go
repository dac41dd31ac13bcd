package config

import (
	"math/rand/v2"
	"time"

	"github.com/nemo-edge/nemo/invoker/messaging"
)

// kafkaSecurity is the Kafka client's security (Validate opened the stores, so errors cannot happen here).
func (c *Config) kafkaSecurity() messaging.Security {
	sec := c.Kafka.Security
	out := messaging.Security{}
	if t, err := c.KafkaTLS(); err == nil {
		out.TLS = t
	}
	if sec.Protocol == KafkaSASLPlaintext || sec.Protocol == KafkaSASLSSL {
		out.SASLMechanism, out.SASLUser, out.SASLPassword = sec.SASLMechanism, sec.SASLUsername, sec.SASLPassword
	}
	return out
}

// stemCheckInterval is the reactive stem-cell check period plus, as OpenWhisk's pool does, a random whole
// number of seconds below the variance, drawn once per call (once per invoker start).
func (c *Config) stemCheckInterval() time.Duration {
	d := c.Pool.PrewarmExpirationCheckInterval.D()
	if v := int64(c.Pool.PrewarmExpirationCheckIntervalVariance.D() / time.Second); v > 0 {
		d += time.Duration(rand.Int64N(v)) * time.Second
	}
	return d
}
