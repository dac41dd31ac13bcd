package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LogSentinel is written by runtimes to stdout and stderr after each /init and /run; lines containing it are
// dropped and collection ends after one per stream.
const LogSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// ErrMalformedLogLine: a Docker json-file line that is not {"log","stream","time"} strings.
var ErrMalformedLogLine = errors.New("proxy: malformed docker log line")

// DockerLogLine is one line of a docker json-file log: {"log":"…\n","stream":"stdout|stderr","time":"RFC3339Nano"}.
type DockerLogLine struct {
	Log    string
	Stream string
	Time   string
}

// ParseDockerLogLine decodes one json-file line (without its trailing newline). log, stream and time are
// required strings; any other members (docker may add "attrs") are ignored.
func ParseDockerLogLine(line []byte) (DockerLogLine, error) {
	if l, ok := parseDockerLogLineFast(bytes.TrimSpace(line)); ok {
		return l, nil
	}
	return parseDockerLogLineReference(line)
}

// parseDockerLogLineReference is ParseDockerLogLine through encoding/json: it decides every line the fast
// path leaves, and words every error.
func parseDockerLogLineReference(line []byte) (DockerLogLine, error) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] != '{' {
		return DockerLogLine{}, fmt.Errorf("%w: not a JSON object", ErrMalformedLogLine)
	}
	var v struct {
		Log    *string `json:"log"`
		Stream *string `json:"stream"`
		Time   *string `json:"time"`
	}
	if err := json.Unmarshal(t, &v); err != nil {
		return DockerLogLine{}, fmt.Errorf("%w: %v", ErrMalformedLogLine, err)
	}
	switch {
	case v.Log == nil:
		return DockerLogLine{}, fmt.Errorf("%w: missing \"log\"", ErrMalformedLogLine)
	case v.Stream == nil:
		return DockerLogLine{}, fmt.Errorf("%w: missing \"stream\"", ErrMalformedLogLine)
	case v.Time == nil:
		return DockerLogLine{}, fmt.Errorf("%w: missing \"time\"", ErrMalformedLogLine)
	}
	return DockerLogLine{Log: *v.Log, Stream: *v.Stream, Time: *v.Time}, nil
}

// IsSentinel reports whether the line carries the activation sentinel.
func (l DockerLogLine) IsSentinel() bool { return strings.Contains(l.Log, LogSentinel) }

// Formatted is FormatLogLine(Time, Stream, Log).
func (l DockerLogLine) Formatted() string { return FormatLogLine(l.Time, l.Stream, l.Log) }

// MarshalJSON writes the json-file form (used to build test logs).
func (l DockerLogLine) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"log":`), encodeString(l.Log)...)
	b = append(append(b, `,"stream":`...), encodeString(l.Stream)...)
	b = append(append(b, `,"time":`...), encodeString(l.Time)...)
	return append(b, '}'), nil
}

// FormatLogLine is the activation log format f"$time%-30s $stream: ${log.stripLineEnd}": the time left-justified
// and padded to 30 characters, a space, the stream, ": ", and the message without one trailing line end.
func FormatLogLine(t string, stream string, msg string) string {
	return formatLogLine(t, stream, stripLineEnd(msg))
}

// formatLogLineReference is FormatLogLine through fmt.
func formatLogLineReference(t string, stream string, msg string) string {
	return fmt.Sprintf("%-30s %s: %s", t, stream, stripLineEnd(msg))
}

// stripLineEnd removes one trailing "\n", "\r\n" or form feed (Scala StringOps.stripLineEnd).
func stripLineEnd(s string) string {
	switch {
	case strings.HasSuffix(s, "\r\n"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "\n"), strings.HasSuffix(s, "\f"):
		return s[:len(s)-1]
	}
	return s
}

// InstantString formats t like java.time.Instant.toString: UTC, seconds always present, and the fraction in
// groups of 3 digits (none, millis, micros or nanos) as needed.
func InstantString(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1_000_000 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1_000 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// InvokerLogLine formats a line the invoker itself appends (always stderr), e.g.
// "2024-06-01T10:26:43.117482Z    stderr: Logs were truncated …".
func InvokerLogLine(now time.Time, msg string) string {
	return FormatLogLine(InstantString(now), "stderr", msg)
}

var _ json.Marshaler = DockerLogLine{}
