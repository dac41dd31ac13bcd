//go:build integration

// The Helm tests check deployments/helm against the invoker of apache/openwhisk-deploy-kube's chart
// (invoker.containerFactory.impl: docker) as it renders: testdata/helm/owdev-invoker.yaml, written by
// hand from the chart (see testdata/helm/README.md), piped through deployments/helm/post-render.sh.
//
//   - TestHelmValues needs nothing: the values file, the patch and the ConfigMap agree with each other, with
//     the rendered DaemonSet and with NEMO's configuration loader.
//   - TestHelmCommandInImage runs the chart's command in the nemo/invoker image with /init.sh replaced by a
//     probe: /bin/bash -c, the DNS script and the exec chain down to PID 1 (Docker only).
//   - TestHelmInvokerInImage runs the rendered invoker container, command and environment as the kubelet
//     would resolve them, in the image against the real Kafka, pouchdb-server and ZooKeeper: it must take
//     its id from ZooKeeper, answer /ping, serve an activation with the DNS settings of its pod, stop
//     cleanly within the grace period on SIGTERM, and keep its id when it starts again.
//
// They need kubectl (or kustomize) for the post-renderer and skip without it (Debian: kubernetes-client).
package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/invoker/config"
	"github.com/nemo-edge/nemo/invoker/instanceid"
	"github.com/nemo-edge/nemo/scheduler"
)

const (
	helmFixture = "testdata/helm/owdev-invoker.yaml"
	helmRelease = "owdev"
	// podResolvConf is the /etc/resolv.conf the kubelet writes for a pod of namespace openwhisk with
	// dnsPolicy ClusterFirst (the cluster DNS service at 10.96.0.10).
	podResolvConf = "search openwhisk.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
)

// What configureDNS.sh must export from podResolvConf, and so what NEMO must give action containers. The
// "options" line comes out as two options: the chart's script strips "option " (no s) and splits on blanks.
var (
	podDNSServers = []string{"10.96.0.10"}
	podDNSSearch  = []string{"openwhisk.svc.cluster.local", "svc.cluster.local", "cluster.local"}
	podDNSOptions = []string{"options", "ndots:5"}
)

// ---------------------------------------------------------------------------------------------------
// Kubernetes objects, as much of them as the tests read

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int64         `yaml:"terminationGracePeriodSeconds"`
	Volumes                       []k8sVolume    `yaml:"volumes"`
	Containers                    []k8sContainer `yaml:"containers"`
}

