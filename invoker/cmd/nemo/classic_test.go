package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The classic-only build (-tags classiconly, classic.go) is what the image's /init.sh starts. These tests
// build it with the go command that runs them.

// leftOutOfClassic are the packages whose initialisation and code the classic-only build exists to leave
// out: the new scheduler's clients, the demo's in-process Kafka and the simulator's plotting.
var leftOutOfClassic = []string{
	"github.com/nemo-edge/nemo/invoker/fpc/", // its sub-packages; invoker/fpc itself is the configuration
	"google.golang.org/grpc",
	"go.etcd.io/etcd/",
	"github.com/twmb/franz-go/",
	"gonum.org/v1/plot",
	"github.com/nemo-edge/nemo/scheduler/sim",
}

func goTool(t *testing.T, args ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command builds the classic-only binary")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go %s: %s", strings.Join(args, " "), stderr.String())
	return string(out)
}

func TestClassicOnlyBuildLeavesOutFPCDemoAndSimulator(t *testing.T) {
	deps := func(tags string) []string {
		return strings.Fields(goTool(t, "list", "-deps", "-tags", tags, "."))
	}
	linked := func(pkgs []string, prefix string) []string {
		var hits []string
		for _, p := range pkgs {
			if strings.HasPrefix(p, prefix) {
				hits = append(hits, p)
			}
		}
		return hits
	}
	full, classic := deps(""), deps("classiconly")
	for _, prefix := range leftOutOfClassic {
		assert.NotEmpty(t, linked(full, prefix), "the full build links %s (or this list is stale)", prefix)
		assert.Empty(t, linked(classic, prefix), "the classic-only build links %s", prefix)
	}
}

func TestClassicOnlyBuild(t *testing.T) {
	dir := t.TempDir()
	classic := filepath.Join(dir, "nemo-classic")
	goTool(t, "build", "-tags", "classiconly", "-o", classic, ".")

	// A stand-in for the full build, next to it: it records how it was started.
	record := filepath.Join(dir, "full-build-ran")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" \"$FROM_PARENT\" > " + record + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nemo"), []byte(fake), 0o755))

	// Everything config.Load needs, Kafka and CouchDB on closed ports, and a Docker socket that does not
	// exist, so that a run here fails at its first dependency whatever this machine runs.
	base := []string{
		"DOCKER_HOST=unix://" + filepath.Join(dir, "no-docker.sock"),
		"PATH=/usr/bin:/bin", "KAFKA_HOSTS=127.0.0.1:1", "DB_PREFIX=x_",
		"CONFIG_whisk_couchdb_host=127.0.0.1", "CONFIG_whisk_couchdb_port=1",
		"CONFIG_whisk_couchdb_username=a", "CONFIG_whisk_couchdb_password=b",
		"CONFIG_whisk_invoker_username=u", "CONFIG_whisk_invoker_password=p",
		`RUNTIMES_MANIFEST={"runtimes":{"go":[{"kind":"go:1.22","default":true,"image":{"name":"action-go"}}]}}`,
		"FROM_PARENT=kept",
	}
	fpcEnv := append(append([]string{}, base...),
		"CONFIG_whisk_spi_InvokerProvider=org.apache.openwhisk.core.invoker.FPCInvokerReactive",
		"CONFIG_whisk_etcd_hosts=127.0.0.1:2", "CONFIG_whisk_etcd_lease_timeout=10",
		"CONFIG_whisk_etcd_pool_threads=10", "CONFIG_whisk_invoker_containerCreation_maxPeek=500")
	runBin := func(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit):
			code = exit.ExitCode()
		default:
			t.Fatalf("running %s: %v", bin, err)
		}
		return code, o.String(), e.String()
	}
	runIt := func(t *testing.T, env []string, args ...string) (int, string, string) {
		t.Helper()
		return runBin(t, classic, env, args...)
	}

	t.Run("FPCConfigurationHandedToTheFullBuild", func(t *testing.T) {
		os.Remove(record)
		code, stdout, stderr := runIt(t, fpcEnv, "--id", "0", "--uniqueName", "edge1")
		require.Equal(t, 0, code, "the stand-in's exit status is the process's: %s", stderr)
		got, err := os.ReadFile(record)
		require.NoError(t, err, "the full build was not started: %s", stderr)
		want := strings.Join([]string{filepath.Join(dir, "nemo"), "invoker", "--id", "0", "--uniqueName", "edge1", "kept"}, "\n") + "\n"
		assert.Equal(t, want, string(got), "started with the same arguments and environment")
		assert.Contains(t, stdout+stderr, "handing over to the full build", "logged before the exec")
	})

	t.Run("ClassicConfigurationRunsHere", func(t *testing.T) {
		os.Remove(record)
		code, _, stderr := runIt(t, base, "--id", "0")
		assert.Equal(t, exitFailure, code, "Docker is unreachable: %s", stderr)
		assert.Contains(t, stderr, "docker engine not reachable")
		assert.NoFileExists(t, record, "a classic configuration must not start the full build")
	})

	t.Run("FPCWithoutTheFullBuildIsAConfigurationError", func(t *testing.T) {
		lone := t.TempDir()
		moved := filepath.Join(lone, "nemo-classic")
		require.NoError(t, os.Link(classic, moved))
		code, stdout, stderr := runBin(t, moved, fpcEnv, "--id", "0")
		out := stdout + stderr
		assert.Equal(t, exitConfig, code, "retrying cannot help: %s", out)
		assert.Contains(t, out, "FPC")
		assert.Contains(t, out, filepath.Join(lone, "nemo"), "names where the full build is expected")
	})

	t.Run("FullBuildCommandsRefusedByName", func(t *testing.T) {
		for _, name := range []string{"demo", "simulate"} {
			code, _, stderr := runIt(t, base, name)
			assert.Equal(t, exitConfig, code, name)
			assert.Contains(t, stderr, "classic-only build", name)
			assert.NotContains(t, stderr, "unknown command", name)
		}
	})

	t.Run("VersionSaysWhichBuild", func(t *testing.T) {
		code, stdout, _ := runIt(t, base, "version")
		assert.Equal(t, 0, code)
		assert.Equal(t, "nemo dev (classic-only build)\n", stdout)
	})
}
