package proxy

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Fast paths for the log lines (docs/allocations.md): every activation's lines pass through
// ParseDockerLogLine and FormatLogLine, so they are read and written here without reflection or fmt. The
// fuzz tests in logs_fast_test.go prove them byte for byte against the reference (encoding/json, fmt).

// parseDockerLogLineFast reads a json-file line made of exactly the members log, stream and time, each a
// string, once. ok is false for anything else (another member, a repeated one, a key with an escape, a
// value of another type, invalid JSON): the reference parser decides those.
func parseDockerLogLineFast(t []byte) (DockerLogLine, bool) {
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return DockerLogLine{}, false
	}
	var l DockerLogLine
	var seen [3]bool
	i := 1
	for {
		i = skipSpace(t, i)
		switch t[i] {
		case '}':
			return l, seen[0] && seen[1] && seen[2]
		case ',':
			i = skipSpace(t, i+1)
		}
		// a key: valid JSON puts a string here
		ks := i + 1
		ke := ks
		for t[ke] != '"' {
			if t[ke] == '\\' {
				return DockerLogLine{}, false
			}
			ke++
		}
		key := t[ks:ke]
		i = skipSpace(t, ke+1) + 1 // past ':'
		i = skipSpace(t, i)
		if t[i] != '"' {
			return DockerLogLine{}, false
		}
		vs := i + 1
		ve := vs
		escaped := false
		for t[ve] != '"' {
			if t[ve] == '\\' {
				escaped = true
				ve++
			}
			ve++
		}
		i = ve + 1
		var idx int
		switch string(key) {
		case "log":
			idx = 0
		case "stream":
			idx = 1
		case "time":
			idx = 2
		default:
			return DockerLogLine{}, false // encoding/json matches keys case-insensitively: leave others to it
		}
		if seen[idx] {
			return DockerLogLine{}, false
		}
		seen[idx] = true
		v := t[vs:ve]
		switch idx {
		case 0:
			l.Log = unquote(v, escaped)
		case 1:
			switch string(v) {
			case "stdout":
				l.Stream = "stdout"
			case "stderr":
				l.Stream = "stderr"
			default:
				l.Stream = unquote(v, escaped)
			}
		case 2:
			l.Time = unquote(v, escaped)
		}
	}
}

func skipSpace(t []byte, i int) int {
	for i < len(t) && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r') {
		i++
	}
	return i
}

// unquote decodes the contents of a valid JSON string as encoding/json does: escapes resolved, an invalid
// UTF-16 surrogate and each byte of invalid UTF-8 replaced by U+FFFD.
func unquote(v []byte, escaped bool) string {
	if !escaped && utf8.Valid(v) {
		return string(v)
	}
	var b strings.Builder
	b.Grow(len(v) + utf8.UTFMax)
	for r := 0; r < len(v); {
		c := v[r]
		switch {
		case c == '\\':
			switch e := v[r+1]; e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				rr := hex4(v[r+2 : r+6])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(v) && v[r] == '\\' && v[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(v[r+2:r+6])); dec != utf8.RuneError {
							b.WriteRune(dec)
							r += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				b.WriteRune(rr)
				continue
			default: // '"', '\\', '/'
				b.WriteByte(e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			r++
		default:
			rr, size := utf8.DecodeRune(v[r:])
			b.WriteRune(rr) // RuneError for an invalid byte
			r += size
		}
	}
	return b.String()
}

// hex4 reads four hex digits (valid JSON guarantees them after \u).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r*16 + rune(c)
	}
	return r
}

// formatLogLine is fmt.Sprintf("%-30s %s: %s", t, stream, msg) in one allocation.
func formatLogLine(t, stream, msg string) string {
	pad := 30 - utf8.RuneCountInString(t)
	var b strings.Builder
	b.Grow(len(t) + max(pad, 0) + 1 + len(stream) + 2 + len(msg))
	b.WriteString(t)
	for ; pad > 0; pad-- {
		b.WriteByte(' ')
	}
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteString(": ")
	b.WriteString(msg)
	return b.String()
}
