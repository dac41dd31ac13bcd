package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Activation statuses (the statusCode of a Response).
const (
	StatusSuccess          = 0
	StatusApplicationError = 1
	StatusDeveloperError   = 2 // "action developer error": the container is destroyed
	StatusWhiskError       = 3 // "whisk internal error": isSystemError, the container is destroyed
)

// Response is an activation's response, {"statusCode":0..3,"result"?:<json>,"size"?:<int>}.
type Response struct {
	StatusCode int
	Result     json.RawMessage // nil when absent
	Size       *int            // character length of the container's response body; nil for messages built here
}

// ErrorResponse is {"statusCode":code,"result":{"error":msg}} without size, as OpenWhisk builds error responses
// from a string.
func ErrorResponse(code int, msg string) Response {
	return Response{StatusCode: code, Result: errorObject(encodeString(msg))}
}

// ErrorValueResponse wraps an arbitrary JSON error value, {"error": value}, e.g. the error member of a container
// reply.
func ErrorValueResponse(code int, value json.RawMessage, size *int) Response {
	return Response{StatusCode: code, Result: errorObject(value), Size: size}
}

func errorObject(value json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"error":`)
	if json.Compact(&b, value) != nil {
		b.Truncate(len(`{"error":`))
		b.WriteString("null")
	}
	b.WriteByte('}')
	return b.Bytes()
}

// IsSystemError is the isSystemError flag of acks: statusCode == 3.
func (r Response) IsSystemError() bool { return r.StatusCode == StatusWhiskError }

// DestroysContainer reports whether OpenWhisk removes the container after this response (codes 2 and 3).
func (r Response) DestroysContainer() bool {
	return r.StatusCode == StatusDeveloperError || r.StatusCode == StatusWhiskError
}

// StatusName is the API status string ("success", "application error", "action developer error",
// "whisk internal error").
func (r Response) StatusName() string {
	switch r.StatusCode {
	case StatusSuccess:
		return "success"
	case StatusApplicationError:
		return "application error"
	case StatusDeveloperError:
		return "action developer error"
	default:
		return "whisk internal error"
	}
}

// ErrorText is the error of an error response as text: the string itself when "error" is a string, its JSON
// otherwise, and "status N" when there is no error member (logs and the pool's event reasons).
func (r Response) ErrorText() string {
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(r.Result, &v) == nil && len(v.Error) > 0 {
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return s
		}
		return string(v.Error)
	}
	return "status " + strconv.Itoa(r.StatusCode)
}

// MarshalJSON writes statusCode, then result and size when present (compact, in that order).
func (r Response) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32+len(r.Result))
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	if r.Result != nil && !bytes.Equal(bytes.TrimSpace(r.Result), []byte("null")) {
		b = append(b, `,"result":`...)
		var c bytes.Buffer
		if err := json.Compact(&c, r.Result); err != nil {
			return nil, err
		}
		b = append(b, c.Bytes()...)
	}
	if r.Size != nil {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, int64(*r.Size), 10)
	}
	return append(b, '}'), nil
}

// encodeString is the JSON string for s, without HTML escaping (OpenWhisk and CouchDB keep "<", ">" and "&").
func encodeString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
