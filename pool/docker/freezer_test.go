package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestFreezerV1FreezeThaw(t *testing.T) {
	root := t.TempDir()
	ref := fakeV1Cgroup(t, root, "abc", 0)
	f := newFreezer(root, false)
	ctx := context.Background()

	require.NoError(t, f.Freeze(ctx, *ref))
	assert.Equal(t, "FROZEN", readTrim(t, filepath.Join(ref.FreezerDir, "freezer.state")))
	frozen, err := f.Frozen(*ref)
	require.NoError(t, err)
	assert.True(t, frozen)

	require.NoError(t, f.Thaw(ctx, *ref))
	assert.Equal(t, "THAWED", readTrim(t, filepath.Join(ref.FreezerDir, "freezer.state")))
	frozen, err = f.Frozen(*ref)
	require.NoError(t, err)
	assert.False(t, frozen)
}

// The kernel reports FREEZING for a while; the write is repeated until FROZEN.
func TestFreezerV1WaitsThroughFreezing(t *testing.T) {
	f := newFreezer("/unused", false)
	var mu sync.Mutex
	var writes []string
	reads := 0
	f.writeFile = func(_ string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, string(data))
		return nil
	}
	f.readFile = func(string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if reads < 4 {
			return []byte("FREEZING\n"), nil
		}
		return []byte("FROZEN\n"), nil
	}
	require.NoError(t, f.Freeze(context.Background(), cgroupRef{FreezerDir: "/x"}))
	assert.Equal(t, []string{"FROZEN"}, writes, "reading lets the kernel finish; no rewrite while FREEZING")
	assert.Equal(t, 4, reads)
}

// Something thawed the group mid-freeze: the control file is written again.
func TestFreezerV1RewritesAfterFallBack(t *testing.T) {
	f := newFreezer("/unused", false)
	var writes []string
	states := []string{"FREEZING", "THAWED", "FROZEN"}
	f.writeFile = func(_ string, data []byte) error { writes = append(writes, string(data)); return nil }
	f.readFile = func(string) ([]byte, error) {
		s := states[0]
		if len(states) > 1 {
			states = states[1:]
		}
		return []byte(s), nil
	}
	require.NoError(t, f.Freeze(context.Background(), cgroupRef{FreezerDir: "/x"}))
	assert.Equal(t, []string{"FROZEN", "FROZEN"}, writes)
}

// A cgroup that never freezes: Freeze gives up at the deadline and thaws it back.
func TestFreezerV1DeadlineAndRollback(t *testing.T) {
	f := newFreezer("/unused", false)
	var mu sync.Mutex
	var writes []string
	f.writeFile = func(_ string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, string(data))
		return nil
	}
	f.readFile = func(string) ([]byte, error) { return []byte("FREEZING\n"), nil }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.Freeze(ctx, cgroupRef{FreezerDir: "/x"})
	assert.ErrorIs(t, err, ErrFreezer)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// 50 ms for the freeze plus at most 1 s for the rollback attempt.
	assert.Less(t, time.Since(start), 2*time.Second)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, writes)
	assert.Equal(t, "THAWED", writes[len(writes)-1], "rolled back")
}

func TestFreezerV1WriteError(t *testing.T) {
	f := newFreezer(t.TempDir(), false)
	err := f.Freeze(context.Background(), cgroupRef{FreezerDir: filepath.Join(t.TempDir(), "gone")})
	assert.ErrorIs(t, err, ErrFreezer)
}

func TestFreezerV2(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "system.slice", "docker-abc.scope")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.events"), []byte("populated 1\nfrozen 0\n"), 0o644))
	f := newFreezer("/unused", true)
	// Model the kernel: cgroup.events follows cgroup.freeze.
	base := f.writeFile
	f.writeFile = func(p string, data []byte) error {
		if err := base(p, data); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(filepath.Dir(p), "cgroup.events"), []byte("populated 1\nfrozen "+string(data)+"\n"), 0o644)
	}
	ref := cgroupRef{V2: true, FreezerDir: dir, MemoryDir: dir}
	require.NoError(t, f.Freeze(context.Background(), ref))
	assert.Equal(t, "1", readTrim(t, filepath.Join(dir, "cgroup.freeze")))
	frozen, err := f.Frozen(ref)
	require.NoError(t, err)
	assert.True(t, frozen)
	require.NoError(t, f.Thaw(context.Background(), ref))
	assert.Equal(t, "0", readTrim(t, filepath.Join(dir, "cgroup.freeze")))
}

func TestFreezerResolveFallbacks(t *testing.T) {
	root := t.TempDir()
	ref := fakeV1Cgroup(t, root, "abc", 0)
	got, err := newFreezer(root, false).Resolve(0, "abc")
	require.NoError(t, err)
	assert.Equal(t, *ref, got, "pid unknown: Docker's cgroupfs path /docker/<id>")

	_, err = newFreezer(root, false).Resolve(0, "other")
	assert.ErrorIs(t, err, ErrFreezer)

	v2root := t.TempDir()
	scope := filepath.Join(v2root, "system.slice", "docker-abc.scope")
	require.NoError(t, os.MkdirAll(scope, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(scope, "cgroup.freeze"), []byte("0"), 0o644))
	got, err = newFreezer(v2root, true).Resolve(0, "abc")
	require.NoError(t, err)
	assert.Equal(t, cgroupRef{V2: true, FreezerDir: scope, MemoryDir: scope}, got, "systemd driver scope")
	_, err = newFreezer(v2root, true).Resolve(0, "other")
	assert.ErrorIs(t, err, ErrFreezer)
}

func TestOOMKills(t *testing.T) {
	root := t.TempDir()
	ref := fakeV1Cgroup(t, root, "abc", 3)
	f := newFreezer(root, false)
	n, err := f.OOMKills(*ref)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n"), 0o644))
	n, err = f.OOMKills(cgroupRef{V2: true, MemoryDir: dir})
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory.oom_control"), []byte("oom_kill_disable 0\n"), 0o644))
	_, err = f.OOMKills(cgroupRef{MemoryDir: dir})
	assert.Error(t, err, "old kernels have no oom_kill counter")
	_, err = f.OOMKills(cgroupRef{})
	assert.Error(t, err)
}
