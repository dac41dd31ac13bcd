//go:build integration

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// ErrHarness wraps every failure of the benchmark's own plumbing (not of the system under test).
var ErrHarness = errors.New("bench: harness")

// ---------------------------------------------------------------- CouchDB (pouchdb-server)

// couch talks to the CouchDB API; every request carries the credentials (pouchdb-server crashes on
// unauthenticated database PUTs).
type couch struct {
	base       string // scheme://host:port
	user, pass string
	http       *http.Client
}

func newCouch(raw string) (*couch, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: CouchDB URL %q", ErrHarness, raw)
	}
	c := &couch{base: u.Scheme + "://" + u.Host, http: &http.Client{Timeout: 30 * time.Second}}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
	}
	return c, nil
}

func (c *couch) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s %s: %w", ErrHarness, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *couch) createDB(ctx context.Context, db string) error {
	code, b, err := c.do(ctx, http.MethodPut, "/"+db, nil)
	if err != nil {
		return err
	}
	if code != http.StatusCreated && code != http.StatusPreconditionFailed {
		return fmt.Errorf("%w: create database %s: %d %s", ErrHarness, db, code, b)
	}
	return nil
}

func (c *couch) deleteDB(ctx context.Context, db string) {
	_, _, _ = c.do(ctx, http.MethodDelete, "/"+db, nil)
}

// putDoc stores doc under id and returns its new revision.
func (c *couch) putDoc(ctx context.Context, db, id string, doc []byte) (string, error) {
	code, b, err := c.do(ctx, http.MethodPut, "/"+db+"/"+url.PathEscape(id), doc)
	if err != nil {
		return "", err
	}
	var r struct {
		OK  bool   `json:"ok"`
		Rev string `json:"rev"`
	}
	if code/100 != 2 || json.Unmarshal(b, &r) != nil || !r.OK {
		return "", fmt.Errorf("%w: put %s/%s: %d %s", ErrHarness, db, id, code, b)
	}
	return r.Rev, nil
}

// getDoc reads a document; found is false on 404.
func (c *couch) getDoc(ctx context.Context, db, id string) (doc []byte, found bool, err error) {
	code, b, err := c.do(ctx, http.MethodGet, "/"+db+"/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, false, err
	}
	switch code {
	case http.StatusOK:
		return b, true, nil
	case http.StatusNotFound:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("%w: get %s/%s: %d %s", ErrHarness, db, id, code, b)
}

// ---------------------------------------------------------------- activation messages

// actionDoc is a blackbox action of image, as the controller stores it.
func actionDoc(name, image string) *wire.Action {
	return &wire.Action{
		ID: "guest/" + name, Namespace: "guest", Name: name,
		Exec:       wire.Exec{Kind: wire.KindBlackbox, Image: image},
		Limits:     wire.ActionLimits{TimeoutMs: 60000, MemoryMB: 256, LogsMB: 10, Concurrency: 1},
		Parameters: []wire.KeyValue{},
		Annotations: []wire.KeyValue{
			wire.KV("exec", wire.KindBlackbox),
			wire.KV("provide-api-key", false),
		},
		Version: "0.0.1",
		Updated: time.Now().UnixMilli(),
	}
}

var msgSeq atomic.Uint64

// newActivationID returns a fresh 32-hex-digit activation id, unique within this process and run.
func newActivationID() string {
	return fmt.Sprintf("%08x%08x%016x", os.Getpid(), uint32(time.Now().Unix()), msgSeq.Add(1))
}

// activationMessage is what the controller sends to invoker{N} for one activation of guest/<action>.
func activationMessage(aid, action, rev string, blocking bool, content map[string]any) []byte {
	var revision any
	if rev != "" {
		revision = rev
	}
	m := map[string]any{
		"transid":  []any{fmt.Sprintf("nb%030x", msgSeq.Add(1)), time.Now().UnixMilli()},
		"action":   map[string]string{"path": "guest", "name": action, "version": "0.0.1"},
		"revision": revision,
		"user": map[string]any{
			"subject":   "guest",
			"namespace": map[string]string{"name": "guest", "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			"authkey":   map[string]string{"api_key": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:bench"},
			"rights":    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
			"limits":    map[string]any{},
		},
		"activationId":        aid,
		"rootControllerIndex": map[string]string{"asString": "0", "instanceType": "controller"},
		"blocking":            blocking,
		"content":             content,
		"initArgs":            []string{},
		"lockedArgs":          map[string]string{},
	}
	b, _ := json.Marshal(m)
	return b
}

// ackInfo extracts what the benchmark checks from an ack.
func ackInfo(a wire.Ack) (id string, act *wire.WhiskActivation, systemError bool) {
	switch m := a.(type) {
	case *wire.ResultMessage:
		id, act = m.ActivationID, m.Activation
	case *wire.CompletionMessage:
		id, systemError = m.ActivationID, m.IsSystemError
	case *wire.CombinedMessage:
		id, act, systemError = m.ActivationID, m.Activation, m.IsSystemError
	}
	if act != nil {
		id = act.ActivationID
	}
	return id, act, systemError
}

// ---------------------------------------------------------------- the controller's side of Kafka

type arrival struct {
	at    time.Time
	value []byte
}

// controller plays the OpenWhisk controller: it produces ActivationMessages to an invoker topic and reads
// acks from its completed topic. The invoker and the echo floor are driven by identical controllers, so
// the controller's own costs are in both the value and the floor.
type controller struct {
	prod  sarama.SyncProducer
	cons  sarama.Consumer
	pc    sarama.PartitionConsumer
	topic string
	acks  chan arrival
}

func clientConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version, _ = messaging.ParseVersion(messaging.DefaultVersion)
	c.ClientID = "nemobench-controller"
	c.Producer.RequiredAcks = sarama.WaitForLocal
	c.Producer.Return.Successes = true
	c.Producer.MaxMessageBytes = messaging.MaxActivationBytes
	return c
}

