package instanceid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeIDIsJavaBigIntegerToByteArray(t *testing.T) {
	// new BigInteger(String.valueOf(id)).toByteArray() for each id.
	for id, want := range map[int][]byte{
		0: {0x00}, 1: {0x01}, 127: {0x7f}, 128: {0x00, 0x80}, 255: {0x00, 0xff}, 256: {0x01, 0x00},
		32767: {0x7f, 0xff}, 32768: {0x00, 0x80, 0x00}, math.MaxInt32 - 1: {0x7f, 0xff, 0xff, 0xfe},
	} {
		got := EncodeID(id)
		assert.Equal(t, want, got, "EncodeID(%d)", id)
		back, err := DecodeID(got)
		require.NoError(t, err)
		assert.Equal(t, id, back, "DecodeID(EncodeID(%d))", id)
	}
}

func TestDecodeIDRefusesWhatOpenWhiskWouldMisread(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{nil, "empty"},
		{[]byte{0xff}, "negative"},
		{[]byte{0x80, 0x00}, "negative"},
		{[]byte{0x7f, 0xff, 0xff, 0xff}, "beyond"},           // MaxInt32: the counter would overflow
		{[]byte{0x01, 0x00, 0x00, 0x00, 0x00}, "beyond"},     // 2^32: intValue would truncate it to 0
		{bytes.Repeat([]byte{0x7f}, 20), "beyond"},           // longer than any long
		{[]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x07}, "ok:7"}, // non-minimal but valid
	} {
		id, err := DecodeID(tc.data)
		if strings.HasPrefix(tc.want, "ok:") {
			require.NoError(t, err, "% x", tc.data)
			assert.Equal(t, tc.want, fmt.Sprintf("ok:%d", id))
			continue
		}
		require.Error(t, err, "% x decoded to %d", tc.data, id)
		assert.Contains(t, err.Error(), tc.want, "% x", tc.data)
	}
}

func TestCounterIsCuratorSharedCount(t *testing.T) {
	assert.Equal(t, []byte{0, 0, 0, 0}, EncodeCounter(0))
	assert.Equal(t, []byte{0, 0, 1, 0x2d}, EncodeCounter(301))
	n, err := DecodeCounter([]byte{0, 0, 0, 3})
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	for _, bad := range [][]byte{nil, {0, 3}, {0, 0, 0, 0, 3}, {0xff, 0xff, 0xff, 0xff}} {
		_, err := DecodeCounter(bad)
		assert.Error(t, err, "% x", bad)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"kind-worker", "ip-10-0-1-12.ec2.internal", "0", "node_1", "édge"} {
		assert.NoError(t, CheckName(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "/a", "a\x00b", "tab\there", "del\x7f", "\ufff5", "\xff"} {
		assert.Error(t, CheckName(bad), "%q", bad)
	}
}

func TestParseHosts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		servers []string
		chroot  string
	}{
		{"owdev-zookeeper-0.owdev-zookeeper.openwhisk.svc.cluster.local:2181",
			[]string{"owdev-zookeeper-0.owdev-zookeeper.openwhisk.svc.cluster.local:2181"}, ""},
		{"zookeeper.docker:2181", []string{"zookeeper.docker:2181"}, ""},
		{" zk1:2181, zk2:2182 ,zk3 ", []string{"zk1:2181", "zk2:2182", "zk3:2181"}, ""},
		{"127.0.0.1:12181/nemo/it-1", []string{"127.0.0.1:12181"}, "/nemo/it-1"},
		{"zk:2181/", []string{"zk:2181"}, ""},
		{"[::1]:2181,[fe80::1]", []string{"[::1]:2181", "[fe80::1]:2181"}, ""},
	} {
		h, err := ParseHosts(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.servers, h.Servers, tc.in)
		assert.Equal(t, tc.chroot, h.Chroot, tc.in)
	}
	// OpenWhisk refuses an empty value and a leading or trailing ':'; the rest are malformed too.
	for _, bad := range []string{"", "  ", ":2181", "zk:", "zk:x", "zk:0", "zk:70000", "zk1:2181,,zk2:2181", "zk:2181/a/",
		"zk:2181/a//b", "zk:2181/..", "a b:2181", "::1"} {
		_, err := ParseHosts(bad)
		assert.Error(t, err, "%q", bad)
	}
	h, err := ParseHosts("zk1:2181,zk2:2181/chroot")
	require.NoError(t, err)
	assert.Equal(t, "zk1:2181,zk2:2181/chroot", h.String())
}

