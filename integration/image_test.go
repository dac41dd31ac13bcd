//go:build integration

// Package integration's image tests check what an operator deploys: the nemo/invoker image built by
// scripts/build-invoker-image.sh (Dockerfile at the repository root), and under deployments/ the compose
// overrides, the example config and the systemd unit.
//
// TestInvokerImage builds the image itself by running the script, so it always tests the current source.
// The script is idempotent: with a warm Go build cache a run takes a few seconds and skips docker build when
// nothing changed; the very first run on a machine compiles everything (about 1.5 min on 2 cores). It needs
// NEMO_DOCKER=1, a Docker engine and a static busybox (Debian: apt-get install -y busybox-static, or
// NEMO_BUSYBOX=path), and skips without them. TestComposeOverrides needs docker-compose (or the compose
// plugin), TestSystemdUnitVerifies systemd-analyze; each skips without its tool. TestExampleConfigLoads needs
// nothing.
package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nemo-edge/nemo/invoker/config"
)

const invokerImage = "nemo/invoker:latest"

// repoRoot is the repository root (this file lives in integration/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// staticBusybox reports why the busybox the build script would copy is unusable ("" when it is fine):
// the image has no libc, so it must have no ELF program interpreter.
func staticBusybox() string {
	path := os.Getenv("NEMO_BUSYBOX")
	if path == "" {
		path = "/bin/busybox"
	}
	f, err := elf.Open(path)
	if err != nil {
		return path + ": " + err.Error()
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return path + " is dynamically linked"
		}
	}
	return ""
}

// run runs a command bounded by ctx and returns its stdout, stderr and exit code (-1 when it could not run
// or was killed by the deadline, with err set).
func run(ctx context.Context, name string, args ...string) (stdout, stderr string, code int, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0, nil
	case errors.As(err, &ee) && ctx.Err() == nil:
		return out.String(), errb.String(), ee.ExitCode(), nil
	case ctx.Err() != nil:
		return out.String(), errb.String(), -1, ctx.Err()
	}
	return out.String(), errb.String(), -1, err
}

// imageConfig is the part of `docker image inspect` the tests read.
type imageConfig struct {
	ID     string `json:"Id"`
	Size   int64
	Config struct {
		Env          []string
		Cmd          []string
		Entrypoint   []string
		WorkingDir   string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
		StopSignal   string
		Healthcheck  *struct{ Test []string }
	}
}

func inspectImage(t *testing.T, ctx context.Context, ref string) imageConfig {
	t.Helper()
	out, stderr, code, err := run(ctx, "docker", "image", "inspect", ref)
	if err != nil || code != 0 {
		t.Fatalf("docker image inspect %s: code %d, %v: %s", ref, code, err, stderr)
	}
	var imgs []imageConfig
	if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("docker image inspect %s: %d images, %v", ref, len(imgs), err)
	}
	return imgs[0]
}

// imageFile is one entry of the image's filesystem; Head holds the first bytes of regular files.
type imageFile struct {
	*tar.Header
	Head string
}

// imageFiles lists the image's filesystem through `docker export` of a created (never started) container,
// keyed by path without the leading "/". It does not rely on anything inside the image.
func imageFiles(t *testing.T, ctx context.Context, ref string) map[string]imageFile {
	t.Helper()
	out, stderr, code, err := run(ctx, "docker", "create", ref)
	if err != nil || code != 0 {
		t.Fatalf("docker create %s: code %d, %v: %s", ref, code, err, stderr)
	}
	id := strings.TrimSpace(out)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, stderr, code, err := run(cctx, "docker", "rm", "-f", id); err != nil || code != 0 {
			t.Errorf("docker rm -f %s: code %d, %v: %s", id, code, err, stderr)
		}
	})
	cmd := exec.CommandContext(ctx, "docker", "export", id)
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	files := map[string]imageFile{}
	tr := tar.NewReader(pipe)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading docker export: %v", err)
		}
		f := imageFile{Header: h}
		if h.Typeflag == tar.TypeReg {
			head := make([]byte, 64)
			n, _ := io.ReadFull(tr, head)
			f.Head = string(head[:n])
		}
		files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = f
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker export: %v: %s", err, errb.String())
	}
	return files
}