type k8sVolume struct {
	Name     string `yaml:"name"`
	HostPath *struct {
		Path string `yaml:"path"`
	} `yaml:"hostPath"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
}

type k8sContainer struct {
	Name         string     `yaml:"name"`
	Image        string     `yaml:"image"`
	Command      []string   `yaml:"command"`
	Args         []string   `yaml:"args"`
	Env          []k8sEnv   `yaml:"env"`
	VolumeMounts []k8sMount `yaml:"volumeMounts"`
}

type k8sEnv struct {
	Name      string  `yaml:"name"`
	Value     *string `yaml:"value"`
	ValueFrom *struct {
		ConfigMapKeyRef *k8sKeyRef `yaml:"configMapKeyRef"`
		SecretKeyRef    *k8sKeyRef `yaml:"secretKeyRef"`
		FieldRef        *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type k8sKeyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type k8sMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

// manifests holds rendered objects by "Kind/name".
type manifests map[string]k8sObject

func parseManifests(t *testing.T, data []byte) manifests {
	t.Helper()
	m := manifests{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parsing manifests: %v", err)
		}
		if o.Kind != "" {
			m[o.Kind+"/"+o.Metadata.Name] = o
		}
	}
	return m
}

func (m manifests) get(t *testing.T, kindName string) k8sObject {
	t.Helper()
	o, ok := m[kindName]
	if !ok {
		t.Fatalf("no %s in the manifests (have %v)", kindName, slices.Sorted(mapKeys(m)))
	}
	return o
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// invoker returns the invoker DaemonSet's pod spec and its invoker container.
func (m manifests) invoker(t *testing.T) (podSpec, k8sContainer) {
	t.Helper()
	pod := m.get(t, "DaemonSet/"+helmRelease+"-invoker").Spec.Template.Spec
	for _, c := range pod.Containers {
		if c.Name == "invoker" {
			return pod, c
		}
	}
	t.Fatalf("the invoker DaemonSet has no container named invoker")
	return podSpec{}, k8sContainer{}
}

// resolveEnv is the container's environment as the kubelet gives it: values, configMapKeyRef and
// secretKeyRef looked up in m, fieldRef spec.nodeName as nodeName; a later entry of a name wins.
func (m manifests) resolveEnv(t *testing.T, c k8sContainer, nodeName string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.Value != nil:
			env[e.Name] = *e.Value
		case e.ValueFrom == nil:
			env[e.Name] = ""
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			v, ok := m.get(t, "ConfigMap/"+r.Name).Data[r.Key]
			if !ok {
				t.Fatalf("env %s: ConfigMap %s has no key %s", e.Name, r.Name, r.Key)
			}
			env[e.Name] = v
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			enc, ok := m.get(t, "Secret/"+r.Name).Data[r.Key]
			if !ok {
				t.Fatalf("env %s: Secret %s has no key %s", e.Name, r.Name, r.Key)
			}
			v, err := base64.StdEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("env %s: Secret %s key %s: %v", e.Name, r.Name, r.Key, err)
			}
			env[e.Name] = string(v)
		case e.ValueFrom.FieldRef != nil && strings.TrimSpace(e.ValueFrom.FieldRef.FieldPath) == "spec.nodeName":
			env[e.Name] = nodeName
		default:
			t.Fatalf("env %s: a valueFrom this test cannot resolve", e.Name)
		}
	}
	return env
}

// ---------------------------------------------------------------------------------------------------
// The deployment files and the post-renderer

func helmDir(t *testing.T) string { return filepath.Join(repoRoot(t), "deployments", "helm") }

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// postRender pipes the fixture through deployments/helm/post-render.sh, as helm does with
// --post-renderer, and returns the result. It skips the test without kubectl or kustomize.
func postRender(t *testing.T) manifests {
	t.Helper()
	_, errKubectl := exec.LookPath("kubectl")
	_, errKustomize := exec.LookPath("kustomize")
	if errKubectl != nil && errKustomize != nil {
		t.Skip("post-render.sh needs kubectl or kustomize (Debian: apt-get install kubernetes-client)")
	}
	in, err := os.ReadFile(helmFixture)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(helmDir(t), "post-render.sh"), helmRelease)
	cmd.Stdin = bytes.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("post-render.sh %s: %v\n%s", helmRelease, err, errb.String())
	}
	return parseManifests(t, out.Bytes())
}

// helmValues is the part of values-nemo.yaml the tests read.
type helmValues struct {
	Invoker struct {
		ImageName        string `yaml:"imageName"`
		ImageTag         string `yaml:"imageTag"`
		ContainerFactory struct {
			Impl          string `yaml:"impl"`
			NetworkConfig struct {
				Name string `yaml:"name"`
				DNS  struct {
					InheritInvokerConfig bool `yaml:"inheritInvokerConfig"`
				} `yaml:"dns"`
			} `yaml:"networkConfig"`
		} `yaml:"containerFactory"`
	} `yaml:"invoker"`
	Scheduler struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"scheduler"`
}

