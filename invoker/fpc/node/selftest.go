package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/fpc/fetch"
	"github.com/nemo-edge/nemo/invoker/fpc/lifecycle"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// The health action, as OpenWhisk's InvokerHealthManager defines it.
const (
	HealthNamespace    = "whisk.system"
	HealthActionPrefix = "invokerHealthTestAction"
	// HealthController is the controller id of health activations: their acks go to no controller.
	HealthController = "health"
	// HealthTransID is the transaction id of every health activation.
	HealthTransID = "sid_invokerHealthActivation"
	// DefaultHealthKind is the health action's kind unless configured otherwise.
	DefaultHealthKind = "nodejs:default"
	HealthMemoryMB    = 128
	healthTimeoutMs   = 60000
	healthSlot        = lifecycle.ContainerID("health")
)

// echoCode is, per runtime family, action source that returns its input. healthFamilies is the order in
// which a missing configured kind falls back to a family's default kind.
var (
	echoCode = map[string]string{
		"nodejs": "function main(params) { return params; }\n",
		"python": "def main(args):\n    return args\n",
		"php":    "<?php\nfunction main(array $args) : array\n{\n    return $args;\n}\n",
		"ruby":   "def main(args)\n  args\nend\n",
		"go":     "package main\n\nfunc Main(obj map[string]interface{}) map[string]interface{} {\n\treturn obj\n}\n",
	}
	healthFamilies = []string{"nodejs", "python", "php", "ruby", "go"}
)

// ErrNoHealthKind: the runtimes manifest has no kind the health action can be written in.
var ErrNoHealthKind = errors.New("node: no runtime kind for the health action")

// HealthKind resolves the health action's kind: the configured one (DefaultHealthKind when empty) when the
// manifest has it and its family has echo code; otherwise the default kind of the first family of nodejs,
// python, php, ruby and go the manifest has (fellBack true: the caller says so in the log). It returns the
// concrete kind and its code.
func HealthKind(m *wire.Manifest, configured string) (kind, code string, fellBack bool, err error) {
	if configured == "" {
		configured = DefaultHealthKind
	}
	if m == nil {
		return "", "", false, fmt.Errorf("%w: no runtimes manifest", ErrNoHealthKind)
	}
	if rk, err := m.Resolve(configured); err == nil {
		if c, ok := echoCode[rk.Family]; ok {
			return rk.Kind, c, false, nil
		}
	}
	for _, f := range healthFamilies {
		if d := m.DefaultKind(f); d != "" {
			return d, echoCode[f], true, nil
		}
	}
	return "", "", false, fmt.Errorf("%w: %q is not in the manifest and none of its families (%s) has one of %s",
		ErrNoHealthKind, configured, strings.Join(m.Kinds(), ", "), strings.Join(healthFamilies, ", "))
}

// HealthActionName is invokerHealthTestAction<N>.
func HealthActionName(instance int) string { return fmt.Sprintf("%s%d", HealthActionPrefix, instance) }

// HealthActionDoc is the health action document of invoker instance: whisk.system/invokerHealthTestAction<N>,
// the kind's echo code inline, 128 MB, no logs (log limit 0), the standard time limit.
func HealthActionDoc(instance int, kind, code string, updatedMillis int64) *wire.Action {
	name := HealthActionName(instance)
	return &wire.Action{
		ID: HealthNamespace + "/" + name, Namespace: HealthNamespace, Name: name,
		Exec:       wire.Exec{Kind: kind, Code: code},
		Limits:     wire.ActionLimits{TimeoutMs: healthTimeoutMs, MemoryMB: HealthMemoryMB, LogsMB: 0, Concurrency: 1},
		Parameters: []wire.KeyValue{}, Annotations: []wire.KeyValue{},
		Version: "0.0.1", Updated: updatedMillis,
	}
}

