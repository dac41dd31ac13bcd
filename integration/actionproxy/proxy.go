package actionproxy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sentinel is written to stdout and stderr after every /run (OpenWhisk's ACTIVATION_LOG_SENTINEL).
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// Reply texts of the OpenWhisk Go action loop, kept verbatim because the invoker passes them to users.
const (
	MsgInitTwice     = "Cannot initialize the action more than once."
	MsgNoCode        = "Missing main/no code to execute."
	MsgNotDictionary = "The action did not return a dictionary or array."
	MsgNotReady      = "no action defined yet"
	MsgExited        = "command exited"
)

// maxInitBody bounds /init bodies (OpenWhisk's code size limit is 48 MB, base64 adds a third).
const maxInitBody = 80 << 20

// Config configures a Server. The zero value runs only executables and zips with an "exec" entry.
type Config struct {
	// Dir is where /init extracts code; each attempt gets a numbered subdirectory. Default is os.TempDir()/action.
	Dir string
	// Launcher is the command that runs non-executable code: argv = Launcher + [codeDir, main]. Empty means
	// plain-text code is refused. The Python image sets ["python3", "/bin/launcher.py"].
	Launcher []string
	// SourceName is the file name plain-text code is written to before the launcher runs. Default is "main__.py".
	SourceName string
	// DefaultExec runs when /init carries no code (a blackbox image with a baked-in action). Default is none.
	DefaultExec string
	// WaitForAck makes /init wait for {"ok":true} on the child's fd 3 (the child sees __OW_WAIT_FOR_ACK=1).
	// Without it /init only waits StartGrace for an early exit. Default is false.
	WaitForAck bool
	// StartGrace is how long /init watches a child that does not ack for an early exit. Default is 5 ms.
	StartGrace time.Duration
	// Stdout and Stderr receive the child's output and the sentinels. Pass *os.File values to keep the child's
	// lines and the sentinels in write order. Default is os.Stdout / os.Stderr.
	Stdout, Stderr io.Writer
}

// Server implements the action protocol. Requests are served one at a time (action concurrency 1).
type Server struct {
	cfg Config

	mu       sync.Mutex
	attempts int
	child    *child // nil until a successful /init
	// desynced is set when a /run gave up waiting for its result: a late line would answer the next request.
	desynced bool
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(os.TempDir(), "action")
	}
	if cfg.SourceName == "" {
		cfg.SourceName = "main__.py"
	}
	if cfg.StartGrace <= 0 {
		cfg.StartGrace = 5 * time.Millisecond
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	return &Server{cfg: cfg}
}

// ServeHTTP routes POST /init and POST /run.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/init":
		s.handleInit(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/run":
		s.handleRun(w, r)
	default:
		replyError(w, http.StatusNotFound, "not found")
	}
}

// Close kills the child, if any.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child != nil {
		s.child.kill()
	}
}

type initRequest struct {
	Value struct {
		Name   string                     `json:"name"`
		Main   string                     `json:"main"`
		Code   string                     `json:"code"`
		Binary bool                       `json:"binary"`
		Env    map[string]json.RawMessage `json:"env"`
	} `json:"value"`
}

func (s *Server) handleInit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child != nil {
		replyError(w, http.StatusForbidden, MsgInitTwice)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInitBody))
	if err != nil {
		replyError(w, http.StatusBadRequest, "cannot read the init request: "+err.Error())
		return
	}
	var req initRequest
	if err := json.Unmarshal(body, &req); err != nil {
		replyError(w, http.StatusBadRequest, "cannot decode the init request: "+err.Error())
		return
	}
	s.attempts++
	dir := filepath.Join(s.cfg.Dir, strconv.Itoa(s.attempts))
	argv, err := s.prepare(dir, req)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, errNoCode) {
			status = http.StatusForbidden
		}
		replyError(w, status, err.Error())
		return
	}
	c, err := s.start(r.Context(), argv, dir, req.Value.Env)
	if err != nil {
		replyError(w, http.StatusBadGateway, "Cannot start action: "+err.Error())
		return
	}
	s.child = c
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

var errNoCode = errors.New(MsgNoCode) //nolint:staticcheck // ST1005: the runtime's user-visible text, word for word