// TestHelmValues checks the operator's files against each other and against the render: the values give
// the image and the DaemonSet the fixture shows, the patch's grace period covers NEMO's shutdown, NEMO_CONFIG
// names the file the ConfigMap mount provides, and NEMO accepts that file together with the rendered
// environment, leaving the id to ZooKeeper.
func TestHelmValues(t *testing.T) {
	var values helmValues
	readYAML(t, filepath.Join(helmDir(t), "values-nemo.yaml"), &values)
	if values.Invoker.ContainerFactory.Impl != "docker" {
		t.Errorf("invoker.containerFactory.impl = %q, want docker (the DaemonSet; NEMO drives Docker)", values.Invoker.ContainerFactory.Impl)
	}
	if !values.Invoker.ContainerFactory.NetworkConfig.DNS.InheritInvokerConfig {
		t.Errorf("dns.inheritInvokerConfig should stay true: configureDNS.sh works in the image")
	}
	if values.Scheduler.Enabled {
		t.Errorf("scheduler.enabled must be false: NEMO implements the classic invoker protocol")
	}

	raw, err := os.ReadFile(helmFixture)
	if err != nil {
		t.Fatal(err)
	}
	rendered := parseManifests(t, raw)
	pod, inv := rendered.invoker(t)
	if want := values.Invoker.ImageName + ":" + values.Invoker.ImageTag; inv.Image != want || want != invokerImage {
		t.Errorf("rendered image %q, values give %q, the image built is %q: all three must agree", inv.Image, want, invokerImage)
	}
	if pod.TerminationGracePeriodSeconds != nil {
		t.Errorf("the chart renders no terminationGracePeriodSeconds; the fixture has %d", *pod.TerminationGracePeriodSeconds)
	}

	var patch k8sObject
	readYAML(t, filepath.Join(helmDir(t), "invoker-patch.yaml"), &patch)
	ppod := patch.Spec.Template.Spec
	// NEMO's shutdown: the Kafka feed drains for up to 30 s, and the whole shutdown (container removal,
	// NIC restore) is bounded by 60 s; the grace period must cover both before the kubelet's SIGKILL.
	const drain, restore = 30, 60
	if g := ppod.TerminationGracePeriodSeconds; g == nil || *g < drain+restore {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least %d (drain %d s + NIC restore %d s)", g, drain+restore, drain, restore)
	}
	var nemoConfig string
	var mountPath, volume string
	for _, c := range ppod.Containers {
		for _, e := range c.Env {
			if e.Name == "NEMO_CONFIG" && e.Value != nil {
				nemoConfig = *e.Value
			}
		}
		for _, m := range c.VolumeMounts {
			if m.Name == "nemo-config" {
				mountPath, volume = m.MountPath, m.Name
			}
		}
	}
	var cmName string
	for _, v := range ppod.Volumes {
		if v.Name == volume && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	var cm k8sObject
	readYAML(t, filepath.Join(helmDir(t), "nemo-config.yaml"), &cm)
	if cm.Kind != "ConfigMap" || cm.Metadata.Name != cmName || cmName == "" {
		t.Fatalf("nemo-config.yaml is %s/%s; the patch mounts ConfigMap %q", cm.Kind, cm.Metadata.Name, cmName)
	}
	var file string
	for key := range cm.Data {
		if filepath.Join(mountPath, key) == nemoConfig {
			file = cm.Data[key]
		}
	}
	if file == "" {
		t.Fatalf("NEMO_CONFIG=%q is no key of ConfigMap %s mounted at %q (keys %v)", nemoConfig, cmName, mountPath, slices.Sorted(mapKeys(cm.Data)))
	}

	path := filepath.Join(t.TempDir(), "nemo.json")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	env := rendered.resolveEnv(t, inv, "kind-worker")
	env["NEMO_CONFIG"] = path
	c, err := config.Load([]string{"--uniqueName", env["INVOKER_NAME"]}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("NEMO refuses the rendered environment with the ConfigMap's file: %v", err)
	}
	req, ok := c.PendingID()
	if !ok || req.UniqueName != "kind-worker" || strings.Join(req.Hosts.Servers, ",") != env["ZOOKEEPER_HOSTS"] {
		t.Errorf("id assignment = %+v, %v; want ZooKeeper %s for unique name kind-worker", req, ok, env["ZOOKEEPER_HOSTS"])
	}
	if c.Harvester.Enabled {
		t.Errorf("the ConfigMap enables the harvester, which needs the host's network namespace (not the chart's pod)")
	}
	// The chart ships the policy docs/simulator.md evaluates: idle containers kept until memory is needed.
	if got, want := c.SchedulerConfig().Controller.StopAfter, scheduler.DefaultConfig().StopAfter; got != want {
		t.Errorf("the ConfigMap's scheduler.keepAlive resolves to %v; the simulated (and default) policy is %v", got, want)
	}
}

// ---------------------------------------------------------------------------------------------------
// Running the pod's invoker container in the image

var (
	imageOnce sync.Once
	imageErr  error
	imageLog  string
)

// needInvokerImage builds nemo/invoker:latest once per test binary (the script skips the build when the
// image is up to date) and skips without Docker or a static busybox.
func needInvokerImage(t *testing.T) {
	t.Helper()
	if os.Getenv("NEMO_DOCKER") != "1" {
		t.Skip("NEMO_DOCKER=1 is not set: no Docker engine to run nemo/invoker")
	}
	if why := staticBusybox(); why != "" {
		t.Skipf("no static busybox for the image (%s)", why)
	}
	imageOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, stderr, code, err := run(ctx, filepath.Join(repoRoot(t), "scripts", "build-invoker-image.sh"))
		imageLog = strings.TrimSpace(out + stderr)
		if err == nil && code != 0 {
			err = fmt.Errorf("exit status %d", code)
		}
		imageErr = err
	})
	if imageErr != nil {
		t.Fatalf("scripts/build-invoker-image.sh: %v\n%s", imageErr, imageLog)
	}
}