func TestInvokerImage(t *testing.T) {
	if os.Getenv("NEMO_DOCKER") != "1" {
		t.Skip("NEMO_DOCKER=1 is not set: no Docker engine to build and run nemo/invoker")
	}
	if why := staticBusybox(); why != "" {
		t.Skipf("no static busybox for the image (%s): apt-get install -y busybox-static, or set NEMO_BUSYBOX", why)
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	bctx, bcancel := context.WithTimeout(ctx, 5*time.Minute)
	out, stderr, code, err := run(bctx, filepath.Join(root, "scripts", "build-invoker-image.sh"))
	bcancel()
	if err != nil || code != 0 {
		t.Fatalf("scripts/build-invoker-image.sh: code %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, out, stderr)
	}
	t.Logf("build-invoker-image.sh:\n%s", strings.TrimSpace(out))
	img := inspectImage(t, ctx, invokerImage)
	t.Logf("%s: %s, %d bytes (%.1f MB)", invokerImage, img.ID, img.Size, float64(img.Size)/1e6)
	version := img.Config.Labels["org.opencontainers.image.version"]

	t.Run("ImageConfig", func(t *testing.T) {
		c := img.Config
		if c.WorkingDir != "/" {
			t.Errorf("WorkingDir = %q, want / (OpenWhisk's relative containers/<id>/ log path)", c.WorkingDir)
		}
		if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
			t.Errorf("ExposedPorts = %v, want 8080/tcp", c.ExposedPorts)
		}
		if len(c.Entrypoint) != 0 {
			t.Errorf("Entrypoint = %q, want none (compose's command must run as given)", c.Entrypoint)
		}
		if len(c.Cmd) == 0 || c.Cmd[0] != "/init.sh" {
			t.Errorf("Cmd = %q, want /init.sh ...", c.Cmd)
		}
		for _, l := range []string{"title", "description", "version", "revision", "created"} {
			if c.Labels["org.opencontainers.image."+l] == "" {
				t.Errorf("label org.opencontainers.image.%s missing (labels %v)", l, c.Labels)
			}
		}
		if c.Labels["nemo.src"] == "" {
			t.Errorf("label nemo.src (the build script's context hash) missing")
		}
	})

	t.Run("Files", func(t *testing.T) {
		files := imageFiles(t, ctx, invokerImage)
		executable := func(name, head string) {
			f, ok := files[name]
			switch {
			case !ok:
				t.Errorf("/%s is missing from the image", name)
			case f.Typeflag != tar.TypeReg:
				t.Errorf("/%s: tar type %q, want a regular file", name, f.Typeflag)
			case f.Mode&0o111 == 0:
				t.Errorf("/%s: mode %o is not executable", name, f.Mode)
			case !strings.HasPrefix(f.Head, head):
				t.Errorf("/%s starts with %q, want %q", name, f.Head, head)
			}
		}
		executable("init.sh", "#!/bin/sh\n")
		executable("usr/bin/nemo", "\x7fELF")
		executable("usr/bin/nemo-classic", "\x7fELF")
		executable("bin/busybox", "\x7fELF")
		switch h, ok := files["bin/sh"]; {
		case !ok:
			t.Errorf("/bin/sh is missing from the image")
		case h.Typeflag == tar.TypeSymlink && h.Linkname != "busybox" && h.Linkname != "/bin/busybox":
			t.Errorf("/bin/sh -> %s, want busybox", h.Linkname)
		case h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeLink:
			t.Errorf("/bin/sh: tar type %q", h.Typeflag)
		}
		if f, ok := files["tmp"]; !ok || f.Typeflag != tar.TypeDir || f.Mode&0o1777 != 0o1777 {
			t.Errorf("/tmp missing or not a mode 1777 directory: %+v", f.Header)
		}
		for _, dir := range []string{"logs", "etc/nemo", "var/lib/nemo"} {
			if f, ok := files[dir]; !ok || f.Typeflag != tar.TypeDir {
				t.Errorf("/%s: want a directory (mount point), got %+v", dir, f.Header)
			}
		}
	})

	t.Run("VersionThroughInitSh", func(t *testing.T) {
		if version == "" {
			t.Fatal("label org.opencontainers.image.version is empty")
		}
		want := "nemo " + version
		for _, c := range []struct {
			cmd  []string
			want string
		}{
			{[]string{"/bin/sh", "-c", "exec /init.sh version"}, want},
			{[]string{"/usr/bin/nemo", "version"}, want},
			{[]string{"/usr/bin/nemo-classic", "version"}, want + " (classic-only build)"},
		} {
			cmd, want := c.cmd, c.want
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			out, stderr, code, err := run(rctx, "docker", append([]string{"run", "--rm", "--network", "none", invokerImage}, cmd...)...)
			rcancel()
			if err != nil || code != 0 {
				t.Errorf("%q: code %d, %v: %s", cmd, code, err, stderr)
				continue
			}
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("%q printed %q, want %q (the version stamped by the build script)", cmd, got, want)
			}
		}
	})

	t.Run("Healthcheck", func(t *testing.T) {
		// The image's HEALTHCHECK, run as Docker would, against a /ping served on 127.0.0.1 by this test
		// (host network, PORT pointing at it), then against a closed port.
		hc := img.Config.Healthcheck
		if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
			t.Fatalf("Healthcheck = %+v, want a CMD check", hc)
		}
		var pings atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/ping" {
				http.NotFound(w, r)
				return
			}
			pings.Add(1)
			io.WriteString(w, "pong")
		}))
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		check := func(port int) (int, string) {
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			defer rcancel()
			args := append([]string{"run", "--rm", "--network", "host", "-e", "PORT=" + strconv.Itoa(port), invokerImage}, hc.Test[1:]...)
			out, stderr, code, err := run(rctx, "docker", args...)
			if err != nil {
				t.Fatalf("healthcheck %q: %v", hc.Test[1:], err)
			}
			return code, out + stderr
		}
		if code, out := check(port); code != 0 || pings.Load() != 1 {
			t.Errorf("healthcheck against a serving /ping: exit %d, %d pings, output %q", code, pings.Load(), out)
		}
		srv.Close()
		if code, out := check(port); code == 0 {
			t.Errorf("healthcheck against a closed port: exit 0, output %q", out)
		}
	})

	t.Run("FPCConfigurationHandedToTheFullBuild", func(t *testing.T) {
		// /init.sh starts the classic-only build; a configuration for OpenWhisk's new scheduler must reach
		// the full /usr/bin/nemo in the same process. Kafka is unreachable (no network), so it then fails.
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		defer rcancel()
		args := []string{"run", "--rm", "--network", "none"}
		for _, e := range []string{
			"KAFKA_HOSTS=127.0.0.1:1", "DB_PREFIX=x_", "CONFIG_whisk_couchdb_host=127.0.0.1", "CONFIG_whisk_couchdb_port=1",
			"CONFIG_whisk_couchdb_username=a", "CONFIG_whisk_couchdb_password=b",
			"CONFIG_whisk_invoker_username=u", "CONFIG_whisk_invoker_password=p",
			`RUNTIMES_MANIFEST={"runtimes":{"go":[{"kind":"go:1.22","default":true,"image":{"name":"action-go"}}]}}`,
			"CONFIG_whisk_spi_InvokerProvider=org.apache.openwhisk.core.invoker.FPCInvokerReactive",
			"CONFIG_whisk_etcd_hosts=127.0.0.1:2", "CONFIG_whisk_etcd_lease_timeout=10",
			"CONFIG_whisk_etcd_pool_threads=10", "CONFIG_whisk_invoker_containerCreation_maxPeek=500",
		} {
			args = append(args, "-e", e)
		}
		out, stderr, code, err := run(rctx, "docker", append(args, invokerImage, "/bin/sh", "-c", "exec /init.sh --id 0")...)
		if err != nil {
			t.Fatalf("the invoker did not exit within the deadline without Kafka: %v", err)
		}
		all := out + stderr
		if code == 0 || !strings.Contains(all, "handing over to the full build") || !strings.Contains(all, `"binary":"/usr/bin/nemo"`) {
			t.Errorf("want the classic-only build to hand over to /usr/bin/nemo, then a failure to reach Kafka; exit %d, output:\n%s", code, all)
		}
		if i := strings.Index(all, "handing over"); i < 0 || !strings.Contains(all[i:], "\nnemo: ") {
			t.Errorf("want the full build's error (no Docker, no Kafka here) after the hand-over; output:\n%s", all)
		}
	})

	t.Run("ComposeCommandFailsFastWithoutKafkaHosts", func(t *testing.T) {
		// devtools' exact command, /logs on a temporary directory, and no environment at all: the first
		// missing requirement is the Kafka brokers, which must be reported on one line naming KAFKA_HOSTS.
		logs := t.TempDir()
		rctx, rcancel := context.WithTimeout(ctx, time.Minute)
		defer rcancel()
		out, stderr, code, err := run(rctx, "docker", "run", "--rm", "--network", "none", "-v", logs+":/logs",
			invokerImage, "/bin/sh", "-c", "exec /init.sh --id 0 >> /logs/invoker-local_logs.log 2>&1")
		if err != nil {
			t.Fatalf("the invoker did not exit within the deadline without KAFKA_HOSTS: %v", err)
		}
		logText, rerr := os.ReadFile(filepath.Join(logs, "invoker-local_logs.log"))
		if rerr != nil {
			t.Fatalf("the compose command wrote no log file: %v (stdout %q, stderr %q)", rerr, out, stderr)
		}
		if code == 0 {
			t.Fatalf("exit code 0 without KAFKA_HOSTS; log:\n%s", logText)
		}
		var lines []string
		for _, l := range strings.Split(string(logText), "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "KAFKA_HOSTS") {
			t.Errorf("want exactly one log line naming KAFKA_HOSTS, got %d:\n%s", len(lines), logText)
		}
		t.Logf("exit code %d, log line: %s", code, strings.Join(lines, " | "))
	})
}

