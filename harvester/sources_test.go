package harvester

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProcStatHandlesAwkwardComm(t *testing.T) {
	// comm with spaces and a closing parenthesis; utime=250 stime=50 ticks.
	line := "1234 (click (fw) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0"
	d, err := parseProcStat([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, d)

	_, err = parseProcStat([]byte("1234 (x) S 1 2"))
	assert.ErrorIs(t, err, ErrSource)
	_, err = parseProcStat([]byte("garbage"))
	assert.ErrorIs(t, err, ErrSource)
}

func TestProcPIDSourceReadsThisProcess(t *testing.T) {
	s := procPIDSource{procRoot: "/proc", pid: os.Getpid()}
	a, err := s.CPUTime(t.Context())
	require.NoError(t, err)
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) { // burn some CPU
	}
	b, err := s.CPUTime(t.Context())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, b, a)
	_, err = procPIDSource{procRoot: "/proc", pid: 1 << 30}.CPUTime(t.Context())
	assert.ErrorIs(t, err, ErrSource)
}

func TestCgroupSourceV1AndV2(t *testing.T) {
	v1 := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(v1, "cpuacct.usage"), []byte("1500000000\n"), 0o644))
	d, err := cgroupSource{dir: v1}.CPUTime(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1500*time.Millisecond, d)

	v2 := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(v2, "cpu.stat"), []byte("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"), 0o644))
	d, err = cgroupSource{dir: v2}.CPUTime(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Millisecond, d)

	v1cpu := t.TempDir() // v1 cpu controller: cpu.stat without usage_usec
	require.NoError(t, os.WriteFile(filepath.Join(v1cpu, "cpu.stat"), []byte("nr_periods 0\nnr_throttled 0\n"), 0o644))
	_, err = cgroupSource{dir: v1cpu}.CPUTime(t.Context())
	assert.ErrorIs(t, err, ErrSource)
	_, err = cgroupSource{dir: t.TempDir()}.CPUTime(t.Context())
	assert.ErrorIs(t, err, ErrSource)
}

func TestCPUSourceChoice(t *testing.T) {
	src, why := cpuSourceFor(NFConfig{Cgroup: "/cg", PID: 3, Cores: []int{1}}, "/proc")
	assert.IsType(t, cgroupSource{}, src)
	assert.Empty(t, why)
	src, _ = cpuSourceFor(NFConfig{PID: 3, Cores: []int{1}}, "/proc")
	assert.IsType(t, procPIDSource{}, src)
	assert.Equal(t, "pid", cpuSourceKind(src))

	// Cores alone are not a CPU source: their busy time includes the edge functions pinned there.
	src, why = cpuSourceFor(NFConfig{Cores: []int{1}}, "/proc")
	assert.Nil(t, src)
	assert.Contains(t, why, "only cores [1] are configured")
	assert.Contains(t, why, "edge functions")
	assert.Equal(t, "none", cpuSourceKind(src))
	src, why = cpuSourceFor(NFConfig{}, "/proc")
	assert.Nil(t, src)
	assert.NotEmpty(t, why)
}

func TestSysfsCounters(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ens1", "statistics")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, v := range map[string]string{"rx_bytes": "15140\n", "rx_packets": "10\n", "rx_dropped": "2\n", "rx_missed_errors": "3\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644))
	}
	c, err := (&sysfsCounters{root: root}).Counters(t.Context(), "ens1")
	require.NoError(t, err)
	assert.Equal(t, IfCounters{RxBytes: 15140, RxPackets: 10, RxDropped: 2, RxMissed: 3}, c)
	assert.Equal(t, uint64(5), c.Drops())

	require.NoError(t, os.WriteFile(filepath.Join(dir, "rx_bytes"), []byte("lots"), 0o644))
	_, err = (&sysfsCounters{root: root}).Counters(t.Context(), "ens1")
	assert.ErrorIs(t, err, ErrSource)
	_, err = (&sysfsCounters{root: root}).Counters(t.Context(), "nope")
	assert.ErrorIs(t, err, ErrSource)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = (&sysfsCounters{root: root}).Counters(ctx, "ens1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSysfsCountersOnLoopback(t *testing.T) {
	if _, err := os.Stat("/sys/class/net/lo/statistics/rx_bytes"); err != nil {
		t.Skip("no sysfs net statistics here")
	}
	_, err := (&sysfsCounters{root: "/sys/class/net"}).Counters(t.Context(), "lo")
	assert.NoError(t, err)
}

func TestMeasureBucket(t *testing.T) {
	prev := IfCounters{RxBytes: 1000, RxPackets: 10}
	b, ok := measureBucket(prev, IfCounters{RxBytes: 1000 + 200*1020, RxPackets: 210}, 100)
	assert.True(t, ok)
	assert.Equal(t, 1024, b)
	_, ok = measureBucket(prev, IfCounters{RxBytes: 2000, RxPackets: 20}, 100)
	assert.False(t, ok, "too few packets")
	_, ok = measureBucket(prev, IfCounters{RxBytes: 10, RxPackets: 500}, 100)
	assert.False(t, ok, "counters went backwards")
}
