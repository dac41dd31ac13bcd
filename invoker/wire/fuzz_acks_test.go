package wire

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The fuzz targets of what the invoker writes (acks, pings, user events, activation records): each parses
// arbitrary bytes (never panicking, errors wrapping a sentinel), re-encodes what parsed, parses that again and
// requires every member to be equal (raw JSON members by content), and the second encoding to be the same
// bytes as the first. Seeds: the fixtures of each kind, plus the committed corpus in testdata/fuzz/<target>.

func wireErrorsOnly(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidActivationID) {
		t.Fatalf("error wraps no sentinel: %v", err)
	}
}

// canonical compacts every raw JSON member reachable from *p and returns the copy (see compactRaw).
func canonical[T any](p *T) T {
	c := *p
	compactRaw(reflect.ValueOf(&c).Elem())
	return c
}

func addFixtureFiles(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(fixturesDir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseAck(f *testing.F) {
	addFixtureFiles(f, "result-message.json", "completion-message.json", "combined-completion.json",
		"combined-completion-nonblocking-shrunk.json")
	f.Add([]byte(`{"transid":["t",1],"activationId":"0123456789abcdef0123456789abcdef","isSystemError":true,` +
		`"instance":{"instance":3,"uniqueName":"u","displayedName":"d","userMemory":"2 GB","instanceType":"invoker","tags":["a"],"dedicatedNamespaces":[]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseAck(in)
		wireErrorsOnly(t, err)
		if err != nil {
			if a != nil {
				t.Fatal("ack returned with an error")
			}
			return
		}
		out, err := a.Marshal()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		a2, err := ParseAck(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := a2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", out, out2, err)
		}
		if reflect.TypeOf(a) != reflect.TypeOf(a2) {
			t.Fatalf("kind changed: %T → %T", a, a2)
		}
		var x, y any
		switch m := a.(type) {
		case *ResultMessage:
			x, y = canonical(m), canonical(a2.(*ResultMessage))
		case *CompletionMessage:
			x, y = canonical(m), canonical(a2.(*CompletionMessage))
		case *CombinedMessage:
			x, y = canonical(m), canonical(a2.(*CombinedMessage))
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", x, y)
		}
		if a.SlotFree() != a2.SlotFree() {
			t.Fatal("slot-freeing changed")
		}
		if !bytes.HasPrefix(out, []byte(`{"transid":`)) {
			t.Fatalf("transid is not the first member: %s", out)
		}
	})
}

func FuzzParsePingMessage(f *testing.F) {
	addFixtureFiles(f, "ping-message.json", "ping-message-disabled.json", "ping-message-uniquename.json",
		"ping-message-1.0.0.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParsePingMessage(in)
		wireErrorsOnly(t, err)
		if err != nil {
			return
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		p2, err := ParsePingMessage(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := p2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", out, out2, err)
		}
		if x, y := canonical(p), canonical(p2); !reflect.DeepEqual(x, y) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", x, y)
		}
	})
}

func FuzzParseEventMessage(f *testing.F) {
	addFixtureFiles(f, "event-message-activation.json", "event-message-metric-docs.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := ParseEventMessage(in)
		wireErrorsOnly(t, err)
		if err != nil {
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := ParseEventMessage(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := e2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", out, out2, err)
		}
		if x, y := canonical(e), canonical(e2); !reflect.DeepEqual(x, y) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", x, y)
		}
	})
}

func FuzzParseActivationDocument(f *testing.F) {
	addFixtureFiles(f, "activation-record-success.json", "activation-record-developer-error.json",
		"activation-record-application-error.json", "activation-record-compat-test.json",
		"activation-record-compat-test-error.json")
	f.Fuzz(func(t *testing.T, in []byte) {
		a, updated, err := ParseActivationDocument(in)
		wireErrorsOnly(t, err)
		if err != nil {
			return
		}
		out, err := a.Document(updated)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		a2, updated2, err := ParseActivationDocument(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := a2.Document(updated2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", out, out2, err)
		}
		if updated != updated2 {
			t.Fatalf("updated %d → %d", updated, updated2)
		}
		if x, y := canonical(a), canonical(a2); !reflect.DeepEqual(x, y) {
			t.Fatalf("decoded values differ:\n%+v\n%+v", x, y)
		}
	})
}
