package proxy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFormatLogLine(t *testing.T) {
	for _, c := range []struct{ time, stream, msg, want string }{
		{"2024-06-01T10:15:20.649123456Z", "stdout", "hello World\n", "2024-06-01T10:15:20.649123456Z stdout: hello World"},
		{"2024-06-01T10:26:43.117482Z", "stderr", "x", "2024-06-01T10:26:43.117482Z    stderr: x"},
		{"t", "stdout", "a\r\n", "t" + strings.Repeat(" ", 29) + " stdout: a"},
		{"t", "stdout", "a\n\n", "t" + strings.Repeat(" ", 29) + " stdout: a\n"},
		{"t", "stdout", "a\f", "t" + strings.Repeat(" ", 29) + " stdout: a"},
		{"t", "stdout", "a\r", "t" + strings.Repeat(" ", 29) + " stdout: a\r"},
		{"t", "stdout", "", "t" + strings.Repeat(" ", 29) + " stdout: "},
		{strings.Repeat("9", 35), "stderr", "long time is not cut", strings.Repeat("9", 35) + " stderr: long time is not cut"},
	} {
		if got := FormatLogLine(c.time, c.stream, c.msg); got != c.want {
			t.Errorf("FormatLogLine(%q,%q,%q)\n got %q\nwant %q", c.time, c.stream, c.msg, got, c.want)
		}
	}
}

func TestInstantString(t *testing.T) {
	base := time.Date(2024, 6, 1, 10, 26, 43, 0, time.FixedZone("CEST", 2*3600))
	for ns, want := range map[int]string{
		0:         "2024-06-01T08:26:43Z",
		117000000: "2024-06-01T08:26:43.117Z",
		117482000: "2024-06-01T08:26:43.117482Z",
		117482001: "2024-06-01T08:26:43.117482001Z",
		100:       "2024-06-01T08:26:43.000000100Z",
	} {
		if got := InstantString(base.Add(time.Duration(ns))); got != want {
			t.Errorf("ns %d: %s, want %s", ns, got, want)
		}
	}
}

func TestParseDockerLogLine(t *testing.T) {
	l, err := ParseDockerLogLine([]byte(`{"log":"x\n","stream":"stderr","time":"2024-06-01T10:15:20Z","attrs":{"a":"b"}}`))
	if err != nil || l.Log != "x\n" || l.Stream != "stderr" || l.IsSentinel() {
		t.Fatalf("%+v %v", l, err)
	}
	if b := mustMarshal(t, l.MarshalJSON); string(b) != `{"log":"x\n","stream":"stderr","time":"2024-06-01T10:15:20Z"}` {
		t.Fatalf("MarshalJSON %s", b)
	}
	for name, bad := range map[string]string{
		"not JSON":       `{"log":"x`,
		"empty":          ``,
		"missing stream": `{"log":"x","time":"t"}`,
		"missing time":   `{"log":"x","stream":"stdout"}`,
		"log a number":   `{"log":1,"stream":"stdout","time":"t"}`,
		"array":          `["x"]`,
	} {
		if _, err := ParseDockerLogLine([]byte(bad)); !errors.Is(err, ErrMalformedLogLine) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestMessages(t *testing.T) {
	for got, want := range map[string]string{
		MsgTimeout(3000):            "The action exceeded its time limits of 3000 milliseconds.",
		MsgInitTimeout(3000):        "The action exceeded its time limits of 3000 milliseconds during initialization.",
		MsgInitFailed(""):           "The action failed during initialization.",
		MsgInitFailed("boom"):       "The action failed during initialization: boom",
		MsgNotJSON("x"):             "The action did not produce a valid JSON or JSON Array response: x",
		MsgNotJSON(""):              "The action did not produce a valid JSON or JSON Array response.",
		MsgNotJSONLegacy("x"):       "The action did not produce a valid JSON response: x",
		MsgTruncated(20, 10, "abc"): "The action produced a response that exceeded the allowed length: 20 > 10 bytes. The truncated response was: abc",
		MsgLogsTruncated(10485760):  "Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes.",
		MsgImagePullFailed("a/b"):   "Failed to pull container image 'a/b'.",
		MsgCommandNotFound("a/b"):   "executable file not found in image a/b",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func mustMarshal(t *testing.T, f func() ([]byte, error)) []byte {
	t.Helper()
	b, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
