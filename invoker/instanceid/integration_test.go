//go:build integration

package instanceid

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zookeeper returns NEMO_ZOOKEEPER (a real server, e.g. scripts/services.sh's on 127.0.0.1:12181) or skips.
func zookeeper(t *testing.T) string {
	t.Helper()
	v := os.Getenv("NEMO_ZOOKEEPER")
	if v == "" {
		t.Skip("NEMO_ZOOKEEPER not set: no real ZooKeeper to test against (eval \"$(scripts/services.sh env)\")")
	}
	return v
}

// realTree is a fresh chroot on the real server, removed with everything under it when the test ends.
type realTree struct {
	hosts Hosts
	conn  *zk.Conn
}

func newRealTree(t *testing.T) *realTree {
	t.Helper()
	addr := zookeeper(t)
	hosts, err := ParseHosts(fmt.Sprintf("%s/nemo-it-%d-%x", addr, time.Now().UnixNano(), rand.Uint32()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := DialZooKeeper(ctx, Hosts{Servers: hosts.Servers}, zerolog.Nop())
	require.NoError(t, err, "ZooKeeper at %s", addr)
	tree := &realTree{hosts: hosts, conn: c.(*zk.Conn)}
	t.Cleanup(func() {
		tree.remove(t, hosts.Chroot)
		tree.conn.Close()
	})
	return tree
}

func (r *realTree) put(t *testing.T, p string, data []byte) {
	t.Helper()
	full := r.hosts.path(p)
	for i := 1; i < len(full); i++ {
		if full[i] == '/' {
			if _, err := r.conn.Create(full[:i], nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("create %s: %v", full[:i], err)
			}
		}
	}
	if _, err := r.conn.Create(full, data, zk.FlagPersistent, zk.WorldACL(zk.PermAll)); errors.Is(err, zk.ErrNodeExists) {
		_, err = r.conn.Set(full, data, -1)
		require.NoError(t, err)
	} else {
		require.NoError(t, err, "create %s", full)
	}
}

func (r *realTree) walk(t *testing.T, p string, fn func(p string, data []byte)) {
	t.Helper()
	data, _, err := r.conn.Get(p)
	require.NoError(t, err, "get %s", p)
	fn(p, data)
	children, _, err := r.conn.Children(p)
	require.NoError(t, err, "children of %s", p)
	slices.Sort(children)
	for _, c := range children {
		r.walk(t, path.Join(p, c), fn)
	}
}

func (r *realTree) dump(t *testing.T) string {
	t.Helper()
	var lines []string
	r.walk(t, r.hosts.Chroot, func(p string, data []byte) {
		if p != r.hosts.Chroot {
			lines = append(lines, dumpLine(strings.TrimPrefix(p, r.hosts.Chroot), data))
		}
	})
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func (r *realTree) remove(t *testing.T, p string) {
	children, _, err := r.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return
	}
	if err != nil {
		t.Errorf("cleanup: children of %s: %v", p, err)
		return
	}
	for _, c := range children {
		r.remove(t, path.Join(p, c))
	}
	if err := r.conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("cleanup: delete %s: %v", p, err)
	}
}

func (r *realTree) assigner() *Assigner { return New(r.hosts, zerolog.Nop()) }

// TestIntegrationScenarios runs every testdata/scenarios file on the real server: the transcripts must be
// the ones the fake produced, which checks the fake and the decisions against ZooKeeper itself.
func TestIntegrationScenarios(t *testing.T) {
	zookeeper(t)
	for _, file := range scenarioFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			checkTranscript(t, file, runScenario(t, file, newRealTree(t)), false)
		})
	}
}

func assign(t *testing.T, a *Assigner, name string, overwrite *int) Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := a.Assign(ctx, name, overwrite)
	require.NoError(t, err, "assign %s", name)
	return d
}

func TestIntegrationStableIDPerUniqueName(t *testing.T) {
	tree := newRealTree(t)
	assert.Equal(t, 0, assign(t, tree.assigner(), "kind-worker", nil).ID, "first name")
	assert.Equal(t, 1, assign(t, tree.assigner(), "kind-worker2", nil).ID, "second name")
	d := assign(t, tree.assigner(), "kind-worker", nil)
	assert.Equal(t, Decision{ID: 0, Outcome: Kept}, d, "the first name again, from a new session")
}

func TestIntegrationOverwriteMovesName(t *testing.T) {
	tree := newRealTree(t)
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		assign(t, tree.assigner(), n, nil)
	}
	d := assign(t, tree.assigner(), "node-d", ptr(1))
	assert.Equal(t, 1, d.ID)
	assert.Equal(t, []string{"node-b"}, d.Displaced)
	assert.Equal(t, Kept, assign(t, tree.assigner(), "node-d", nil).Outcome, "the moved name keeps its new id")
	assert.Equal(t, 3, assign(t, tree.assigner(), "node-b", nil).ID, "the displaced name is new again")
	_, err := tree.assigner().Assign(context.Background(), "node-e", ptr(9))
	assert.ErrorIs(t, err, ErrRefused)
}

// TestIntegrationConcurrentInvokers starts invokers at the same instant, each with its own session, as a
// DaemonSet rollout on many nodes does: every one gets a distinct id, and together they take 0..n-1.
func TestIntegrationConcurrentInvokers(t *testing.T) {
	const invokers, rounds = 8, 5
	var conflicts atomic.Int64 // rounds of a read-decide-write lost to another invoker, retried
	defer func() { t.Logf("%d invokers x %d rounds: %d lost writes retried", invokers, rounds, conflicts.Load()) }()
	for round := range rounds {
		tree := newRealTree(t)
		start := make(chan struct{})
		ids := make([]int, invokers)
		errs := make([]error, invokers)
		var wg sync.WaitGroup
		for i := range invokers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := New(tree.hosts, zerolog.New(conflictCounter{&conflicts}).Level(zerolog.DebugLevel))
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				d, err := a.Assign(ctx, fmt.Sprintf("node-%d", i), nil)
				ids[i], errs[i] = d.ID, err
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "round %d, invoker %d", round, i)
		}
		sorted := slices.Clone(ids)
		slices.Sort(sorted)
		want := make([]int, invokers)
		for i := range want {
			want[i] = i
		}
		require.Equal(t, want, sorted, "round %d: ids by invoker %v", round, ids)
		assert.Contains(t, tree.dump(t), fmt.Sprintf("/invokers/idAssignment/counter = 00 00 00 %02x", invokers))
	}
}

// conflictCounter counts the Assigner's "deciding again" log lines.
type conflictCounter struct{ n *atomic.Int64 }

func (c conflictCounter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "deciding again") {
		c.n.Add(1)
	}
	return len(p), nil
}

// TestIntegrationSameNameRacing: a pod restarted while its predecessor is still starting; both ask for
// the same unique name at once and must get the same id.
func TestIntegrationSameNameRacing(t *testing.T) {
	tree := newRealTree(t)
	assign(t, tree.assigner(), "other", nil)
	start := make(chan struct{})
	ids := make(chan int, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := tree.assigner()
			<-start
			d, err := a.Assign(context.Background(), "restarted", nil)
			assert.NoError(t, err)
			ids <- d.ID
		}()
	}
	close(start)
	wg.Wait()
	close(ids)
	for id := range ids {
		assert.Equal(t, 1, id)
	}
}

func TestIntegrationUnreachable(t *testing.T) {
	zookeeper(t)
	hosts, err := ParseHosts("127.0.0.1:1") // nothing listens on port 1
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = New(hosts, zerolog.Nop()).Assign(ctx, "n", nil)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "no ZooKeeper session with 127.0.0.1:1")
}
