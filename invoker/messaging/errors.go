package messaging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/containerd/errdefs"
	"github.com/eapache/go-resiliency/breaker"
)

// Sentinel error kinds. Every error returned by this package wraps one of them (and the cause) with %w.
var (
	// ErrConfig: the Config is unusable (no brokers, unknown Kafka version, bad capacity...).
	ErrConfig = errors.New("messaging: invalid config")
	// ErrUnavailable: Kafka could not be reached, or did not answer in time (class errdefs.ErrUnavailable,
	// as the stores' and the Docker backend's unavailability).
	ErrUnavailable = fmt.Errorf("messaging: kafka %w", errdefs.ErrUnavailable)
	// ErrTopic: a topic could not be created or described for a reason other than availability.
	ErrTopic = errors.New("messaging: topic")
	// ErrTooLarge: the record is larger than the broker or producer accepts, even in its shrunk form
	// (class errdefs.ErrInvalidArgument: sending it again cannot succeed).
	ErrTooLarge = fmt.Errorf("messaging: record too large: %w", errdefs.ErrInvalidArgument)
	// ErrEncode: an Ack or message could not be marshalled (class errdefs.ErrInvalidArgument).
	ErrEncode = fmt.Errorf("messaging: encode: %w", errdefs.ErrInvalidArgument)
	// ErrSend: the broker refused the record for a reason that retrying does not fix: an invalid topic
	// name, a record it cannot accept, a request it does not authorise (class errdefs.ErrInvalidArgument).
	// Any other failure is reported as ErrUnavailable: when in doubt, the caller retries rather than
	// dropping an answer.
	ErrSend = fmt.Errorf("messaging: send refused: %w", errdefs.ErrInvalidArgument)
)

// refusedKErrors are broker answers about the record or the request itself: the same send fails again.
var refusedKErrors = []sarama.KError{
	sarama.ErrInvalidTopic,
	sarama.ErrInvalidMessage,
	sarama.ErrInvalidMessageSize,
	sarama.ErrInvalidRecord,
	sarama.ErrInvalidRequiredAcks,
	sarama.ErrInvalidTimestamp,
	sarama.ErrUnsupportedVersion,
	sarama.ErrUnsupportedCompressionType,
	sarama.ErrUnsupportedForMessageFormat,
	sarama.ErrTopicAuthorizationFailed,
	sarama.ErrClusterAuthorizationFailed,
	sarama.ErrTransactionalIDAuthorizationFailed,
}

// refused reports whether the broker (or sarama, before sending) refused a record for good.
func refused(err error) bool {
	for _, k := range refusedKErrors {
		if errors.Is(err, k) {
			return true
		}
	}
	var cerr sarama.ConfigurationError
	return errors.As(err, &cerr)
}

// retriableKErrors are broker error codes that Kafka's own clients classify as retriable
// (RetriableException subclasses): the same request can succeed a moment later.
var retriableKErrors = []sarama.KError{
	sarama.ErrUnknownTopicOrPartition,
	sarama.ErrLeaderNotAvailable,
	sarama.ErrNotLeaderForPartition,
	sarama.ErrRequestTimedOut,
	sarama.ErrReplicaNotAvailable,
	sarama.ErrNetworkException,
	sarama.ErrOffsetsLoadInProgress,
	sarama.ErrConsumerCoordinatorNotAvailable,
	sarama.ErrNotCoordinatorForConsumer,
	sarama.ErrNotEnoughReplicas,
	sarama.ErrNotEnoughReplicasAfterAppend,
	sarama.ErrNotController,
	sarama.ErrKafkaStorageError,
	sarama.ErrFencedLeaderEpoch,
	sarama.ErrUnknownLeaderEpoch,
	sarama.ErrRebalanceInProgress,
	sarama.ErrOffsetNotAvailable,
	sarama.ErrPreferredLeaderNotAvailable,
	sarama.ErrEligibleLeadersNotAvailable,
	sarama.ErrThrottlingQuotaExceeded,
}

// retriable reports whether err is transient: a retriable broker code or a transport failure.
// Context errors are never retriable (the caller's deadline is final).
func retriable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, k := range retriableKErrors {
		if errors.Is(err, k) {
			return true
		}
	}
	// sarama's producer opens a circuit breaker per broker after 3 failures in a row and refuses sends
	// for 10 s: the broker is down, not the record wrong.
	if errors.Is(err, breaker.ErrBreakerOpen) {
		return true
	}
	if errors.Is(err, sarama.ErrOutOfBrokers) || errors.Is(err, sarama.ErrNotConnected) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// tooLarge reports whether the broker (MESSAGE_TOO_LARGE) or sarama's own Producer.MaxMessageBytes check
// (a ConfigurationError, which has no sentinel) refused a record for its size.
func tooLarge(err error) bool {
	if errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		return true
	}
	var cerr sarama.ConfigurationError
	return errors.As(err, &cerr) && strings.Contains(string(cerr), "MaxMessageBytes")
}
