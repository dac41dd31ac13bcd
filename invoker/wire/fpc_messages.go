package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// This file holds the Kafka messages of OpenWhisk's 2.x scheduler ("function pulling container", FPC):
// ContainerCreationMessage and ContainerDeletionMessage (scheduler → invoker<N>) and
// ContainerCreationAckMessage (invoker → creationAck<sid>). Readers follow spray-json: every non-Option member
// is required, Option members may be absent or null, unknown members are ignored.

// SchedulerInstanceID names a scheduler: {"asString":"0"}. Its creation acks go to topic creationAck<asString>.
type SchedulerInstanceID struct{ AsString string }

// CreationAckTopic is "creationAck<asString>" (without the deployment's topic prefix).
func (s SchedulerInstanceID) CreationAckTopic() string { return "creationAck" + s.AsString }

// MarshalJSON writes {"asString":…}.
func (s SchedulerInstanceID) MarshalJSON() ([]byte, error) {
	w := newWriter()
	w.str("asString", s.AsString)
	return w.bytes()
}

func parseSchedulerInstanceID(o object) (SchedulerInstanceID, error) {
	s, err := o.str("asString", true)
	if err != nil {
		return SchedulerInstanceID{}, err
	}
	if !topicSafe.MatchString(s) {
		return SchedulerInstanceID{}, malformed(o.what, "asString %q cannot form a Kafka topic name", s)
	}
	return SchedulerInstanceID{AsString: s}, nil
}

// ActionMetaData is a creation message's whiskActionMetaData: the action without its code. The JVM invoker
// ignores it for execution (it re-reads the action document) and echoes it in the creation ack, so Raw keeps
// the member as received (compacted); the other fields are what placement needs.
type ActionMetaData struct {
	Raw        json.RawMessage
	Namespace  string // "guest" or "guest/pkg"
	Name       string
	Kind       string // lower-cased; "blackbox" for docker actions, "sequence" for sequences
	Image      string // blackbox image as written
	Binary     bool
	Main       string
	Components []string // sequences only
	Limits     ActionLimits
	Version    string
}

// Executable reports whether an invoker can run the action (sequences are run by the controller).
func (a ActionMetaData) Executable() bool { return a.Kind != KindSequence }

// IsBlackbox reports a docker action.
func (a ActionMetaData) IsBlackbox() bool { return a.Kind == KindBlackbox }

// ParseActionMetaData reads a whiskActionMetaData object. namespace, name, exec (with kind) and limits (with
// timeout and memory) are required; parameters, annotations, version, publish and updated are type-checked
// when present and otherwise only kept in Raw.
func ParseActionMetaData(b []byte) (ActionMetaData, error) {
	o, err := decodeObject(b, "whiskActionMetaData")
	if err != nil {
		return ActionMetaData{}, err
	}
	return parseActionMetaData(o, b)
}

func parseActionMetaData(o object, raw []byte) (ActionMetaData, error) {
	var a ActionMetaData
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return a, malformed(o.what, "%v", err)
	}
	a.Raw = buf.Bytes()
	var err error
	if a.Namespace, err = o.str("namespace", true); err != nil {
		return a, err
	}
	if a.Name, err = o.str("name", true); err != nil {
		return a, err
	}
	if strings.Trim(a.Namespace, "/") == "" || a.Name == "" {
		return a, malformed(o.what, "namespace %q and name %q must be non-empty", a.Namespace, a.Name)
	}
	ex, _, err := o.sub("exec", true)
	if err != nil {
		return a, err
	}
	kind, err := ex.str("kind", true)
	if err != nil {
		return a, err
	}
	if a.Kind = strings.ToLower(kind); a.Kind == "" {
		return a, malformed(ex.what, "empty kind")
	}
	switch a.Kind {
	case KindSequence:
		if a.Components, err = ex.strings("components", false); err != nil {
			return a, err
		}
	case KindBlackbox:
		if a.Image, err = ex.str("image", true); err != nil {
			return a, err
		}
		if _, err := ParseImageName(a.Image); err != nil {
			return a, err
		}
	}
	if a.Kind != KindSequence {
		if a.Binary, err = ex.boolean("binary", false, false); err != nil {
			return a, err
		}
		if a.Main, err = ex.str("main", false); err != nil {
			return a, err
		}
	}
	lim, _, err := o.sub("limits", true)
	if err != nil {
		return a, err
	}
	if a.Limits, err = parseActionLimits(lim); err != nil {
		return a, err
	}
	if a.Version, err = o.str("version", false); err != nil {
		return a, err
	}
	if _, err = o.boolean("publish", false, false); err != nil {
		return a, err
	}
	for _, k := range []string{"parameters", "annotations"} {
		if v, ok := o.get(k); ok && kindOf(v) != "array" {
			return a, o.wrongType(k, "array", v)
		}
	}
	if _, err = o.integer("updated", false, 0); err != nil {
		return a, err
	}
	return a, nil
}