// podRun describes one `docker run` of a pod's container.
type podRun struct {
	pod       podSpec
	container k8sContainer
	env       map[string]string
	// configMaps supply the configMap volumes' files.
	configMaps manifests
	// extraMounts are bind mounts "host:container[:ro]" added after the pod's (a probe over /init.sh).
	extraMounts []string
}

// args is the `docker run` argument list: the host's network namespace (the test's services listen on
// 127.0.0.1), the kubelet's /etc/resolv.conf for the pod, hostPath volumes bound as they are, configMap
// volumes written to dir (read-only, whole or by subPath), the container's command as the entrypoint.
func (r podRun) args(t *testing.T, name, dir string) []string {
	t.Helper()
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte(podResolvConf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-d", "--name", name, "--network", "host", "-v", resolv + ":/etc/resolv.conf:ro"}
	vols := map[string]k8sVolume{}
	for _, v := range r.pod.Volumes {
		vols[v.Name] = v
	}
	for _, m := range r.container.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok {
			t.Fatalf("volumeMount %s: no volume of that name", m.Name)
		}
		var src string
		ro := m.ReadOnly
		switch {
		case v.HostPath != nil:
			src = v.HostPath.Path
			if _, err := os.Stat(src); os.IsNotExist(err) {
				// The container runtime would create it on the host (e.g. /run/runc where Docker keeps
				// runc's state elsewhere); an empty directory of the test's own leaves the host alone.
				src = filepath.Join(dir, "hostpath-"+v.Name)
				if err := os.MkdirAll(src, 0o755); err != nil {
					t.Fatal(err)
				}
				t.Logf("hostPath %s does not exist here: an empty directory is mounted at %s", v.HostPath.Path, m.MountPath)
			}
		case v.ConfigMap != nil:
			src = filepath.Join(dir, "cm-"+v.Name)
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			for key, val := range r.configMaps.get(t, "ConfigMap/"+v.ConfigMap.Name).Data {
				if err := os.WriteFile(filepath.Join(src, key), []byte(val), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ro = true // the kubelet mounts configMap volumes read-only
		default:
			t.Fatalf("volume %s: a kind this test cannot mount", v.Name)
		}
		if m.SubPath != "" {
			src = filepath.Join(src, m.SubPath)
		}
		spec := src + ":" + m.MountPath
		if ro {
			spec += ":ro"
		}
		args = append(args, "-v", spec)
	}
	for _, m := range r.extraMounts {
		args = append(args, "-v", m)
	}
	for _, k := range slices.Sorted(mapKeys(r.env)) {
		args = append(args, "-e", k+"="+r.env[k])
	}
	cmd := append(slices.Clone(r.container.Command), r.container.Args...)
	if len(cmd) == 0 {
		t.Fatalf("container %s has no command", r.container.Name)
	}
	args = append(args, "--entrypoint", cmd[0], r.container.Image)
	return append(args, cmd[1:]...)
}

// docker runs a docker command bounded by timeout and returns its trimmed stdout.
func docker(t *testing.T, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, stderr, code, err := run(ctx, "docker", args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("docker %s: exit status %d: %s", args[0], code, strings.TrimSpace(stderr))
	}
	return strings.TrimSpace(out), err
}

// startPod runs r as container name and removes it (and its log) when the test ends.
func startPod(t *testing.T, r podRun, name string) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			if logs, err := docker(t, time.Minute, "logs", name); err == nil {
				t.Logf("---- docker logs %s ----\n%s", name, logs)
			}
		}
		_, _ = docker(t, time.Minute, "rm", "-f", name)
	})
	if _, err := docker(t, 2*time.Minute, r.args(t, name, t.TempDir())...); err != nil {
		t.Fatalf("docker run: %v", err)
	}
}

