// Command nemo is the NEMO invoker: a drop-in replacement for the Apache OpenWhisk invoker for edge
// servers that run network functions.
//
//	nemo [invoker] --id N [--config file.json]   run the invoker (OpenWhisk's /init.sh grammar)
//	nemo demo [-n 4] [-v]                         run it on embedded defaults and play the controller
//	nemo simulate [flags]                         replay traces through the pool and scheduler decisions
//	nemo version
//
// Exit status: 0 after a clean shutdown, 2 when the configuration is invalid (retrying cannot help:
// systemd's RestartPreventExitStatus=2), 1 for every other failure (Kafka, CouchDB or Docker unreachable…).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/scheduler/sim"
)

var version = "dev"

func main() {
	args := os.Args[1:]
	cmd := "invoker"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "invoker":
		err = runInvoker(args)
	case "demo":
		err = runDemo(args, os.Stdout)
	case "simulate":
		err = sim.Main(args, os.Stdout)
	case "version":
		fmt.Println("nemo", version)
	default:
		err = fmt.Errorf("unknown command %q (invoker, demo, simulate, version)", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nemo:", err)
		os.Exit(exitCode(err))
	}
}

// Exit statuses (see the package comment).
const (
	exitFailure = 1
	exitConfig  = 2
)

func exitCode(err error) int {
	if errors.Is(err, config.ErrInvalid) {
		return exitConfig
	}
	return exitFailure
}