// MarshalJSON writes Raw.
func (a ActionMetaData) MarshalJSON() ([]byte, error) {
	if !json.Valid(a.Raw) {
		return nil, fmt.Errorf("%w: whiskActionMetaData is not valid JSON", ErrMalformed)
	}
	return a.Raw, nil
}

// ContainerMessage is what the invoker reads from invoker<N> in FPC mode: a *ContainerCreationMessage or a
// *ContainerDeletionMessage.
type ContainerMessage interface {
	// Transaction is the message's transid.
	Transaction() TransID
	containerMessage()
}

// ContainerCreationMessage asks the invoker for one container of an action, pulling from the named scheduler.
type ContainerCreationMessage struct {
	TransID             TransID
	InvocationNamespace string
	Action              FullyQualifiedName // the gRPC fqn, binding included
	Revision            *string            // nil for null (the warm-up creation)
	ActionMetaData      ActionMetaData
	RootSchedulerIndex  SchedulerInstanceID
	SchedulerHost       string
	RPCPort             int
	RetryCount          int
	CreationID          string // 32 lowercase hex
}

// ContainerDeletionMessage asks the invoker to stop its containers of an action up to a revision (sent to every
// invoker when an action's queue is removed, e.g. after an update).
type ContainerDeletionMessage struct {
	TransID             TransID
	InvocationNamespace string
	Action              FullyQualifiedName
	Revision            *string
	ActionMetaData      ActionMetaData
}

func (m *ContainerCreationMessage) Transaction() TransID { return m.TransID }
func (m *ContainerDeletionMessage) Transaction() TransID { return m.TransID }
func (*ContainerCreationMessage) containerMessage()      {}
func (*ContainerDeletionMessage) containerMessage()      {}

// Warm-up action: the scheduler sends a creation for it to every invoker that turns up, and the invoker drops it.
const (
	WarmUpNamespace = "whisk.system"
	WarmUpAction    = "warmUp"
)

// IsWarmUp reports the scheduler's warm-up creation (action whisk.system/warmUp, no version, no binding),
// which the invoker must drop without an ack.
func (m *ContainerCreationMessage) IsWarmUp() bool { return IsWarmUpAction(m.Action) }

// IsWarmUpAction reports whisk.system/warmUp without version or binding (WarmUp.isWarmUpAction).
func IsWarmUpAction(f FullyQualifiedName) bool {
	return f.Path == WarmUpNamespace && f.Name == WarmUpAction && f.Version == "" && f.Binding == ""
}

// RevisionString is the revision, "" for null.
func (m *ContainerCreationMessage) RevisionString() string { return derefString(m.Revision) }

