//go:build integration

package docker

import (
	"bytes"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The Freezer against the kernel, in both cgroup versions, whatever the host's own mode: each test mounts a
// hierarchy of its own (a second mount of the host's cgroup2, or of the v1 freezer hierarchy) under a
// temporary directory, creates one group in it, moves a busy process of its own there, freezes and thaws it
// through the Freezer (Resolve by pid, as for a container), and checks with the process's CPU time that it
// really stopped and ran again. TestITFreezeThaw covers the host's own mode through Docker; these make sure
// the other mode's code runs on a real kernel too. They need root (mount) and remove what they made.

func TestFreezerKernelV2(t *testing.T) {
	root := mountCgroup(t, "cgroup2", "")
	freezeBusyProcess(t, newFreezer(root, true), root, "")
}

func TestFreezerKernelV1(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "freezer")
	require.NoError(t, os.Mkdir(root, 0o755))
	mountCgroupAt(t, root, "cgroup", "freezer")
	freezeBusyProcess(t, newFreezer(base, false), root, "freezer")
}

func mountCgroup(t *testing.T, fstype, opts string) string {
	t.Helper()
	dir := t.TempDir()
	mountCgroupAt(t, dir, fstype, opts)
	return dir
}

// mountCgroupAt mounts a cgroup hierarchy at dir for the test's duration. Mounting a hierarchy that is already
// mounted elsewhere gives a second view of the same one; nothing about the host's mounts changes.
func mountCgroupAt(t *testing.T, dir, fstype, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("mounting a %s hierarchy needs root", fstype)
	}
	err := unix.Mount("nemo-test", dir, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts)
	require.NoError(t, err, "mount -t %s -o %q %s (the kernel must offer %s: /proc/filesystems)", fstype, opts, dir, fstype)
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// freezeBusyProcess runs a busy loop in a new group of the hierarchy mounted at dir and freezes and thaws
// it through f. controller is the v1 controller name ("" for v2).
func freezeBusyProcess(t *testing.T, f *Freezer, dir, controller string) {
	t.Helper()
	group := filepath.Join(dir, fmt.Sprintf("nemo-freezer-test-%d", os.Getpid()))
	require.NoError(t, os.Mkdir(group, 0o755))
	// The busy loop dies with the test process too (a timed-out test runs no cleanup).
	busy := exec.Command("/bin/sh", "-c", "while :; do :; done")
	busy.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Registered before the start, so a failed start still removes the group; the cleanup thaws the group,
	// kills the loop and removes the group whatever step of the test failed.
	t.Cleanup(func() {
		// Thaw before killing: a frozen task does not die until thawed. Written directly, bounded, so a
		// broken Freezer cannot hang the cleanup.
		if controller == "" {
			_ = os.WriteFile(filepath.Join(group, "cgroup.freeze"), []byte("0"), 0o644)
		} else {
			_ = os.WriteFile(filepath.Join(group, "freezer.state"), []byte("THAWED"), 0o644)
		}
		if busy.Process != nil {
			_ = busy.Process.Kill()
			_ = busy.Wait()
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			err := os.Remove(group)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("remove %s: %v", group, err)
				break
			}
		}
	})
	require.NoError(t, busy.Start())
	pid := busy.Process.Pid
	require.NoError(t, os.WriteFile(filepath.Join(group, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644))

	ref, err := f.Resolve(pid, "not-a-container")
	require.NoError(t, err, "Resolve finds the group from the process's own cgroup file")
	require.Equal(t, group, ref.FreezerDir)
	require.Equal(t, controller == "", ref.V2)

	running := cpuAdvances(t, pid)
	require.True(t, running, "the busy process uses CPU before the freeze")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, f.Freeze(ctx, ref))
	t.Logf("cgroup %s frozen in %v", map[bool]string{true: "v2", false: "v1"}[ref.V2], time.Since(start))
	frozen, err := f.Frozen(ref)
	require.NoError(t, err)
	assert.True(t, frozen)
	if ref.V2 {
		ev, err := os.ReadFile(filepath.Join(group, "cgroup.events"))
		require.NoError(t, err)
		assert.True(t, hasLine(ev, "frozen 1"), "cgroup.events: %s", ev)
	} else {
		st, err := os.ReadFile(filepath.Join(group, "freezer.state"))
		require.NoError(t, err)
		assert.Equal(t, "FROZEN", strings.TrimSpace(string(st)))
	}
	assert.False(t, cpuAdvances(t, pid), "a frozen process uses no CPU")

	require.NoError(t, f.Thaw(ctx, ref))
	frozen, err = f.Frozen(ref)
	require.NoError(t, err)
	assert.False(t, frozen)
	assert.True(t, cpuAdvances(t, pid), "the thawed process runs again")
}

// cpuAdvances reports whether pid's CPU time (utime+stime, in clock ticks) grows over 300 ms.
func cpuAdvances(t *testing.T, pid int) bool {
	t.Helper()
	ticks := func() uint64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		require.NoError(t, err)
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		ut, err1 := strconv.ParseUint(f[11], 10, 64)
		st, err2 := strconv.ParseUint(f[12], 10, 64)
		require.NoError(t, errors.Join(err1, err2))
		return ut + st
	}
	before := ticks()
	time.Sleep(300 * time.Millisecond)
	return ticks() > before
}
