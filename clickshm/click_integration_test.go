//go:build integration

package clickshm

// Test equipment for the Click side of clickshm: these tests run a real
// user-level Click built with deployments/click (fromdevice-burst.patch and
// the NemoBurstCtl element) against the Go Writer, and observe FromDevice's
// reads from outside with strace.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clickBinary returns the Click to test, or skips saying why none can be had.
func clickBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("NEMO_CLICK")
	if bin == "" {
		t.Skip("NEMO_CLICK is not set, and the test command does not build Click: the Click source " +
			"(kohler/click) is not in any package registry the test machine can reach (Debian has no Click " +
			"router package, binary or source). Build it as deployments/click/README.md describes and " +
			"set NEMO_CLICK to its userlevel/click to run these tests")
	}
	if os.Geteuid() != 0 {
		t.Skip("NEMO_CLICK is set, but FromDevice needs root to open a packet socket")
	}
	_, err := os.Stat(bin)
	require.NoError(t, err, "NEMO_CLICK")
	return bin
}

// clickConfig is the router these tests run: FromDevice on lo under
// NemoBurstCtl. OUTBOUND true because on lo every packet is seen twice
// (sent and received), and FromDevice ends a wake-up at the first packet it
// filters out; with OUTBOUND false a wake-up could never read a full burst.
func clickConfig(shm, sock, interval string) string {
	return fmt.Sprintf(`fd :: FromDevice(lo, METHOD LINUX, OUTBOUND true, BURST 2);
ctl :: NemoBurstCtl(SHM %s, DEV fd, INTERVAL %s, DEFAULT 3, MAX 64);
ControlSocket(UNIX, %s);
fd -> Discard;`, shm, interval, sock)
}

type clickProc struct {
	cmd *exec.Cmd
	cs  *controlSocket
}

// startClick runs bin with args (a configuration) and connects to sock.
func startClick(t *testing.T, sock string, bin string, args ...string) *clickProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var cs *controlSocket
	var err error
	require.Eventually(t, func() bool { cs, err = dialControl(sock); return err == nil }, 10*time.Second, 20*time.Millisecond,
		"Click's ControlSocket at %s", sock)
	t.Cleanup(func() { cs.Close() })
	return &clickProc{cmd: cmd, cs: cs}
}

// publishAndWait publishes s and waits for the element's acknowledgement of
// exactly that seq, through the same API the invoker uses. It logs how long
// the acknowledgement took (a figure, not an assertion).
func publishAndWait(t *testing.T, w *Writer, s Settings) Ack {
	t.Helper()
	start := time.Now()
	require.NoError(t, w.Publish(s))
	seq := w.Seq()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	a, err := w.WaitAck(ctx, seq)
	require.NoError(t, err, "publish %+v", s)
	t.Logf("publish %+v: element acknowledged seq %d with burst %d after %v",
		s, a.AckSeq, a.AppliedBurst, time.Since(start).Round(100*time.Microsecond))
	require.Equal(t, seq, a.AckSeq)
	require.Equal(t, ReaderLive, a.Reader)
	require.True(t, a.Current)
	return a
}

// TestIntegrationClickElement: the element applies every published burst to
// FromDevice and acknowledges it; FromDevice then reads exactly that many
// packets per wake-up; WRITER_CLOSED reverts to DEFAULT.
func TestIntegrationClickElement(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	sock := filepath.Join(dir, "click.sock")
	w, err := Create(shm, 200)
	require.NoError(t, err)
	defer w.Close()

	c := startClick(t, sock, bin, "-e", clickConfig(shm, sock, "5ms"))

	for _, step := range []struct {
		name string
		s    Settings
		want uint32
	}{
		{"harvest off", Settings{Enable: false, Burst: 32}, 1},
		{"harvest on", Settings{Enable: true, Burst: 32}, 32},
		{"clamped to MAX", Settings{Enable: true, Burst: 500}, 64},
		{"small burst", Settings{Enable: true, Burst: 8}, 8},
	} {
		a := publishAndWait(t, w, step.s)
		assert.Equal(t, step.want, a.AppliedBurst, "%s: acknowledged burst", step.name)
		got, err := c.cs.read("fd.burst")
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(int(step.want)), got, "%s: FromDevice's burst", step.name)

		hist := wakeupReads(t, c.cmd.Process.Pid, time.Second)
		t.Logf("%s: packets read per wake-up (count: wake-ups) %v", step.name, hist)
		assertBurstPerWakeup(t, hist, int(step.want), step.name)
	}
	writer, err := c.cs.read("ctl.writer")
	require.NoError(t, err)
	assert.Equal(t, "live", writer)

	require.NoError(t, w.Close())
	require.Eventually(t, func() bool {
		b, _ := c.cs.read("fd.burst")
		s, _ := c.cs.read("ctl.writer")
		return b == "3" && s == "closed"
	}, 5*time.Second, 5*time.Millisecond, "WRITER_CLOSED reverts to DEFAULT")
}