// RevisionString is the revision, "" for null.
func (m *ContainerDeletionMessage) RevisionString() string { return derefString(m.Revision) }

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ParseContainerMessage reads a record of invoker<N> in FPC mode. As the JVM invoker does, an object with a
// creationId member is a creation and anything else is read as a deletion. Errors wrap ErrMalformed; the
// caller marks such a record processed and sends nothing.
func ParseContainerMessage(b []byte) (ContainerMessage, error) {
	o, err := decodeObject(b, "container message")
	if err != nil {
		return nil, err
	}
	if o.has("creationId") {
		o.what = "container creation message"
		return parseCreation(o)
	}
	o.what = "container deletion message"
	return parseDeletion(o)
}

// containerCommon reads the five members creations and deletions share.
func containerCommon(o object) (tid TransID, ns string, fqn FullyQualifiedName, rev *string, meta ActionMetaData, err error) {
	raw, ok := o.get("transid")
	if !ok {
		return tid, ns, fqn, rev, meta, o.missing("transid")
	}
	if tid, err = ParseTransID(raw); err != nil {
		return
	}
	if ns, err = o.str("invocationNamespace", true); err != nil {
		return
	}
	if ns == "" {
		err = malformed(o.what, "empty invocationNamespace")
		return
	}
	act, ok := o.get("action")
	if !ok {
		err = o.missing("action")
		return
	}
	if fqn, err = ParseFullyQualifiedName(act); err != nil {
		return
	}
	// DocRevision is not an Option: the member must be there, as a string or null.
	if !o.has("revision") {
		err = o.missing("revision")
		return
	}
	if _, present := o.get("revision"); present {
		var s string
		if s, err = o.str("revision", false); err != nil {
			return
		}
		rev = &s
	}
	m, ok := o.get("whiskActionMetaData")
	if !ok {
		err = o.missing("whiskActionMetaData")
		return
	}
	if kindOf(m) != "object" {
		err = o.wrongType("whiskActionMetaData", "object", m)
		return
	}
	mo, err := decodeObject(m, o.what+".whiskActionMetaData")
	if err != nil {
		return
	}
	meta, err = parseActionMetaData(mo, m)
	return
}

func parseCreation(o object) (*ContainerCreationMessage, error) {
	m := &ContainerCreationMessage{}
	var err error
	if m.TransID, m.InvocationNamespace, m.Action, m.Revision, m.ActionMetaData, err = containerCommon(o); err != nil {
		return nil, err
	}
	rsi, _, err := o.sub("rootSchedulerIndex", true)
	if err != nil {
		return nil, err
	}
	if m.RootSchedulerIndex, err = parseSchedulerInstanceID(rsi); err != nil {
		return nil, err
	}
	if m.SchedulerHost, err = o.str("schedulerHost", true); err != nil {
		return nil, err
	}
	if m.RPCPort, err = o.intField("rpcPort", true, 0); err != nil {
		return nil, err
	}
	if m.RPCPort < 0 || m.RPCPort > 65535 {
		return nil, malformed(o.what, "rpcPort %d out of range", m.RPCPort)
	}
	if m.RetryCount, err = o.intField("retryCount", true, 0); err != nil {
		return nil, err
	}
	if m.CreationID, err = o.str("creationId", true); err != nil {
		return nil, err
	}
	if !ValidActivationID(m.CreationID) { // same shape: 32 lowercase hex (CreationId.parse)
		return nil, malformed(o.what, "creationId %q is not 32 lowercase hex characters", m.CreationID)
	}
	if !m.IsWarmUp() && (m.SchedulerHost == "" || m.RPCPort == 0) {
		return nil, malformed(o.what, "schedulerHost %q / rpcPort %d: no scheduler to pull from", m.SchedulerHost, m.RPCPort)
	}
	return m, nil
}

func parseDeletion(o object) (*ContainerDeletionMessage, error) {
	m := &ContainerDeletionMessage{}
	var err error
	if m.TransID, m.InvocationNamespace, m.Action, m.Revision, m.ActionMetaData, err = containerCommon(o); err != nil {
		return nil, err
	}
	return m, nil
}

