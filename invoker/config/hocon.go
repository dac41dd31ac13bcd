package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// parseHOCON reads the HOCON an OpenWhisk deployment hands its invoker (OPENWHISK_CONFIG, or base64 in
// OPENWHISK_ENCODED_CONFIG) into flat settings: every leaf under its dotted path ("whisk.metrics.
// prometheus-enabled" → "true"), array elements under their index ("….dns-servers.0"), which is also the
// path an environment variable CONFIG_…_dnsServers_0 becomes. Values are kept as text (numbers, booleans,
// durations such as "10 minutes" alike); the reader of each setting parses it.
//
// It covers what such files carry: '#' and '//' comments; objects (braces optional at the root) and dotted
// keys, merged when repeated; '=', ':' or nothing before an object; quoted, unquoted and """triple-quoted"""
// strings and their concatenation ("10 minutes"); arrays (replaced when repeated, extended by '+=');
// substitutions ${path} and ${?path}, resolved against what the file set before them and then against the
// environment (getenv); include classpath(...), which names the JVM image's own defaults and is skipped
// (NEMO's defaults stand in for them). Anything else — other includes, a substitution that resolves to
// nothing — is an error naming the line.
func parseHOCON(src string, getenv func(string) string) (map[string]string, error) {
	p := &hoconParser{src: []rune(src), line: 1, out: map[string]string{}, getenv: getenv}
	p.skipSpace(true)
	root := p.peek() == '{'
	if root {
		p.next()
	}
	if err := p.objectBody("", root); err != nil {
		return nil, err
	}
	return p.out, nil
}

type hoconParser struct {
	src    []rune
	pos    int
	line   int
	out    map[string]string
	getenv func(string) string
}

func (p *hoconParser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *hoconParser) eof() bool { return p.pos >= len(p.src) }

func (p *hoconParser) peek() rune {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func (p *hoconParser) peekAt(off int) rune {
	if p.pos+off >= len(p.src) {
		return 0
	}
	return p.src[p.pos+off]
}

func (p *hoconParser) next() rune {
	r := p.src[p.pos]
	p.pos++
	if r == '\n' {
		p.line++
	}
	return r
}

func (p *hoconParser) hasPrefix(s string) bool {
	return strings.HasPrefix(string(p.src[p.pos:min(len(p.src), p.pos+len(s))]), s)
}

// skipSpace skips blanks and comments, and newlines when newlines is set.
func (p *hoconParser) skipSpace(newlines bool) {
	for !p.eof() {
		r := p.peek()
		switch {
		case r == '\n' && !newlines:
			return
		case unicode.IsSpace(r) || r == '\ufeff':
			p.next()
		case r == '#' || p.hasPrefix("//"):
			for !p.eof() && p.peek() != '\n' {
				p.next()
			}
		default:
			return
		}
	}
}

// objectBody reads fields up to the closing brace (braced) or the end of input.
func (p *hoconParser) objectBody(prefix string, braced bool) error {
	for {
		p.skipSpace(true)
		if p.eof() {
			if braced {
				return p.errorf("missing '}'")
			}
			return nil
		}
		if p.peek() == '}' {
			if !braced {
				return p.errorf("unexpected '}'")
			}
			p.next()
			return nil
		}
		if err := p.field(prefix); err != nil {
			return err
		}
		// A field ends at a newline, a comma, or the closing brace.
		p.skipSpace(false)
		switch {
		case p.eof(), p.peek() == '\n', p.peek() == '}':
		case p.peek() == ',':
			p.next()
		default:
			return p.errorf("unexpected %q after a value", p.peek())
		}
	}
}

func (p *hoconParser) field(prefix string) error {
	if p.isInclude() {
		return p.include()
	}
	key, err := p.key()
	if err != nil {
		return err
	}
	path := joinPath(prefix, key)
	p.skipSpace(false)
	switch {
	case p.peek() == '{':
	case p.hasPrefix("+="):
		p.pos += 2
		return p.appendValue(path)
	case p.peek() == '=' || p.peek() == ':':
		p.next()
	default:
		return p.errorf("expected '=', ':' or '{' after %q", key)
	}
	p.skipSpace(true)
	return p.value(path)
}

// isInclude tells the include keyword from a key that starts with "include".
func (p *hoconParser) isInclude() bool {
	if !p.hasPrefix("include") {
		return false
	}
	i := len("include")
	if r := p.peekAt(i); r != ' ' && r != '\t' {
		return false
	}
	for p.peekAt(i) == ' ' || p.peekAt(i) == '\t' {
		i++
	}
	r := p.peekAt(i)
	return r == '"' || unicode.IsLetter(r)
}

// include skips include classpath("...") (the JVM image's own files) and refuses every other form.
func (p *hoconParser) include() error {
	p.pos += len("include")
	p.skipSpace(false)
	start := p.pos
	for !p.eof() && p.peek() != '\n' && p.peek() != ',' && p.peek() != '}' && p.peek() != '#' {
		p.next()
	}
	what := strings.TrimSpace(string(p.src[start:p.pos]))
	inner := strings.TrimSuffix(strings.TrimPrefix(what, "required("), ")")
	if strings.HasPrefix(inner, "classpath(") {
		return nil
	}
	return p.errorf("include %s: only include classpath(...) (OpenWhisk's own defaults) is supported; put the settings in this file", what)
}

// key reads a path expression: dot-separated segments, each unquoted or quoted.
func (p *hoconParser) key() (string, error) {
	var b strings.Builder
	for {
		switch r := p.peek(); {
		case r == '"':
			s, err := p.quoted()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		case r == '.':
			p.next()
			b.WriteByte('.')
		case r == ' ' || r == '\t':
			// blanks inside a key are kept only between parts (`a b = 1` is the key "a b")
			save, line := p.pos, p.line
			p.skipSpace(false)
			if c := p.peek(); c == '=' || c == ':' || c == '{' || p.hasPrefix("+=") || c == '\n' || p.eof() {
				return p.checkKey(b.String())
			}
			p.pos, p.line = save, line
			for p.peek() == ' ' || p.peek() == '\t' {
				b.WriteRune(p.next())
			}
		case isUnquotedRune(r) && !p.hasPrefix("//"):
			b.WriteRune(p.next())
		default:
			return p.checkKey(b.String())
		}
	}
}

func (p *hoconParser) checkKey(k string) (string, error) {
	if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
		return "", p.errorf("%q is not a key", k)
	}
	return k, nil
}

