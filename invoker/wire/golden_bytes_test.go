package wire

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the current encoders")

const goldenDir = "testdata/golden"

// byteGolden is one output compared byte for byte: the encoding of a fixture's value.
type byteGolden struct {
	fixture string
	encode  func(t *testing.T, fixture []byte) []byte
	// order is the top-level member order OpenWhisk writes, for objects whose writer (named in why) builds a
	// spray-json object of at most four members: spray-json keeps those in insertion order. nil when the
	// object has more members: OpenWhisk then writes them in its hash map's order, which no reader depends
	// on, and the golden holds NEMO's order.
	order []string
	why   string
}

func encodeAck(t *testing.T, b []byte) []byte {
	a, err := ParseAck(b)
	if err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, a.Marshal)
}

func encodePing(t *testing.T, b []byte) []byte {
	p, err := ParsePingMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, p.Marshal)
}

func encodeRecord(t *testing.T, b []byte) []byte {
	a, updated, err := ParseActivationDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, func() ([]byte, error) { return a.Document(updated) })
}

func encodeEvent(t *testing.T, b []byte) []byte {
	e, err := ParseEventMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return mustMarshal(t, e.Marshal)
}

var byteGoldens = []byteGolden{
	{"result-message.json", encodeAck, []string{"transid", "response"}, "ResultMessage"},
	{"completion-message.json", encodeAck, []string{"transid", "activationId", "isSystemError", "instance"}, "CompletionMessage"},
	{"combined-completion.json", encodeAck, []string{"transid", "response", "isSystemError", "instance"}, "CombinedCompletionAndResultMessage"},
	{"combined-completion-nonblocking-shrunk.json", encodeAck, []string{"transid", "response", "isSystemError", "instance"}, "CombinedCompletionAndResultMessage"},
	{"ping-message.json", encodePing, []string{"name", "isEnabled"}, `jsonFormat(PingMessage.apply, "name", "isEnabled")`},
	{"ping-message-disabled.json", encodePing, []string{"name", "isEnabled"}, `jsonFormat(PingMessage.apply, "name", "isEnabled")`},
	{"ping-message-uniquename.json", encodePing, []string{"name", "isEnabled"}, `jsonFormat(PingMessage.apply, "name", "isEnabled")`},
	{"activation-record-success.json", encodeRecord, nil, "WhiskActivation document (16 members)"},
	{"activation-record-developer-error.json", encodeRecord, nil, "WhiskActivation document"},
	{"activation-record-application-error.json", encodeRecord, nil, "WhiskActivation document"},
	{"event-message-activation.json", encodeEvent, nil, "EventMessage (7 members)"},
}

// TestGoldenBytes compares what NEMO writes for acks, pings, activation records and user events with committed
// goldens, byte for byte (go test ./invoker/wire -run TestGoldenBytes -update rewrites them). Each golden must
// hold its fixture's value (JSON-equal, numbers as spelt), and where OpenWhisk's member order is known — the
// top level of acks and pings, whose writers build objects of at most four members — the golden has that order.
func TestGoldenBytes(t *testing.T) {
	for _, g := range byteGoldens {
		t.Run(g.fixture, func(t *testing.T) {
			fx := readFixture(t, g.fixture)
			got := g.encode(t, fx)
			path := filepath.Join(goldenDir, g.fixture)
			if *updateGolden {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./invoker/wire -run TestGoldenBytes -update writes it)", err)
			}
			want = bytes.TrimSuffix(want, []byte("\n"))
			if !bytes.Equal(got, want) {
				t.Fatalf("bytes differ from %s\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
			}
			assertJSONEqual(t, want, fx)
			keys := topLevelKeys(t, want)
			if g.order != nil {
				if len(keys) > 4 {
					t.Fatalf("%s: %d members, but an order is given only for objects of at most four", g.why, len(keys))
				}
				if !equalStrings(keys, g.order) {
					t.Fatalf("%s writes %v, the golden has %v", g.why, g.order, keys)
				}
			} else if len(keys) <= 4 {
				t.Fatalf("%s has %d members: give OpenWhisk's order", g.why, len(keys))
			}
		})
	}
}

// TestGoldenBytesHaveCases fails for a golden file no case compares (a stale or misnamed golden).
func TestGoldenBytesHaveCases(t *testing.T) {
	ents, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"README.md": true}
	for _, g := range byteGoldens {
		known[g.fixture] = true
	}
	for _, e := range ents {
		if !known[e.Name()] {
			t.Errorf("%s/%s is compared by no case of byteGoldens", goldenDir, e.Name())
		}
	}
}

// topLevelKeys returns an object's member names in the order they appear.
func topLevelKeys(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