// Marshal encodes the creation as the scheduler does, transid bytes spliced in unchanged.
func (m *ContainerCreationMessage) Marshal() ([]byte, error) {
	w := newWriter()
	writeContainerCommon(w, m.TransID, m.InvocationNamespace, m.Action, m.Revision)
	w.raw("whiskActionMetaData", m.ActionMetaData.Raw)
	w.value("rootSchedulerIndex", m.RootSchedulerIndex)
	w.str("schedulerHost", m.SchedulerHost)
	w.num("rpcPort", int64(m.RPCPort))
	w.num("retryCount", int64(m.RetryCount))
	w.str("creationId", m.CreationID)
	return w.bytes()
}

// Marshal encodes the deletion as the scheduler does.
func (m *ContainerDeletionMessage) Marshal() ([]byte, error) {
	w := newWriter()
	writeContainerCommon(w, m.TransID, m.InvocationNamespace, m.Action, m.Revision)
	w.raw("whiskActionMetaData", m.ActionMetaData.Raw)
	return w.bytes()
}

func writeContainerCommon(w *writer, tid TransID, ns string, fqn FullyQualifiedName, rev *string) {
	w.verbatim("transid", tid.Raw)
	w.str("invocationNamespace", ns)
	w.value("action", fqn)
	w.nullable("revision", rev)
}

// CreationError is the error member of a creation ack: the name of a ContainerCreationError case.
type CreationError string

// The ContainerCreationError names (Message.scala). The scheduler reschedules the Reschedulable ones.
const (
	CreationErrNoAvailableInvokers         CreationError = "NoAvailableInvokersError"
	CreationErrNoAvailableResourceInvokers CreationError = "NoAvailableResourceInvokersError"
	CreationErrResourceNotEnough           CreationError = "ResourceNotEnoughError"
	CreationErrWhisk                       CreationError = "WhiskError"
	CreationErrUnknown                     CreationError = "UnknownError"
	CreationErrTimeout                     CreationError = "TimeoutError"
	CreationErrShuttingDown                CreationError = "ShuttingDownError"
	CreationErrNonExecutableAction         CreationError = "NonExecutableActionError"
	CreationErrDBFetch                     CreationError = "DBFetchError"
	CreationErrBlackBox                    CreationError = "BlackBoxError"
	CreationErrZeroNamespaceLimit          CreationError = "ZeroNamespaceLimit"
	CreationErrTooManyConcurrentRequests   CreationError = "TooManyConcurrentRequests"
	// CreationErrInvalidActionLimit exists from 2023-01 on; a scheduler built before (ef725a6) cannot parse it.
	CreationErrInvalidActionLimit CreationError = "InvalidActionLimitError"
)

// Reschedulable reports membership of ContainerCreationError.whiskErrors: the scheduler retries the creation
// (up to 5 times) instead of failing it.
func (e CreationError) Reschedulable() bool {
	switch e {
	case CreationErrNoAvailableInvokers, CreationErrNoAvailableResourceInvokers, CreationErrResourceNotEnough,
		CreationErrWhisk, CreationErrShuttingDown, CreationErrUnknown, CreationErrTimeout, CreationErrZeroNamespaceLimit:
		return true
	}
	return false
}

// schedulerParsable lists the upper-cased names the scheduler's parser accepts. It has no entry for
// ShuttingDownError and spells the non-executable one NONEXECUTBLEACTIONERROR, so an ack carrying either of
// those two fails to parse there and the creation only ends by the in-progress-job timeout.
var schedulerParsable = map[string]CreationError{
	"NOAVAILABLEINVOKERSERROR":         CreationErrNoAvailableInvokers,
	"NOAVAILABLERESOURCEINVOKERSERROR": CreationErrNoAvailableResourceInvokers,
	"RESOURCENOTENOUGHERROR":           CreationErrResourceNotEnough,
	"NONEXECUTBLEACTIONERROR":          CreationErrNonExecutableAction,
	"DBFETCHERROR":                     CreationErrDBFetch,
	"WHISKERROR":                       CreationErrWhisk,
	"BLACKBOXERROR":                    CreationErrBlackBox,
	"TIMEOUTERROR":                     CreationErrTimeout,
	"ZERONAMESPACELIMIT":               CreationErrZeroNamespaceLimit,
	"TOOMANYCONCURRENTREQUESTS":        CreationErrTooManyConcurrentRequests,
	"UNKNOWNERROR":                     CreationErrUnknown,
	"INVALIDACTIONLIMITERROR":          CreationErrInvalidActionLimit,
}

