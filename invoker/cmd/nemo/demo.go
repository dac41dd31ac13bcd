package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nemo-edge/nemo/invoker/app"
	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/filestore"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool/docker"
)

// runDemo runs the invoker on embedded defaults — an in-process Kafka (kfake), a file-backed store
// seeded with a sample action, real Docker containers from the locally built test image — and plays
// the controller: it sends activations to invoker0, prints the acks from completed0, the stored
// records and the invoker's metrics, then shuts the invoker down.
func runDemo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	n := fs.Int("n", 4, "activations to send (the first is cold, later ones warm; the last is non-blocking)")
	dir := fs.String("dir", "", "file store directory (default: a new temporary directory)")
	image := fs.String("image", "nemo/action-go:latest", "image of the sample blackbox action")
	verbose := fs.Bool("v", false, "print the invoker's own log lines")
	if err := fs.Parse(args); err != nil {
		return err
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
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = api.ImageInspect(pctx, *image)
	cancel()
	if err != nil {
		return fmt.Errorf("demo: image %s is not available (%v); run scripts/demo.sh, which builds it", *image, err)
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
	fmt.Fprintf(stdout, "NEMO demo: kafka (in-process) %v, store %s, sample action %s (image %s), http://%s\n",
		brokers, *dir, docID, *image, ln.Addr())

	// The embedded defaults (config.Demo: the paper's pool, publish networking on 127.0.0.1, the local
	// images' manifest), with this run's store, in-process brokers and an ephemeral HTTP port.
	cfg := config.Demo()
	cfg.Store.Path = *dir
	kcfg := cfg.MessagingConfig()
	kcfg.Brokers = brokers
	parts := partsFromConfig(cfg, kcfg, st, api, ln, log)
	ready := make(chan *app.Invoker, 1)
	parts.Ready = func(inv *app.Invoker) { ready <- inv }
	invCtx, stopInvoker := context.WithCancel(ctx)
	defer stopInvoker()
	done := make(chan error, 1)
	go func() { done <- app.Run(invCtx, parts) }()
	var inv *app.Invoker
	select {
	case inv = <-ready:
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

	for i := 0; i < *n; i++ {
		blocking := i < *n-1
		aid := fmt.Sprintf("%032x", time.Now().UnixNano()+int64(i))
		msg := demoMessage(aid, blocking, fmt.Sprintf("edge-%d", i))
		t0 := time.Now()
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "invoker0", Value: sarama.ByteEncoder(msg)}); err != nil {
			return fmt.Errorf("demo: produce: %w", err)
		}
		fmt.Fprintf(stdout, "\n→ activation %s (blocking=%v) sent to invoker0\n", aid, blocking)
		if err := acks.waitSlotFree(ctx, aid, 90*time.Second, func(kind string, body []byte) {
			fmt.Fprintf(stdout, "← %-10s after %6.1f ms: %s\n", kind, float64(time.Since(t0).Microseconds())/1000, clip(string(body), 300))
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
		doc, _ := rec.Document(time.Now().UnixMilli())
		fmt.Fprintf(stdout, "  record %s: %s\n", rec.DocID(), clip(string(doc), 400))
	}

	var b strings.Builder
	inv.Registry().Write(&b)
	fmt.Fprintln(stdout, "\nmetrics (excerpt):")
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "nemo_activations_total") || strings.HasPrefix(l, "nemo_acks_total") ||
			strings.HasPrefix(l, "nemo_pool_memory_used_bytes{state=\"all\"}") || strings.HasPrefix(l, "nemo_scheduler_") {
			fmt.Fprintln(stdout, "  "+l)
		}
	}
	stopInvoker()
	if err := <-done; err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\ninvoker stopped; its containers were removed")
	return nil
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

// waitSlotFree prints every ack for aid until the slot-freeing one (Completion or Combined) arrives.
func (r *ackReader) waitSlotFree(ctx context.Context, aid string, timeout time.Duration, show func(kind string, body []byte)) error {
	deadline := time.After(timeout)
	for {
		select {
		case m := <-r.pc.Messages():
			ack, err := wire.ParseAck(m.Value)
			if err != nil {
				show("unparsable", m.Value)
				continue
			}
			if !strings.Contains(string(m.Value), aid) {
				continue
			}
			kind := fmt.Sprintf("%T", ack)
			kind = strings.TrimSuffix(strings.TrimPrefix(kind, "*wire."), "Message")
			show(kind, m.Value)
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