// TestExampleConfigLoads checks that deployments/config/nemo.example.json is a config file the invoker
// accepts (strict decoding: a misspelt field fails), that its NF-bound edge functions are pinned to the
// NF's cores, and that an OpenWhisk environment still wins over it, as the compose and systemd
// deployments rely on.
func TestExampleConfigLoads(t *testing.T) {
	path := filepath.Join(repoRoot(t), "deployments", "config", "nemo.example.json")
	noEnv := func(string) string { return "" }
	c, err := config.Load([]string{"--config", path}, noEnv)
	if err != nil {
		t.Fatalf("config.Load(%s): %v", path, err)
	}
	if !c.Harvester.Enabled || len(c.Harvester.NFs) == 0 {
		t.Errorf("harvester = %+v, want enabled with NFs (the example shows the harvester)", c.Harvester)
	}
	if got := c.CPUSetFor("guest/fw-stats"); got != "1" {
		t.Errorf("CPUSetFor(guest/fw-stats) = %q, want \"1\" (NF fw's cores)", got)
	}
	if c.Manifest == nil || len(c.Manifest.Kinds()) == 0 {
		t.Errorf("runtimes manifest (runtimes.json next to the example) not loaded")
	}

	env := map[string]string{
		"KAFKA_HOSTS":                   "kafka.docker:9092",
		"NEMO_KAFKA_VERSION":            "0.11.0.1",
		"CONFIG_whisk_couchdb_host":     "db.docker",
		"CONFIG_whisk_couchdb_password": "some_passw0rd",
		"PORT":                          "8090",
	}
	c, err = config.Load([]string{"--config", path, "--id", "3"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load with an OpenWhisk environment: %v", err)
	}
	if got := strings.Join(c.Kafka.Brokers, ","); got != env["KAFKA_HOSTS"] {
		t.Errorf("kafka.brokers = %q, want KAFKA_HOSTS %q", got, env["KAFKA_HOSTS"])
	}
	if c.Kafka.Version != "0.11.0.1" || c.Store.CouchDB.Host != "db.docker" || c.Invoker.Port != 8090 || c.Invoker.ID != 3 {
		t.Errorf("environment/flags did not win: version %q, couchdb host %q, port %d, id %d",
			c.Kafka.Version, c.Store.CouchDB.Host, c.Invoker.Port, c.Invoker.ID)
	}
}

// TestSystemdUnitVerifies runs `systemd-analyze verify` on deployments/systemd/nemo-invoker.service with
// ExecStart's binary replaced by /bin/true (verify requires the binary to exist) and fails on any
// complaint about the unit.
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot(t), "deployments", "systemd", "nemo-invoker.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/nemo invoker")) {
		t.Fatalf("ExecStart does not run /usr/local/bin/nemo invoker")
	}
	for _, want := range []string{"KillSignal=SIGTERM", "EnvironmentFile=/etc/nemo/invoker.env", "TimeoutStopSec=", "Restart="} {
		if !bytes.Contains(unit, []byte("\n"+want)) {
			t.Errorf("unit lacks %s", want)
		}
	}
	path := filepath.Join(t.TempDir(), "nemo-invoker.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/nemo"), []byte("/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, code, err := run(ctx, "systemd-analyze", "verify", "--man=no", path)
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v", err)
	}
	var complaints []string
	for _, l := range strings.Split(out+stderr, "\n") {
		if strings.Contains(l, "nemo-invoker.service") {
			complaints = append(complaints, l)
		}
	}
	if code != 0 || len(complaints) > 0 {
		t.Errorf("systemd-analyze verify: code %d:\n%s", code, strings.Join(complaints, "\n"))
	}
}

