package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"
)

type poolSwitch struct{ enabled bool }

func (p *poolSwitch) Enable(context.Context) (bool, error)  { p.enabled = true; return true, nil }
func (p *poolSwitch) Disable(context.Context) (bool, error) { p.enabled = false; return true, nil }
func (p *poolSwitch) Enabled() bool                         { return p.enabled }
func (p *poolSwitch) Name() string                          { return "invoker0" }
func (p *poolSwitch) Pool() any                             { return map[string]int{"running": 2, "paused": 1} }
func (p *poolSwitch) PoolCount() int                        { return 3 }

// In FPC mode /pool and /pool/count answer behind Basic auth and /isEnabled says isEnabled; a classic
// invoker's switch has no /pool.
func TestFPCPoolEndpoints(t *testing.T) {
	s := New(Config{}, &poolSwitch{enabled: true}, nil, zerolog.Nop())
	get := func(path string, auth bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if auth {
			r.SetBasicAuth("invoker.user", "invoker.pass")
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	if w := get("/pool/count", true); w.Code != 200 || w.Body.String() != "3" {
		t.Fatalf("/pool/count: %d %q", w.Code, w.Body.String())
	}
	if w := get("/pool", true); w.Code != 200 || w.Body.String() != `{"paused":1,"running":2}` {
		t.Fatalf("/pool: %d %q", w.Code, w.Body.String())
	}
	if w := get("/pool/count", false); w.Code != http.StatusUnauthorized {
		t.Fatalf("/pool/count without credentials: %d", w.Code)
	}
	if w := get("/isEnabled", true); w.Body.String() != `{"isEnabled":true}` {
		t.Fatalf("/isEnabled: %q", w.Body.String())
	}
	classic := New(Config{}, &fakeSwitch{name: "invoker0"}, nil, zerolog.Nop())
	r := httptest.NewRequest(http.MethodGet, "/pool/count", nil)
	r.SetBasicAuth("invoker.user", "invoker.pass")
	w := httptest.NewRecorder()
	classic.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound {
		t.Fatalf("classic /pool/count: %d", w.Code)
	}
}