// isUnquotedRune: HOCON forbids these in unquoted text.
func isUnquotedRune(r rune) bool {
	return r != 0 && !unicode.IsSpace(r) && !strings.ContainsRune("$\"{}[]:=,+#`^?!@*&\\.", r)
}

// value reads an object, an array or a (concatenated) simple value into path.
func (p *hoconParser) value(path string) error {
	switch p.peek() {
	case '{':
		p.next()
		delete(p.out, path) // an object replaces a scalar
		return p.objectBody(path, true)
	case '[':
		p.clear(path)
		return p.array(path, 0)
	}
	s, set, err := p.simple()
	if err != nil {
		return err
	}
	if set {
		p.clear(path)
		p.out[path] = s
	}
	return nil
}

// appendValue is `path += value`: the value joins the array at path.
func (p *hoconParser) appendValue(path string) error {
	p.skipSpace(true)
	n := p.arrayLen(path)
	if p.peek() == '[' {
		return p.array(path, n)
	}
	s, set, err := p.simple()
	if err != nil || !set {
		return err
	}
	p.out[joinPath(path, strconv.Itoa(n))] = s
	return nil
}

// array reads [v, v, ...] into path.first, path.first+1, ...
func (p *hoconParser) array(path string, first int) error {
	p.next() // '['
	i := first
	for {
		p.skipSpace(true)
		switch {
		case p.eof():
			return p.errorf("missing ']'")
		case p.peek() == ']':
			p.next()
			return nil
		}
		if err := p.value(joinPath(path, strconv.Itoa(i))); err != nil {
			return err
		}
		i++
		p.skipSpace(true)
		if p.peek() == ',' {
			p.next()
		}
	}
}

func (p *hoconParser) arrayLen(path string) int {
	n := 0
	for k := range p.out {
		if rest, ok := strings.CutPrefix(k, path+"."); ok {
			idx, _, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(idx); err == nil && i+1 > n {
				n = i + 1
			}
		}
	}
	return n
}

