// Command nemo is the NEMO invoker: a drop-in replacement for the Apache OpenWhisk invoker for edge
// servers that run network functions.
//
//	nemo [invoker] --id N [--config file.json]   run the invoker (OpenWhisk's /init.sh grammar)
//	nemo demo [-n 4] [-v]                         run it on embedded defaults and play the controller
//	nemo simulate [flags]                         replay traces through the pool and scheduler decisions
//	nemo version                                  print the version
//	nemo help [command]                           print the commands, or one command's usage and flags
//
// Every command prints its usage line, a paragraph and its flags on -h or --help (to stdout, exit 0).
// With no command, or a flag first, nemo runs the invoker: OpenWhisk's /init.sh passes "--id N" alone.
//
// Exit status: 0 after a clean shutdown (and after printing help), 2 when the configuration or the
// command line is invalid — an unknown command or flag, a bad flag value, a bad setting; retrying cannot
// help (systemd's RestartPreventExitStatus=2) — and 1 for every other failure, the ones worth retrying
// (Kafka, CouchDB or Docker unreachable…). A bad command line prints the error and the usage to stderr.
//
// Two builds: the default one has every command and both scheduler protocols (full.go, fpc.go);
// `go build -tags classiconly` has the classic invoker and version only (classic.go), maps about 40 % less
// memory, and hands a configuration that needs what it leaves out to the full build installed next to it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/nemo-edge/nemo/invoker/config"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand of nemo.
type command struct {
	name    string
	args    string // what follows "nemo <name>" on the usage line
	summary string // one line, for the list of commands
	about   string // one paragraph, for the command's help
	// run declares the command's flags on fs (so that their usage text is printed from the same
	// declarations), parses args and runs. It returns flag.ErrHelp for -h/--help and an error that
	// isCommandLine recognises when args are wrong.
	run func(fs *flag.FlagSet, args []string, stdout io.Writer) error
}

var commands = slices.Concat([]command{
	{
		name: "invoker", args: "[--id N] [--config FILE] [flags]",
		summary: "run the invoker (the default command)",
		about: `Runs the NEMO invoker until SIGTERM or SIGINT, then drains the activations in flight and
removes its containers. It takes OpenWhisk's invoker command line (that of /init.sh) and environment
(PORT, KAFKA_HOSTS, RUNTIMES_MANIFEST, CONFIG_whisk_*, ...), plus NEMO's own settings from a JSON file
(--config or $NEMO_CONFIG). A bad setting stops it with one line naming the setting, and exit status 2.`,
		run: func(fs *flag.FlagSet, args []string, _ io.Writer) error { return runInvoker(fs, args) },
	},
}, fullCommands, []command{
	{
		name: "version", args: "",
		summary: "print the version",
		about:   `Prints the version of this nemo binary.`,
		run: func(fs *flag.FlagSet, args []string, stdout io.Writer) error {
			if err := parseFlags(fs, args); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "nemo", version+buildNote)
			return nil
		},
	},
})

// run is nemo's command line: it runs the command args[0] names (the invoker when args start with a flag
// or are empty) and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	name, rest := "invoker", args
	if len(args) > 0 {
		switch a := args[0]; {
		case isHelpFlag(a):
			printCommands(stdout, true)
			return 0
		case a == "help":
			return runHelp(args[1:], stdout, stderr)
		case !strings.HasPrefix(a, "-"):
			name, rest = a, args[1:]
		}
	}
	cmd, ok := lookup(name)
	if !ok && slices.Contains(omittedCommands, name) {
		fmt.Fprintf(stderr, "nemo: %q is not in this binary: %s\n", name, omittedWhy)
		return exitConfig
	}
	if !ok {
		fmt.Fprintf(stderr, "nemo: unknown command %q\n\n", name)
		printCommands(stderr, false)
		return exitConfig
	}
	fs := newFlagSet(cmd.name)
	err := cmd.run(fs, rest, stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		cmd.printHelp(stdout, fs)
		return 0
	case isCommandLine(err):
		fmt.Fprintf(stderr, "nemo %s: %v\n\n", cmd.name, err)
		cmd.printUsage(stderr, fs)
		return exitConfig
	}
	fmt.Fprintln(stderr, "nemo:", err)
	return exitCode(err)
}