// newController creates the ack topic (the controller owns it, as in OpenWhisk) and starts reading it.
func newController(ctx context.Context, brokers []string, invokerTopic, ackTopic string) (*controller, error) {
	if err := messaging.EnsureTopic(ctx, messaging.Config{Brokers: brokers}, ackTopic, nil); err != nil {
		return nil, fmt.Errorf("%w: ack topic %s: %w", ErrHarness, ackTopic, err)
	}
	cfg := clientConfig()
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: producer: %w", ErrHarness, err)
	}
	cons, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		prod.Close()
		return nil, fmt.Errorf("%w: consumer: %w", ErrHarness, err)
	}
	pc, err := cons.ConsumePartition(ackTopic, 0, sarama.OffsetOldest)
	if err != nil {
		prod.Close()
		cons.Close()
		return nil, fmt.Errorf("%w: consume %s: %w", ErrHarness, ackTopic, err)
	}
	c := &controller{prod: prod, cons: cons, pc: pc, topic: invokerTopic, acks: make(chan arrival, 1<<14)}
	go func() {
		for m := range pc.Messages() {
			c.acks <- arrival{at: time.Now(), value: m.Value}
		}
		close(c.acks)
	}()
	return c, nil
}

func (c *controller) Close() {
	c.pc.Close()
	c.cons.Close()
	c.prod.Close()
}

// callResult is one blocking activation seen from the controller.
type callResult struct {
	First    time.Duration // send → first ack for the id (Result, or Combined)
	SlotFree time.Duration // send → Completion or Combined
	Ack      wire.Ack      // the first ack
}

// call sends one message and waits for its slot-freeing ack. Acks of other ids (late ones of earlier
// calls) are skipped.
func (c *controller) call(ctx context.Context, aid string, msg []byte, timeout time.Duration) (callResult, error) {
	var r callResult
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	if _, _, err := c.prod.SendMessage(&sarama.ProducerMessage{Topic: c.topic, Value: sarama.ByteEncoder(msg)}); err != nil {
		return r, fmt.Errorf("%w: produce: %w", ErrHarness, err)
	}
	for {
		select {
		case a, ok := <-c.acks:
			if !ok {
				return r, fmt.Errorf("%w: ack stream closed", ErrHarness)
			}
			ack, err := wire.ParseAck(a.value)
			if err != nil {
				continue
			}
			if id, _, _ := ackInfo(ack); id != aid {
				continue
			}
			if r.Ack == nil {
				r.First, r.Ack = a.at.Sub(t0), ack
			}
			if ack.SlotFree() {
				r.SlotFree = a.at.Sub(t0)
				return r, nil
			}
		case <-ctx.Done():
			return r, fmt.Errorf("%w: no slot-freeing ack for %s within %v", ErrHarness, aid, timeout)
		}
	}
}

// batch sends all msgs at once (one SendMessages call, as BareLoop does) and returns the time
// until as many acks arrived, and the acks. The caller checks them afterwards (untimed).
func (c *controller) batch(ctx context.Context, msgs [][]byte, timeout time.Duration) (time.Duration, []arrival, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pm := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pm[i] = &sarama.ProducerMessage{Topic: c.topic, Value: sarama.ByteEncoder(m)}
	}
	got := make([]arrival, 0, len(msgs))
	sendErr := make(chan error, 1)
	start := time.Now()
	go func() { sendErr <- c.prod.SendMessages(pm) }()
	for len(got) < len(msgs) {
		select {
		case a, ok := <-c.acks:
			if !ok {
				return 0, got, fmt.Errorf("%w: ack stream closed", ErrHarness)
			}
			got = append(got, a)
		case err := <-sendErr:
			if err != nil {
				return 0, got, fmt.Errorf("%w: produce batch: %w", ErrHarness, err)
			}
		case <-ctx.Done():
			return 0, got, fmt.Errorf("%w: %d of %d acks within %v", ErrHarness, len(got), len(msgs), timeout)
		}
	}
	return time.Since(start), got, nil
}

