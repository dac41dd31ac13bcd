package wire

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1073741824 B": 1 << 30, "1024 MB": 1 << 30, "1024m": 1 << 30, "1024 M": 1 << 30, "1 G": 1 << 30, "2 GB": 2 << 30,
		"0 g": 0, "10 KB": 10 << 10, "10K": 10 << 10, "7b": 7, " 256 MB ": 256 << 20,
	} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1 TB", "-1 B", "1.5 MB", "MB", "1", "9999999999999999999 GB"} {
		if _, err := ParseByteSize(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseByteSize(%q) err = %v", bad, err)
		}
	}
	if FormatByteSize(2147483648) != "2147483648 B" {
		t.Fatal("FormatByteSize")
	}
}

func TestInvokerInstanceID(t *testing.T) {
	busy := int64(512 << 20)
	id := InvokerInstanceID{Instance: 3, UserMemoryBytes: 2 << 30, UniqueName: "kind-worker", DisplayedName: "w1", BusyMemoryBytes: &busy}
	if id.String() != "invoker3/kind-worker/w1" || id.Source() != "invoker3" {
		t.Fatalf("String %q Source %q", id.String(), id.Source())
	}
	b := mustMarshal(t, id.MarshalJSON)
	assertJSONEqual(t, b, []byte(`{"instance":3,"userMemory":"2147483648 B","instanceType":"invoker","uniqueName":"kind-worker",`+
		`"displayedName":"w1","busyMemory":"536870912 B","tags":[],"dedicatedNamespaces":[]}`))
	var back InvokerInstanceID
	if err := json.Unmarshal(b, &back); err != nil || back.String() != id.String() || *back.BusyMemoryBytes != busy {
		t.Fatalf("%+v %v", back, err)
	}
	for name, bad := range map[string]string{
		"missing userMemory": `{"instance":0}`,
		"bad userMemory":     `{"instance":0,"userMemory":"lots"}`,
		"negative instance":  `{"instance":-1,"userMemory":"1 B"}`,
		"wrong type":         `{"instance":0,"userMemory":"1 B","instanceType":"controller"}`,
		"tags not an array":  `{"instance":0,"userMemory":"1 B","tags":"a"}`,
		"instance a string":  `{"instance":"0","userMemory":"1 B"}`,
	} {
		var i InvokerInstanceID
		if err := json.Unmarshal([]byte(bad), &i); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestPingMessage(t *testing.T) {
	p := &PingMessage{Name: InvokerInstanceID{UserMemoryBytes: 1 << 30}, IsEnabled: false}
	assertJSONEqual(t, mustMarshal(t, p.Marshal), readFixture(t, "ping-message-disabled.json"))
	for name, bad := range map[string]string{
		"no name":          `{"isEnabled":true}`,
		"isEnabled string": `{"name":{"instance":0,"userMemory":"1 B"},"isEnabled":"yes"}`,
		"not JSON":         `{"name":`,
	} {
		if _, err := ParsePingMessage([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