// assertBurstPerWakeup: under a flood no wake-up reads more than burst
// packets, and most read exactly burst.
func assertBurstPerWakeup(t *testing.T, hist map[int]int, burst int, what string) {
	t.Helper()
	total, atBurst, most := 0, hist[burst], 0
	for n, k := range hist {
		total += k
		most = max(most, n)
	}
	require.GreaterOrEqual(t, total, 10, "%s: too few wake-ups with packets observed: %v", what, hist)
	assert.Equal(t, burst, most, "%s: largest number of packets read in one wake-up", what)
	assert.GreaterOrEqual(t, 2*atBurst, total, "%s: at least half the wake-ups read a full burst of %d: %v", what, burst, hist)
}

// wakeupReads floods lo with UDP for d while strace watches pid, and returns
// how many wake-ups (poll returns) read how many packets: successful
// recvfrom(..., MSG_TRUNC, {AF_PACKET...}) calls between two polls, FromDevice
// METHOD LINUX's one syscall per packet. Wake-ups that read nothing (timer
// ticks, the control socket) and the cut-off first and last are left out.
func wakeupReads(t *testing.T, pid int, d time.Duration) map[int]int {
	t.Helper()
	strace, err := exec.LookPath("strace")
	require.NoError(t, err, "strace is needed to count FromDevice's reads per wake-up (apt-get install strace)")
	out := filepath.Join(t.TempDir(), "strace.txt")
	cmd := exec.Command(strace, "-p", strconv.Itoa(pid), "-e", "trace=poll,ppoll,recvfrom", "-s", "0", "-o", out)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	attached := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "attached") {
				attached <- sc.Text()
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-attached:
	case <-time.After(10 * time.Second):
		t.Fatal("strace did not attach within 10s")
	}

	stop := flood(t)
	time.Sleep(d)
	require.NoError(t, cmd.Process.Signal(os.Interrupt)) // strace detaches and flushes
	_ = cmd.Wait()
	stop()

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return parseWakeups(string(b))
}

// flood sends UDP datagrams to a socket on 127.0.0.1 as fast as it can until
// stopped (at most 30s or 5M datagrams): loopback only, bounded.
func flood(t *testing.T) (stop func()) {
	t.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	src, err := net.DialUDP("udp4", nil, sink.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		payload := make([]byte, 32)
		deadline := time.Now().Add(30 * time.Second)
		for i := 0; i < 5_000_000; i++ {
			if i&255 == 0 {
				select {
				case <-done:
					return
				default:
				}
				if time.Now().After(deadline) {
					return
				}
			}
			_, _ = src.Write(payload) // the unread sink drops what overflows
		}
	}()
	return func() { close(done); wg.Wait(); src.Close(); sink.Close() }
}

// TestIntegrationClickRefusesOutOfRangeBursts: the patched burst handler
// refuses what would make FromDevice spin or read without limit, and the
// element refuses configurations outside its range.
func TestIntegrationClickRefusesOutOfRangeBursts(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-none") // no writer: the element applies DEFAULT
	sock := filepath.Join(dir, "click.sock")
	c := startClick(t, sock, bin, "-e", clickConfig(shm, sock, "1h"))

	for _, v := range []string{"0", "-1", "1025", "99999999999", "abc", ""} {
		code, msg, err := c.cs.write("fd.burst", v)
		require.NoError(t, err)
		assert.Equal(t, 520, code, "WRITE fd.burst %q must be refused: %s", v, msg)
		got, err := c.cs.read("fd.burst")
		require.NoError(t, err)
		assert.Equal(t, "3", got, "a refused write leaves the burst alone")
	}
	for _, v := range []string{"1", "1024"} {
		code, msg, err := c.cs.write("fd.burst", v)
		require.NoError(t, err)
		assert.Equal(t, 200, code, "WRITE fd.burst %s is in range: %s", v, msg)
	}

	for _, bad := range []struct{ args, want string }{
		{"MAX 0", "MAX out of range"},
		{"MAX 1025", "MAX out of range"},
		{"DEFAULT 65, MAX 64", "DEFAULT out of range"},
		{"DEFAULT -1", "DEFAULT out of range"},
		{"INTERVAL 0", "INTERVAL must be at least 1ms"},
	} {
		conf := fmt.Sprintf("fd :: FromDevice(lo, METHOD LINUX); NemoBurstCtl(SHM %s, DEV fd, %s); fd -> Discard;", shm, bad.args)
		out, err := exec.Command(bin, "-e", conf).CombinedOutput()
		require.Error(t, err, "NemoBurstCtl(%s) must not start: %s", bad.args, out)
		assert.Contains(t, string(out), bad.want, bad.args)
	}
}

