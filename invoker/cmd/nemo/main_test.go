//go:build !classiconly

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/scheduler/sim"
)

func TestExitCodeSeparatesConfigurationErrors(t *testing.T) {
	_, err := config.Load([]string{"--id", "0"}, func(k string) string {
		if k == "CONFIG_whisk_containerPool_userMemory" {
			return "lots"
		}
		return ""
	})
	require.Error(t, err)
	assert.Equal(t, exitConfig, exitCode(err), "invalid configuration: %v", err)
	assert.Equal(t, exitConfig, exitCode(fmt.Errorf("startup: %w", err)), "also when wrapped")
	assert.Equal(t, exitConfig, exitCode(badUsage("-n 0")), "a bad command line")
	assert.Equal(t, exitConfig, exitCode(fmt.Errorf("x: %w", sim.ErrInvalidOptions)), "simulate's bad command line")
	assert.Equal(t, exitFailure, exitCode(errors.New("kafka: connect to [127.0.0.1:1]: connection refused")))
}

// flagsOf lists the flags a command declares, as its run function declares them.
func flagsOf(t *testing.T, name string) []string {
	t.Helper()
	cmd, ok := lookup(name)
	require.True(t, ok, name)
	fs := newFlagSet(name)
	require.ErrorIs(t, cmd.run(fs, []string{"-h"}, &bytes.Buffer{}), flag.ErrHelp, "%s -h", name)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// TestCommandLine runs nemo's command line in-process for help, usage errors and invalid configuration:
// the exit status, and what goes to stdout and to stderr. None of these cases reaches any I/O.
func TestCommandLine(t *testing.T) {
	invokerFlags := flagsOf(t, "invoker")
	require.Subset(t, invokerFlags, []string{"id", "config", "uniqueName", "displayedName", "overwriteId"})
	demoFlags := flagsOf(t, "demo")
	simFlags := flagsOf(t, "simulate")
	require.Contains(t, simFlags, "workload")
	dashed := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = "  -" + n
		}
		return out
	}
	commandList := []string{"Commands:", "  invoker ", "  demo ", "  simulate ", "  version ", "  help "}
	missingConfig := filepath.Join(t.TempDir(), "missing.json")

	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear on stdout
		stderr     []string // each must appear on stderr
		noStdout   bool
		usageOnErr bool // stderr carries a usage line
	}{
		// Help: stdout, exit 0, nothing on stderr.
		{name: "nemo --help lists the commands", args: []string{"--help"}, stdout: append([]string{"usage: nemo [command]", "Exit status"}, commandList...)},
		{name: "nemo -h", args: []string{"-h"}, stdout: commandList},
		{name: "nemo help", args: []string{"help"}, stdout: commandList},
		{name: "nemo help help", args: []string{"help", "help"}, stdout: commandList},
		{name: "invoker --help", args: []string{"invoker", "--help"},
			stdout: append([]string{"usage: nemo invoker ", "Runs the NEMO invoker", "Flags"}, dashed(invokerFlags)...)},
		{name: "flags first: the invoker's help", args: []string{"--id", "0", "-h"}, stdout: []string{"usage: nemo invoker "}},
		{name: "help invoker", args: []string{"help", "invoker"}, stdout: append([]string{"usage: nemo invoker "}, dashed(invokerFlags)...)},
		{name: "demo -h", args: []string{"demo", "-h"},
			stdout: append([]string{"usage: nemo demo ", demoContainerPrefix + "_", "(default 4)"}, dashed(demoFlags)...)},
		{name: "help demo", args: []string{"help", "demo"}, stdout: []string{"usage: nemo demo "}},
		{name: "simulate --help", args: []string{"simulate", "--help"},
			stdout: append([]string{"usage: nemo simulate ", "Replays a workload"}, dashed(simFlags)...)},
		{name: "version --help", args: []string{"version", "--help"}, stdout: []string{"usage: nemo version", "Prints the version"}},
		{name: "version", args: []string{"version"}, stdout: []string{"nemo " + version + "\n"}},

		// A bad command line: the error and the usage on stderr, exit 2, nothing on stdout.
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: append([]string{`unknown command "bogus"`}, commandList...), noStdout: true, usageOnErr: true},
		{name: "help for an unknown command", args: []string{"help", "bogus"}, code: 2, stderr: []string{`unknown command "bogus"`}, noStdout: true, usageOnErr: true},
		{name: "help for two commands", args: []string{"help", "demo", "version"}, code: 2, stderr: []string{"at most one command"}, noStdout: true, usageOnErr: true},
		{name: "invoker: unknown flag", args: []string{"invoker", "--bogus"}, code: 2,
			stderr: append([]string{"nemo invoker: ", "flag provided but not defined: -bogus", "usage: nemo invoker "}, dashed(invokerFlags)...), noStdout: true, usageOnErr: true},
		{name: "flags first: unknown flag", args: []string{"--bogus"}, code: 2, stderr: []string{"-bogus", "usage: nemo invoker "}, noStdout: true, usageOnErr: true},
		{name: "invoker: flag without its value", args: []string{"invoker", "--id"}, code: 2, stderr: []string{"flag needs an argument"}, noStdout: true, usageOnErr: true},
		{name: "invoker: bad flag value", args: []string{"invoker", "--id", "x"}, code: 2, stderr: []string{`"x" is not a non-negative integer`}, noStdout: true, usageOnErr: true},
		{name: "invoker: stray argument", args: []string{"invoker", "--id", "0", "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}, noStdout: true, usageOnErr: true},
		{name: "demo: unknown flag", args: []string{"demo", "--bogus"}, code: 2, stderr: append([]string{"nemo demo: ", "-bogus", "usage: nemo demo "}, dashed(demoFlags)...), noStdout: true, usageOnErr: true},
		{name: "demo: bad flag value", args: []string{"demo", "-n", "x"}, code: 2, stderr: []string{`invalid value "x" for flag -n`}, noStdout: true, usageOnErr: true},
		{name: "demo: no activation", args: []string{"demo", "-n", "0"}, code: 2, stderr: []string{"-n 0: send at least one activation"}, noStdout: true, usageOnErr: true},
		{name: "demo: empty image", args: []string{"demo", "-image", ""}, code: 2, stderr: []string{"-image: empty"}, noStdout: true, usageOnErr: true},
		{name: "demo: stray argument", args: []string{"demo", "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}, noStdout: true, usageOnErr: true},
		{name: "simulate: unknown flag", args: []string{"simulate", "-bogus"}, code: 2, stderr: append([]string{"nemo simulate: ", "-bogus", "usage: nemo simulate "}, dashed(simFlags)...), noStdout: true, usageOnErr: true},
		{name: "simulate: bad flag value", args: []string{"simulate", "-memory", "x"}, code: 2, stderr: []string{"-memory"}, noStdout: true, usageOnErr: true},
		{name: "simulate: unknown workload", args: []string{"simulate", "-workload", "nope"}, code: 2, stderr: []string{`unknown -workload "nope"`}, noStdout: true, usageOnErr: true},
		{name: "version: stray argument", args: []string{"version", "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}, noStdout: true, usageOnErr: true},

		// An invalid configuration that is not the command line's fault: one line, no usage, exit 2.
		{name: "invoker: config file missing", args: []string{"invoker", "--id", "0", "--config", missingConfig}, code: 2,
			stderr: []string{"nemo: config: " + missingConfig + ": cannot read config file"}, noStdout: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			assert.Equal(t, tc.code, code, "exit status; stderr:\n%s", stderr.String())
			for _, s := range tc.stdout {
				assert.Contains(t, stdout.String(), s, "stdout")
			}
			for _, s := range tc.stderr {
				assert.Contains(t, stderr.String(), s, "stderr")
			}
			if tc.code == 0 {
				assert.Empty(t, stderr.String(), "stderr of a clean run")
			}
			if tc.noStdout {
				assert.Empty(t, stdout.String(), "stdout of a failed run")
			}
			if tc.code != 0 {
				assert.Equal(t, tc.usageOnErr, strings.Contains(stderr.String(), "usage: "), "usage printed with the error:\n%s", stderr.String())
			}
			if !tc.usageOnErr && tc.code != 0 {
				assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
			}
		})
	}
}

// TestEveryCommandHasHelp keeps the command table honest: each command answers -h with its usage line,
// its paragraph, and, when it has flags, each of them with a usage text.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			assert.NotEmpty(t, c.summary)
			assert.NotEmpty(t, c.about)
			for _, help := range []string{"-h", "--help"} {
				var stdout, stderr bytes.Buffer
				require.Equal(t, 0, run([]string{c.name, help}, &stdout, &stderr), stderr.String())
				assert.True(t, strings.HasPrefix(stdout.String(), "usage: nemo "+c.name), stdout.String())
				text, _, _ := strings.Cut(stdout.String(), "\nFlags")
				for _, line := range strings.Split(text, "\n") {
					assert.LessOrEqual(t, len([]rune(line)), 100, "paragraph line too long: %q", line)
				}
			}
			fs := newFlagSet(c.name)
			require.ErrorIs(t, c.run(fs, []string{"-h"}, &bytes.Buffer{}), flag.ErrHelp)
			fs.VisitAll(func(f *flag.Flag) { assert.NotEmpty(t, f.Usage, "-%s has no usage text", f.Name) })
		})
	}
}

