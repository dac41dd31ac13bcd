package clickshm

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildAckcheck compiles testdata/ackcheck.cc with the system C++ compiler in
// the dialect the Click element is built with.
func buildAckcheck(t *testing.T) string {
	t.Helper()
	cxx, err := exec.LookPath("c++")
	if err != nil {
		t.Skip("no C++ compiler (c++) on PATH; scripts/test.sh installs g++")
	}
	bin := filepath.Join(t.TempDir(), "ackcheck")
	out, err := exec.Command(cxx, "-std=gnu++17", "-O2", "-Wall", "-Wextra", "-Werror", "-I", ".",
		"-o", bin, filepath.Join("testdata", "ackcheck.cc")).CombinedOutput()
	require.NoError(t, err, "c++: %s", out)
	return bin
}

func runKV(t *testing.T, bin string, args ...string) map[string]string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	var ee *exec.ExitError
	if err != nil && errors.As(err, &ee) {
		t.Fatalf("%s %v: %v: %s", bin, args, err, ee.Stderr)
	}
	require.NoError(t, err)
	kv := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		for k, v := range parseKV(line) {
			kv[k] = v
		}
	}
	return kv
}

func atou(t *testing.T, kv map[string]string, k string) uint64 {
	t.Helper()
	v, ok := kv[k]
	require.True(t, ok, "missing %s in %v", k, kv)
	n, err := strconv.ParseUint(v, 10, 64)
	require.NoError(t, err, k)
	return n
}

// TestHeaderLayoutMatchesGo: every offset, size and constant the Go side uses
// equals what the C++ compiler makes of clickshm.h. clickshm.h also asserts
// its offsets statically; this test ties both sides to each other.
func TestHeaderLayoutMatchesGo(t *testing.T) {
	kv := runKV(t, buildAckcheck(t), "layout")
	want := map[string]uint64{
		"magic": OffMagic, "version_major": OffVersionMajor, "version_minor": OffVersionMinor,
		"header_size": OffHeaderSize, "seq": OffSeq, "flags": OffFlags, "burst_size": OffBurst,
		"rx_usecs": OffRxUsecs, "writer_pid": OffWriterPID, "update_ns": OffUpdateNs,
		"heartbeat_ns": OffHeartbeatNs, "lease_ms": OffLeaseMs,
		"ack_seq": OffAckSeq, "applied_burst": OffAppliedBurst, "reader_pid": OffReaderPID,
		"reader_flags": OffReaderFlags, "ack_ns": OffAckNs,
		"sizeof": HeaderSize, "header_size_const": HeaderSize, "page_size": PageSize,
		"sizeof_applied_burst": 4, "sizeof_ack_ns": 8,
		"magic_const": Magic, "version_major_const": VersionMajor,
		"flag_burst_enable": FlagBurstEnable, "flag_writer_closed": FlagWriterClosed,
		"reader_attached": ReaderAttached, "reader_fallback": ReaderFallback,
	}
	for k, v := range want {
		assert.Equal(t, v, atou(t, kv, k), k)
	}
	assert.Len(t, kv, len(want), "a field printed by the C++ side is not checked here")
}

// TestWriterAckReadsTheCXXReader: a tick of the C++ reader (the element's code
// path: read, judge, clamp, ack) is what Writer.Ack returns, field by field;
// a clean detach and a fallback after WRITER_CLOSED come through too.
func TestWriterAckReadsTheCXXReader(t *testing.T) {
	bin := buildAckcheck(t)
	path := segPath(t)
	w, err := Create(path, 0)
	require.NoError(t, err)
	defer w.Close()

	a, err := w.Ack()
	require.NoError(t, err)
	assert.Equal(t, ReaderNever, a.Reader, "before the element's first tick")

	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 300}))
	kv := runKV(t, bin, "tick", path, "3", "64", "0")
	a, err = w.Ack()
	require.NoError(t, err)
	assert.Equal(t, ReaderLive, a.Reader)
	assert.True(t, a.Current, "the element acknowledged the latest publish")
	assert.Equal(t, w.Seq(), a.AckSeq)
	assert.Equal(t, uint64(a.AckSeq), atou(t, kv, "seq"))
	assert.Equal(t, uint32(64), a.AppliedBurst, "clamped to the element's MAX")
	assert.Equal(t, atou(t, kv, "ack_ns"), a.AckNs)
	assert.Equal(t, atou(t, kv, "pid"), uint64(a.ReaderPID))
	assert.NotEqual(t, uint32(os.Getpid()), a.ReaderPID)
	assert.True(t, a.Attached(), "exited without detaching, as a killed element does")
	assert.False(t, a.Fallback())

	require.NoError(t, w.Publish(Settings{Enable: false, Burst: 32}))
	a, _ = w.Ack()
	assert.False(t, a.Current, "new publish, no tick yet")
	kv = runKV(t, bin, "tick", path, "3", "64", "1")
	a, _ = w.Ack()
	assert.Equal(t, ReaderDetached, a.Reader, "clickshm_close clears ATTACHED")
	assert.Equal(t, w.Seq(), a.AckSeq)
	assert.Equal(t, uint32(1), a.AppliedBurst, "harvest off")
	assert.Equal(t, atou(t, kv, "ack_ns"), a.AckNs)

	// WRITER_CLOSED: the element falls back to DEFAULT and says so in line 1,
	// which the next writer finds when it takes the page over.
	require.NoError(t, w.Close())
	kv = runKV(t, bin, "tick", path, "3", "64", "0")
	assert.Equal(t, "1", kv["fallback"])
	w2, err := Create(path, 0)
	require.NoError(t, err)
	defer w2.Close()
	raw, err := w2.ReaderAck()
	require.NoError(t, err)
	assert.True(t, raw.Fallback())
	assert.Equal(t, uint32(3), raw.AppliedBurst)
	a, _ = w2.Ack()
	assert.Equal(t, ReaderNever, a.Reader, "an acknowledgement to the previous writer")
}
