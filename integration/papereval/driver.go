package papereval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// Call is one activation as the controller saw it.
type Call struct {
	AID      string
	Function string // workload function
	Action   string // the action invoked (the function, or a copy for a forced cold start)
	Seq      int
	At       time.Duration // scheduled offset in the stream
	Phase    string        // controlled runs: cold, warm; native-warm: warmup for the untimed first calls
	Sent     time.Time     // just before the produce call
	Result   time.Time     // the first ack carrying the activation (Result or Combined)
	Complete time.Time     // the slot-freeing ack (Completion or Combined)
	Act      *wire.WhiskActivation
	SysErr   bool
}

// Answered reports whether the controller got the activation's result.
func (c *Call) Answered() bool { return c.Act != nil }

// controller plays OpenWhisk's controller for one run: it produces ActivationMessages to
// <prefix>invoker<N>, as the controller's load balancer does, and reads <prefix>completed<C>.
type controller struct {
	cfg       messaging.Config
	ctlID     string
	prod      sarama.SyncProducer
	cons      sarama.Consumer
	pc        sarama.PartitionConsumer
	mu        sync.Mutex
	calls     map[string]*Call
	changed   chan struct{}
	bad       atomic.Int64
	answered  atomic.Int64
	completed atomic.Int64
	seq       atomic.Uint64
}

func saramaConfig(version string) (*sarama.Config, error) {
	c := sarama.NewConfig()
	v, err := messaging.ParseVersion(version)
	if err != nil {
		return nil, err
	}
	c.Version = v
	c.ClientID = "papereval-controller"
	c.Producer.RequiredAcks = sarama.WaitForLocal
	c.Producer.Return.Successes = true
	c.Producer.MaxMessageBytes = messaging.MaxActivationBytes
	return c, nil
}

func newController(ctx context.Context, cfg messaging.Config, ctlID string) (*controller, error) {
	ack := cfg.CompletedTopic(ctlID)
	if err := messaging.EnsureTopic(ctx, cfg, ack, nil); err != nil {
		return nil, fmt.Errorf("papereval: ack topic %s: %w", ack, err)
	}
	sc, err := saramaConfig(cfg.Version)
	if err != nil {
		return nil, err
	}
	prod, err := sarama.NewSyncProducer(cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("papereval: producer: %w", err)
	}
	cons, err := sarama.NewConsumer(cfg.Brokers, sc)
	if err != nil {
		prod.Close()
		return nil, fmt.Errorf("papereval: consumer: %w", err)
	}
	pc, err := cons.ConsumePartition(ack, 0, sarama.OffsetOldest)
	if err != nil {
		prod.Close()
		cons.Close()
		return nil, fmt.Errorf("papereval: consume %s: %w", ack, err)
	}
	c := &controller{cfg: cfg, ctlID: ctlID, prod: prod, cons: cons, pc: pc, calls: map[string]*Call{}, changed: make(chan struct{})}
	go c.readAcks()
	return c, nil
}

func (c *controller) Close() {
	c.pc.Close()
	c.cons.Close()
	c.prod.Close()
}