// containerLogs is the container's stdout and stderr so far.
func containerLogs(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, stderr, _, err := run(ctx, "docker", "logs", name)
	if err != nil {
		t.Fatalf("docker logs %s: %v", name, err)
	}
	return out + stderr
}

// TestHelmCommandInImage runs the chart's invoker command, with the rendered DNS script, in the image; a
// probe mounted over /init.sh reports what reached it: its arguments, its pid and the DNS variables.
func TestHelmCommandInImage(t *testing.T) {
	needInvokerImage(t)
	m := postRender(t)
	pod, inv := m.invoker(t)
	dir := t.TempDir()
	probe := filepath.Join(dir, "init.sh")
	script := "#!/bin/sh\necho \"pid=$$\"\necho \"args=$*\"\nenv | grep '^CONFIG_whisk_containerFactory_containerArgs_dns' | sort\necho done\n"
	if err := os.WriteFile(probe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	name := "nemo-helm-cmd-" + itest.RandomHex(4)
	env := m.resolveEnv(t, inv, "kind-worker")
	startPod(t, podRun{pod: pod, container: inv, env: env, configMaps: m, extraMounts: []string{probe + ":/init.sh:ro"}}, name)
	if _, err := docker(t, time.Minute, "wait", name); err != nil {
		t.Fatalf("docker wait: %v", err)
	}
	code, err := docker(t, time.Minute, "inspect", "-f", "{{.State.ExitCode}}", name)
	if err != nil {
		t.Fatal(err)
	}
	logs := containerLogs(t, name)
	if code != "0" || !strings.Contains(logs, "\ndone\n") {
		t.Fatalf("the chart's command failed in the image (exit %s):\n%s", code, logs)
	}
	// pid=1: bash and ash exec'd down to /init.sh, so nemo (which /init.sh execs) gets the kubelet's SIGTERM.
	want := []string{"pid=1", "args=--uniqueName kind-worker"}
	for i, v := range podDNSServers {
		want = append(want, fmt.Sprintf("CONFIG_whisk_containerFactory_containerArgs_dnsServers_%d=%s", i, v))
	}
	for i, v := range podDNSSearch {
		want = append(want, fmt.Sprintf("CONFIG_whisk_containerFactory_containerArgs_dnsSearch_%d=%s", i, v))
	}
	for i, v := range podDNSOptions {
		want = append(want, fmt.Sprintf("CONFIG_whisk_containerFactory_containerArgs_dnsOptions_%d=%s", i, v))
	}
	lines := strings.Split(logs, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("the probe did not print %q; output:\n%s", w, logs)
		}
	}
}

// ---------------------------------------------------------------------------------------------------
// The full invoker

// zkSeed opens a session on the test's ZooKeeper (NEMO_ZOOKEEPER) under a fresh chroot, removed when the
// test ends, and writes znodes relative to it.
type zkSeed struct {
	conn   *zk.Conn
	chroot string
}