// ParseCreationErrorAsScheduler reads an error member the way the scheduler does (trimmed, case-insensitive,
// with its two quirks). ok is false for a name the scheduler cannot parse.
func ParseCreationErrorAsScheduler(s string) (e CreationError, ok bool) {
	e, ok = schedulerParsable[strings.ToUpper(strings.TrimSpace(s))]
	return e, ok
}

// SchedulerParses reports whether a HEAD scheduler can read this name: every name but ShuttingDownError and
// NonExecutableActionError.
func (e CreationError) SchedulerParses() bool {
	_, ok := ParseCreationErrorAsScheduler(string(e))
	return ok && e != ""
}

// ForScheduler is the name NEMO puts on the wire for e: e itself when the scheduler parses it, otherwise the
// parsable name with the same scheduler outcome. ShuttingDownError becomes WhiskError (both are reschedulable,
// so the creation moves to another invoker at once instead of after the 20 s in-progress timeout);
// NonExecutableActionError becomes DBFetchError (both fail the creation without retry, so the queued
// activations are completed with the reason instead of waiting for five timeouts).
func (e CreationError) ForScheduler() CreationError {
	switch e {
	case CreationErrShuttingDown:
		return CreationErrWhisk
	case CreationErrNonExecutableAction:
		return CreationErrDBFetch
	}
	return e
}

// ContainerCreationAckMessage answers a creation on creationAck<sid>: success (Error "") once the container
// is ready to pull, or an error.
type ContainerCreationAckMessage struct {
	TransID             TransID
	CreationID          string
	InvocationNamespace string
	Action              FullyQualifiedName
	Revision            *string
	ActionMetaData      json.RawMessage // the creation's whiskActionMetaData, written as "actionMetaData"
	RootInvokerIndex    InvokerInstanceID
	SchedulerHost       string
	RPCPort             int
	RetryCount          int
	Error               CreationError // "" for success
	Reason              string        // "" when absent
}

// NewCreationAck builds the ack of creation m from invoker inv. A non-empty err is put on the wire as
// err.ForScheduler(); when that differs from err, the reason starts with "<err>: " so the scheduler's log
// still names the real cause.
func NewCreationAck(m *ContainerCreationMessage, inv InvokerInstanceID, err CreationError, reason string) *ContainerCreationAckMessage {
	a := &ContainerCreationAckMessage{
		TransID:             m.TransID,
		CreationID:          m.CreationID,
		InvocationNamespace: m.InvocationNamespace,
		Action:              m.Action,
		Revision:            m.Revision,
		ActionMetaData:      m.ActionMetaData.Raw,
		RootInvokerIndex:    inv,
		SchedulerHost:       m.SchedulerHost,
		RPCPort:             m.RPCPort,
		RetryCount:          m.RetryCount,
		Reason:              reason,
	}
	if err != "" {
		a.Error = err.ForScheduler()
		if a.Error != err {
			a.Reason = string(err) + ": " + reason
		}
	}
	return a
}