// TestIntegrationClickManualBurstWriteLastsOnePoll: while NemoBurstCtl runs,
// a hand-written burst holds only until its next poll, which puts back what
// the invoker published. INTERVAL is an hour so that poll is the one the test
// triggers (ctl.poll), not a timer racing the test.
func TestIntegrationClickManualBurstWriteLastsOnePoll(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	sock := filepath.Join(dir, "click.sock")
	w, err := Create(shm, 0)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 32}))
	c := startClick(t, sock, bin, "-e", clickConfig(shm, sock, "1h"))
	got, err := c.cs.read("fd.burst")
	require.NoError(t, err)
	require.Equal(t, "32", got, "the first poll (at start-up) applied the published burst")

	code, msg, err := c.cs.write("fd.burst", "8")
	require.NoError(t, err)
	require.Equal(t, 200, code, msg)
	got, _ = c.cs.read("fd.burst")
	assert.Equal(t, "8", got, "the write took effect")

	code, msg, err = c.cs.write("ctl.poll", "")
	require.NoError(t, err)
	require.Equal(t, 200, code, msg)
	got, _ = c.cs.read("fd.burst")
	assert.Equal(t, "32", got, "the next poll put the published burst back")
	a, err := w.Ack()
	require.NoError(t, err)
	assert.Equal(t, uint32(32), a.AppliedBurst)
	assert.True(t, a.Current)
}

// TestIntegrationClickElementRevertsWhenWriterIsKilled: SIGKILL leaves no
// WRITER_CLOSED; the element must notice the stale heartbeat and the
// released flock and go back to DEFAULT.
func TestIntegrationClickElementRevertsWhenWriterIsKilled(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	sock := filepath.Join(dir, "click.sock")
	writer, _ := startHelper(t, "CLICKSHM_HELPER=idle-writer", "CLICKSHM_PATH="+shm, "CLICKSHM_LEASE=100")
	c := startClick(t, sock, bin, "-e", clickConfig(shm, sock, "5ms"))
	require.Eventually(t, func() bool { b, _ := c.cs.read("fd.burst"); return b == "32" }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	s, _ := c.cs.read("ctl.writer")
	assert.Equal(t, "live", s, "a heartbeating writer stays live past its lease")

	require.NoError(t, writer.Process.Signal(syscall.SIGKILL))
	_ = writer.Wait()
	start := time.Now()
	require.Eventually(t, func() bool {
		b, _ := c.cs.read("fd.burst")
		s, _ := c.cs.read("ctl.writer")
		return b == "3" && s == "dead"
	}, 5*time.Second, 5*time.Millisecond, "a killed writer reverts to DEFAULT")
	t.Logf("reverted %v after SIGKILL (lease 100ms)", time.Since(start).Round(time.Millisecond))
}

// TestIntegrationClickWriterSeesTheElementsLife: what the invoker learns
// from Writer.Ack while the NF's Click starts, stops cleanly, starts again and
// is killed: never attached, live, detached, live, stale.
func TestIntegrationClickWriterSeesTheElementsLife(t *testing.T) {
	bin := clickBinary(t)
	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	w, err := Create(shm, 200)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, w.Publish(Settings{Enable: true, Burst: 16}))
	time.Sleep(300 * time.Millisecond) // longer than the lease: "never" is not a matter of waiting
	a, err := w.Ack()
	require.NoError(t, err)
	assert.Equal(t, ReaderNever, a.Reader, "no Click attached yet")

	ackState := func() ReaderState { a, _ := w.Ack(); return a.Reader }
	for i, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		sock := filepath.Join(dir, fmt.Sprintf("click%d.sock", i))
		c := startClick(t, sock, bin, "-e", clickConfig(shm, sock, "5ms"))
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		a, err := w.WaitAck(ctx, w.Seq())
		cancel()
		require.NoError(t, err)
		assert.Equal(t, ReaderLive, a.Reader)
		assert.Equal(t, uint32(16), a.AppliedBurst)
		assert.Equal(t, uint32(c.cmd.Process.Pid), a.ReaderPID)

		require.NoError(t, c.cmd.Process.Signal(stop))
		_ = c.cmd.Wait()
		if stop == syscall.SIGTERM {
			require.Eventually(t, func() bool { return ackState() == ReaderDetached }, 5*time.Second, 5*time.Millisecond,
				"Click's cleanup detaches the element")
		} else {
			require.Eventually(t, func() bool { return ackState() == ReaderStale }, 5*time.Second, 5*time.Millisecond,
				"a killed element stops ticking: stale after the 200ms lease")
		}
	}
}

