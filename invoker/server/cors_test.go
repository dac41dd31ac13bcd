package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/metrics"
)

// The FPC server's CORS: every answer but /ping's and /metrics' carries the three headers (401s and
// authorised answers alike), OPTIONS on any path is a 200 preflight without credentials; the default
// server sends none and wants credentials for OPTIONS like for any other unknown method.
func TestCORSHeaders(t *testing.T) {
	reg := metrics.NewRegistry()
	fpcSrv := New(Config{CORS: true}, &poolSwitch{enabled: true}, reg, zerolog.Nop())
	plain := New(Config{}, &poolSwitch{enabled: true}, reg, zerolog.Nop())
	send := func(s *Server, method, path string, auth bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if auth {
			r.SetBasicAuth("invoker.user", "invoker.pass")
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Headers": "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
		"Access-Control-Allow-Methods": "OPTIONS, GET, POST",
	}
	hasCORS := func(w *httptest.ResponseRecorder) bool {
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				return false
			}
		}
		return true
	}
	noCORS := func(w *httptest.ResponseRecorder) bool {
		for k := range want {
			if w.Header().Get(k) != "" {
				return false
			}
		}
		return true
	}
	for _, c := range []struct {
		method, path string
		auth         bool
		status       int
	}{
		{http.MethodPost, "/enable", true, 200},
		{http.MethodPost, "/disable", true, 200},
		{http.MethodGet, "/isEnabled", true, 200},
		{http.MethodGet, "/pool", true, 200},
		{http.MethodGet, "/pool/count", true, 200},
		{http.MethodGet, "/pool/count", false, 401},
		{http.MethodPost, "/ping", false, 401}, // /ping only answers GET and HEAD openly
		{http.MethodOptions, "/pool/count", false, 200},
		{http.MethodOptions, "/enable", false, 200},
		{http.MethodOptions, "/ping", false, 200},
	} {
		w := send(fpcSrv, c.method, c.path, c.auth)
		if w.Code != c.status || !hasCORS(w) {
			t.Errorf("FPC server %s %s (auth %v): %d %v, want %d with CORS headers", c.method, c.path, c.auth, w.Code, w.Header(), c.status)
		}
		if c.method == http.MethodOptions && w.Body.String() != "OK" {
			t.Errorf("preflight %s body %q", c.path, w.Body.String())
		}
		if pw := send(plain, c.method, c.path, c.auth); !noCORS(pw) {
			t.Errorf("default server %s %s sent CORS headers: %v", c.method, c.path, pw.Header())
		}
	}
	for _, path := range []string{"/ping", "/metrics"} {
		if w := send(fpcSrv, http.MethodGet, path, false); w.Code != 200 || !noCORS(w) {
			t.Errorf("FPC server GET %s: %d %v, want 200 without CORS headers", path, w.Code, w.Header())
		}
	}
	if w := send(plain, http.MethodOptions, "/enable", false); w.Code != http.StatusUnauthorized {
		t.Errorf("default server OPTIONS /enable without credentials: %d, want 401", w.Code)
	}
}
