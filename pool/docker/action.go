package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// reply is what one HTTP exchange with the action proxy produced.
type reply struct {
	Status    int    // 0 when no response arrived (with Err: the body broke off after the status)
	Body      []byte // whole body, or its first TruncationBytes when Truncated
	Length    int64  // full body length in bytes
	Truncated bool
	Err       error // transport error: no (complete) response
	Elapsed   time.Duration
}

// noResponse reports whether the exchange counts as a connection error (OpenWhisk's NoResponseReceived):
// a transport failure, or a 204 (no entity).
func (r reply) noResponse() bool { return r.Err != nil || r.Status == http.StatusNoContent }

// failureFacts are the I/O-derived facts the pure mappings need beyond the reply.
type failureFacts struct {
	OOM       bool      // the container (or a process in it) was OOM-killed
	Cancelled bool      // the caller's ctx ended before the action timeout (invoker shutdown, not the action)
	StoppedAt time.Time // when the container stopped, if it is no longer running (zero: running or unknown)
}

// mapInit turns an /init reply into OpenWhisk's init outcome (Container.initialize,
// ActivationResponse.processInitResponseContent). ok means HTTP 200 within the time limit.
func mapInit(r reply, timeout time.Duration, f failureFacts, maxResponse int64) (resp proxy.Response, ok, dead bool) {
	switch {
	case r.Err == nil && r.Status == http.StatusOK:
		// OpenWhisk accepts a 200 whatever its body and duration.
		return proxy.Response{StatusCode: proxy.StatusSuccess}, true, false
	case r.Elapsed >= timeout:
		return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgInitTimeout(timeout.Milliseconds())), false, true
	case f.Cancelled && r.noResponse():
		return proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalInit), false, true
	case r.noResponse():
		if f.OOM {
			return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgMemoryExhausted), false, true
		}
		return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit), false, true
	case r.Truncated:
		return proxy.ErrorResponse(proxy.StatusDeveloperError,
			proxy.MsgTruncated(r.Length, maxResponse, bodyString(r.Body))), false, true
	case f.OOM:
		return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgMemoryExhausted), false, true
	}
	body := bodyString(r.Body)
	if obj, isObj := jsonObject(r.Body); isObj {
		if e, has := obj["error"]; has {
			return proxy.ErrorValueResponse(proxy.StatusDeveloperError, e, nil), false, true
		}
	}
	return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgInitFailed(body)), false, true
}

// mapRun turns a /run reply into OpenWhisk's run outcome (Container.run, processRunResponseContent).
// dead is true whenever OpenWhisk would remove the container (developer or whisk error).
func mapRun(r reply, timeout time.Duration, f failureFacts, maxResponse int64) (resp proxy.Response, timedOut, dead bool) {
	switch {
	case r.Elapsed >= timeout:
		return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgTimeout(timeout.Milliseconds())), true, true
	case f.Cancelled && r.noResponse():
		return proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgAbnormalRun), false, true
	case r.noResponse():
		if f.OOM {
			return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgMemoryExhausted), false, true
		}
		return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalRun), false, true
	case r.Truncated:
		return proxy.ErrorResponse(proxy.StatusApplicationError,
			proxy.MsgTruncated(r.Length, maxResponse, bodyString(r.Body))), false, false
	case r.Status != http.StatusOK && f.OOM:
		// NEMO's proxy survives an OOM-killed action process and answers 400; report it as OpenWhisk reports
		// an OOM-killed single-process runtime.
		return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgMemoryExhausted), false, true
	}
	body := bodyString(r.Body)
	size := utf16Len(body)
	trimmed := bytes.TrimSpace(r.Body)
	if obj, isObj := jsonObject(trimmed); isObj {
		errVal, hasErr := obj["error"]
		switch {
		case r.Status == http.StatusOK && !hasErr:
			return proxy.Response{StatusCode: proxy.StatusSuccess, Result: compactJSON(trimmed), Size: &size}, false, false
		case r.Status == http.StatusOK:
			return proxy.ErrorValueResponse(proxy.StatusApplicationError, errVal, &size), false, false
		case hasErr:
			return proxy.ErrorValueResponse(proxy.StatusDeveloperError, errVal, &size), false, true
		}
		return notJSON(body, size), false, true
	}
	if r.Status == http.StatusOK && len(trimmed) > 0 && trimmed[0] == '[' && json.Valid(trimmed) {
		return proxy.Response{StatusCode: proxy.StatusSuccess, Result: compactJSON(trimmed), Size: &size}, false, false
	}
	return notJSON(body, size), false, true
}

func notJSON(body string, size int) proxy.Response {
	resp := proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgNotJSON(body))
	resp.Size = &size
	return resp
}

// jsonObject parses b as a JSON object, keeping member values raw. Duplicate keys keep the last value.
func jsonObject(b []byte) (map[string]json.RawMessage, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return append(json.RawMessage(nil), b...)
	}
	return buf.Bytes()
}

// bodyString decodes the body as UTF-8 the way a lenient decoder does (invalid sequences become U+FFFD).
func bodyString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// utf16Len is Java's String.length: the activation's "size".
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++ // not produced by decoding a string, which yields U+FFFD instead
		}
	}
	return n
}

// exchange posts body to path on the container's proxy and reads the reply, keeping at most maxResponse
// bytes (truncation bytes when larger). ctx bounds the whole exchange.
func exchange(ctx context.Context, pc *proxyClient, path string, body []byte, maxResponse, truncation int64) reply {
	start := time.Now()
	r := pc.post(ctx, path, body, maxResponse, truncation)
	r.Elapsed = time.Since(start)
	return r
}

// retryableInit reports whether an /init attempt failed before any response arrived, i.e. nothing is listening
// yet. Directly that is a refused connection; through docker-proxy on a published port the proxy accepts and
// then drops the connection, which surfaces as a reset, EOF, broken pipe or a closed connection depending on
// timing. The caller bounds retries with the init timeout and a liveness check of the container.
func retryableInit(r reply) bool {
	if r.Err == nil || r.Status != 0 {
		return false
	}
	return !errors.Is(r.Err, context.Canceled) && !errors.Is(r.Err, context.DeadlineExceeded)
}