// TestIntegrationClickSampleConfig runs deployments/click/nemo-fw.click as
// the README says, with the command-line overrides IN= OUT= SHM= SOCK=, in a
// private network namespace: frames sent into veth a0 reach Click on a1 and
// leave through b1 to b0, while the burst follows the Writer.
func TestIntegrationClickSampleConfig(t *testing.T) {
	bin := clickBinary(t)
	ns := fmt.Sprintf("nemo-click-%d", os.Getpid())
	ipCmd := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
		return string(out)
	}
	ipCmd("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd("-n", ns, "link", "add", "a0", "type", "veth", "peer", "name", "a1")
	ipCmd("-n", ns, "link", "add", "b0", "type", "veth", "peer", "name", "b1")
	for _, l := range []string{"a0", "a1", "b0", "b1"} {
		ipCmd("-n", ns, "link", "set", l, "up")
	}
	rxPackets := func(link string) uint64 {
		var st []struct {
			Stats64 struct {
				Rx struct {
					Packets uint64 `json:"packets"`
				} `json:"rx"`
			} `json:"stats64"`
		}
		require.NoError(t, json.Unmarshal([]byte(ipCmd("-n", ns, "-s", "-j", "link", "show", link)), &st))
		require.Len(t, st, 1)
		return st[0].Stats64.Rx.Packets
	}

	dir := t.TempDir()
	shm := filepath.Join(dir, "nemo-fw")
	sock := filepath.Join(dir, "nemo-fw.sock")
	w, err := Create(shm, 0)
	require.NoError(t, err)
	defer w.Close()
	sample, err := filepath.Abs(filepath.Join("..", "deployments", "click", "nemo-fw.click"))
	require.NoError(t, err)
	c := startClick(t, sock, "ip", "netns", "exec", ns, bin, sample, "IN=a1", "OUT=b1", "SHM="+shm, "SOCK="+sock)

	a := publishAndWait(t, w, Settings{Enable: true, Burst: 32})
	assert.Equal(t, uint32(32), a.AppliedBurst)
	got, err := c.cs.read("fd.burst")
	require.NoError(t, err)
	assert.Equal(t, "32", got)

	before := rxPackets("b0")
	const frames = 200
	send := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	send.Env = append(os.Environ(), "CLICKSHM_HELPER=l2-send", "CLICKSHM_IFACE=a0", fmt.Sprintf("CLICKSHM_COUNT=%d", frames))
	out, err := send.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var counted string
	require.Eventually(t, func() bool {
		counted, _ = c.cs.read("cnt.count")
		n, _ := strconv.Atoi(counted)
		return n >= frames
	}, 5*time.Second, 10*time.Millisecond, "Click read the frames on a1 (cnt.count %s)", counted)
	require.Eventually(t, func() bool { return rxPackets("b0")-before >= frames }, 5*time.Second, 10*time.Millisecond,
		"the firewall forwarded the UDP frames out of b1 to b0")

	require.NoError(t, w.Close())
	require.Eventually(t, func() bool { b, _ := c.cs.read("fd.burst"); return b == "1" }, 5*time.Second, 5*time.Millisecond,
		"without the invoker the sample's FromDevice returns to its own BURST 1")
}

type controlSocket struct {
	c net.Conn
	r *bufio.Reader
}

func dialControl(path string) (*controlSocket, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	cs := &controlSocket{c: c, r: bufio.NewReader(c)}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	greeting, err := cs.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "Click::ControlSocket/") {
		c.Close()
		return nil, fmt.Errorf("greeting %q: %w", greeting, err)
	}
	return cs, nil
}

func (cs *controlSocket) Close() error { return cs.c.Close() }

// status reads a reply, following "NNN-" continuation lines.
func (cs *controlSocket) status() (int, string, error) {
	var msg strings.Builder
	for {
		line, err := cs.r.ReadString('\n')
		if err != nil {
			return 0, msg.String(), err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			return 0, line, fmt.Errorf("short reply %q", line)
		}
		msg.WriteString(line[4:])
		if line[3] == ' ' {
			code, err := strconv.Atoi(line[:3])
			return code, msg.String(), err
		}
	}
}

func (cs *controlSocket) read(handler string) (string, error) {
	if _, err := fmt.Fprintf(cs.c, "READ %s\r\n", handler); err != nil {
		return "", err
	}
	code, msg, err := cs.status()
	if err != nil || code != 200 {
		return "", fmt.Errorf("READ %s: %d %s %w", handler, code, msg, err)
	}
	line, err := cs.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "DATA ")))
	if err != nil {
		return "", fmt.Errorf("DATA line %q", line)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(cs.r, b); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (cs *controlSocket) write(handler, value string) (int, string, error) {
	if _, err := fmt.Fprintf(cs.c, "WRITE %s %s\r\n", handler, value); err != nil {
		return 0, "", err
	}
	return cs.status()
}
