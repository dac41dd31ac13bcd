package wire

import (
	"unicode/utf8"
)

// scanner walks JSON text that encoding/json has already found valid (json.Valid), so it only has to find
// where things are, never whether they are well formed. The fast parsers built on it take the common
// shape of a message and report anything else (an escape in a string, a duplicate member, a value of an
// unexpected type) so that the caller takes the reference codec, which decides and words the error.
type scanner struct {
	b        []byte
	i        int
	keyStart int // offset of the last key member returned
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the first byte of the next token (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// skipString moves past the string starting at s.i (on its opening quote).
func (s *scanner) skipString() {
	s.i++
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return
		default:
			s.i++
		}
	}
}

// value moves past the next value and returns its extent, without surrounding whitespace.
func (s *scanner) value() (start, end int) {
	s.ws()
	start = s.i
	switch s.b[s.i] {
	case '"':
		s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				break
			}
		}
	default: // number, true, false, null
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return start, s.i
			}
			s.i++
		}
	}
	return start, s.i
}

// plainString reads a string value that needs no decoding: no escape and valid UTF-8 (encoding/json would
// replace invalid bytes). ok is false for anything else, including a value that is not a string.
func (s *scanner) plainString() (start, end int, ok bool) {
	if s.peek() != '"' {
		return 0, 0, false
	}
	s.i++
	start = s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			if !ascii && !utf8.Valid(s.b[start:end]) {
				return 0, 0, false
			}
			return start, end, true
		case c == '\\':
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return 0, 0, false
}

// enter moves past the '{' or '[' that must come next.
func (s *scanner) enter(open byte) bool {
	if s.peek() != open {
		return false
	}
	s.i++
	return true
}

// member reads the key of the next member of the object being read (after its '{' or after a member's
// value). more is false at the closing '}', which is consumed; ok is false for a key that needs decoding.
func (s *scanner) member() (key []byte, more, ok bool) {
	if s.peek() == ',' {
		s.i++
	}
	if s.peek() == '}' {
		s.i++
		return nil, false, true
	}
	start, end, ok := s.plainString()
	if !ok {
		return nil, false, false
	}
	s.ws()
	s.i++ // ':'
	s.ws()
	s.keyStart = start
	return s.b[start:end], true, true
}

// element reports whether the array being read (after its '[' or after an element) has another element;
// the closing ']' is consumed.
func (s *scanner) element() bool {
	if s.peek() == ',' {
		s.i++
	}
	if s.peek() == ']' {
		s.i++
		return false
	}
	return true
}

// isNull reports whether the next value is null (spray reads a null Option member as absent).
func (s *scanner) isNull() bool { return s.peek() == 'n' }
