package instanceid

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinels wrapped by every error of this package (see the package comment for what each means).
var (
	ErrUnavailable = errors.New("zookeeper unavailable")
	ErrRefused     = errors.New("id assignment refused")
	ErrCorrupt     = errors.New("id assignment znode corrupt")
)

// Znode is one znode as read: whether it exists, its data and its data version.
type Znode struct {
	Exists  bool
	Data    []byte
	Version int32
}

// State is what Decide needs from ZooKeeper; the driver reads it afresh before every attempt.
type State struct {
	// Mappings are the children of MappingRoot by unique name (empty when MappingRoot has none).
	Mappings map[string]Znode
	// Counter is the counter znode (Exists false before any invoker took a new id).
	Counter Znode
}

// Outcome says how a Decision's id came about.
type Outcome string

const (
	Kept        Outcome = "kept"        // the unique name's existing mapping
	Assigned    Outcome = "assigned"    // a new id for a new unique name
	Overwritten Outcome = "overwritten" // --overwriteId moved the unique name to the id
)

// OpKind is the kind of a ZooKeeper operation in a Decision.
type OpKind int

const (
	OpDelete OpKind = iota // delete the znode if its version is Version
	OpSet                  // set Data if the version is Version
	OpCreate               // create a persistent znode with Data; fails if it exists
)

// Op is one operation of a Decision's transaction. Path is relative to the chroot.
type Op struct {
	Kind    OpKind
	Path    string
	Data    []byte
	Version int32
}

func (o Op) String() string {
	switch o.Kind {
	case OpDelete:
		return fmt.Sprintf("delete %s@%d", o.Path, o.Version)
	case OpSet:
		return fmt.Sprintf("set %s@%d = % x", o.Path, o.Version, o.Data)
	case OpCreate:
		return fmt.Sprintf("create %s = % x", o.Path, o.Data)
	}
	return fmt.Sprintf("op(%d) %s", o.Kind, o.Path)
}

// Decision is what a request gets: the id and the operations that record it, to be run as one
// transaction (none when nothing changes). A transaction that fails on a version or existence check
// means another writer came first: read the State again and decide again.
type Decision struct {
	ID      int
	Outcome Outcome
	Ops     []Op
	// Displaced are the unique names whose mapping an overwrite removes, sorted.
	Displaced []string
	// Unreadable names other unique names whose mapping does not decode. A new id skips no id for them
	// (OpenWhisk does not read them either); an overwrite refuses to guess and fails with ErrCorrupt.
	Unreadable []string
}

// Decide computes the id of uniqueName from the state, with overwrite the --overwriteId value (nil when
// not given). It is pure; the rules are in the package comment.
func Decide(s State, uniqueName string, overwrite *int) (Decision, error) {
	if err := CheckName(uniqueName); err != nil {
		return Decision{}, fmt.Errorf("%w: unique name %v", ErrRefused, err)
	}
	var d Decision
	names := make([]string, 0, len(s.Mappings))
	for name := range s.Mappings {
		names = append(names, name)
	}
	slices.Sort(names)
	ids := map[string]int{}
	for _, name := range names {
		if name == uniqueName {
			continue
		}
		if id, err := DecodeID(s.Mappings[name].Data); err == nil {
			ids[name] = id
		} else {
			d.Unreadable = append(d.Unreadable, name)
		}
	}
	own, hasOwn := s.Mappings[uniqueName]
	if overwrite != nil {
		return decideOverwrite(d, s, names, ids, uniqueName, own, hasOwn, *overwrite)
	}
	if hasOwn {
		id, err := DecodeID(own.Data)
		if err != nil {
			return Decision{}, fmt.Errorf("%w: %s: %v (delete it, or start once with --overwriteId N)",
				ErrCorrupt, MappingPath(uniqueName), err)
		}
		d.ID, d.Outcome = id, Kept
		return d, nil
	}

	counter := 0
	if s.Counter.Exists {
		n, err := DecodeCounter(s.Counter.Data)
		if err != nil {
			return Decision{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, CounterPath, err)
		}
		counter = n
	}
	held := map[int]bool{}
	for _, id := range ids {
		held[id] = true
	}
	id := max(len(s.Mappings), counter)
	for held[id] {
		id++
	}
	if id > maxID {
		return Decision{}, fmt.Errorf("%w: no invoker id left below %d", ErrRefused, maxID+1)
	}
	d.ID, d.Outcome = id, Assigned
	if s.Counter.Exists {
		d.Ops = append(d.Ops, Op{Kind: OpSet, Path: CounterPath, Data: EncodeCounter(id + 1), Version: s.Counter.Version})
	} else {
		d.Ops = append(d.Ops, Op{Kind: OpCreate, Path: CounterPath, Data: EncodeCounter(id + 1)})
	}
	d.Ops = append(d.Ops, Op{Kind: OpCreate, Path: MappingPath(uniqueName), Data: EncodeID(id)})
	return d, nil
}

func decideOverwrite(d Decision, s State, names []string, ids map[string]int, uniqueName string,
	own Znode, hasOwn bool, id int) (Decision, error) {
	switch {
	case id < 0:
		return Decision{}, fmt.Errorf("%w: --overwriteId %d is negative", ErrRefused, id)
	case id > len(s.Mappings):
		return Decision{}, fmt.Errorf("%w: cannot give id %d to %q: %d unique names have ids, so --overwriteId can be at most %d",
			ErrRefused, id, uniqueName, len(s.Mappings), len(s.Mappings))
	case len(d.Unreadable) > 0:
		return Decision{}, fmt.Errorf("%w: cannot tell which unique name holds id %d: unreadable mappings %s",
			ErrCorrupt, id, strings.Join(d.Unreadable, ", "))
	}
	d.ID, d.Outcome = id, Overwritten
	if s.Counter.Exists {
		// Rewrite the counter's value unchanged: its version moves, so a new id being taken at the same
		// time (possibly this one, from the mappings read before) fails its version check and is decided
		// again, and so does this transaction if that one came first.
		d.Ops = append(d.Ops, Op{Kind: OpSet, Path: CounterPath, Data: s.Counter.Data, Version: s.Counter.Version})
	}
	for _, name := range names {
		if held, ok := ids[name]; ok && held == id {
			d.Displaced = append(d.Displaced, name)
			d.Ops = append(d.Ops, Op{Kind: OpDelete, Path: MappingPath(name), Version: s.Mappings[name].Version})
		}
	}
	switch {
	case !hasOwn:
		d.Ops = append(d.Ops, Op{Kind: OpCreate, Path: MappingPath(uniqueName), Data: EncodeID(id)})
	case len(d.Displaced) == 0 && isID(own.Data, id):
		d.Ops = nil // already there, nobody else holds it
	default:
		d.Ops = append(d.Ops, Op{Kind: OpSet, Path: MappingPath(uniqueName), Data: EncodeID(id), Version: own.Version})
	}
	return d, nil
}

func isID(data []byte, id int) bool {
	got, err := DecodeID(data)
	return err == nil && got == id
}
