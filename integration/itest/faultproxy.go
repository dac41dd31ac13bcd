package itest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what a FaultProxy does to the requests it matches.
type Fault struct {
	// Match selects the requests (nil: every request).
	Match func(*http.Request) bool
	// Delay holds a request this long before it is answered or forwarded (cut short if the client gives
	// up first).
	Delay time.Duration
	// Status, when not 0, answers the request with this status and a CouchDB-style error body instead of
	// forwarding it.
	Status int
	// Drop closes the connection without an answer.
	Drop bool
}

// FaultProxy is an HTTP reverse proxy in front of a real CouchDB API (pouchdb-server) whose faults the
// test switches on and off: 500s, delays, dropped connections. Test equipment.
type FaultProxy struct {
	// URL is the proxy's address with the backend's credentials (what the invoker is given).
	URL  *url.URL
	Addr string

	mu      sync.Mutex
	fault   *Fault
	faulted atomic.Int64
	srv     *http.Server
}

// NewFaultProxy forwards to backend (its credentials are kept for URL) from a free port on listenHost
// (127.0.0.1 when empty) and closes with the test.
func NewFaultProxy(t testing.TB, backend *url.URL, listenHost string) *FaultProxy {
	t.Helper()
	if listenHost == "" {
		listenHost = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	target := *backend
	target.User = nil
	p := &FaultProxy{Addr: "127.0.0.1:" + strconv.Itoa(port)}
	u := *backend
	u.Host = p.Addr
	p.URL = &u
	rp := httputil.NewSingleHostReverseProxy(&target)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(r.Context().Err(), context.Canceled) {
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, rp)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.srv.Shutdown(ctx)
		_ = p.srv.Close()
	})
	return p
}

// Set switches fault f on (replacing any other).
func (p *FaultProxy) Set(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = &f
}

// Clear switches faults off: every request is forwarded.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = nil
}

// Faulted is how many requests a fault was applied to.
func (p *FaultProxy) Faulted() int64 { return p.faulted.Load() }

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	p.mu.Lock()
	f := p.fault
	p.mu.Unlock()
	if f == nil || (f.Match != nil && !f.Match(r)) {
		rp.ServeHTTP(w, r)
		return
	}
	p.faulted.Add(1)
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case f.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // net/http closes the connection
	case f.Status != 0:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(`{"error":"injected","reason":"fault injected by the test"}` + "\n"))
	default:
		rp.ServeHTTP(w, r)
	}
}