// runHelp is `nemo help [command]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		printCommands(stdout, true)
		return 0
	case len(args) > 1:
		fmt.Fprintf(stderr, "nemo help: want at most one command, got %q\n\n", args)
		printCommands(stderr, false)
		return exitConfig
	}
	if isHelpFlag(args[0]) || args[0] == "help" {
		printCommands(stdout, true)
		return 0
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "nemo help: unknown command %q\n\n", args[0])
		printCommands(stderr, false)
		return exitConfig
	}
	// The flags are declared by the command itself: run it for its help, which stops before any work.
	fs := newFlagSet(cmd.name)
	if err := cmd.run(fs, []string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "nemo help %s: %v\n", cmd.name, err)
		return exitFailure
	}
	cmd.printHelp(stdout, fs)
	return 0
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// newFlagSet is a silent flag set: run prints help and usage itself, to stdout or stderr.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printCommands lists the commands: with the paragraph about nemo for help, without it after an error.
func printCommands(w io.Writer, about bool) {
	fmt.Fprintln(w, "usage: nemo [command] [flags]")
	if about {
		fmt.Fprint(w, `
NEMO is a drop-in replacement for the Apache OpenWhisk invoker, for edge servers that run network
functions: it consumes activations from Kafka, runs actions in a memory-bounded Docker container pool,
pre-warms the functions likely to be invoked next and harvests slack from the network functions. With
no command, or with a flag first, it runs the invoker (OpenWhisk's /init.sh passes --id N alone).
`)
	}
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "print this list, or a command's usage and flags")
	fmt.Fprintln(w, "\nRun \"nemo <command> --help\" for a command's flags.")
	if about {
		fmt.Fprint(w, `Exit status: 0 after a clean run, 2 for an invalid command line or configuration (retrying
cannot help), 1 for every other failure.
`)
	}
}

// printHelp is the answer to -h/--help: the usage line, the paragraph and the flags.
func (c command) printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\n%s", c.usageLine(), wrap(c.about, 100))
	c.printFlags(w, fs)
}

// wrap refills text into lines of at most width characters (a longer word gets a line of its own).
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len(word) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	b.WriteByte('\n')
	return b.String()
}

// printUsage goes with a command-line error: the usage line and the flags.
func (c command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n", c.usageLine())
	c.printFlags(w, fs)
	fmt.Fprintf(w, "\nRun \"nemo %s --help\" for more.\n", c.name)
}

func (c command) usageLine() string {
	return strings.TrimSpace("nemo " + c.name + " " + c.args)
}

// printFlags prints the flags as fs itself declares them, so a flag added to a command is listed
// without a second list to maintain.
func (c command) printFlags(w io.Writer, fs *flag.FlagSet) {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags (one dash or two):")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// usageError marks an error about the command line of a command of this package, keeping its text.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func badUsage(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// parseFlags parses args with fs, for the commands of this package: flag.ErrHelp for -h/--help, a
// usageError for a flag fs does not declare, a missing or bad value, or a stray argument.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return badUsage("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// isCommandLine reports whether err is about the command line itself (it is printed with the usage).
func isCommandLine(err error) bool {
	var ue usageError
	return errors.As(err, &ue) || errors.Is(err, config.ErrCommandLine) ||
		slices.ContainsFunc(commandLineErrors, func(e error) bool { return errors.Is(err, e) })
}

// Exit statuses (see the package comment).
const (
	exitFailure = 1
	exitConfig  = 2
)

func exitCode(err error) int {
	if errors.Is(err, config.ErrInvalid) || isCommandLine(err) {
		return exitConfig
	}
	return exitFailure
}
