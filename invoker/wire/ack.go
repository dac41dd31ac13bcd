package wire

import (
	"encoding/json"
)

// Ack is any acknowledgement sent to completed<controller>. Shrunk is the form resent after Kafka rejects a record
// as too large (response = activation id string); it is the ack itself for Completion messages.
type Ack interface {
	Marshal() ([]byte, error)
	Shrunk() Ack
	// SlotFree reports whether the controller releases the activation's capacity on this ack.
	SlotFree() bool
}

// ResultMessage carries the result of a blocking activation before log collection; it does not free the slot.
// The response is the full Activation, or, when Activation is nil, the ActivationID string (shrunk form).
type ResultMessage struct {
	TransID      TransID
	Activation   *WhiskActivation
	ActivationID string // used only when Activation is nil
}

// CompletionMessage frees the slot without carrying a result.
type CompletionMessage struct {
	TransID       TransID
	ActivationID  string
	IsSystemError bool
	Instance      InvokerInstanceID
}

// CombinedMessage (CombinedCompletionAndResultMessage) carries the result and frees the slot. The response is the
// full Activation, or, when Activation is nil, the ActivationID string (shrunk form).
type CombinedMessage struct {
	TransID       TransID
	Activation    *WhiskActivation
	ActivationID  string // used only when Activation is nil
	IsSystemError bool
	Instance      InvokerInstanceID
}

// NewResultMessage wraps an activation (send it WithoutLogs for split acks).
func NewResultMessage(tid TransID, a *WhiskActivation) *ResultMessage {
	return &ResultMessage{TransID: tid, Activation: a, ActivationID: a.ActivationID}
}

// NewCompletionMessage derives isSystemError from the activation's status code.
func NewCompletionMessage(tid TransID, a *WhiskActivation, inst InvokerInstanceID) *CompletionMessage {
	return &CompletionMessage{TransID: tid, ActivationID: a.ActivationID, IsSystemError: a.Response.IsSystemError(), Instance: inst}
}

// NewCombinedMessage derives isSystemError from the activation's status code.
func NewCombinedMessage(tid TransID, a *WhiskActivation, inst InvokerInstanceID) *CombinedMessage {
	return &CombinedMessage{TransID: tid, Activation: a, ActivationID: a.ActivationID, IsSystemError: a.Response.IsSystemError(), Instance: inst}
}

func writeResponse(w *writer, a *WhiskActivation, id string) {
	if a == nil {
		w.str("response", id)
		return
	}
	w.key("response")
	if w.fast {
		c := w.beginObject()
		a.write(w)
		w.endObject(c)
		return
	}
	aw := newWriter()
	a.write(aw)
	b, err := aw.bytes()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		w.buf.WriteString("null")
		return
	}
	w.buf.Write(b)
}

// Marshal writes {"transid":…,"response":…} with the transid bytes unchanged.
func (m *ResultMessage) Marshal() ([]byte, error) {
	var w writer
	w.startFast(ackSizeHint(m.TransID, m.Activation))
	if b, err := m.marshal(&w); err == nil {
		return b, nil
	}
	return m.marshal(newWriter()) // the reference codec says what is wrong
}

func (m *ResultMessage) marshal(w *writer) ([]byte, error) {
	w.verbatim("transid", m.TransID.Raw)
	writeResponse(w, m.Activation, m.ActivationID)
	return w.bytes()
}

// Shrink returns the shrunk form (response = activation id).
func (m *ResultMessage) Shrink() *ResultMessage {
	id := m.ActivationID
	if m.Activation != nil {
		id = m.Activation.ActivationID
	}
	return &ResultMessage{TransID: m.TransID, ActivationID: id}
}

// Shrunk implements Ack.
func (m *ResultMessage) Shrunk() Ack { return m.Shrink() }

// SlotFree is false: a Result never frees the slot.
func (m *ResultMessage) SlotFree() bool { return false }

// Marshal writes {"transid","activationId","isSystemError","instance"} with the transid bytes unchanged.
func (m *CompletionMessage) Marshal() ([]byte, error) {
	var w writer
	w.startFast(ackSizeHint(m.TransID, nil))
	if b, err := m.marshal(&w); err == nil {
		return b, nil
	}
	return m.marshal(newWriter())
}

func (m *CompletionMessage) marshal(w *writer) ([]byte, error) {
	w.verbatim("transid", m.TransID.Raw)
	w.str("activationId", m.ActivationID)
	w.boolean("isSystemError", m.IsSystemError)
	w.value("instance", m.Instance)
	return w.bytes()
}

// Shrunk is the message itself: a Completion carries no result.
func (m *CompletionMessage) Shrunk() Ack { return m }

// SlotFree is true.
func (m *CompletionMessage) SlotFree() bool { return true }

