package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/metrics"
)

// Switch turns the invoker's work on and off (the Kafka feed and the 1 s health pings). Implementations
// must be safe for concurrent use.
type Switch interface {
	// Enable resumes consuming and pinging; changed is false when it was already enabled.
	Enable(ctx context.Context) (changed bool, err error)
	// Disable sends one ping with isEnabled=false, stops pinging and pauses the feed; changed is false when
	// it was already disabled.
	Disable(ctx context.Context) (changed bool, err error)
	// Enabled reports the current state.
	Enabled() bool
	// Name is the invoker's InvokerInstanceID.String(), e.g. "invoker0" or "invoker0/kind-worker".
	Name() string
}

// Config configures the server. Zero values take the defaults stated on each field.
type Config struct {
	// Username and Password are the Basic credentials of /enable, /disable and /isEnabled
	// (whisk.invoker.username/password). When both are empty the defaults "invoker.user" / "invoker.pass"
	// apply.
	Username, Password string
	// ReadHeaderTimeout bounds reading a request's headers. Default 5 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request. Default 10 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds handling plus writing a response. Default 30 s.
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Default 60 s.
	IdleTimeout time.Duration
	// SwitchTimeout bounds each Enable/Disable call. Default 10 s.
	SwitchTimeout time.Duration
	// ShutdownTimeout is how long ListenAndServe waits for in-flight requests once its ctx is done, before
	// closing their connections. Default 10 s.
	ShutdownTimeout time.Duration
	// MaxConnections caps the connections served at once; further ones wait in the listen backlog until
	// one closes. Default 64.
	MaxConnections int
	// ProtectMetrics puts GET /metrics behind the credentials. Default false (open, as OpenWhisk's).
	ProtectMetrics bool
	// CORS is OpenWhisk's FPC invoker server (whisk.spi.InvokerServerProvider = FPCInvokerServer): every
	// answer except the open routes' (/ping, /metrics) carries the CORS headers, and OPTIONS on any path is
	// answered 200 without credentials (a browser's preflight). Default false (DefaultInvokerServer).
	CORS bool
}

func (c Config) withDefaults() Config {
	if c.Username == "" && c.Password == "" {
		c.Username, c.Password = "invoker.user", "invoker.pass"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 5*time.Second)
	def(&c.ReadTimeout, 10*time.Second)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.IdleTimeout, 60*time.Second)
	def(&c.SwitchTimeout, 10*time.Second)
	def(&c.ShutdownTimeout, 10*time.Second)
	if c.MaxConnections <= 0 {
		c.MaxConnections = 64
	}
	return c
}

// HeaderRequestID carries the request's transaction id, in both directions.
const HeaderRequestID = "X-Request-ID"

// Response texts. The 401 texts are the ones Akka HTTP's authentication rejections use.
const (
	MsgCredentialsMissing = "The resource requires authentication, which was not supplied with the request."
	MsgCredentialsInvalid = "The supplied authentication is invalid."
	MsgNotFound           = "The requested resource could not be found."
)

// ContentTypeMetrics is the Prometheus text exposition format.
const ContentTypeMetrics = "text/plain; version=0.0.4; charset=utf-8"

// Server is the invoker's HTTP endpoint (docs/protocol.md#http-endpoints). It is an http.Handler; ListenAndServe runs it.
type Server struct {
	cfg      Config
	sw       Switch
	reg      *metrics.Registry
	log      zerolog.Logger
	userHash [32]byte
	passHash [32]byte
}

// New builds a server. reg may be nil: GET /metrics then gets what an unknown path gets.
func New(cfg Config, sw Switch, reg *metrics.Registry, log zerolog.Logger) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg: cfg, sw: sw, reg: reg,
		log:      log.With().Str("component", "server").Logger(),
		userHash: sha256.Sum256([]byte(cfg.Username)),
		passHash: sha256.Sum256([]byte(cfg.Password)),
	}
}

// route is one known path: the methods it answers and whether it needs credentials.
type route struct {
	methods []string
	open    bool // no credentials needed
	serve   func(s *Server, w http.ResponseWriter, r *http.Request, tid string)
}

var routes = map[string]route{
	"/ping":      {methods: []string{http.MethodGet, http.MethodHead}, open: true, serve: (*Server).ping},
	"/metrics":   {methods: []string{http.MethodGet, http.MethodHead}, open: true, serve: (*Server).metrics},
	"/enable":    {methods: []string{http.MethodPost}, serve: (*Server).enable},
	"/disable":   {methods: []string{http.MethodPost}, serve: (*Server).disable},
	"/isEnabled": {methods: []string{http.MethodGet, http.MethodHead}, serve: (*Server).isEnabled},
}