func TestWrap(t *testing.T) {
	assert.Equal(t, "a bb\nccc\nd\n", wrap("a  bb\n ccc d", 4))
	assert.Equal(t, "averylongword\nb\n", wrap("averylongword b", 4), "a word longer than the width gets its own line")
	assert.Equal(t, "\n", wrap("", 10))
}

func TestDemoContainerPrefixIsTheDemoConfigs(t *testing.T) {
	assert.Equal(t, demoContainerPrefix, config.Demo().ContainerPrefix())
	assert.NotEqual(t, config.Defaults().ContainerPrefix(), demoContainerPrefix)
}

// TestBinaryExitStatus builds nemo and runs it for real: the exit statuses the package comment
// promises, as a shell or systemd sees them, and which stream the words go to.
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nemo")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// A configuration that passes validation and needs no service but Docker, pointed at an engine that
	// is not there: a failure worth retrying.
	demo := config.Demo()
	demo.Store.Path = filepath.Join(dir, "store")
	doc, err := json.Marshal(demo)
	require.NoError(t, err)
	cfgPath := filepath.Join(dir, "nemo.json")
	require.NoError(t, os.WriteFile(cfgPath, doc, 0o644))
	env := append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(dir, "no-docker.sock"), "NEMO_CONFIG=")

	cases := []struct {
		args           []string
		code           int
		stdout, stderr string // a word each stream must carry ("" = must be empty)
	}{
		{[]string{"--help"}, 0, "Commands:", ""},
		{[]string{"help", "simulate"}, 0, "usage: nemo simulate", ""},
		{[]string{"invoker", "--help"}, 0, "-uniqueName", ""},
		{[]string{"demo", "--help"}, 0, "-image", ""},
		{[]string{"version"}, 0, "nemo ", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"invoker", "--bogus"}, 2, "", "usage: nemo invoker"},
		{[]string{"--id", "x"}, 2, "", "usage: nemo invoker"},
		{[]string{"demo", "-n", "-1"}, 2, "", "usage: nemo demo"},
		{[]string{"simulate", "-workload", "nope"}, 2, "", "usage: nemo simulate"},
		{[]string{"invoker", "--id", "0", "--config", filepath.Join(dir, "missing.json")}, 2, "", "cannot read config file"},
		{[]string{"invoker", "--config", cfgPath}, 1, "", "docker engine not reachable"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.code, code, "exit status; stderr:\n%s", stderr.String())
			if tc.stderr == "" {
				assert.Empty(t, stderr.String())
			} else {
				assert.Contains(t, stderr.String(), tc.stderr)
			}
			if tc.stdout != "" {
				assert.Contains(t, stdout.String(), tc.stdout)
			}
			if tc.code == 2 {
				assert.Empty(t, stdout.String(), "a refused command line prints nothing on stdout")
			}
		})
	}
}
