//go:build integration

package harvester

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// cgroupSource on a real kernel in both cgroup versions, whatever the host's own mode: each test mounts a
// hierarchy of its own under a temporary directory (a second view of it when the host has it mounted
// already; nothing of the host's mounts changes), creates a group, runs a busy process of its own in it, and
// reads the group's usage through cgroupSource while the process burns CPU. They need root (mount), and
// remove the process, the group and the mount also when they fail.

// TestCgroupV2ReadsTheRealHierarchy reads usage_usec of cpu.stat in a cgroup2 group.
func TestCgroupV2ReadsTheRealHierarchy(t *testing.T) {
	root := mountHierarchy(t, "cgroup2", "")
	readsBusyGroup(t, root)
}

// TestCgroupV1ReadsTheRealHierarchy reads cpuacct.usage in a group of the v1 cpuacct hierarchy. The
// controller is mounted alone, or with cpu where the host co-mounts them (systemd's cpu,cpuacct): a second
// mount must name the same set.
func TestCgroupV1ReadsTheRealHierarchy(t *testing.T) {
	root := mountHierarchy(t, "cgroup", "cpuacct", "cpu,cpuacct")
	_, err := os.Stat(filepath.Join(root, "cpuacct.usage"))
	require.NoError(t, err, "the v1 cpuacct hierarchy has cpuacct.usage")
	readsBusyGroup(t, root)
}

// mountHierarchy mounts a cgroup hierarchy of fstype at a temporary directory with the first of the option
// sets the kernel accepts, and unmounts it at cleanup.
func mountHierarchy(t *testing.T, fstype string, optionSets ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("mounting a %s hierarchy needs root", fstype)
	}
	if len(optionSets) == 0 {
		optionSets = []string{""}
	}
	dir := t.TempDir()
	var errs []error
	for _, opts := range optionSets {
		err := unix.Mount("nemo-test", dir, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts)
		if err == nil {
			t.Cleanup(func() {
				if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
					t.Errorf("unmount %s: %v", dir, err)
				}
			})
			return dir
		}
		errs = append(errs, fmt.Errorf("mount -t %s -o %q: %w", fstype, opts, err))
	}
	t.Fatalf("cannot mount a %s hierarchy at %s: %v", fstype, dir, errors.Join(errs...))
	return ""
}

// readsBusyGroup runs a busy loop in a new group under root and checks that cgroupSource reads the group's
// usage growing by at most the wall time (one single-threaded process).
func readsBusyGroup(t *testing.T, root string) {
	t.Helper()
	group := filepath.Join(root, fmt.Sprintf("nemo-harvester-test-%d", os.Getpid()))
	require.NoError(t, os.Mkdir(group, 0o755))
	// The loop dies with the test process too (a timed-out test runs no cleanup).
	busy := exec.Command("/bin/sh", "-c", "while :; do :; done")
	busy.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Registered before the start: the group goes whatever step fails.
	t.Cleanup(func() {
		if busy.Process != nil {
			_ = busy.Process.Kill()
			_ = busy.Wait()
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			err := os.Remove(group)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("remove %s: %v", group, err)
				return
			}
		}
	})
	require.NoError(t, busy.Start())
	require.NoError(t, os.WriteFile(filepath.Join(group, "cgroup.procs"), []byte(strconv.Itoa(busy.Process.Pid)), 0o644))

	src := cgroupSource{dir: group}
	first, err := src.CPUTime(t.Context())
	require.NoError(t, err)
	start := time.Now()
	time.Sleep(500 * time.Millisecond)
	second, err := src.CPUTime(t.Context())
	wall := time.Since(start)
	require.NoError(t, err)
	t.Logf("busy process in %s: usage %v over %v", group, second-first, wall)
	assert.Positive(t, second-first, "the group's usage grows while its process runs")
	assert.LessOrEqual(t, second-first, wall+10*time.Millisecond, "one single-threaded process uses at most one core")
}