func newZKSeed(t *testing.T, addr string) *zkSeed {
	t.Helper()
	hosts, err := instanceid.ParseHosts(addr)
	if err != nil {
		t.Fatalf("NEMO_ZOOKEEPER=%q: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := instanceid.DialZooKeeper(ctx, hosts, zerolog.Nop())
	if err != nil {
		t.Fatalf("ZooKeeper at %s: %v", addr, err)
	}
	s := &zkSeed{conn: c.(*zk.Conn), chroot: "/nemo-helm-it-" + itest.RandomHex(6)}
	t.Cleanup(func() {
		s.remove(s.chroot)
		s.conn.Close()
	})
	return s
}

func (s *zkSeed) put(t *testing.T, rel string, data []byte) {
	t.Helper()
	full := s.chroot + rel
	for i := 1; i < len(full); i++ {
		if full[i] == '/' {
			if _, err := s.conn.Create(full[:i], nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("create %s: %v", full[:i], err)
			}
		}
	}
	if _, err := s.conn.Create(full, data, zk.FlagPersistent, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", full, err)
	}
}

func (s *zkSeed) get(t *testing.T, rel string) []byte {
	t.Helper()
	data, _, err := s.conn.Get(s.chroot + rel)
	if err != nil {
		t.Fatalf("get %s%s: %v", s.chroot, rel, err)
	}
	return data
}

func (s *zkSeed) remove(p string) {
	children, _, err := s.conn.Children(p)
	if err != nil {
		return
	}
	for _, c := range children {
		s.remove(p + "/" + c)
	}
	_ = s.conn.Delete(p, -1)
}

// TestHelmInvokerInImage is the Helm deployment end to end, minus Kubernetes: the invoker container of the
// post-rendered DaemonSet runs in nemo/invoker with its command and resolved environment; only the
// cluster's addresses are replaced by the test's services (listed in the log).
func TestHelmInvokerInImage(t *testing.T) {
	svc := itest.NeedServices(t)
	zkAddr := os.Getenv("NEMO_ZOOKEEPER")
	if zkAddr == "" {
		t.Skip("NEMO_ZOOKEEPER is not set: no ZooKeeper for the id assignment (eval \"$(scripts/services.sh env)\")")
	}
	needInvokerImage(t)
	m := postRender(t)
	pod, inv := m.invoker(t)
	if inv.Image != invokerImage {
		t.Fatalf("the rendered invoker runs %q, not the image under test %q", inv.Image, invokerImage)
	}
	node := "nemo-it-node-" + itest.RandomHex(3)

	// ZooKeeper: two nodes registered earlier (as OpenWhisk writes them) and the counter where earlier
	// invokers left it. A new node must get the counter's value: a random id far from other tests' topics.
	zks := newZKSeed(t, zkAddr)
	id := 200000 + rand.IntN(700000)
	zks.put(t, instanceid.MappingPath("old-node-a"), instanceid.EncodeID(0))
	zks.put(t, instanceid.MappingPath("old-node-b"), instanceid.EncodeID(1))
	zks.put(t, instanceid.CounterPath, instanceid.EncodeCounter(id))

	// The controller's side: databases with the action, topics completed{C} and health.
	controller := strconv.Itoa(100000 + rand.IntN(800000))
	dbPrefix := fmt.Sprintf("it_helm%d_", id)
	st := itest.OpenStore(t, svc.Couch, dbPrefix)
	itest.SeedAction(t, st, "helm-hello", 256, 10)
	ctl := itest.NewController(t, svc.Kafka, id, controller)
	acks := ctl.ConsumeAcks(t)
	pings := &itest.Journal[map[string]json.RawMessage]{}
	ctl.Consume(t, "health", sarama.OffsetNewest, func(msg *sarama.ConsumerMessage) {
		var p struct {
			Name map[string]json.RawMessage `json:"name"`
		}
		if json.Unmarshal(msg.Value, &p) == nil && string(p.Name["instance"]) == strconv.Itoa(id) {
			pings.Append(p.Name)
		}
	})
	t.Cleanup(func() { itest.RemoveContainers(mustContainers(t, id)) })

	env := m.resolveEnv(t, inv, node)
	if env["INVOKER_NAME"] != node {
		t.Fatalf("INVOKER_NAME = %q, want the node name %q (fieldRef spec.nodeName)", env["INVOKER_NAME"], node)
	}
	pass, _ := svc.Couch.User.Password()
	port := itest.FreePort(t)
	replace := map[string]string{
		"KAFKA_HOSTS":                                    svc.Kafka,
		"ZOOKEEPER_HOSTS":                                zkAddr + zks.chroot,
		"CONFIG_whisk_couchdb_protocol":                  svc.Couch.Scheme,
		"CONFIG_whisk_couchdb_host":                      svc.Couch.Hostname(),
		"CONFIG_whisk_couchdb_port":                      cmp.Or(svc.Couch.Port(), "5984"),
		"CONFIG_whisk_couchdb_username":                  svc.Couch.User.Username(),
		"CONFIG_whisk_couchdb_password":                  pass,
		"CONFIG_whisk_couchdb_databases_WhiskEntity":     dbPrefix + "whisks",
		"CONFIG_whisk_couchdb_databases_WhiskActivation": dbPrefix + "activations",
		"CONFIG_whisk_couchdb_databases_WhiskAuth":       dbPrefix + "subjects",
		"PORT":              strconv.Itoa(port),
		"RUNTIMES_MANIFEST": itest.RuntimesManifest,
	}
	for _, k := range slices.Sorted(mapKeys(replace)) {
		old, ok := env[k]
		if !ok {
			t.Fatalf("the rendered environment has no %s to replace", k)
		}
		if k != "CONFIG_whisk_couchdb_password" && k != "RUNTIMES_MANIFEST" {
			t.Logf("replaced %s=%q by %q", k, old, replace[k])
		} else {
			t.Logf("replaced %s", k)
		}
		env[k] = replace[k]
	}
	if env["NEMO_CONFIG"] != "/etc/nemo/nemo.json" {
		t.Fatalf("NEMO_CONFIG = %q after post-render.sh", env["NEMO_CONFIG"])
	}

	name := "nemo-helm-it-" + itest.RandomHex(4)
	r := podRun{pod: pod, container: inv, env: env, configMaps: m}
	startPod(t, r, name)
	ping := fmt.Sprintf("http://127.0.0.1:%d/ping", port)
	waitPing := func(what string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if body, ok := httpGet(ping); ok && body == "pong" {
				return
			}
			if state, _ := docker(t, 30*time.Second, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name); !strings.HasPrefix(state, "running") {
				t.Fatalf("%s: the invoker container is %s:\n%s", what, state, containerLogs(t, name))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no pong on %s within 2 minutes", what, ping)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitPing("first start")
	logs := containerLogs(t, name)
	for _, want := range []string{"/etc/resolv.conf", "nameserver 10.96.0.10", `"invoker id from ZooKeeper"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the container's log lacks %q (DNS script output, then NEMO's JSON lines)", want)
		}
	}

	// The id came from ZooKeeper: the mapping written as OpenWhisk writes it, the counter moved on, and
	// the health pings carry invoker{id} with the node's name.
	if got, err := instanceid.DecodeID(zks.get(t, instanceid.MappingPath(node))); err != nil || got != id {
		t.Fatalf("mapping of %s = %d (%v), want %d (the counter's value)", node, got, err, id)
	}
	if got, _ := instanceid.DecodeCounter(zks.get(t, instanceid.CounterPath)); got != id+1 {
		t.Errorf("counter = %d after the assignment, want %d", got, id+1)
	}
	if !pings.WaitFor(30*time.Second, func(ps []map[string]json.RawMessage) bool { return len(ps) > 0 }) {
		t.Fatalf("no health ping from invoker%d within 30 s", id)
	}
	if got := string(pings.Snapshot()[0]["uniqueName"]); got != strconv.Quote(node) {
		t.Errorf("ping uniqueName = %s, want %q", got, node)
	}

	// An activation through invoker{id}: served, and its container got the pod's DNS settings, which
	// configureDNS.sh exported from /etc/resolv.conf.
	aid := itest.RandomHex(16)
	msg, err := itest.Activation{Action: "helm-hello", AID: aid, TransID: itest.TransID(itest.RandomHex(16)),
		Blocking: true, Content: map[string]any{"name": "helm"}, Controller: controller}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ctl.Produce(t, msg)
	if !acks.WaitFor(90*time.Second, func(as []itest.Ack) bool { return itest.SlotFreeCounts(as)[aid] > 0 }) {
		all, bad := acks.Snapshot()
		t.Fatalf("no slot-freeing ack for %s within 90 s (acks %v, malformed %v)", aid, itest.Kinds(all), bad)
	}
	var greeting string
	for _, a := range acks.ForID(aid) {
		var act struct {
			Response struct {
				StatusCode int `json:"statusCode"`
				Result     struct {
					Greeting string `json:"greeting"`
				} `json:"result"`
			} `json:"response"`
		}
		if a.Kind != itest.AckCompletion && json.Unmarshal(a.Fields["response"], &act) == nil && act.Response.StatusCode == 0 {
			greeting = act.Response.Result.Greeting
		}
	}
	if greeting != "Hello helm!" {
		t.Errorf("activation result greeting = %q, want \"Hello helm!\"", greeting)
	}
	actions := mustContainers(t, id)
	if len(actions) != 1 {
		t.Fatalf("action containers of invoker%d: %v, want one", id, actions)
	}
	var hc struct {
		DNS        []string `json:"Dns"`
		DNSSearch  []string `json:"DnsSearch"`
		DNSOptions []string `json:"DnsOptions"`
	}
	out, err := docker(t, time.Minute, "inspect", "-f", "{{json .HostConfig}}", actions[0])
	if err != nil || json.Unmarshal([]byte(out), &hc) != nil {
		t.Fatalf("docker inspect %s: %v: %s", actions[0], err, out)
	}
	if !slices.Equal(hc.DNS, podDNSServers) || !slices.Equal(hc.DNSSearch, podDNSSearch) || !slices.Equal(hc.DNSOptions, podDNSOptions) {
		t.Errorf("action container DNS %v, search %v, options %v; want the pod's %v, %v, %v",
			hc.DNS, hc.DNSSearch, hc.DNSOptions, podDNSServers, podDNSSearch, podDNSOptions)
	}

	// SIGTERM, as the kubelet sends it, with the grace period the patch sets: nemo (PID 1 through the exec
	// chain) drains, removes its containers and exits 0 well before the SIGKILL.
	grace := *pod.TerminationGracePeriodSeconds
	start := time.Now()
	if _, err := docker(t, time.Duration(grace+60)*time.Second, "stop", "-t", strconv.FormatInt(grace, 10), name); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	took := time.Since(start)
	state, _ := docker(t, 30*time.Second, "inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", name)
	if state != "0 false" || !strings.Contains(containerLogs(t, name), `"invoker stopped"`) {
		t.Errorf("after SIGTERM: exit code and OOM %q after %v (grace %d s), want 0 and \"invoker stopped\" in the log", state, took, grace)
	}
	if left := mustContainers(t, id); len(left) != 0 {
		t.Errorf("action containers left after the shutdown: %v", left)
	}
	t.Logf("stopped in %v of its %d s grace period", took.Round(100*time.Millisecond), grace)

	// The pod comes back on the same node: the same command gets the same id.
	if _, err := docker(t, time.Minute, "start", name); err != nil {
		t.Fatalf("docker start: %v", err)
	}
	waitPing("restart")
	var kept bool
	for _, line := range strings.Split(containerLogs(t, name), "\n") {
		var l struct {
			Msg     string `json:"message"`
			ID      int    `json:"id"`
			Outcome string `json:"outcome"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "invoker id from ZooKeeper" && l.Outcome == string(instanceid.Kept) && l.ID == id {
			kept = true
		}
	}
	if !kept {
		t.Errorf("the restarted invoker did not log keeping id %d from ZooKeeper", id)
	}
	if _, err := docker(t, time.Duration(grace+60)*time.Second, "stop", "-t", strconv.FormatInt(grace, 10), name); err != nil {
		t.Errorf("docker stop after the restart: %v", err)
	}
}

func mustContainers(t *testing.T, id int) []string {
	t.Helper()
	ids, err := itest.InvokerContainers(id)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func httpGet(u string) (string, bool) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err == nil && resp.StatusCode == http.StatusOK
}
