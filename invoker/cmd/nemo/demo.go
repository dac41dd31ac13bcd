//go:build !classiconly

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nemo-edge/nemo/invoker/app"
	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/filestore"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/docker"
)

// demoContainerPrefix is the name prefix of the demo's containers: OpenWhisk's wsk{uniqueName}{id} for
// config.Demo's uniqueName "demo" and id 0. It keeps the demo apart from a real invoker0 on the same
// engine (wsk0_…), whose containers the invoker's start-up cleanup would otherwise remove.
const demoContainerPrefix = "wskdemo0"

// runDemo runs the invoker on embedded defaults — an in-process Kafka (kfake), a file-backed store
// seeded with a sample action, real Docker containers from the locally built test image — and plays
// the controller: it sends activations to invoker0, prints the acks from completed0, the stored
// records, the answers and the invoker's metrics, then shuts the invoker down and checks that it
// removed its containers.
//
// What it prints has a stable shape, for a reader and for the test that runs it (integration/demo):
// a header naming the parts, then one block per activation,
//
//	activation I/N <activationId> blocking|non-blocking
//	  ack         Result|Completion|Combined  after <ms> ms      (each ack from completed0, in order)
//	  record      <namespace>/<activationId>: <status>, duration <ms> ms[, initTime <ms> ms][, waitTime <ms> ms], <n> log lines
//	  answer      cold|warm, after <ms> ms: <the action's result, as stored>
//
// where the answer comes after the ack that frees the slot (Completion or Combined) and is cold when
// the record has an initTime (OpenWhisk sets it only when the activation initialised its container);
// then a summary line, one "container" line per container of the pool, the metrics excerpt fetched from
// the invoker's /metrics, and a last line, "stopped", saying how many containers are left (none).
func runDemo(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	n := fs.Int("n", 4, "send `N` activations: the first is cold, later ones warm; the last is non-blocking")
	dir := fs.String("dir", "", "file store `directory` (default: a new temporary directory)")
	image := fs.String("image", "nemo/action-go:latest", "`image` of the sample blackbox action")
	verbose := fs.Bool("v", false, "print the invoker's own log lines (to stderr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return badUsage("-n %d: send at least one activation", *n)
	}
	if strings.TrimSpace(*image) == "" {
		return badUsage("-image: empty")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logOut := io.Discard
	if *verbose {
		logOut = os.Stderr
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: logOut, TimeFormat: "15:04:05.000"}).With().Timestamp().Logger()

	api, err := docker.NewClient()
	if err != nil {
		return err
	}
	defer api.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = api.ImageInspect(pctx, *image)
	cancel()
	if err != nil {
		return fmt.Errorf("demo: image %s is not available (%w); run scripts/demo.sh, which builds it", *image, err)
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		return fmt.Errorf("demo: in-process kafka: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "nemo-demo-store-"); err != nil {
			return err
		}
	}
	st, err := filestore.New(*dir, log)
	if err != nil {
		return err
	}
	docID, err := filestore.SeedSample(ctx, st, *image)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}

	// The embedded defaults (config.Demo: the paper's pool, publish networking on 127.0.0.1, the local
	// images' manifest, the demo's container names), with this run's store, in-process brokers and an
	// ephemeral HTTP port.
	cfg := config.Demo()
	cfg.Store.Path = *dir
	prefix := cfg.ContainerPrefix()
	kcfg := cfg.MessagingConfig()
	kcfg.Brokers = brokers
	base := "http://" + ln.Addr().String()
	out := demoPrinter{w: stdout}
	out.line("NEMO demo: the invoker on embedded defaults; this program plays the controller")
	out.field("kafka", "in-process at %s (topics invoker0, completed0)", strings.Join(brokers, ","))
	out.field("store", "%s (file store; sample action %s, image %s)", *dir, docID, *image)
	out.field("containers", "%s_*", prefix)
	out.field("invoker", "%s (/ping, /metrics)", base)

	parts := partsFromConfig(cfg, kcfg, st, api, ln, log)
	ready := make(chan *app.Invoker, 1)
	parts.Ready = func(inv *app.Invoker) { ready <- inv }
	invCtx, stopInvoker := context.WithCancel(ctx)
	defer stopInvoker()
	done := make(chan error, 1)
	go func() { done <- app.Run(invCtx, parts) }()
	select {
	case <-ready:
	case err := <-done:
		return fmt.Errorf("demo: invoker did not start: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}

	acks, err := newAckReader(brokers, "completed0")
	if err != nil {
		return err
	}
	defer acks.Close()
	prod, err := newProducer(brokers)
	if err != nil {
		return err
	}
	defer prod.Close()

	var answers []demoAnswer
	for i := 0; i < *n; i++ {
		blocking := i < *n-1
		aid := fmt.Sprintf("%032x", time.Now().UnixNano()+int64(i))
		msg := demoMessage(aid, blocking, fmt.Sprintf("edge-%d", i))
		t0 := time.Now()
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "invoker0", Value: sarama.ByteEncoder(msg)}); err != nil {
			return fmt.Errorf("demo: produce: %w", err)
		}
		mode := "blocking"
		if !blocking {
			mode = "non-blocking"
		}
		out.line("")
		out.line("activation %d/%d %s %s", i+1, *n, aid, mode)
		var answered time.Duration
		if err := acks.waitSlotFree(ctx, aid, 90*time.Second, func(kind string, slotFree bool, _ []byte) {
			after := time.Since(t0)
			if slotFree {
				answered = after
			}
			out.field("ack", "%-11s after %s", kind, ms(after))
		}); err != nil {
			return err
		}
		// The record is written in parallel with the slot-freeing ack (as OpenWhisk does): give it a moment.
		var rec *wire.WhiskActivation
		for wait := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if rec, err = st.GetActivation(ctx, "guest", aid); err == nil || time.Now().After(wait) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("demo: activation record: %w", err)
		}
		doc, err := rec.Document(time.Now().UnixMilli())
		if err != nil {
			return fmt.Errorf("demo: activation record: %w", err)
		}
		r, err := parseDemoRecord(doc)
		if err != nil {
			return fmt.Errorf("demo: activation record %s: %w", rec.DocID(), err)
		}
		out.field("record", "%s: %s", rec.DocID(), r.summary())
		a := demoAnswer{cold: r.initTime != nil, after: answered}
		answers = append(answers, a)
		out.field("answer", "%s, after %s: %s", a.state(), ms(a.after), clip(string(r.result), 300))
	}
	out.line("")
	out.field("summary", "%s", summarize(answers))

	names, err := ownContainers(ctx, api, prefix)
	if err != nil {
		return fmt.Errorf("demo: list containers: %w", err)
	}
	for _, c := range names {
		out.field("container", "%s %s", c.name, c.state)
	}

	excerpt, err := metricsExcerpt(ctx, base+"/metrics")
	if err != nil {
		return err
	}
	out.line("")
	out.line("metrics (excerpt of %s/metrics)", base)
	for _, l := range excerpt {
		out.line("  %s", l)
	}

	stopInvoker()
	if err := <-done; err != nil {
		return err
	}
	left, err := ownContainers(ctx, api, prefix)
	if err != nil {
		return fmt.Errorf("demo: list containers: %w", err)
	}
	out.line("")
	if len(left) > 0 {
		out.field("stopped", "invoker; %d containers named %s_* left", len(left), prefix)
		return fmt.Errorf("demo: the invoker left %d containers behind (%s…)", len(left), left[0].name)
	}
	out.field("stopped", "invoker; containers named %s_*: none left", prefix)
	return nil
}

