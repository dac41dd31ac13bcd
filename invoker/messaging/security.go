package messaging

import (
	"crypto/tls"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// Security is how the client authenticates to the brokers: OpenWhisk's whisk.kafka.common
// security-protocol PLAINTEXT (the zero value), SSL (TLS set), SASL_PLAINTEXT (SASL set) or SASL_SSL (both).
type Security struct {
	// TLS, when not nil, wraps every broker connection (trust store, client certificate; see invoker/tlsconf).
	TLS *tls.Config
	// SASLMechanism is "" (none), "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512", with SASLUser and
	// SASLPassword.
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
}

// check refuses a mechanism the client cannot speak.
func (s Security) check() error {
	switch s.SASLMechanism {
	case "", sarama.SASLTypePlaintext, sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512:
	default:
		return fmt.Errorf("%w: SASL mechanism %q (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", ErrConfig, s.SASLMechanism)
	}
	if s.SASLMechanism != "" && (s.SASLUser == "" || s.SASLPassword == "") {
		return fmt.Errorf("%w: SASL %s needs a user and a password", ErrConfig, s.SASLMechanism)
	}
	return nil
}

// apply puts the security settings on a sarama config.
func (s Security) apply(sc *sarama.Config) {
	if s.TLS != nil {
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = s.TLS.Clone()
	}
	if s.SASLMechanism == "" {
		return
	}
	sc.Net.SASL.Enable = true
	sc.Net.SASL.Handshake = true
	sc.Net.SASL.User = s.SASLUser
	sc.Net.SASL.Password = s.SASLPassword
	sc.Net.SASL.Mechanism = sarama.SASLMechanism(s.SASLMechanism)
	switch s.SASLMechanism {
	case sarama.SASLTypeSCRAMSHA256:
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
	case sarama.SASLTypeSCRAMSHA512:
		sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	}
}

// scramClient is sarama's SCRAM conversation over xdg-go/scram.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