// composeBase stands in for apache/openwhisk-devtools' docker-compose/docker-compose.yml: the services and the
// invoker definition docs/protocol.md#devtools lists (images are not pulled: `config` only merges and validates).
const composeBase = `version: '3'
services:
  db:
    image: apache/couchdb:2.3
    ports: ["5984:5984"]
  zookeeper:
    image: zookeeper:3.4
    ports: ["2181:2181"]
  kafka:
    image: wurstmeister/kafka:0.11.0.1
    links: [zookeeper]
    depends_on: [zookeeper]
    ports: ["9092:9092"]
    environment:
      KAFKA_ADVERTISED_HOST_NAME: kafka
  controller:
    image: ${DOCKER_IMAGE_PREFIX:-openwhisk}/controller:${DOCKER_IMAGE_TAG:-latest}
    command: /bin/sh -c "exec /init.sh 0 >> /logs/controller-local_logs.log 2>&1"
    links: ["db:db.docker", "kafka:kafka.docker", "zookeeper:zookeeper.docker"]
    env_file: [./docker-whisk-controller.env, ~/tmp/openwhisk/local.env]
    environment:
      PORT: 8888
      KAFKA_HOSTS: kafka.docker:9092
    ports: ["8888:8888"]
  invoker:
    image: ${DOCKER_IMAGE_PREFIX:-openwhisk}/invoker:${DOCKER_IMAGE_TAG:-latest}
    command: /bin/sh -c "exec /init.sh --id 0 >> /logs/invoker-local_logs.log 2>&1"
    privileged: true
    pid: "host"
    userns_mode: "host"
    links: ["db:db.docker", "kafka:kafka.docker", "zookeeper:zookeeper.docker"]
    depends_on: [db, kafka]
    env_file: [./docker-whisk-controller.env, ~/tmp/openwhisk/local.env]
    environment:
      COMPONENT_NAME: invoker
      SERVICE_NAME: invoker0
      PORT: 8085
      KAFKA_HOSTS: kafka.docker:9092
      ZOOKEEPER_HOSTS: zookeeper.docker:2181
      CONFIG_whisk_couchdb_provider: CouchDB
      CONFIG_whisk_couchdb_protocol: http
      CONFIG_whisk_couchdb_port: 5984
      CONFIG_whisk_couchdb_host: db.docker
      CONFIG_whisk_couchdb_username: whisk_admin
      CONFIG_whisk_couchdb_password: some_passw0rd
      EDGE_HOST: ${DOCKER_COMPOSE_HOST}
      EDGE_HOST_APIPORT: 443
      CONFIG_whisk_containerFactory_containerArgs_network: openwhisk_default
      WHISK_API_HOST_NAME: ${DOCKER_COMPOSE_HOST}
    volumes:
      - ~/tmp/openwhisk/invoker/logs:/logs
      - /var/run/docker.sock:/var/run/docker.sock
      - /var/lib/docker/containers:/containers
      - /sys/fs/cgroup:/sys/fs/cgroup
    ports: ["8085:8085", "9333:9222"]
`

