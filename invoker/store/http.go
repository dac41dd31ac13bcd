package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// javaURLEncode encodes one path segment exactly like java.net.URLEncoder.encode(seg, "UTF-8"), which
// OpenWhisk applies to every segment: letters, digits and ".-*_" stay, space becomes "+", every other byte
// becomes %XX (upper-case hex). So "guest/hello" → "guest%2Fhello" and "a@b c" → "a%40b+c".
func javaURLEncode(seg string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(seg) + 8)
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '*', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// escapedPath joins segments, each Java-URL-encoded, into "/seg1/seg2".
func escapedPath(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(javaURLEncode(s))
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// request is one logical CouchDB call; do() may send it several times.
type request struct {
	method      string
	path        string     // already escaped, from escapedPath
	query       url.Values // nil for none
	ifMatch     string     // revision, sent quoted as If-Match when not empty
	contentType string
	body        []byte
	attempts    int // 0 = settings.maxAttempts
}

// response is a complete answer (status, headers, body read up to maxBodyBytes).
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) httpError(req *request) *HTTPError {
	body := r.body
	if len(body) > 512 {
		body = body[:512]
	}
	return &HTTPError{Method: req.method, Path: req.path, Status: r.status, Body: strings.TrimSpace(string(body))}
}

// transient reports whether an HTTP status is worth retrying.
func transientStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// do sends req, retrying transient failures with exponential backoff and jitter, bounded by ctx and the
// attempt budget. It returns the last answer (any status) or an error wrapping ErrUnavailable when no usable
// answer came back: connection failures, or a transient status on the last attempt.
func (s *Store) do(ctx context.Context, req *request) (*response, error) {
	attempts := req.attempts
	if attempts <= 0 {
		attempts = s.set.maxAttempts
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := s.once(ctx, req)
		switch {
		case err == nil && !transientStatus(resp.status):
			return resp, nil
		case err == nil:
			lastErr = resp.httpError(req)
		case errors.Is(err, errBodyTooLarge):
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err) // retrying would read the same answer
		default:
			lastErr = err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s %s: %w (last: %v)", ErrUnavailable, req.method, req.path, ctx.Err(), lastErr)
		}
		if attempt >= attempts {
			return nil, fmt.Errorf("%w: %s %s: %d attempts: %w", ErrUnavailable, req.method, req.path, attempt, lastErr)
		}
		delay := s.backoff(attempt)
		s.logger(ctx).Debug().Str("method", req.method).Str("path", req.path).Int("attempt", attempt).
			Dur("retryIn", delay).Err(lastErr).Msg("couchdb request failed, retrying")
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: %s %s: %w (last: %v)", ErrUnavailable, req.method, req.path, ctx.Err(), lastErr)
		case <-t.C:
		}
	}
}

// once sends one attempt under its own deadline.
func (s *Store) once(ctx context.Context, req *request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.set.requestTimeout)
	defer cancel()
	u := s.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: build request %s %s: %v", ErrInvalid, req.method, req.path, err)
	}
	hreq.SetBasicAuth(s.cfg.Username, s.cfg.Password)
	hreq.Header.Set("Accept", "application/json")
	if req.ifMatch != "" {
		hreq.Header.Set("If-Match", `"`+req.ifMatch+`"`)
	}
	if req.body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		hreq.Header.Set("Content-Type", ct)
	}
	hresp, err := s.client.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, s.set.maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s %s: %w", req.method, req.path, err)
	}
	if int64(len(data)) > s.set.maxBodyBytes {
		return nil, fmt.Errorf("%w: answer of %s %s exceeds %d bytes", errBodyTooLarge, req.method, req.path, s.set.maxBodyBytes)
	}
	return &response{status: hresp.StatusCode, header: hresp.Header, body: data}, nil
}

// backoff is base·2^(attempt-1), capped, with jitter.
func (s *Store) backoff(attempt int) time.Duration {
	d := s.set.backoffBase
	for i := 1; i < attempt && d < s.set.backoffMax; i++ {
		d *= 2
	}
	if d > s.set.backoffMax {
		d = s.set.backoffMax
	}
	return s.set.jitter(d)
}

// equalJitter picks uniformly in [d/2, d): never zero, yet spreads synchronized retries.
func equalJitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half)
}

// logger prefers a request-scoped logger from ctx (it carries the transid) over the store's own.
func (s *Store) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l != nil && l.GetLevel() != zerolog.Disabled && l != zerolog.DefaultContextLogger {
		ll := l.With().Str("component", "store").Logger()
		return &ll
	}
	return &s.log
}

// errBodyTooLarge marks an answer larger than maxBodyBytes; it is not retried.
var errBodyTooLarge = errors.New("answer too large")