// ServeHTTP answers one request. Like OpenWhisk's DefaultInvokerServer, the open routes come first;
// anything they do not take falls through to the credentials check, so a bad or missing credential gets
// 401 on every other path, and valid credentials get 404 (unknown path) or 405 (known path, wrong method).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	tid := requestID(r.Header.Get(HeaderRequestID))
	w.Header().Set(HeaderRequestID, tid)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.dispatch(sw, r, tid)
	s.log.Debug().Str("transid", tid).Str("method", r.Method).Str("path", r.URL.Path).
		Int("status", sw.status).Dur("took", time.Since(start)).Msg("http request")
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, tid string) {
	rt, known := routes[r.URL.Path]
	if known && r.URL.Path == "/metrics" && s.reg == nil {
		known = false
	}
	open := rt.open && !(r.URL.Path == "/metrics" && s.cfg.ProtectMetrics)
	if known && open && allows(rt.methods, r.Method) {
		rt.serve(s, w, r, tid)
		return
	}
	if s.cfg.CORS {
		corsHeaders(w.Header())
		if r.Method == http.MethodOptions {
			preflight(w)
			return
		}
	}
	user, pass, ok := r.BasicAuth()
	switch {
	case !ok:
		w.Header().Set("WWW-Authenticate", `Basic realm="invoker"`)
		writeError(w, http.StatusUnauthorized, MsgCredentialsMissing, tid)
		return
	case !s.credentialsMatch(user, pass):
		w.Header().Set("WWW-Authenticate", `Basic realm="invoker"`)
		writeError(w, http.StatusUnauthorized, MsgCredentialsInvalid, tid)
		return
	case !known:
		writeError(w, http.StatusNotFound, MsgNotFound, tid)
		return
	case !allows(rt.methods, r.Method):
		allowed := strings.Join(rt.methods, ", ")
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, "HTTP method not allowed, supported methods: "+allowed, tid)
		return
	}
	rt.serve(s, w, r, tid)
}

func (s *Server) credentialsMatch(user, pass string) bool {
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	// Both comparisons always run, in constant time over fixed-length digests.
	return subtle.ConstantTimeCompare(u[:], s.userHash[:])&subtle.ConstantTimeCompare(p[:], s.passHash[:]) == 1
}

func (s *Server) ping(w http.ResponseWriter, _ *http.Request, _ string) {
	writeText(w, http.StatusOK, "pong")
}

func (s *Server) metrics(w http.ResponseWriter, _ *http.Request, _ string) {
	var b strings.Builder
	s.reg.Write(&b)
	w.Header().Set("Content-Type", ContentTypeMetrics)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

func (s *Server) enable(w http.ResponseWriter, r *http.Request, tid string) {
	s.toggle(w, r, tid, "enabled", s.sw.Enable)
}

func (s *Server) disable(w http.ResponseWriter, r *http.Request, tid string) {
	s.toggle(w, r, tid, "disabled", s.sw.Disable)
}

func (s *Server) toggle(w http.ResponseWriter, r *http.Request, tid, state string, op func(context.Context) (bool, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SwitchTimeout)
	defer cancel()
	name := s.sw.Name()
	changed, err := op(ctx)
	if err != nil {
		s.log.Error().Err(err).Str("transid", tid).Msgf("could not set %s %s", name, state)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s could not be %s: %v", name, state, err), tid)
		return
	}
	if !changed {
		writeText(w, http.StatusOK, name+" is already "+state+".")
		return
	}
	s.log.Info().Str("transid", tid).Msgf("%s is now %s", name, state)
	writeText(w, http.StatusOK, name+" is now "+state+".")
}

func (s *Server) isEnabled(w http.ResponseWriter, _ *http.Request, _ string) {
	if s.isEnabledFPC(w) {
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Enabled bool `json:"enabled"`
	}{s.sw.Enabled()})
}

func allows(methods []string, m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only fixed shapes are written; cannot happen
		b = []byte(`{}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes OpenWhisk's ErrorResponse: {"error": msg, "code": transid}.
func writeError(w http.ResponseWriter, status int, msg, tid string) {
	writeJSON(w, status, struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, tid})
}

// statusWriter remembers the status for the request log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// requestID reuses a caller's X-Request-ID when it is a sane token (1-128 visible ASCII characters,
// no blanks) and otherwise generates one like OpenWhisk's TransactionId.generateTid: 32 characters of
// [A-Za-z0-9].
func requestID(incoming string) string {
	if n := len(incoming); n >= 1 && n <= 128 {
		ok := true
		for i := 0; i < n; i++ {
			if c := incoming[i]; c <= ' ' || c > '~' {
				ok = false
				break
			}
		}
		if ok {
			return incoming
		}
	}
	return NewTransID()
}

const tidAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewTransID returns a random 32-character [A-Za-z0-9] transaction id.
func NewTransID() string {
	out := make([]byte, 0, 32)
	var buf [48]byte
	for len(out) < 32 {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
		for _, b := range buf {
			if b >= 248 { // 248 = 4×62: reject to keep the choice uniform
				continue
			}
			out = append(out, tidAlphabet[int(b)%len(tidAlphabet)])
			if len(out) == 32 {
				break
			}
		}
	}
	return string(out)
}

// ListenAndServe listens on addr (e.g. ":8085") and serves until ctx is done, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done. Then it stops accepting, lets in-flight requests finish for up to
// Config.ShutdownTimeout, closes what remains and returns nil (or the shutdown error). A failure of the
// listener is returned at once. ln is closed on return.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// Requests keep ctx's values but not its cancellation: shutdown lets them finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    log.New(logWriter{s.log}, "", 0),
	}
	errc := make(chan error, 1)
	limited := &limitListener{Listener: ln, slots: make(chan struct{}, s.cfg.MaxConnections), done: make(chan struct{})}
	go func() { errc <- srv.Serve(limited) }()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("invoker HTTP server listening")

	select {
	case err := <-errc:
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("server: shutdown: %w", err)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("server: serve: %w", serr)
	}
	s.log.Info().Msg("invoker HTTP server stopped")
	return err
}

// logWriter sends net/http's own error lines (TLS handshakes, panics) to zerolog.
type logWriter struct{ log zerolog.Logger }

func (l logWriter) Write(p []byte) (int, error) {
	l.log.Warn().Msg(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// limitListener accepts a connection only while fewer than cap(slots) are open: a flood of connections
// (to /metrics, say) waits in the kernel's backlog instead of taking every core.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close stops accepting, also while Accept waits for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn frees its slot once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
