package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseDockerLogLine: a json-file line parses or fails with ErrMalformedLogLine, never panics; what
// parses writes back (MarshalJSON) to a line that parses to the same three members, byte for byte equal to
// its own second encoding; the activation log format keeps the time padded to 30 characters, the stream and
// the message minus one line end; IsSentinel is what the message says. Seeds: the json-file sample of the
// wire fixtures and the committed corpus in testdata/fuzz.
func FuzzParseDockerLogLine(f *testing.F) {
	if b, err := os.ReadFile("../../invoker/wire/testdata/fixtures/docker-json-file-sample.log"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	} else {
		f.Fatal(err)
	}
	f.Add([]byte(`{"log":"` + LogSentinel + `\n","stream":"stderr","time":"2024-06-01T10:15:20.123456789Z","attrs":{"a":"b"}}`))
	f.Add([]byte(`{"log":"tab\there \u00e9\r\n","stream":"stdout","time":""}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ParseDockerLogLine(in)
		if err != nil {
			if !errors.Is(err, ErrMalformedLogLine) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		out, err := l.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		l2, err := ParseDockerLogLine(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if l2 != l {
			t.Fatalf("members differ: %+v vs %+v", l, l2)
		}
		out2, _ := l2.MarshalJSON()
		if !bytes.Equal(out, out2) {
			t.Fatalf("not a fixed point:\n%s\n%s", out, out2)
		}
		if l.IsSentinel() != strings.Contains(l.Log, LogSentinel) {
			t.Fatal("IsSentinel disagrees with the message")
		}
		formatted := l.Formatted()
		// %-30s pads to 30 characters (runes), not bytes.
		n := utf8.RuneCountInString(l.Time)
		want := l.Time + strings.Repeat(" ", max(30, n)-n) + " " + l.Stream + ": "
		if !strings.HasPrefix(formatted, want) {
			t.Fatalf("formatted %q does not start with %q", formatted, want)
		}
		msg := strings.TrimPrefix(formatted, want)
		if msg != l.Log && msg+"\n" != l.Log && msg+"\r\n" != l.Log && msg+"\f" != l.Log {
			t.Fatalf("message %q is not the log %q minus one line end", msg, l.Log)
		}
	})
}