// ActionWriter creates or updates an action document in the whisks database (invoker/store).
type ActionWriter interface {
	GetAction(ctx context.Context, docID, rev string) (*wire.Action, error)
	PutActionDoc(ctx context.Context, doc []byte) (string, error)
}

// HealthActivation is the synthetic activation of the health action: non-blocking, no parameters, from the
// controller "health", invoked as whisk.system with a key made up for this process.
func HealthActivation(action wire.FullyQualifiedName, rev string, user wire.Identity, now time.Time) *wire.ActivationMessage {
	r := rev
	return &wire.ActivationMessage{
		TransID: wire.NewTransID(HealthTransID, now.UnixMilli()), Action: action, Revision: &r, User: user,
		ActivationID:        randomHex(16),
		RootControllerIndex: wire.ControllerInstanceID{AsString: HealthController, InstanceType: "controller"},
		Blocking:            false,
	}
}

// HealthIdentity is the whisk.system identity health activations run as (a fresh key: the action never calls
// the API).
func HealthIdentity() wire.Identity {
	u := randomHex(16)
	uuid := u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:32]
	key, _ := json.Marshal(map[string]string{"api_key": uuid + ":" + randomHex(32)})
	return wire.Identity{Subject: HealthNamespace, Namespace: wire.Namespace{Name: HealthNamespace, UUID: uuid},
		AuthKey: key, Rights: []string{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// HealthClient is the health container's stand-in for the scheduler: every Fetch returns a fresh health
// activation (OpenWhisk's HealthActivationServiceClient), nothing is ever rescheduled, Close ends it.
type HealthClient struct {
	mu     sync.Mutex
	action wire.FullyQualifiedName
	rev    string
	user   wire.Identity
	closed bool
	now    func() time.Time
}

// NewHealthClient returns the client of the health action at rev.
func NewHealthClient(action wire.FullyQualifiedName, rev string, now func() time.Time) *HealthClient {
	if now == nil {
		now = time.Now
	}
	return &HealthClient{action: action, rev: rev, user: HealthIdentity(), now: now}
}

// Fetch returns the next health activation.
func (c *HealthClient) Fetch(_ context.Context, _ time.Duration) (fetch.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fetch.Result{}, fetch.ErrClosed
	}
	msg := HealthActivation(c.action, c.rev, c.user, c.now())
	raw, err := msg.Marshal()
	if err != nil {
		return fetch.Result{}, err
	}
	return fetch.Result{Activation: msg, Raw: raw}, nil
}

// Reschedule never hands back: there is no queue.
func (c *HealthClient) Reschedule(context.Context, json.RawMessage) (bool, error) { return false, nil }

// Redirect has nowhere to go.
func (c *HealthClient) Redirect(string) error { return nil }

// SetWarmed is not reported to anyone.
func (c *HealthClient) SetWarmed() {}

// Close ends the client.
func (c *HealthClient) Close(context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// HealthActionTest is the self-test of OpenWhisk's FPC invoker: it writes the health action document (created,
// or updated when its content differs), and each round pulls one health activation from a HealthClient and
// runs it in the test container (a slot of its own, through the health activation path, whose acks go
// nowhere). The outcome enters the Health window through Slots.Run; a broken container is removed and the
// next round starts a new one. Stop removes the test container.
type HealthActionTest struct {
	Instance int
	Kind     string // the configured kind ("" = DefaultHealthKind)
	Manifest *wire.Manifest
	Writer   ActionWriter
	Slots    *Slots
	Log      zerolog.Logger
	Now      func() time.Time

	mu      sync.Mutex
	rev     string
	kind    string
	client  *HealthClient
	created bool
	warned  bool
}

func (t *HealthActionTest) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// prepare writes the document once per test run (each start and each /enable re-reads and, if needed,
// updates it, as upstream does).
func (t *HealthActionTest) prepare(ctx context.Context) error {
	kind, code, fellBack, err := HealthKind(t.Manifest, t.Kind)
	if err != nil {
		return err
	}
	if fellBack && !t.warned {
		t.warned = true
		want := t.Kind
		if want == "" {
			want = DefaultHealthKind
		}
		t.Log.Warn().Str("configured", want).Str("kind", kind).
			Msg("health action: the configured kind is not in the runtimes manifest; using this default kind instead")
	}
	doc := HealthActionDoc(t.Instance, kind, code, t.now().UnixMilli())
	cur, err := t.Writer.GetAction(ctx, doc.ID, "")
	switch {
	case err == nil && cur.ContentHash() == doc.ContentHash():
		t.rev = cur.Rev
	case err == nil || errdefs.IsNotFound(err):
		if err == nil {
			doc.Rev = cur.Rev
		}
		b, merr := doc.MarshalJSON()
		if merr != nil {
			return merr
		}
		rev, perr := t.Writer.PutActionDoc(ctx, b)
		if perr != nil {
			return fmt.Errorf("health action %s: write: %w", doc.ID, perr)
		}
		t.rev = rev
		t.Log.Info().Str("action", doc.ID).Str("kind", kind).Str("rev", rev).Msg("health action written to the whisks database")
	default:
		return fmt.Errorf("health action %s: read: %w", doc.ID, err)
	}
	t.kind = kind
	t.client = NewHealthClient(wire.FullyQualifiedName{Path: HealthNamespace, Name: doc.Name, Version: doc.Version}, t.rev, t.Now)
	return nil
}

// Round runs one health activation.
func (t *HealthActionTest) Round(ctx context.Context, _ *Health) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.client == nil {
		if err := t.prepare(ctx); err != nil {
			return false, err
		}
	}
	if !t.created {
		b := lifecycle.Binding{InvocationNamespace: HealthNamespace, Action: t.client.action, Revision: t.rev,
			Kind: t.kind, MemoryMB: HealthMemoryMB, Concurrency: 1}
		t.Slots.createHealth(healthSlot, b)
		t.created = true
	}
	res, err := t.client.Fetch(ctx, -1)
	if err != nil {
		return false, err
	}
	rr := t.Slots.Run(ctx, healthSlot, res.Activation, res.Raw)
	t.Log.Debug().Str("activationId", res.Activation.ActivationID).Bool("ok", !rr.Failed).Dur("took", rr.Duration).
		Msg("health activation")
	if rr.Destroy {
		_ = t.Slots.Remove(ctx, healthSlot)
		t.created = false
	}
	return !rr.Failed, nil
}

// Stop removes the test container; the next run writes the document again first.
func (t *HealthActionTest) Stop(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.created {
		if err := t.Slots.Remove(ctx, healthSlot); err != nil {
			t.Log.Warn().Err(err).Msg("health test container removal")
		}
		t.created = false
	}
	if t.client != nil {
		_ = t.client.Close(ctx)
		t.client = nil
	}
	t.Log.Info().Msg("self-test stopped; health test container removed")
}

// HealthAcker is the health activation path's Acker: no ack or event goes anywhere (health activations
// have no controller waiting); a whisk error is logged, as OpenWhisk's HealthActionAck logs it.
type HealthAcker struct{ Log zerolog.Logger }

// SendAck logs whisk errors and drops the ack.
func (a HealthAcker) SendAck(_ context.Context, _ string, ack wire.Ack) error {
	var id string
	var sysErr bool
	switch m := ack.(type) {
	case *wire.CompletionMessage:
		id, sysErr = m.ActivationID, m.IsSystemError
	case *wire.CombinedMessage:
		id, sysErr = m.ActivationID, m.IsSystemError
		if m.Activation != nil {
			id = m.Activation.ActivationID
		}
	}
	if sysErr {
		a.Log.Error().Str("transid", HealthTransID).Str("activationId", id).Msg("health action failed with a whisk error")
	}
	return nil
}

// SendEvent drops the event.
func (HealthAcker) SendEvent(context.Context, *wire.EventMessage) error { return nil }