// clear removes path and everything under it (a new value replaces an object or array).
func (p *hoconParser) clear(path string) {
	delete(p.out, path)
	for k := range p.out {
		if strings.HasPrefix(k, path+".") {
			delete(p.out, k)
		}
	}
}

// simple reads a concatenation of quoted strings, unquoted text and substitutions up to the end of the
// value. set is false for a lone ${?X} that resolved to nothing (the field is then left as it was).
func (p *hoconParser) simple() (string, bool, error) {
	var b strings.Builder
	var pendingSpace string
	parts, unresolved := 0, 0
	for {
		r := p.peek()
		var s string
		switch {
		case p.eof() || r == '\n' || r == ',' || r == '}' || r == ']' || r == '#' || p.hasPrefix("//"):
			if parts == 0 {
				return "", false, p.errorf("missing value")
			}
			if unresolved == parts {
				return "", false, nil
			}
			return b.String(), true, nil
		case r == ' ' || r == '\t':
			start := p.pos
			for p.peek() == ' ' || p.peek() == '\t' {
				p.next()
			}
			pendingSpace = string(p.src[start:p.pos])
			continue
		case p.hasPrefix(`"""`):
			p.pos += 3
			start := p.pos
			for !p.eof() && !(p.hasPrefix(`"""`) && p.peekAt(3) != '"') {
				p.next()
			}
			if p.eof() {
				return "", false, p.errorf(`missing closing """`)
			}
			s = string(p.src[start:p.pos])
			p.pos += 3
		case r == '"':
			q, err := p.quoted()
			if err != nil {
				return "", false, err
			}
			s = q
		case p.hasPrefix("${"):
			v, ok, err := p.substitution()
			if err != nil {
				return "", false, err
			}
			if !ok {
				unresolved++
			}
			s = v
		case r == '{' || r == '[':
			return "", false, p.errorf("an object or array cannot be concatenated with text")
		default:
			start := p.pos
			for !p.eof() && (isUnquotedRune(p.peek()) || p.peek() == '.' || p.peek() == ':' || p.peek() == '+' ||
				p.peek() == '?' || p.peek() == '!' || p.peek() == '@' || p.peek() == '*' || p.peek() == '&') && !p.hasPrefix("//") {
				p.next()
			}
			if p.pos == start {
				return "", false, p.errorf("unexpected %q in a value", r)
			}
			s = string(p.src[start:p.pos])
		}
		if parts > 0 {
			b.WriteString(pendingSpace)
		}
		pendingSpace = ""
		b.WriteString(s)
		parts++
	}
}

// quoted reads a JSON string.
func (p *hoconParser) quoted() (string, error) {
	start := p.pos
	p.next()
	for {
		if p.eof() || p.peek() == '\n' {
			return "", p.errorf("unterminated string")
		}
		r := p.next()
		if r == '\\' && !p.eof() {
			p.next()
			continue
		}
		if r == '"' {
			break
		}
	}
	var s string
	if err := json.Unmarshal([]byte(string(p.src[start:p.pos])), &s); err != nil {
		return "", p.errorf("bad string %s: %v", string(p.src[start:p.pos]), err)
	}
	return s, nil
}

// substitution reads ${path} or ${?path}: the value set earlier in the file at path, else the environment
// variable of that name. ok is false when ${?path} found neither.
func (p *hoconParser) substitution() (string, bool, error) {
	p.pos += 2
	optional := p.peek() == '?'
	if optional {
		p.next()
	}
	start := p.pos
	for !p.eof() && p.peek() != '}' && p.peek() != '\n' {
		p.next()
	}
	if p.peek() != '}' {
		return "", false, p.errorf("unterminated substitution")
	}
	ref := strings.TrimSpace(string(p.src[start:p.pos]))
	p.next()
	if v, ok := p.out[ref]; ok {
		return v, true, nil
	}
	if p.getenv != nil {
		if v := p.getenv(ref); v != "" {
			return v, true, nil
		}
	}
	if optional {
		return "", false, nil
	}
	return "", false, p.errorf("${%s} is not set (neither earlier in the file nor in the environment)", ref)
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
