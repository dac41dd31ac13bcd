//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/instanceid"
)

// buildNemo builds invoker/cmd/nemo into the test's temporary directory.
func buildNemo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nemo")
	if err := itest.GoBuild(bin, "github.com/nemo-edge/nemo/invoker/cmd/nemo"); err != nil {
		t.Fatalf("building nemo: %v", err)
	}
	return bin
}

// startWith runs `nemo invoker args...` with an OpenWhisk environment plus env (KEY=VALUE), and a config
// file setting the ZooKeeper deadline; it returns the exit status, stdout (the log) and stderr. Docker is pointed at a
// socket that does not exist, so a start that gets past the id assignment fails right after it, without
// touching Docker or Kafka.
func startWith(t *testing.T, bin, zkTimeout string, args []string, env ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nemo.json")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"invoker": {"zookeeperTimeout": %q}}`, zkTimeout)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"invoker", "--config", cfg}, args...)...)
	cmd.Env = append(itest.CleanEnviron(),
		"KAFKA_HOSTS=127.0.0.1:1", "CONFIG_whisk_couchdb_host=127.0.0.1", "CONFIG_whisk_couchdb_username=u",
		"CONFIG_whisk_couchdb_password=p", "DB_PREFIX=it_", "RUNTIMES_MANIFEST="+itest.RuntimesManifest,
		"DOCKER_HOST=unix://"+filepath.Join(dir, "no-docker.sock"), "PORT=1",
		// Not the default credentials, which are refused on every interface before the id is asked for.
		"CONFIG_whisk_invoker_username=it.user", "CONFIG_whisk_invoker_password=it-idassign")
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("nemo %v did not exit within 2 minutes", args)
	}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// lastLine is the process's last stderr line: the error main prints.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// errorLine is the last line the binary prefixed with its name: a usage error is followed by the usage
// text, so the error is not always the last line.
func errorLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "nemo invoker: ") {
			return lines[i]
		}
	}
	return lastLine(s)
}

// TestIDAssignmentExitStatus runs the nemo binary with Helm's way of starting an invoker (--uniqueName, no
// --id): ZooKeeper unreachable is worth retrying (exit 1, one line naming ZooKeeper), a bad flag or an
// impossible --overwriteId is not (exit 2, one line naming the flag), and against a real ZooKeeper the id
// is assigned before anything else is started.
func TestIDAssignmentExitStatus(t *testing.T) {
	bin := buildNemo(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now

	t.Run("ZooKeeperUnreachable", func(t *testing.T) {
		start := time.Now()
		code, _, stderr := startWith(t, bin, "2s", []string{"--uniqueName", "kind-worker"}, "ZOOKEEPER_HOSTS="+closed)
		line := lastLine(stderr)
		if code != 1 || !strings.Contains(line, `invoker id for --uniqueName "kind-worker" from ZooKeeper `+closed) ||
			!strings.Contains(line, "connection refused") {
			t.Errorf("exit %d, last line %q; want 1 and a line naming ZooKeeper %s and the refused connection", code, line, closed)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("took %v with invoker.zookeeperTimeout 2s", took)
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"OverwriteIDNotANumber", []string{"--uniqueName", "n", "--overwriteId", "x"}, []string{"ZOOKEEPER_HOSTS=" + closed},
			`config: --overwriteId: "x" is not a non-negative integer`},
		{"UniqueNameNotAZnodeName", []string{"--uniqueName", "a/b"}, []string{"ZOOKEEPER_HOSTS=" + closed},
			"config: --uniqueName: \"a/b\" contains '/'"},
		{"OverwriteIDWithoutZooKeeper", []string{"--uniqueName", "n", "--overwriteId", "1"}, nil,
			"config: --overwriteId: moves a unique name's id in ZooKeeper"},
		{"UniqueNameWithoutZooKeeper", []string{"--uniqueName", "n"}, nil,
			"config: --uniqueName: \"n\" given without --id and without ZOOKEEPER_HOSTS"},
		{"MalformedZooKeeperHosts", []string{"--uniqueName", "n"}, []string{"ZOOKEEPER_HOSTS=zk:"},
			"config: ZOOKEEPER_HOSTS:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := startWith(t, bin, "2s", tc.args, tc.env...)
			if line := errorLine(stderr); code != 2 || !strings.Contains(line, tc.want) {
				t.Errorf("exit %d, error line %q; want 2 and %q\n%s", code, line, tc.want, stderr)
			}
		})
	}

	zkAddr := os.Getenv("NEMO_ZOOKEEPER")
	if zkAddr == "" {
		t.Skip("NEMO_ZOOKEEPER is not set: the cases against a real ZooKeeper are skipped")
	}
	zks := newZKSeed(t, zkAddr) // a fresh chroot
	hosts := "ZOOKEEPER_HOSTS=" + zkAddr + zks.chroot

	t.Run("OverwriteIDBeyondTheInvokers", func(t *testing.T) {
		code, _, stderr := startWith(t, bin, "20s", []string{"--uniqueName", "n", "--overwriteId", "5"}, hosts)
		line := lastLine(stderr)
		if code != 2 || !strings.Contains(line, "config: --overwriteId: ZooKeeper") || !strings.Contains(line, "cannot give id 5") {
			t.Errorf("exit %d, last line %q; want 2 and the refusal naming --overwriteId", code, line)
		}
	})
	t.Run("AssignedBeforeAnythingElse", func(t *testing.T) {
		code, stdout, stderr := startWith(t, bin, "20s", []string{"--uniqueName", "kind-worker"}, hosts)
		if code != 1 || !strings.Contains(lastLine(stderr), "docker") {
			t.Errorf("exit %d, last line %q; want 1 from the (absent) Docker engine, after the id assignment", code, lastLine(stderr))
		}
		if id, err := instanceid.DecodeID(zks.get(t, instanceid.MappingPath("kind-worker"))); err != nil || id != 0 {
			t.Errorf("mapping of kind-worker: %d, %v; want 0", id, err)
		}
		if !strings.Contains(stdout, `"message":"invoker id from ZooKeeper"`) {
			t.Errorf("no log line about the id:\n%s", stdout)
		}
	})
}
