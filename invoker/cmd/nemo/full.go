//go:build !classiconly

package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/scheduler/sim"
)

// This file is what the full build has and the classic-only build (classic.go, -tags classiconly) leaves
// out: the demo and simulate commands, the embedded Kafka, and (in fpc.go and invoker/app) OpenWhisk's new
// scheduler. The full build runs every configuration itself.

// fullCommands sit between invoker and version in the list of commands.
var fullCommands = []command{
	{
		name: "demo", args: "[-n N] [-dir DIR] [-image IMAGE] [-v]",
		summary: "run the invoker on embedded defaults and play the controller",
		about: `Runs the invoker on embedded defaults (an in-process Kafka, a file store seeded with a
sample action, real Docker containers named ` + demoContainerPrefix + `_...) and plays the controller: it
sends N activations to invoker0 (the first starts a container, the next ones find it warm; the last is
non-blocking) and prints for each the acks from completed0, the stored record and the answer, cold or
warm, then an excerpt of the invoker's metrics. It stops the invoker, which removes its containers, and
checks that none is left. It needs a Docker engine and the image built by scripts/build-images.sh
(scripts/demo.sh does both).`,
		run: runDemo,
	},
	{
		name: "simulate", args: "[flags]",
		summary: "replay traces through the pool and scheduler decisions",
		about: `Replays a workload (Azure Functions 2019 traces or a synthetic Poisson workload) through
the invoker's pool state machine under each keep-alive and pre-warm policy (OpenWhisk's, a TTL,
greedy-dual, the hybrid histogram, NEMO's) with the same arrivals and memory, and prints the cold
starts, queued and dropped invocations, wasted memory-time and added latency of each as a table, and
as a CSV file and a PNG plot when asked. docs/simulator.md shows the figures and their commands.`,
		run: func(fs *flag.FlagSet, args []string, stdout io.Writer) error { return sim.Main(fs, args, stdout) },
	},
}

// commandLineErrors are the errors of the commands above that are about their command line.
var commandLineErrors = []error{sim.ErrInvalidOptions}

// omittedCommands: none, this build has every command.
var omittedCommands []string

const omittedWhy = ""

// buildNote follows the version: nothing for the full build.
const buildNote = ""

// handOff is a no-op: this build runs every configuration.
func handOff(*config.Config, []string, zerolog.Logger) error { return nil }

// startEmbeddedKafka starts the in-process broker of the demo configuration (kafka.embedded).
func startEmbeddedKafka() (brokers []string, stop func(), err error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		return nil, nil, fmt.Errorf("embedded kafka: %w", err)
	}
	return cluster.ListenAddrs(), cluster.Close, nil
}