// Marshal encodes the ack as the JVM invoker does (error and reason only when set), transid spliced in.
func (a *ContainerCreationAckMessage) Marshal() ([]byte, error) {
	w := newWriter()
	w.verbatim("transid", a.TransID.Raw)
	w.str("creationId", a.CreationID)
	w.str("invocationNamespace", a.InvocationNamespace)
	w.value("action", a.Action)
	w.nullable("revision", a.Revision)
	w.raw("actionMetaData", a.ActionMetaData)
	w.value("rootInvokerIndex", a.RootInvokerIndex)
	w.str("schedulerHost", a.SchedulerHost)
	w.num("rpcPort", int64(a.RPCPort))
	w.num("retryCount", int64(a.RetryCount))
	if a.Error != "" {
		w.str("error", string(a.Error))
	}
	if a.Reason != "" {
		w.str("reason", a.Reason)
	}
	return w.bytes()
}

// ParseContainerCreationAck reads an ack as a HEAD scheduler does: an error name the scheduler cannot parse
// makes the whole ack unreadable (ErrMalformed). Test equipment (the scheduler stand-in) uses it.
func ParseContainerCreationAck(b []byte) (*ContainerCreationAckMessage, error) {
	o, err := decodeObject(b, "container creation ack")
	if err != nil {
		return nil, err
	}
	a := &ContainerCreationAckMessage{}
	raw, ok := o.get("transid")
	if !ok {
		return nil, o.missing("transid")
	}
	if a.TransID, err = ParseTransID(raw); err != nil {
		return nil, err
	}
	if a.CreationID, err = o.str("creationId", true); err != nil {
		return nil, err
	}
	if !ValidActivationID(a.CreationID) {
		return nil, malformed(o.what, "creationId %q is not 32 lowercase hex characters", a.CreationID)
	}
	if a.InvocationNamespace, err = o.str("invocationNamespace", true); err != nil {
		return nil, err
	}
	act, ok := o.get("action")
	if !ok {
		return nil, o.missing("action")
	}
	if a.Action, err = ParseFullyQualifiedName(act); err != nil {
		return nil, err
	}
	if !o.has("revision") {
		return nil, o.missing("revision")
	}
	if _, present := o.get("revision"); present {
		s, err := o.str("revision", false)
		if err != nil {
			return nil, err
		}
		a.Revision = &s
	}
	meta, ok := o.get("actionMetaData")
	if !ok {
		return nil, o.missing("actionMetaData")
	}
	if _, err := ParseActionMetaData(meta); err != nil {
		return nil, err
	}
	var mb bytes.Buffer
	_ = json.Compact(&mb, meta)
	a.ActionMetaData = mb.Bytes()
	inv, _, err := o.sub("rootInvokerIndex", true)
	if err != nil {
		return nil, err
	}
	if a.RootInvokerIndex, err = parseInvokerInstanceID(inv); err != nil {
		return nil, err
	}
	if a.SchedulerHost, err = o.str("schedulerHost", false); err != nil {
		return nil, err
	}
	if !o.has("schedulerHost") {
		return nil, o.missing("schedulerHost")
	}
	if a.RPCPort, err = o.intField("rpcPort", true, 0); err != nil {
		return nil, err
	}
	if a.RetryCount, err = o.intField("retryCount", true, 0); err != nil {
		return nil, err
	}
	es, err := o.str("error", false)
	if err != nil {
		return nil, err
	}
	if es != "" {
		e, ok := ParseCreationErrorAsScheduler(es)
		if !ok {
			return nil, malformed(o.what, "error %q is not a ContainerCreationError the scheduler parses", es)
		}
		a.Error = e
	}
	if a.Reason, err = o.str("reason", false); err != nil {
		return nil, err
	}
	return a, nil
}

// Success reports an ack without error.
func (a *ContainerCreationAckMessage) Success() bool { return a.Error == "" }

// String is a one-line description for logs.
func (a *ContainerCreationAckMessage) String() string {
	s := "creation " + a.CreationID + " " + a.InvocationNamespace + "/" + a.Action.String()
	if a.Error == "" {
		return s + " ready"
	}
	return s + " " + string(a.Error) + " (" + strconv.Quote(a.Reason) + ")"
}
