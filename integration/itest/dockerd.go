package itest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Dockerd is a Docker daemon that one test started for itself, to stop and start at will: its own socket,
// data root, exec root (so its own containerd), pid file, cgroup parent and default bridge (a link of the
// test's own, never docker0), no iptables rules, no forwarding sysctl and no TCP listener. It shares nothing
// with the machine's engine, which the test never touches. Containers on it use host networking (the
// invoker's docker.mode "host").
//
// Never "--bridge none": a daemon started so deletes the host's docker0 link, which belongs to the machine's
// engine.
type Dockerd struct {
	// Host is the DOCKER_HOST value that reaches it (unix://…/docker.sock).
	Host    string
	Dir     string // everything it owns lives here
	LogPath string
	args    []string
	// cgroupParent is the cgroup its containers are created under (--cgroup-parent).
	cgroupParent string
	// bridge is its default bridge, a link the test creates and deletes (--bridge).
	bridge string
	cmd    *exec.Cmd
	done   chan struct{}
	// Timeline records when each Restart stopped and started it (UTC), for a failing test's report.
	Timeline []string
}

// dockerdStartTimeout bounds how long a start (or a restart) may take before the daemon answers.
const dockerdStartTimeout = 60 * time.Second

// StartDockerd starts a private daemon (root only: dockerd needs it) and registers its cleanup: stop it,
// then remove its directory. It fails the test when dockerd is not installed or does not come up.
func StartDockerd(t testing.TB) *Dockerd {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		t.Fatalf("dockerd is not installed (scripts/services.sh up docker installs docker.io): %v", err)
	}
	// Short path: the unix socket must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "nemo-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dockerd{Host: "unix://" + filepath.Join(dir, "docker.sock"), Dir: dir, LogPath: filepath.Join(dir, "dockerd.log"),
		cgroupParent: "nemo-it-" + filepath.Base(dir), bridge: "nemodk" + RandomHex(4)}
	d.createBridge(t)
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.args = []string{bin,
		"--host", d.Host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--cgroup-parent", d.cgroupParent,
		"--bridge", d.bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false", "--userland-proxy=false",
		"--log-level", "warn",
	}
	t.Cleanup(func() {
		if err := d.Stop(60 * time.Second); err != nil {
			t.Errorf("private dockerd: %v", err)
		}
		// The daemon unmounts its layers when it stops, but not always everything (its network namespace
		// handle under exec/netns): what is still mounted below dir goes first.
		unmountBelow(dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
		// The (now empty) cgroup parent directories its containers lived under, in every hierarchy.
		parents, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", d.cgroupParent))
		if p := filepath.Join("/sys/fs/cgroup", d.cgroupParent); exists(p) {
			parents = append(parents, p)
		}
		for _, p := range parents {
			if err := removeCgroupTree(p); err != nil {
				t.Errorf("private dockerd's cgroup parent: %v", err)
			}
		}
	})
	if err := d.Start(); err != nil {
		t.Fatalf("private dockerd: %v\n%s", err, Tail(d.LogPath, 30))
	}
	return d
}

// Start starts the daemon (again) with the same directories and waits until it answers.
func (d *Dockerd) Start() error {
	if d.cmd != nil && !d.exited() {
		return errors.New("itest: dockerd is already running")
	}
	closeInheritedFiles()
	logf, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(d.args[0], d.args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A session of its own: a signal to the test's process group does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start dockerd: %w", err)
	}
	logf.Close()
	d.cmd, d.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(d.done)

	deadline := time.Now().Add(dockerdStartTimeout)
	for {
		if d.exited() {
			return fmt.Errorf("dockerd exited during start-up: %v", d.cmd.ProcessState)
		}
		if _, err := d.Docker(10*time.Second, "version", "--format", "{{.Server.Version}}"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd did not answer on %s within %v", d.Host, dockerdStartTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop sends SIGTERM (the daemon stops its containers: no live-restore) and waits up to grace, then kills it.
func (d *Dockerd) Stop(grace time.Duration) error {
	if d.cmd == nil || d.exited() {
		return nil
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("SIGTERM to dockerd: %w", err)
	}
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	_ = d.cmd.Process.Kill()
	<-d.done
	return fmt.Errorf("dockerd did not stop within %v of SIGTERM; killed it", grace)
}

// Restart stops the daemon, leaves it down for downFor (an outage long enough for the invoker to notice),
// and starts it again.
func (d *Dockerd) Restart(downFor time.Duration) error {
	d.Timeline = append(d.Timeline, "SIGTERM at "+time.Now().UTC().Format("15:04:05.000"))
	if err := d.Stop(90 * time.Second); err != nil {
		return err
	}
	d.Timeline = append(d.Timeline, "exited at "+time.Now().UTC().Format("15:04:05.000"))
	time.Sleep(downFor)
	d.Timeline = append(d.Timeline, "starting at "+time.Now().UTC().Format("15:04:05.000"))
	err := d.Start()
	d.Timeline = append(d.Timeline, "answering at "+time.Now().UTC().Format("15:04:05.000"))
	return err
}

// Pid is the daemon's process id, 0 when it is not running.
func (d *Dockerd) Pid() int {
	if d.cmd == nil || d.exited() {
		return 0
	}
	return d.cmd.Process.Pid
}

func (d *Dockerd) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Docker runs the docker CLI against this daemon and returns its trimmed standard output.
func (d *Dockerd) Docker(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"--host", d.Host}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// CopyImage copies an image from the engine DOCKER_HOST names (the machine's, by default) into this daemon.
func (d *Dockerd) CopyImage(image string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	save := exec.CommandContext(ctx, "docker", "save", image)
	load := exec.CommandContext(ctx, "docker", "--host", d.Host, "load", "--quiet")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var saveErr, loadOut strings.Builder
	save.Stderr = &saveErr
	load.Stdout, load.Stderr = &loadOut, &loadOut
	if err := save.Start(); err != nil {
		return fmt.Errorf("docker save %s: %w", image, err)
	}
	lerr := load.Run()
	serr := save.Wait()
	if serr != nil {
		return fmt.Errorf("docker save %s: %w: %s", image, serr, saveErr.String())
	}
	if lerr != nil {
		return fmt.Errorf("docker load %s: %w: %s", image, lerr, loadOut.String())
	}
	return nil
}

// closeInheritedFiles marks every descriptor above 2 close-on-exec. A test runs under `flock` holding the
// shared lock's descriptor; a daemon (and the containerd and shims it starts) inheriting it would hold the
// lock for as long as they run.
func closeInheritedFiles() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// removeCgroupTree removes the cgroup directory dir and the groups below it, deepest first. A container the
// daemon did not delete (a failed test, a killed invoker) leaves its empty group under the parent; a group
// that still holds a process is not removable and is reported.
func removeCgroupTree(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountBelow lazily unmounts every mount point under dir, deepest first.
func unmountBelow(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = unix.Unmount(points[i], unix.MNT_DETACH)
	}
}

// createBridge creates the daemon's own bridge link, with a link-local /30 so the daemon accepts it (no
// container uses it: they run on the host network), and registers its removal.
func (d *Dockerd) createBridge(t testing.TB) {
	t.Helper()
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", d.bridge)); err == nil {
		t.Fatalf("link %s already exists; not touching it", d.bridge)
	}
	if err := run("link", "add", d.bridge, "type", "bridge"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join("/sys/class/net", d.bridge)); err != nil {
			return
		}
		if err := run("link", "del", d.bridge); err != nil {
			t.Error(err)
		}
	})
	if err := run("addr", "add", "169.254.77.1/30", "dev", d.bridge); err != nil {
		t.Fatal(err)
	}
}