// demoPrinter writes the demo's lines: a keyword in a column of its own, then the text.
type demoPrinter struct{ w io.Writer }

func (p demoPrinter) line(format string, args ...any) { fmt.Fprintf(p.w, format+"\n", args...) }

func (p demoPrinter) field(key, format string, args ...any) {
	fmt.Fprintf(p.w, "  %-11s %s\n", key, fmt.Sprintf(format, args...))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// demoRecord is what the demo shows of a stored activation record (the activations DB document).
type demoRecord struct {
	id                 string
	statusCode         int
	result             json.RawMessage
	duration           *int64
	initTime, waitTime *int64
	logs               int
}

func parseDemoRecord(doc []byte) (demoRecord, error) {
	var d struct {
		ActivationID string `json:"activationId"`
		Response     struct {
			StatusCode int             `json:"statusCode"`
			Result     json.RawMessage `json:"result"`
		} `json:"response"`
		Logs        []string `json:"logs"`
		Duration    *int64   `json:"duration"`
		Annotations []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return demoRecord{}, err
	}
	r := demoRecord{id: d.ActivationID, statusCode: d.Response.StatusCode, result: d.Response.Result,
		duration: d.Duration, logs: len(d.Logs)}
	for _, a := range d.Annotations {
		var dst **int64
		switch a.Key {
		case "initTime":
			dst = &r.initTime
		case "waitTime":
			dst = &r.waitTime
		default:
			continue
		}
		var v int64
		if err := json.Unmarshal(a.Value, &v); err != nil {
			return demoRecord{}, fmt.Errorf("annotation %s: %w", a.Key, err)
		}
		*dst = &v
	}
	if len(r.result) == 0 {
		r.result = json.RawMessage("null")
	}
	return r, nil
}

// statusNames are OpenWhisk's activation response status codes.
var statusNames = []string{"success", "application error", "action developer error", "whisk internal error"}

func (r demoRecord) summary() string {
	status := fmt.Sprintf("status %d", r.statusCode)
	if r.statusCode >= 0 && r.statusCode < len(statusNames) {
		status = statusNames[r.statusCode]
	}
	parts := []string{status}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"duration", r.duration}, {"initTime", r.initTime}, {"waitTime", r.waitTime}} {
		if f.v != nil {
			parts = append(parts, fmt.Sprintf("%s %d ms", f.name, *f.v))
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(", %d log lines", r.logs)
}

// demoAnswer is one activation's answer: cold when it initialised a container, and when it came.
type demoAnswer struct {
	cold  bool
	after time.Duration
}

func (a demoAnswer) state() string {
	if a.cold {
		return "cold"
	}
	return "warm"
}

// summarize counts the cold and warm answers with the median time of each.
func summarize(answers []demoAnswer) string {
	var cold, warm []time.Duration
	for _, a := range answers {
		if a.cold {
			cold = append(cold, a.after)
		} else {
			warm = append(warm, a.after)
		}
	}
	part := func(what string, ds []time.Duration) string {
		if len(ds) == 0 {
			return "0 " + what
		}
		if len(ds) == 1 {
			return fmt.Sprintf("1 %s (%s)", what, ms(ds[0]))
		}
		slices.Sort(ds)
		return fmt.Sprintf("%d %s (median %s)", len(ds), what, ms(ds[len(ds)/2]))
	}
	return part("cold", cold) + ", " + part("warm", warm)
}

type demoContainer struct{ name, state string }

// ownContainers lists the containers (any state) whose name starts with prefix+"_", by name.
func ownContainers(ctx context.Context, api docker.API, prefix string) ([]demoContainer, error) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := api.ContainerList(lctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", prefix+"_"))})
	if err != nil {
		return nil, err
	}
	var out []demoContainer
	for _, c := range list {
		for _, name := range c.Names {
			if name = strings.TrimPrefix(name, "/"); strings.HasPrefix(name, prefix+"_") { // the filter matches substrings
				out = append(out, demoContainer{name: name, state: string(c.State)})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b demoContainer) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// metricsExcerpt fetches the invoker's Prometheus text and keeps the activation, ack, pool memory and
// scheduler lines.
func metricsExcerpt(ctx context.Context, url string) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("demo: metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("demo: metrics: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("demo: metrics: %s: %s", resp.Status, clip(string(body), 200))
	}
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "nemo_activations_total") || strings.HasPrefix(l, "nemo_acks_total") ||
			strings.HasPrefix(l, `nemo_pool_memory_used_bytes{state="all"}`) || strings.HasPrefix(l, "nemo_scheduler_") {
			out = append(out, l)
		}
	}
	return out, nil
}

func demoMessage(aid string, blocking bool, name string) []byte {
	m := map[string]any{
		"transid":  []any{fmt.Sprintf("demo%028d", time.Now().UnixNano()%1e12), time.Now().UnixMilli()},
		"action":   map[string]string{"path": "guest", "name": "hello", "version": "0.0.1"},
		"revision": nil,
		"user": map[string]any{
			"subject":   "guest",
			"namespace": map[string]string{"name": "guest", "uuid": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502"},
			"authkey":   map[string]string{"api_key": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:demo"},
			"rights":    []string{"READ", "PUT", "DELETE", "ACTIVATE"},
			"limits":    map[string]any{},
		},
		"activationId":        aid,
		"rootControllerIndex": map[string]string{"asString": "0", "instanceType": "controller"},
		"blocking":            blocking,
		"content":             map[string]any{"name": name, "log_lines": 1},
		"initArgs":            []string{},
		"lockedArgs":          map[string]string{},
	}
	b, _ := json.Marshal(m)
	return b
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func newProducer(brokers []string) (sarama.SyncProducer, error) {
	c := sarama.NewConfig()
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForLocal
	return sarama.NewSyncProducer(brokers, c)
}

// ackReader plays the controller's side of completed{N}.
type ackReader struct {
	consumer sarama.Consumer
	pc       sarama.PartitionConsumer
}

func newAckReader(brokers []string, topic string) (*ackReader, error) {
	c := sarama.NewConfig()
	c.Consumer.Return.Errors = false
	consumer, err := sarama.NewConsumer(brokers, c)
	if err != nil {
		return nil, err
	}
	// The controller creates completed{N}; the demo plays the controller.
	if admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig()); err == nil {
		_ = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
		_ = admin.Close()
	}
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		consumer.Close()
		return nil, err
	}
	return &ackReader{consumer: consumer, pc: pc}, nil
}

func (r *ackReader) Close() {
	r.pc.Close()
	r.consumer.Close()
}

// waitSlotFree shows every ack for aid until the slot-freeing one (Completion or Combined) arrives.
func (r *ackReader) waitSlotFree(ctx context.Context, aid string, timeout time.Duration, show func(kind string, slotFree bool, body []byte)) error {
	deadline := time.After(timeout)
	for {
		select {
		case m := <-r.pc.Messages():
			ack, err := wire.ParseAck(m.Value)
			if err != nil {
				show("unparsable", false, m.Value)
				continue
			}
			if !strings.Contains(string(m.Value), aid) {
				continue
			}
			kind := fmt.Sprintf("%T", ack)
			kind = strings.TrimSuffix(strings.TrimPrefix(kind, "*wire."), "Message")
			show(kind, ack.SlotFree(), m.Value)
			if ack.SlotFree() {
				return nil
			}
		case <-deadline:
			return errors.New("demo: no ack within the timeout")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