// Marshal writes {"transid","response","isSystemError","instance"} with the transid bytes unchanged.
func (m *CombinedMessage) Marshal() ([]byte, error) {
	var w writer
	w.startFast(ackSizeHint(m.TransID, m.Activation))
	if b, err := m.marshal(&w); err == nil {
		return b, nil
	}
	return m.marshal(newWriter())
}

func (m *CombinedMessage) marshal(w *writer) ([]byte, error) {
	w.verbatim("transid", m.TransID.Raw)
	writeResponse(w, m.Activation, m.ActivationID)
	w.boolean("isSystemError", m.IsSystemError)
	w.value("instance", m.Instance)
	return w.bytes()
}

// Shrink returns the shrunk form (response = activation id), as MessagingActiveAck sends every non-blocking ack.
func (m *CombinedMessage) Shrink() *CombinedMessage {
	c := *m
	if m.Activation != nil {
		c.ActivationID = m.Activation.ActivationID
	}
	c.Activation = nil
	return &c
}

// Shrunk implements Ack.
func (m *CombinedMessage) Shrunk() Ack { return m.Shrink() }

// SlotFree is true.
func (m *CombinedMessage) SlotFree() bool { return true }

// ParseAck classifies an ack as the controller does: "instance" and "response" → Combined, "instance" alone →
// Completion, otherwise Result. It is for tests and fake controllers; the invoker only writes acks.
func ParseAck(b []byte) (Ack, error) {
	o, err := decodeObject(b, "ack")
	if err != nil {
		return nil, err
	}
	tidRaw, ok := o.get("transid")
	if !ok {
		return nil, o.missing("transid")
	}
	tid, err := ParseTransID(tidRaw)
	if err != nil {
		return nil, err
	}
	readResponse := func() (*WhiskActivation, string, error) {
		v, ok := o.get("response")
		if !ok {
			return nil, "", o.missing("response")
		}
		switch kindOf(v) {
		case "string":
			var id string
			_ = json.Unmarshal(v, &id)
			if err := checkActivationID("ack.response", id); err != nil {
				return nil, "", err
			}
			return nil, id, nil
		case "object":
			a, err := ParseWhiskActivation(v)
			if err != nil {
				return nil, "", err
			}
			return a, a.ActivationID, nil
		}
		return nil, "", o.wrongType("response", "activation object or activation id string", v)
	}
	readInstance := func() (InvokerInstanceID, bool, error) {
		io, _, err := o.sub("instance", true)
		if err != nil {
			return InvokerInstanceID{}, false, err
		}
		inst, err := parseInvokerInstanceID(io)
		if err != nil {
			return inst, false, err
		}
		sysErr, err := o.boolean("isSystemError", true, false)
		return inst, sysErr, err
	}
	switch {
	case o.has("instance") && o.has("response"):
		a, id, err := readResponse()
		if err != nil {
			return nil, err
		}
		inst, sysErr, err := readInstance()
		if err != nil {
			return nil, err
		}
		return &CombinedMessage{TransID: tid, Activation: a, ActivationID: id, IsSystemError: sysErr, Instance: inst}, nil
	case o.has("instance"):
		id, err := o.str("activationId", true)
		if err != nil {
			return nil, err
		}
		if err := checkActivationID("ack.activationId", id); err != nil {
			return nil, err
		}
		inst, sysErr, err := readInstance()
		if err != nil {
			return nil, err
		}
		return &CompletionMessage{TransID: tid, ActivationID: id, IsSystemError: sysErr, Instance: inst}, nil
	default:
		a, id, err := readResponse()
		if err != nil {
			return nil, err
		}
		return &ResultMessage{TransID: tid, Activation: a, ActivationID: id}, nil
	}
}

// PingMessage is sent to "health" every second: {"name":<InvokerInstanceId>,"isEnabled":bool}.
type PingMessage struct {
	Name      InvokerInstanceID
	IsEnabled bool
}

// Marshal always writes isEnabled (1.0.0 controllers ignore it).
func (p *PingMessage) Marshal() ([]byte, error) {
	w := newWriter()
	w.value("name", p.Name)
	w.boolean("isEnabled", p.IsEnabled)
	return w.bytes()
}

// ParsePingMessage reads a ping; an absent isEnabled means true (1.0.0 format).
func ParsePingMessage(b []byte) (*PingMessage, error) {
	o, err := decodeObject(b, "ping message")
	if err != nil {
		return nil, err
	}
	n, _, err := o.sub("name", true)
	if err != nil {
		return nil, err
	}
	p := &PingMessage{}
	if p.Name, err = parseInvokerInstanceID(n); err != nil {
		return nil, err
	}
	if p.IsEnabled, err = o.boolean("isEnabled", false, true); err != nil {
		return nil, err
	}
	return p, nil
}