func state(counter int, mappings map[string]int) State {
	s := State{Mappings: map[string]Znode{}}
	for name, id := range mappings {
		s.Mappings[name] = Znode{Exists: true, Data: EncodeID(id), Version: int32(len(name))}
	}
	if counter >= 0 {
		s.Counter = Znode{Exists: true, Data: EncodeCounter(counter), Version: 7}
	}
	return s
}

func TestDecideNewNameWritesCounterAndMappingTogether(t *testing.T) {
	d, err := Decide(state(2, map[string]int{"a": 0, "b": 1}), "c", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, d.ID)
	assert.Equal(t, Assigned, d.Outcome)
	assert.Equal(t, []Op{
		{Kind: OpSet, Path: CounterPath, Data: EncodeCounter(3), Version: 7},
		{Kind: OpCreate, Path: MappingPath("c"), Data: EncodeID(2)},
	}, d.Ops)

	d, err = Decide(state(-1, nil), "first", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, d.ID)
	assert.Equal(t, []Op{
		{Kind: OpCreate, Path: CounterPath, Data: EncodeCounter(1)},
		{Kind: OpCreate, Path: MappingPath("first"), Data: EncodeID(0)},
	}, d.Ops, "no counter yet: created in the same transaction")
}

func TestDecideKnownNameWritesNothing(t *testing.T) {
	d, err := Decide(state(9, map[string]int{"a": 0, "b": 5}), "b", nil)
	require.NoError(t, err)
	assert.Equal(t, Decision{ID: 5, Outcome: Kept}, d)
}

func TestDecideOverwriteMovesVersionOfCounterAndDeletesHolders(t *testing.T) {
	// Two names hold 1 (OpenWhisk's race can leave that): both lose it.
	s := state(3, map[string]int{"a": 0, "b": 1, "bb": 1})
	d, err := Decide(s, "new", ptr(1))
	require.NoError(t, err)
	assert.Equal(t, 1, d.ID)
	assert.Equal(t, Overwritten, d.Outcome)
	assert.Equal(t, []string{"b", "bb"}, d.Displaced)
	assert.Equal(t, []Op{
		{Kind: OpSet, Path: CounterPath, Data: EncodeCounter(3), Version: 7},
		{Kind: OpDelete, Path: MappingPath("b"), Version: 1},
		{Kind: OpDelete, Path: MappingPath("bb"), Version: 2},
		{Kind: OpCreate, Path: MappingPath("new"), Data: EncodeID(1)},
	}, d.Ops)

	d, err = Decide(state(3, map[string]int{"a": 0, "b": 1}), "a", ptr(2))
	require.NoError(t, err)
	assert.Equal(t, OpSet, d.Ops[len(d.Ops)-1].Kind, "an existing mapping is rewritten with its version")
	assert.Equal(t, int32(1), d.Ops[len(d.Ops)-1].Version)

	d, err = Decide(state(3, map[string]int{"a": 0, "b": 1}), "b", ptr(1))
	require.NoError(t, err)
	assert.Empty(t, d.Ops, "already there and nobody else holds it")
}

func TestDecideRefusals(t *testing.T) {
	_, err := Decide(state(1, map[string]int{"a": 0}), "x", ptr(2))
	assert.ErrorIs(t, err, ErrRefused)
	_, err = Decide(State{}, "a/b", nil)
	assert.ErrorIs(t, err, ErrRefused)
	s := state(1, map[string]int{"a": 0})
	s.Mappings["a"] = Znode{Exists: true, Data: nil}
	_, err = Decide(s, "a", nil)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func ptr(n int) *int { return &n }

func newTestAssigner(f *fakeZK, opts ...Option) *Assigner {
	opts = append([]Option{WithDialer(f.dialer())}, opts...)
	a := New(Hosts{Servers: []string{"fake:2181"}}, zerolog.Nop(), opts...)
	a.backoff = func(int) time.Duration { return 0 }
	return a
}

func TestAssignRetriesWhenAnotherInvokerWinsTheRace(t *testing.T) {
	f := newFakeZK()
	other := newTestAssigner(f)
	var once sync.Once
	// Between our read and our write, another invoker takes an id (with its own complete transaction).
	f.beforeMulti = func(f *fakeZK) {
		once.Do(func() {
			f.beforeMulti = nil
			d, err := other.Assign(context.Background(), "other", nil)
			require.NoError(t, err)
			require.Equal(t, 0, d.ID)
		})
	}
	d, err := newTestAssigner(f).Assign(context.Background(), "me", nil)
	require.NoError(t, err)
	assert.Equal(t, 1, d.ID, "the id the other invoker took first is not handed out twice")
	assert.Equal(t, 3, f.multis, "ours failed once, the other's and our retry succeeded")
	assert.Contains(t, f.dump(""), "/invokers/idAssignment/counter = 00 00 00 02")
}

func TestAssignOverwriteLosesToConcurrentNewID(t *testing.T) {
	f := newFakeZK()
	a := newTestAssigner(f)
	for _, n := range []string{"a", "b"} {
		_, err := a.Assign(context.Background(), n, nil)
		require.NoError(t, err)
	}
	var once sync.Once
	f.beforeMulti = func(f *fakeZK) {
		once.Do(func() {
			f.beforeMulti = nil
			_, err := a.Assign(context.Background(), "c", nil) // takes 2 while the overwrite is deciding
			require.NoError(t, err)
		})
	}
	d, err := newTestAssigner(f).Assign(context.Background(), "d", ptr(2))
	require.NoError(t, err)
	assert.Equal(t, []string{"c"}, d.Displaced, "the retry sees c holding 2 and displaces it: no two names share 2")
}

func TestAssignGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFakeZK()
	n := 0
	f.beforeMulti = func(f *fakeZK) { // someone bumps the counter before every write of ours
		n++
		f.put(CounterPath, EncodeCounter(n))
	}
	_, err := newTestAssigner(f, WithMaxAttempts(3)).Assign(context.Background(), "me", nil)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "gave up after 3 attempts")
	assert.Contains(t, err.Error(), "version conflict")
	assert.Equal(t, 3, f.multis)
}