// composeService is the part of a merged service the compose test reads. Compose 1.x and 2.x print some
// keys differently (command as a string or a list, volumes as strings or objects, extra_hosts as a map or
// a list), so those stay untyped.
type composeService struct {
	Image           string         `yaml:"image"`
	Command         any            `yaml:"command"`
	Privileged      bool           `yaml:"privileged"`
	Pid             string         `yaml:"pid"`
	NetworkMode     string         `yaml:"network_mode"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	Links           []string       `yaml:"links"`
	Environment     map[string]any `yaml:"environment"`
	Volumes         []any          `yaml:"volumes"`
	ExtraHosts      any            `yaml:"extra_hosts"`
}

// volumeTargets returns the container paths of the service's volumes.
func (s composeService) volumeTargets() map[string]bool {
	targets := map[string]bool{}
	for _, v := range s.Volumes {
		switch v := v.(type) {
		case string: // src:target[:mode]
			parts := strings.Split(v, ":")
			if len(parts) >= 2 {
				targets[parts[1]] = true
			}
		case map[string]any:
			if t, ok := v["target"].(string); ok {
				targets[t] = true
			}
		}
	}
	return targets
}

// composeCommand finds docker-compose 1.x, else the docker compose plugin.
func composeCommand() ([]string, bool) {
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}, true
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, true
	}
	return nil, false
}

// TestComposeOverrides merges deployments/docker-compose/*.yml over a stand-in of devtools' compose file with
// `docker-compose config` and checks the resulting invoker definitions.
func TestComposeOverrides(t *testing.T) {
	compose, ok := composeCommand()
	if !ok {
		t.Skip("neither docker-compose nor the docker compose plugin is installed (Debian: apt-get install docker-compose)")
	}
	dir, home := t.TempDir(), t.TempDir()
	for _, f := range []string{"docker-compose.override.yml", "docker-compose.nemo-harvest.yml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "deployments", "docker-compose", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(composeBase), 0o644))
	must(os.WriteFile(filepath.Join(dir, "docker-whisk-controller.env"), []byte("DB_PREFIX=local_\nCONFIG_whisk_containerPool_userMemory=1024m\n"), 0o644))
	must(os.MkdirAll(filepath.Join(home, "tmp", "openwhisk"), 0o755))
	must(os.WriteFile(filepath.Join(home, "tmp", "openwhisk", "local.env"), []byte("DOCKER_COMPOSE_HOST=172.17.0.1\nDOCKER_IMAGE_TAG=nightly\n"), 0o644))

	// merge runs `config` with the files named by -f, or, given none, with compose's default files (what
	// the devtools Makefile's targets without -f read).
	merge := func(t *testing.T, files ...string) map[string]composeService {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		args := append(compose[1:], "--project-name", "nemotest")
		for _, f := range files {
			args = append(args, "-f", f)
		}
		args = append(args, "config")
		cmd := exec.CommandContext(ctx, compose[0], args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_COMPOSE_HOST=172.17.0.1", "NEMO_CONFIG=", "NEMO_INVOKER_IMAGE=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, errb.String())
		}
		var doc struct {
			Services map[string]composeService `yaml:"services"`
		}
		if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("parsing merged compose file: %v\n%s", err, out.String())
		}
		return doc.Services
	}
	checkController := func(t *testing.T, svcs map[string]composeService) {
		t.Helper()
		env := svcs["controller"].Environment
		if env["CONFIG_whisk_spi_LoadBalancerProvider"] != "org.apache.openwhisk.core.loadBalancer.ShardingContainerPoolBalancer" ||
			env["CONFIG_whisk_spi_EntitlementSpiProvider"] != "org.apache.openwhisk.core.entitlement.LocalEntitlementProvider" {
			t.Errorf("controller lacks the classic-balancer SPI variables: %v", env)
		}
	}
	checkInvoker := func(t *testing.T, s composeService, extraVolumes ...string) {
		t.Helper()
		if s.Image != "nemo/invoker:latest" {
			t.Errorf("image = %q, want nemo/invoker:latest", s.Image)
		}
		if cmd := fmt.Sprint(s.Command); !strings.Contains(cmd, "exec /init.sh --id 0 >> /logs/invoker-local_logs.log 2>&1") {
			t.Errorf("command = %s, want devtools' /init.sh command", cmd)
		}
		if !s.Privileged || s.Pid != "host" {
			t.Errorf("privileged %v, pid %q; want true, host", s.Privileged, s.Pid)
		}
		if s.StopGracePeriod == "" {
			t.Errorf("no stop_grace_period: compose would SIGKILL NEMO after 10 s, mid-drain")
		}
		for k, want := range map[string]string{"NEMO_KAFKA_VERSION": "0.11.0.1", "KAFKA_HOSTS": "kafka.docker:9092", "PORT": "8085",
			"CONFIG_whisk_couchdb_host": "db.docker", "CONFIG_whisk_containerFactory_containerArgs_network": "openwhisk_default"} {
			if got := fmt.Sprint(s.Environment[k]); got != want {
				t.Errorf("environment %s = %q, want %q", k, got, want)
			}
		}
		if _, ok := s.Environment["NEMO_CONFIG"]; !ok {
			t.Errorf("environment lacks NEMO_CONFIG")
		}
		targets := s.volumeTargets()
		for _, want := range append([]string{"/logs", "/var/run/docker.sock", "/containers", "/var/lib/docker/containers",
			"/sys/fs/cgroup", "/etc/nemo", "/var/lib/nemo"}, extraVolumes...) {
			if !targets[want] {
				t.Errorf("no volume at %s (volumes %v)", want, s.Volumes)
			}
		}
	}

	for name, files := range map[string][]string{
		// make restart-invoker, stop, rm: compose without -f reads docker-compose.override.yml by itself.
		"OverrideByDefault": nil,
		// what start-docker-compose must be given to start NEMO at once.
		"OverrideNamed": {"docker-compose.yml", "docker-compose.override.yml"},
	} {
		t.Run(name, func(t *testing.T) {
			svcs := merge(t, files...)
			inv := svcs["invoker"]
			checkInvoker(t, inv)
			if inv.StopGracePeriod != "2m0s" && inv.StopGracePeriod != "2m" && inv.StopGracePeriod != "120s" {
				t.Errorf("stop_grace_period = %q, want 2m", inv.StopGracePeriod)
			}
			if len(inv.Links) != 3 {
				t.Errorf("links = %v, want the base file's three", inv.Links)
			}
			checkController(t, svcs)
		})
	}
	// make run / quick-start name the base file alone: that is OpenWhisk's invoker, as the README says.
	t.Run("BaseAlone", func(t *testing.T) {
		svcs := merge(t, "docker-compose.yml")
		if inv := svcs["invoker"]; inv.Image == "nemo/invoker:latest" || inv.StopGracePeriod != "" {
			t.Errorf("the base file alone gave image %q, stop_grace_period %q", inv.Image, inv.StopGracePeriod)
		}
		if env := svcs["controller"].Environment; env["CONFIG_whisk_spi_LoadBalancerProvider"] != nil {
			t.Errorf("the base file alone set the controller's SPI: %v", env)
		}
	})
	t.Run("Harvest", func(t *testing.T) {
		svcs := merge(t, "docker-compose.yml", "docker-compose.nemo-harvest.yml")
		inv, ok := svcs["nemo-invoker"]
		if !ok {
			t.Fatalf("no nemo-invoker service")
		}
		checkInvoker(t, inv, "/dev/shm")
		if inv.NetworkMode != "host" || len(inv.Links) != 0 {
			t.Errorf("network_mode %q, links %v; want host and none (Docker refuses links with host networking)", inv.NetworkMode, inv.Links)
		}
		hosts := fmt.Sprint(inv.ExtraHosts)
		for _, h := range []string{"kafka", "kafka.docker", "db.docker"} {
			if !strings.Contains(hosts, h) {
				t.Errorf("extra_hosts %s lacks %s", hosts, h)
			}
		}
		if base := svcs["invoker"]; base.Image == "nemo/invoker:latest" {
			t.Errorf("the harvest file must leave the base invoker alone")
		}
		checkController(t, svcs)
	})
}
