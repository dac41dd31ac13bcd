package fpcsched

import (
	"strconv"
	"testing"

	"github.com/IBM/sarama"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// CreationAck is one record of creationAck{sid}: the ack as the scheduler reads it, or why it could not.
type CreationAck struct {
	Raw []byte
	Ack *wire.ContainerCreationAckMessage // nil when unreadable
	Err error
}

// Kafka is the stand-in's Kafka side for one invoker: it sends container messages to invoker{N} and reads
// creationAck{sid}; itest's controller side reads completed{C}.
type Kafka struct {
	*itest.Controller
	SID  wire.SchedulerInstanceID
	Acks *itest.Journal[CreationAck]
}

// NewKafka connects to broker, creates invoker{N}, completed{controllerID} and creationAck{sid}, and starts
// reading the acks.
func NewKafka(t testing.TB, broker string, invokerID int, controllerID, sid string) *Kafka {
	t.Helper()
	k := &Kafka{Controller: itest.NewController(t, broker, invokerID, controllerID), SID: wire.SchedulerInstanceID{AsString: sid},
		Acks: &itest.Journal[CreationAck]{}}
	k.CreateTopic(t, k.InvokerTopic())
	k.CreateTopic(t, k.SID.CreationAckTopic())
	t.Cleanup(func() { _ = k.Admin.DeleteTopic(k.SID.CreationAckTopic()) })
	k.Consume(t, k.SID.CreationAckTopic(), sarama.OffsetOldest, func(m *sarama.ConsumerMessage) {
		a, err := wire.ParseContainerCreationAck(m.Value)
		k.Acks.Append(CreationAck{Raw: append([]byte(nil), m.Value...), Ack: a, Err: err})
	})
	return k
}

// SendCreation publishes a ContainerCreationMessage to invoker{N}.
func (k *Kafka) SendCreation(t testing.TB, m *wire.ContainerCreationMessage) {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k.Produce(t, b)
}

// SendDeletion publishes a ContainerDeletionMessage to invoker{N}.
func (k *Kafka) SendDeletion(t testing.TB, m *wire.ContainerDeletionMessage) {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k.Produce(t, b)
}

// Creation builds a creation for an action from this stand-in's scheduler s (nil: the warm-up's empty host).
func (k *Kafka) Creation(s *Scheduler, ns string, fqn wire.FullyQualifiedName, rev *string, meta wire.ActionMetaData, creationID string) *wire.ContainerCreationMessage {
	m := &wire.ContainerCreationMessage{TransID: wire.NewTransID("fpcsched-"+creationID[:8], 1717236930000),
		InvocationNamespace: ns, Action: fqn, Revision: rev, ActionMetaData: meta, RootSchedulerIndex: k.SID, CreationID: creationID}
	if s != nil {
		ep := s.Endpoints()
		m.SchedulerHost, m.RPCPort = ep.Host, ep.RPCPort
	}
	return m
}

// InvokerTopicName is invoker{N} (for consumers playing the invoker).
func InvokerTopicName(n int) string { return "invoker" + strconv.Itoa(n) }