// checkCompletions verifies that acks are exactly one Completion without system error per id in ids.
func checkCompletions(acks []arrival, ids map[string]bool) error {
	seen := map[string]bool{}
	for _, a := range acks {
		ack, err := wire.ParseAck(a.value)
		if err != nil {
			return fmt.Errorf("%w: unparsable ack %.200s", ErrHarness, a.value)
		}
		id, _, sysErr := ackInfo(ack)
		if _, ok := ack.(*wire.CompletionMessage); !ok {
			return fmt.Errorf("%w: ack %T for %s, want a Completion", ErrHarness, ack, id)
		}
		if !ids[id] || seen[id] {
			return fmt.Errorf("%w: unexpected or repeated ack for %s", ErrHarness, id)
		}
		if sysErr {
			return fmt.Errorf("%w: system error for %s", ErrHarness, id)
		}
		seen[id] = true
	}
	if len(seen) != len(ids) {
		return fmt.Errorf("%w: %d of %d completions", ErrHarness, len(seen), len(ids))
	}
	return nil
}

// ---------------------------------------------------------------- the echo floor

// RunEcho is the echo floor's process body: the invoker's Kafka path (messaging.EnsureTopic, Feed with the
// invoker's capacity, Producer) with nothing behind it: each record is parsed as an ActivationMessage and
// answered with a CompletionMessage to its controller's topic. It runs until ctx ends.
func RunEcho(ctx context.Context, cfg messaging.Config, capacity int, log zerolog.Logger) error {
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := messaging.EnsureTopic(sctx, cfg, cfg.InvokerTopic(), messaging.InvokerTopicConfigs())
	cancel()
	if err != nil {
		return err
	}
	prod, err := messaging.NewProducer(cfg, log)
	if err != nil {
		return err
	}
	defer prod.Close()
	inst := wire.InvokerInstanceID{Instance: cfg.InvokerID, UserMemoryBytes: 2048 << 20, Tags: []string{}, DedicatedNamespaces: []string{}}
	feed, err := messaging.NewFeed(cfg, capacity, func(hctx context.Context, rec *messaging.Record) {
		defer rec.Done()
		m, err := wire.ParseActivationMessage(rec.Value)
		if err != nil {
			log.Error().Err(err).Msg("echo: unparsable record")
			return
		}
		ack := &wire.CompletionMessage{TransID: m.TransID, ActivationID: m.ActivationID, Instance: inst}
		if err := prod.SendAck(hctx, m.RootControllerIndex.AsString, ack); err != nil {
			log.Error().Err(err).Msg("echo: ack")
		}
	}, log)
	if err != nil {
		return err
	}
	log.Info().Str("topic", cfg.InvokerTopic()).Int("capacity", capacity).Msg("echo started")
	err = feed.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// ---------------------------------------------------------------- child processes

// proc is a child process (the invoker or the echo floor) whose output goes to a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error
}

func startProc(name string, argv []string, env []string, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHarness, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// If the benchmark dies without stopping its children, they get SIGTERM (the invoker then removes its
	// containers) instead of running on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: start %s: %w", ErrHarness, name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *proc) Pid() int { return p.cmd.Process.Pid }

func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitLog waits until the log contains substr.
func (p *proc) waitLog(ctx context.Context, substr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if b, _ := os.ReadFile(p.logPath); bytes.Contains(b, []byte(substr)) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w: %s exited (%w) before logging %q:\n%s", ErrHarness, p.name, p.err, substr, p.logTail(20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s did not log %q within %v:\n%s", ErrHarness, p.name, substr, timeout, p.logTail(20))
		}
	}
}

// stop sends SIGTERM and waits up to grace for the exit, then kills. It reports how long the exit took.
func (p *proc) stop(grace time.Duration) (time.Duration, error) {
	select {
	case <-p.exited:
		return 0, fmt.Errorf("%w: %s had already exited: %w", ErrHarness, p.name, p.err)
	default:
	}
	t0 := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return time.Since(t0), nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return time.Since(t0), fmt.Errorf("%w: %s ignored SIGTERM for %v and was killed", ErrHarness, p.name, grace)
	}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1 (for the invoker's HTTP server).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrHarness, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
