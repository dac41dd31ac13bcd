package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ErrInvalid is wrapped by every error Load and Validate return: the configuration cannot be used and the
// invoker must not start. Test with errors.Is.
var ErrInvalid = errors.New("config: invalid configuration")

// ErrCommandLine is wrapped, besides ErrInvalid, by the errors about the command line itself: an unknown
// flag, a flag without its value or with a bad one, a stray argument. A command prints its usage for these.
var ErrCommandLine = errors.New("bad command line")

// Error names the offending field and says what is wrong with it, on one line:
//
//	config: pool.coldReserveMB: 2048 must be less than pool.userMemoryMB (2048)
//	config: KAFKA_HOSTS: empty
//	config: RUNTIMES_MANIFEST: invalid JSON at offset 12: invalid character 'x' looking for beginning of value
//
// Field is a JSON path in the config file ("pool.coldReserveMB"), an environment variable ("KAFKA_HOSTS"),
// a command-line flag ("--id") or the config file's path. Error wraps ErrInvalid and, when there is one,
// the underlying cause (an *os.PathError, a *json.SyntaxError, a wire error...).
type Error struct {
	Field string
	Msg   string
	Err   error
}

func (e *Error) Error() string { return "config: " + e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalid and the cause, if any.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalid, e.Err}
	}
	return []error{ErrInvalid}
}

// invalid builds an *Error; the message is kept on one line.
func invalid(field, format string, args ...any) *Error {
	return &Error{Field: field, Msg: oneLine(fmt.Sprintf(format, args...))}
}

// invalidCause is invalid with a wrapped cause.
func invalidCause(field string, cause error, format string, args ...any) *Error {
	e := invalid(field, format, args...)
	e.Err = cause
	return e
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "; ")
	return strings.NewReplacer("\n", "; ", "\r", "; ").Replace(s)
}

// jsonError turns an encoding/json error into an *Error. where names the document ("/etc/nemo.json",
// "RUNTIMES_MANIFEST"); data is the document, for line/column of syntax errors.
func jsonError(where string, data []byte, err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var own *Error
	switch {
	case errors.As(err, &own):
		return own // a section's UnmarshalJSON named the field itself
	case errors.As(err, &syn):
		// encoding/json counts the bytes read including the offending one; report that byte's index.
		off := max(syn.Offset-1, 0)
		line, col := lineCol(data, off)
		return invalidCause(where, err, "invalid JSON at offset %d (line %d, column %d): %v", off, line, col, err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = where
		}
		if typ.Type == reflect.TypeFor[Duration]() || typ.Type == reflect.TypeFor[MB]() {
			return invalidCause(field, err, "%s", typ.Value) // our own message (see Duration/MB UnmarshalJSON)
		}
		return invalidCause(field, err, "want %s, got %s", jsonTypeName(typ.Type), typ.Value)
	case errors.Is(err, errTrailingData):
		return invalidCause(where, err, "%v", err)
	default:
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if errors.Is(err, errUnexpectedEOF) || msg == "unexpected EOF" {
			return invalidCause(where, err, "invalid JSON: unexpected end of input at offset %d", len(data))
		}
		return invalidCause(where, err, "%s", msg)
	}
}

var (
	errTrailingData  = errors.New("unexpected data after the top-level JSON object")
	errUnexpectedEOF = errors.New("unexpected EOF")
)

// lineCol is the 1-based line and column of the byte at index offset.
func lineCol(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}
