package instanceid

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"
)

// fakeZK is an in-memory ZooKeeper tree with data versions and all-or-nothing transactions, shared by
// any number of sessions (one per simulated invoker). Unit tests only; the integration tests run the same
// scenarios on a real server.
type fakeZK struct {
	mu    sync.Mutex
	nodes map[string]fakeNode // by absolute path; "/" is implicit
	// beforeMulti, when set, runs before each transaction is applied (another writer's turn).
	beforeMulti func(f *fakeZK)
	// hang, when set, makes every call wait until the session is closed (a server that stopped answering).
	hang bool
	// multis counts transactions attempted.
	multis int
}

type fakeNode struct {
	data    []byte
	version int32
}

func newFakeZK() *fakeZK { return &fakeZK{nodes: map[string]fakeNode{}} }

// dialer returns a Dialer that opens a new session on f.
func (f *fakeZK) dialer() Dialer {
	return func(ctx context.Context, _ Hosts, _ zerolog.Logger) (Conn, error) {
		return &fakeSession{f: f, closed: make(chan struct{})}, nil
	}
}

// put writes a znode (and its missing parents), as a seed or another writer would.
func (f *fakeZK) put(p string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
		if _, ok := f.nodes[dir]; !ok {
			f.nodes[dir] = fakeNode{}
		}
	}
	n, ok := f.nodes[p]
	if ok {
		n.version++
	}
	n.data = slices.Clone(data)
	f.nodes[p] = n
}

// dump lists every znode under prefix with its data, one per line, paths relative to prefix.
func (f *fakeZK) dump(prefix string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lines []string
	for p, n := range f.nodes {
		if strings.HasPrefix(p, prefix+"/") {
			lines = append(lines, dumpLine(strings.TrimPrefix(p, prefix), n.data))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// dumpLine is one znode in a scenario transcript.
func dumpLine(p string, data []byte) string {
	if len(data) == 0 {
		return p + " (no data)"
	}
	return fmt.Sprintf("%s = % x", p, data)
}

func exists(nodes map[string]fakeNode, p string) bool {
	_, ok := nodes[p]
	return ok || p == "/"
}

func hasChildren(nodes map[string]fakeNode, p string) bool {
	for q := range nodes {
		if path.Dir(q) == p {
			return true
		}
	}
	return false
}

func create(nodes map[string]fakeNode, p string, data []byte) error {
	switch {
	case exists(nodes, p):
		return zk.ErrNodeExists
	case !exists(nodes, path.Dir(p)):
		return zk.ErrNoNode
	}
	nodes[p] = fakeNode{data: slices.Clone(data)}
	return nil
}

// apply runs one transaction operation on nodes.
func apply(nodes map[string]fakeNode, op any) error {
	switch op := op.(type) {
	case *zk.CreateRequest:
		return create(nodes, op.Path, op.Data)
	case *zk.SetDataRequest:
		n, ok := nodes[op.Path]
		switch {
		case !ok:
			return zk.ErrNoNode
		case op.Version != -1 && op.Version != n.version:
			return zk.ErrBadVersion
		}
		nodes[op.Path] = fakeNode{data: slices.Clone(op.Data), version: n.version + 1}
	case *zk.DeleteRequest:
		n, ok := nodes[op.Path]
		switch {
		case !ok:
			return zk.ErrNoNode
		case op.Version != -1 && op.Version != n.version:
			return zk.ErrBadVersion
		case hasChildren(nodes, op.Path):
			return zk.ErrNotEmpty
		}
		delete(nodes, op.Path)
	case *zk.CheckVersionRequest:
		n, ok := nodes[op.Path]
		switch {
		case !ok:
			return zk.ErrNoNode
		case op.Version != -1 && op.Version != n.version:
			return zk.ErrBadVersion
		}
	default:
		return fmt.Errorf("fake: unknown op %T", op)
	}
	return nil
}

var errRolledBack = errors.New("fake: rolled back")

// fakeSession is one client session on a fakeZK.
type fakeSession struct {
	f         *fakeZK
	closeOnce sync.Once
	closed    chan struct{}
}

// enter waits while the fake hangs and fails once the session is closed.
func (s *fakeSession) enter() error {
	s.f.mu.Lock()
	hang := s.f.hang
	s.f.mu.Unlock()
	if hang {
		<-s.closed
	}
	select {
	case <-s.closed:
		return zk.ErrClosing
	default:
		return nil
	}
}

func (s *fakeSession) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

func (s *fakeSession) Children(p string) ([]string, *zk.Stat, error) {
	if err := s.enter(); err != nil {
		return nil, nil, err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if !exists(s.f.nodes, p) {
		return nil, nil, zk.ErrNoNode
	}
	var names []string
	for q := range s.f.nodes {
		if path.Dir(q) == p {
			names = append(names, path.Base(q))
		}
	}
	slices.Sort(names)
	return names, &zk.Stat{NumChildren: int32(len(names))}, nil
}

func (s *fakeSession) Get(p string) ([]byte, *zk.Stat, error) {
	if err := s.enter(); err != nil {
		return nil, nil, err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	n, ok := s.f.nodes[p]
	if !ok {
		return nil, nil, zk.ErrNoNode
	}
	return slices.Clone(n.data), &zk.Stat{Version: n.version, DataLength: int32(len(n.data))}, nil
}

func (s *fakeSession) Create(p string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	if err := s.enter(); err != nil {
		return "", err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if err := create(s.f.nodes, p, data); err != nil {
		return "", err
	}
	return p, nil
}

func (s *fakeSession) Multi(ops ...any) ([]zk.MultiResponse, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	s.f.mu.Lock()
	s.f.multis++
	hook := s.f.beforeMulti
	s.f.mu.Unlock()
	if hook != nil {
		hook(s.f)
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	work := make(map[string]fakeNode, len(s.f.nodes))
	for p, n := range s.f.nodes {
		work[p] = n
	}
	res := make([]zk.MultiResponse, len(ops))
	for i, op := range ops {
		if err := apply(work, op); err != nil {
			res[i].Error = err
			for j := i + 1; j < len(ops); j++ {
				res[j].Error = errRolledBack
			}
			return res, err
		}
	}
	s.f.nodes = work
	return res, nil
}
