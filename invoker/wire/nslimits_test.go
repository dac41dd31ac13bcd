package wire

import (
	"errors"
	"testing"
)

// A limits document's action-limit members are read as integers (null or absent: unset; others ignored); a
// member of another type is an error.
func TestParseNamespaceActionLimits(t *testing.T) {
	l, err := ParseNamespaceActionLimits([]byte(`{"_id":"guest/limits","_rev":"1-a","invocationsPerMinute":10,` +
		`"maxActionMemory":512,"minActionMemory":null,"maxActionTimeout":30000,"minActionLogs":1,"maxActionConcurrency":4}`))
	if err != nil {
		t.Fatal(err)
	}
	if l.MaxActionMemory == nil || *l.MaxActionMemory != 512 || l.MinActionMemory != nil || *l.MaxActionTimeout != 30000 ||
		*l.MinActionLogs != 1 || *l.MaxActionConcurrency != 4 || l.MaxActionLogs != nil {
		t.Fatalf("parsed %s", l)
	}
	if l, err := ParseNamespaceActionLimits([]byte(`null`)); err != nil || l.MaxActionMemory != nil {
		t.Fatalf("null document: %s %v", l, err)
	}
	for _, bad := range []string{`[1]`, `{"maxActionMemory":"512"}`, `{"maxActionTimeout":1.5}`} {
		if _, err := ParseNamespaceActionLimits([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", bad, err)
		}
	}
}