func TestAssignRecreatesParentsDeletedMeanwhile(t *testing.T) {
	f := newFakeZK()
	var once sync.Once
	f.beforeMulti = func(f *fakeZK) {
		once.Do(func() {
			f.mu.Lock() // ZooKeeper reaps an empty container parent
			delete(f.nodes, MappingRoot)
			f.mu.Unlock()
		})
	}
	d, err := newTestAssigner(f).Assign(context.Background(), "me", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, d.ID)
	assert.Contains(t, f.dump(""), MappingPath("me")+" = 00")
}

func TestAssignIsBoundedByContext(t *testing.T) {
	f := newFakeZK()
	f.hang = true // the server accepted the session and stopped answering
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := newTestAssigner(f).Assign(ctx, "me", nil)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "create /invokers", "names the call that did not return")
	assert.Less(t, time.Since(start), 10*time.Second)
}

func TestAssignAppliesChroot(t *testing.T) {
	f := newFakeZK()
	a := New(Hosts{Servers: []string{"fake:2181"}, Chroot: "/tenant/a"}, zerolog.Nop(), WithDialer(f.dialer()))
	d, err := a.Assign(context.Background(), "n", nil)
	require.NoError(t, err)
	assert.Equal(t, 0, d.ID)
	assert.Equal(t, strings.Join([]string{
		"/tenant (no data)",
		"/tenant/a (no data)",
		"/tenant/a/invokers (no data)",
		"/tenant/a/invokers/idAssignment (no data)",
		"/tenant/a/invokers/idAssignment/counter = 00 00 00 01",
		"/tenant/a/invokers/idAssignment/mapping (no data)",
		"/tenant/a/invokers/idAssignment/mapping/n = 00",
	}, "\n"), f.dump(""))
}

func TestAssignClassifiesErrors(t *testing.T) {
	f := newFakeZK()
	dialErr := fmt.Errorf("%w: no ZooKeeper session with zk:2181: context deadline exceeded", ErrUnavailable)
	a := New(Hosts{Servers: []string{"zk:2181"}}, zerolog.Nop(), WithDialer(func(context.Context, Hosts, zerolog.Logger) (Conn, error) {
		return nil, dialErr
	}))
	_, err := a.Assign(context.Background(), "n", nil)
	assert.ErrorIs(t, err, ErrUnavailable)

	_, err = newTestAssigner(f).Assign(context.Background(), "bad/name", nil)
	assert.ErrorIs(t, err, ErrRefused)
	assert.Zero(t, f.multis, "nothing is asked of ZooKeeper for a name it cannot store")

	assert.ErrorIs(t, classify("x", zk.ErrNoAuth), ErrRefused)
	assert.ErrorIs(t, classify("x", zk.ErrSessionExpired), ErrUnavailable)
	assert.ErrorIs(t, classify("x", zk.ErrConnectionClosed), ErrUnavailable)
	assert.True(t, errors.Is(classify("x", zk.ErrConnectionClosed), zk.ErrConnectionClosed), "the cause stays visible")
}

func TestDialZooKeeperNobodyListening(t *testing.T) {
	// A port on loopback that refuses connections: the client retries until the deadline, and the error
	// says so, quoting the client's last failure.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	hosts, err := ParseHosts(addr)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = New(hosts, zerolog.Nop()).Assign(ctx, "n", nil)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "no ZooKeeper session with "+addr)
	assert.Contains(t, err.Error(), "connection refused")
}
