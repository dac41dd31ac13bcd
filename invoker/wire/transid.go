package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// TransID is the controller's TransactionId: ["<id>", <startMillis>, (true)?, ([parent…])?].
// Raw holds the exact bytes received; every ack echoes them unchanged because the controller recognises
// health-action acks by comparing id and start millis (docs/protocol.md#transaction-ids).
type TransID struct{ Raw json.RawMessage }

// NewTransID builds a transid for messages this invoker originates (tests, fake controllers).
func NewTransID(id string, startMillis int64) TransID {
	return TransID{Raw: json.RawMessage(fmt.Sprintf("[%s,%d]", encodeString(id), startMillis))}
}

// ParseTransID validates a raw transid: an array whose first element is a string and second an integer.
// Extra elements (extraLogging flag, parent metadata) are tolerated and kept.
func ParseTransID(raw []byte) (TransID, error) {
	t := bytes.TrimSpace(raw)
	var elems []json.RawMessage
	if kindOf(t) != "array" || json.Unmarshal(t, &elems) != nil {
		return TransID{}, malformed("transid", "want an array, got %s", kindOf(t))
	}
	if len(elems) < 2 {
		return TransID{}, malformed("transid", "want at least 2 elements, got %d", len(elems))
	}
	var id string
	if kindOf(elems[0]) != "string" || json.Unmarshal(elems[0], &id) != nil {
		return TransID{}, malformed("transid", "element 0: want string, got %s", kindOf(elems[0]))
	}
	if _, ok := parseIntegral(elems[1]); !ok {
		return TransID{}, malformed("transid", "element 1: want integer start millis, got %s", bytes.TrimSpace(elems[1]))
	}
	return TransID{Raw: append(json.RawMessage(nil), t...)}, nil
}

func (t TransID) elements() []json.RawMessage {
	var elems []json.RawMessage
	if json.Unmarshal(t.Raw, &elems) != nil {
		return nil
	}
	return elems
}

// ID is the transaction id string ("" when Raw is not a valid transid).
func (t TransID) ID() string {
	if json.Valid(t.Raw) {
		s := scanner{b: t.Raw}
		if s.enter('[') {
			if start, end, ok := s.plainString(); ok {
				return string(t.Raw[start:end])
			}
		}
	}
	return t.idReference()
}

// idReference is ID through encoding/json.
func (t TransID) idReference() string {
	e := t.elements()
	if len(e) == 0 {
		return ""
	}
	var id string
	_ = json.Unmarshal(e[0], &id)
	return id
}

// StartMillis is the transaction start, epoch milliseconds (0 when Raw is not a valid transid).
func (t TransID) StartMillis() int64 {
	if json.Valid(t.Raw) {
		s := scanner{b: t.Raw}
		if s.enter('[') && s.element() {
			s.value()
			if s.element() {
				start, end := s.value()
				n, _ := parseIntegral(t.Raw[start:end])
				return n
			}
		}
	}
	return t.startMillisReference()
}

// startMillisReference is StartMillis through encoding/json.
func (t TransID) startMillisReference() int64 {
	e := t.elements()
	if len(e) < 2 {
		return 0
	}
	n, _ := parseIntegral(e[1])
	return n
}

// MarshalJSON returns Raw. encoding/json compacts Marshaler output, so for a byte-exact echo use the Marshal
// methods of the ack types, which splice Raw in unchanged.
func (t TransID) MarshalJSON() ([]byte, error) {
	if !json.Valid(t.Raw) {
		return nil, fmt.Errorf("%w: transid is not valid JSON", ErrMalformed)
	}
	return t.Raw, nil
}

// UnmarshalJSON validates and keeps the raw bytes.
func (t *TransID) UnmarshalJSON(b []byte) error {
	p, err := ParseTransID(b)
	if err != nil {
		return err
	}
	*t = p
	return nil
}