func (c *controller) readAcks() {
	for m := range c.pc.Messages() {
		at := time.Now()
		ack, err := wire.ParseAck(m.Value)
		if err != nil {
			c.bad.Add(1)
			continue
		}
		var id string
		var act *wire.WhiskActivation
		var sysErr, slotFree bool
		switch a := ack.(type) {
		case *wire.ResultMessage:
			id, act = a.ActivationID, a.Activation
		case *wire.CompletionMessage:
			id, sysErr, slotFree = a.ActivationID, a.IsSystemError, true
		case *wire.CombinedMessage:
			id, act, sysErr, slotFree = a.ActivationID, a.Activation, a.IsSystemError, true
		}
		if act != nil {
			id = act.ActivationID
		}
		c.mu.Lock()
		call := c.calls[id]
		if call == nil {
			c.mu.Unlock()
			c.bad.Add(1)
			continue
		}
		if act != nil && call.Act == nil {
			call.Act, call.Result = act, at
			c.answered.Add(1)
		}
		if slotFree && call.Complete.IsZero() {
			call.Complete, call.SysErr = at, sysErr
			c.completed.Add(1)
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// newAID returns a fresh 32-hex-digit activation id.
func (c *controller) newAID() string {
	return fmt.Sprintf("%08x%08x%016x", os.Getpid(), uint32(time.Now().Unix()), c.seq.Add(1))
}

// message is the ActivationMessage the controller sends for one blocking activation of guest/<action>;
// the transid's start is the send time, so the record's waitTime counts from it.
func (c *controller) message(aid, action string, now time.Time) []byte {
	m := map[string]any{
		"transid":  []any{fmt.Sprintf("pe%030x", c.seq.Add(1)), now.UnixMilli()},
		"action":   map[string]string{"path": Namespace, "name": action, "version": "0.0.1"},
		"revision": nil,
		"user": map[string]any{
			"subject":   Namespace,
			"namespace": map[string]string{"name": Namespace, "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			"authkey":   map[string]string{"api_key": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:papereval"},
			"rights":    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
			"limits":    map[string]any{},
		},
		"activationId":        aid,
		"rootControllerIndex": map[string]string{"asString": c.ctlID, "instanceType": "controller"},
		"blocking":            true,
		"content":             map[string]any{},
		"initArgs":            []string{},
		"lockedArgs":          map[string]string{},
	}
	b, _ := json.Marshal(m)
	return b
}

// send produces one activation and registers it.
func (c *controller) send(call *Call) error {
	call.AID = c.newAID()
	c.mu.Lock()
	c.calls[call.AID] = call
	c.mu.Unlock()
	now := time.Now()
	msg := c.message(call.AID, call.Action, now)
	call.Sent = now
	_, _, err := c.prod.SendMessage(&sarama.ProducerMessage{Topic: c.cfg.InvokerTopic(), Value: sarama.ByteEncoder(msg)})
	if err != nil {
		return fmt.Errorf("papereval: produce to %s: %w", c.cfg.InvokerTopic(), err)
	}
	return nil
}

// waitAll waits until every call has its result and its slot-freeing ack, or until timeout.
func (c *controller) waitAll(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		missing := 0
		for _, call := range c.calls {
			if call.Act == nil || call.Complete.IsZero() {
				missing++
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if missing == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("papereval: %d activation(s) unanswered after %v", missing, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// call sends one activation and waits for its answer (controlled runs: one call at a time).
func (c *controller) call(ctx context.Context, call *Call, timeout time.Duration) error {
	if err := c.send(call); err != nil {
		return err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		done := call.Act != nil && !call.Complete.IsZero()
		ch := c.changed
		c.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("papereval: %s (%s) unanswered after %v", call.AID, call.Action, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// inFlight is the number of calls sent and not yet answered.
func (c *controller) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, call := range c.calls {
		if call.Act == nil {
			n++
		}
	}
	return n
}

// deleteTopics removes the run's topics and the invoker's consumer group.
func deleteTopics(cfg messaging.Config, ctlID string) error {
	sc, err := saramaConfig(cfg.Version)
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, sc)
	if err != nil {
		return err
	}
	defer admin.Close()
	var errs []error
	for _, t := range []string{cfg.InvokerTopic(), cfg.CompletedTopic(ctlID), cfg.HealthTopic()} {
		if err := admin.DeleteTopic(t); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			errs = append(errs, fmt.Errorf("delete topic %s: %w", t, err))
		}
	}
	_ = admin.DeleteConsumerGroup(cfg.InvokerTopic())
	return errors.Join(errs...)
}

// annotation reads an integer annotation of a record (-1 when absent).
func annotation(a *wire.WhiskActivation, key string) int64 {
	raw, ok := a.Annotation(key)
	if !ok {
		return -1
	}
	var v int64
	if json.Unmarshal(raw, &v) != nil {
		return -1
	}
	return v
}
