//go:build integration

package harvester

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCgroupV2ReadsTheRealHierarchy is the cgroup v2 counterpart of TestCgroupV1ReadsTheRealHierarchy, and
// runs whatever the host's mode: it mounts the kernel's cgroup2 hierarchy at a directory of its own (a
// second view of it, when the host has one mounted already), creates a group, runs a busy process of its
// own in it, and reads the group's cpu.stat through cgroupSource while the process burns CPU. It needs root.
func TestCgroupV2ReadsTheRealHierarchy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("mounting cgroup2 needs root")
	}
	root := t.TempDir()
	require.NoError(t, unix.Mount("nemo-test", root, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""),
		"mount -t cgroup2 %s", root)
	t.Cleanup(func() {
		if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", root, err)
		}
	})
	group := filepath.Join(root, fmt.Sprintf("nemo-harvester-test-%d", os.Getpid()))
	require.NoError(t, os.Mkdir(group, 0o755))
	busy := exec.Command("/bin/sh", "-c", "while :; do :; done")
	require.NoError(t, busy.Start())
	t.Cleanup(func() {
		_ = busy.Process.Kill()
		_ = busy.Wait()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := os.Remove(group); err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
				return
			}
		}
	})
	require.NoError(t, os.WriteFile(filepath.Join(group, "cgroup.procs"), []byte(strconv.Itoa(busy.Process.Pid)), 0o644))

	src := cgroupSource{dir: group}
	first, err := src.CPUTime(t.Context())
	require.NoError(t, err)
	start := time.Now()
	time.Sleep(500 * time.Millisecond)
	second, err := src.CPUTime(t.Context())
	wall := time.Since(start)
	require.NoError(t, err)
	t.Logf("busy process in %s: cpu.stat usage %v over %v", group, second-first, wall)
	assert.Positive(t, second-first, "the group's usage grows while its process runs")
	assert.LessOrEqual(t, second-first, wall+10*time.Millisecond, "one single-threaded process uses at most one core")
}