// prepare installs the code under dir and returns the child's argv.
func (s *Server) prepare(dir string, req initRequest) ([]string, error) {
	v := req.Value
	if v.Code == "" {
		if s.cfg.DefaultExec == "" {
			return nil, errNoCode
		}
		return []string{s.cfg.DefaultExec}, nil
	}
	code := []byte(v.Code)
	if v.Binary {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v.Code))
		if err != nil {
			return nil, fmt.Errorf("binary code is not valid base64: %v", err)
		}
		code = dec
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	mainName := v.Main
	if mainName == "" {
		mainName = "main"
	}
	switch {
	case bytes.HasPrefix(code, []byte("PK\x03\x04")):
		if err := unzip(code, bin); err != nil {
			return nil, fmt.Errorf("cannot extract the zip: %v", err)
		}
		if st, err := os.Stat(filepath.Join(bin, "exec")); err == nil && st.Mode().IsRegular() {
			if err := os.Chmod(filepath.Join(bin, "exec"), 0o755); err != nil {
				return nil, err
			}
			return []string{filepath.Join(bin, "exec")}, nil
		}
		if len(s.cfg.Launcher) == 0 {
			return nil, errors.New("the zip has no exec entry point")
		}
		return append(append([]string{}, s.cfg.Launcher...), bin, mainName), nil
	case bytes.HasPrefix(code, []byte("\x7fELF")) || bytes.HasPrefix(code, []byte("#!")):
		p := filepath.Join(bin, "exec")
		if err := os.WriteFile(p, code, 0o755); err != nil {
			return nil, err
		}
		return []string{p}, nil
	case len(s.cfg.Launcher) > 0:
		if err := os.WriteFile(filepath.Join(bin, s.cfg.SourceName), code, 0o644); err != nil {
			return nil, err
		}
		return append(append([]string{}, s.cfg.Launcher...), bin, mainName), nil
	default:
		return nil, errors.New("the code is neither a zip nor an executable")
	}
}

func unzip(data []byte, dst string) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		name := filepath.Clean(f.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("entry %q escapes the action directory", f.Name)
		}
		p := filepath.Join(dst, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := extractOne(f, p); err != nil {
			return err
		}
	}
	return nil
}

func extractOne(f *zip.File, p string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	mode := f.Mode().Perm()
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// child is the running action process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	results chan []byte   // lines read from fd 3; closed at EOF
	exited  chan struct{} // closed after Wait returns
	waitErr error
}

func (c *child) kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
}

func (s *Server) start(ctx context.Context, argv []string, dir string, env map[string]json.RawMessage) (*child, error) {
	resultsR, resultsW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = s.cfg.Stdout
	cmd.Stderr = s.cfg.Stderr
	cmd.ExtraFiles = []*os.File{resultsW} // fd 3
	cmd.Env = append(os.Environ(), envStrings(env)...)
	if s.cfg.WaitForAck {
		cmd.Env = append(cmd.Env, "__OW_WAIT_FOR_ACK=1")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		resultsR.Close()
		resultsW.Close()
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		resultsR.Close()
		resultsW.Close()
		return nil, err
	}
	resultsW.Close()
	c := &child{cmd: cmd, stdin: stdin, results: make(chan []byte, 1), exited: make(chan struct{})}
	go func() {
		defer close(c.results)
		defer resultsR.Close()
		br := bufio.NewReaderSize(resultsR, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				c.results <- bytes.TrimSpace(line)
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()

	if !s.cfg.WaitForAck {
		select {
		case <-c.exited:
			return nil, exitReason(c)
		case <-time.After(s.cfg.StartGrace):
			return c, nil
		}
	}
	select {
	case line, ok := <-c.results:
		if !ok {
			<-c.exited
			return nil, exitReason(c)
		}
		var ack struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(line, &ack) != nil || !ack.OK {
			c.kill()
			return nil, fmt.Errorf("unexpected acknowledgement %q", line)
		}
		return c, nil
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}
}

func exitReason(c *child) error {
	if c.waitErr != nil {
		return fmt.Errorf("command exited: %v", c.waitErr)
	}
	return errors.New("command exited")
}

// envStrings renders /init env values as KEY=VALUE: strings verbatim, null as "", others as compact JSON.
func envStrings(env map[string]json.RawMessage) []string {
	out := make([]string, 0, len(env))
	for k, raw := range env {
		out = append(out, k+"="+jsonString(raw))
	}
	return out
}

func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if t := bytes.TrimSpace(raw); string(t) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.child == nil {
		replyError(w, http.StatusForbidden, MsgNotReady)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		replyError(w, http.StatusBadRequest, "cannot read the run request: "+err.Error())
		return
	}
	var line bytes.Buffer
	if err := json.Compact(&line, body); err != nil {
		replyError(w, http.StatusBadRequest, "the run request is not JSON: "+err.Error())
		return
	}
	c := s.child
	select {
	case <-c.exited:
		s.writeSentinels()
		replyError(w, http.StatusBadRequest, MsgExited)
		return
	default:
	}
	if s.desynced {
		replyError(w, http.StatusBadRequest, MsgExited)
		return
	}
	line.WriteByte('\n')
	if _, err := c.stdin.Write(line.Bytes()); err != nil {
		s.writeSentinels()
		replyError(w, http.StatusBadRequest, MsgExited)
		return
	}
	select {
	case res, ok := <-c.results:
		s.writeSentinels()
		if !ok {
			replyError(w, http.StatusBadRequest, MsgExited)
			return
		}
		if !isObjectOrArray(res) {
			replyError(w, http.StatusBadGateway, MsgNotDictionary)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(res)))
		_, _ = w.Write(res)
	case <-r.Context().Done():
		// The client gave up (action timeout); the invoker destroys this container.
		s.desynced = true
	}
}

func isObjectOrArray(b []byte) bool {
	if !json.Valid(b) {
		return false
	}
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func (s *Server) writeSentinels() {
	_, _ = io.WriteString(s.cfg.Stdout, Sentinel+"\n")
	_, _ = io.WriteString(s.cfg.Stderr, Sentinel+"\n")
}

func replyError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
