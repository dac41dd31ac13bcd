//go:build integration

// Command nemobench measures the NEMO invoker against floors taken in the same run and writes the report
// (see package bench). scripts/bench.sh builds and runs it; it assumes Kafka, pouchdb-server and Docker are up.
//
//	nemobench -nemo /path/to/nemo [-n 500] [-reps 3] [-warm 200] [-freeze-out file] [-out docs/benchmarks.md]
//
// With -echo it is instead the echo floor's child process (messaging.Feed + Producer on -prefix).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/integration/bench"
	"github.com/nemo-edge/nemo/invoker/messaging"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "nemobench:", err)
		os.Exit(1)
	}
}

func run() error {
	brokers := flag.String("brokers", envOr("NEMO_KAFKA", "127.0.0.1:9092"), "Kafka bootstrap brokers, comma-separated")
	couch := flag.String("couchdb", envOr("NEMO_COUCHDB", "http://nemo:nemo@127.0.0.1:5984"), "CouchDB URL with credentials")
	image := flag.String("image", "nemo/action-go:latest", "action image (a native blackbox)")
	nemo := flag.String("nemo", "", "the nemo binary (go build -o … ./invoker/cmd/nemo)")
	n := flag.Int("n", 500, "activations per throughput batch")
	reps := flag.Int("reps", 3, "repetitions of each measurement")
	warm := flag.Int("warm", 200, "warm blocking calls per repetition")
	freezeOut := flag.String("freeze-out", "", "file holding the output of BenchmarkFreezeThawVsPause (row 5)")
	freezeCmd := flag.String("freeze-cmd", "", "the command that produced -freeze-out (printed in the report)")
	runCmd := flag.String("run-cmd", "", "the command that reproduces rows 1-4 (printed in the report)")
	out := flag.String("out", "", "write the Markdown report here")
	workDir := flag.String("workdir", "", "directory for logs and the invoker's config (default: a new temporary one)")
	timeout := flag.Duration("timeout", 11*time.Minute, "give up after this long")
	idle := flag.Duration("idle", 20*time.Second, "how long the idle CPU of the invoker and the echo process is measured")
	perf := flag.Bool("perf", false, "profile the invoker with perf during one extra throughput batch")
	summarize := flag.String("summarize-perf", "", "print the by-NEMO-function summary of this perf.data file and exit")
	echo := flag.Bool("echo", false, "run as the echo floor process")
	prefix := flag.String("prefix", "", "topic prefix (with -echo)")
	flag.Parse()
	bl := strings.Split(*brokers, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *echo {
		log := zerolog.New(os.Stderr).With().Timestamp().Logger()
		cfg := messaging.Config{Brokers: bl, TopicPrefix: *prefix, InvokerID: 0}
		return bench.RunEcho(ctx, cfg, messaging.MaxPeek(2048, 1, 0.5), log)
	}

	if *summarize != "" {
		out, err := exec.Command("perf", "script", "-i", *summarize, "-F", "ip,sym").Output()
		if err != nil {
			return fmt.Errorf("perf script: %w", err)
		}
		for _, l := range bench.ProfileByNemoFunction(string(out), 30, 0.5) {
			fmt.Println(l)
		}
		return nil
	}
	if *nemo == "" {
		return fmt.Errorf("-nemo is required")
	}
	if *workDir == "" {
		d, err := os.MkdirTemp("", "nemobench-")
		if err != nil {
			return err
		}
		*workDir = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Fprintf(os.Stderr, "nemobench: logs in %s; load average %s\n", *workDir, bench.LoadAvg())
	rep, err := bench.Run(ctx, bench.Options{
		Brokers: bl, CouchURL: *couch, Image: *image, NemoBin: *nemo,
		EchoArgv: func(p string) []string {
			return []string{self, "-echo", "-brokers", *brokers, "-prefix", p}
		},
		N: *n, Reps: *reps, WarmSamples: *warm,
		FreezeOut: *freezeOut, FreezeCommand: *freezeCmd, RunCommand: *runCmd,
		WorkDir: *workDir, Progress: os.Stderr, Perf: *perf, IdleWindow: *idle,
	})
	if err != nil {
		return fmt.Errorf("%w (logs in %s)", err, *workDir)
	}
	fmt.Println(rep.Table())
	fmt.Println("Load average (1/5/15 min):")
	for _, l := range rep.Load {
		fmt.Println("  " + l)
	}
	for _, v := range rep.Verdict {
		fmt.Println("* " + strings.ReplaceAll(v, "**", ""))
	}
	for _, l := range rep.Notes {
		fmt.Println("- " + l)
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(rep.Markdown()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "nemobench: wrote %s\n", *out)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
