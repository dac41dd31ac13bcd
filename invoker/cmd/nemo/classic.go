//go:build classiconly

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/app"
	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/fpc"
)

// The classic-only build (go build -tags classiconly): the invoker in OpenWhisk's classic protocol and
// the version command, nothing else. Go runs the initialisation of every package a binary links, and the
// kernel maps the binary's pages around each page that touches, so what a binary links costs resident
// memory whether it runs or not: leaving out the new scheduler's gRPC and etcd clients, the demo's
// in-process Kafka and the simulator's plotting takes the invoker's RSS from about 37 to about 23 MiB
// (scripts/bench.sh, row 4). The image ships this build as /usr/bin/nemo-classic beside the full
// /usr/bin/nemo, and its /init.sh starts this one; a configuration that needs what it leaves out is
// handed to the full binary by handOff, so operators configure the image exactly as before.

// fullBinaryName is the full build's file name, looked up next to this binary.
const fullBinaryName = "nemo"

// buildNote follows the version, so that `nemo-classic version` tells which build answers.
const buildNote = " (classic-only build)"

var fullCommands []command

var commandLineErrors []error

// omittedCommands are the full build's commands, refused with omittedWhy rather than as unknown.
var omittedCommands = []string{"demo", "simulate"}

const omittedWhy = "this is the classic-only build of nemo (built with -tags classiconly); the full nemo binary has it"

// leftOut names what cfg needs that this build leaves out (OpenWhisk's new scheduler, or the demo's
// embedded Kafka), or "" when this build can run it.
func leftOut(cfg *config.Config) string {
	switch {
	case cfg.FPC().Mode == fpc.FPC:
		return "OpenWhisk's new scheduler (FPC)"
	case cfg.Kafka.Embedded:
		return "the embedded Kafka (kafka.embedded)"
	}
	return ""
}

// handOff replaces this process with the full binary, with the same arguments and environment, when the
// configuration needs what this build leaves out. It returns nil when this build can run the
// configuration, an error when the full binary cannot be run, and does not return when it can.
func handOff(cfg *config.Config, args []string, log zerolog.Logger) error {
	needs := leftOut(cfg)
	if needs == "" {
		return nil
	}
	full, err := fullBinary()
	if err != nil {
		return fmt.Errorf("%w: the configuration asks for %s, which this classic-only build of nemo leaves out: %w",
			config.ErrInvalid, needs, err)
	}
	log.Info().Str("component", "main").Str("binary", full).
		Msgf("the configuration asks for %s: handing over to the full build", needs)
	// exec keeps the process (its PID, its signals, its open log destination): for Docker and systemd
	// it is the same invoker.
	err = syscall.Exec(full, append([]string{full, "invoker"}, args...), os.Environ())
	return fmt.Errorf("running the full build %s for %s: %w", full, needs, err)
}

// fullBinary is the full build next to this executable, checked to be a different, executable file.
func fullBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find this executable: %w", err)
	}
	full := filepath.Join(filepath.Dir(self), fullBinaryName)
	fi, err := os.Stat(full)
	if err != nil {
		return "", fmt.Errorf("the full build is expected at %s: %w", full, err)
	}
	if selfInfo, err := os.Stat(self); err == nil && os.SameFile(fi, selfInfo) {
		return "", fmt.Errorf("%s is this classic-only build itself, not the full build", full)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("the full build at %s is not an executable file", full)
	}
	return full, nil
}

// errLeftOut: what handOff hands over never reaches the parts below; they refuse it should it ever do.
var errLeftOut = errors.New("left out of the classic-only build")

func startEmbeddedKafka() ([]string, func(), error) {
	return nil, nil, fmt.Errorf("%w: the embedded Kafka: %w", config.ErrInvalid, errLeftOut)
}

// runParts runs the classic protocol.
func runParts(ctx context.Context, cfg *config.Config, parts app.Parts) error {
	if needs := leftOut(cfg); needs != "" {
		return fmt.Errorf("%w: %s: %w", config.ErrInvalid, needs, errLeftOut)
	}
	return app.Run(ctx, parts)
}
