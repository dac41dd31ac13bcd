package wire

import (
	"strconv"
	"strings"
)

// This file holds the etcd side of the FPC scheduler: the key layouts (EtcdUtils.EtcdKV) and the JSON values an
// invoker writes (InvokerResourceMessage) or reads (SchedulerEndpoints, SchedulerStates). Keys are built
// here and nowhere else, because the scheduler parses some of them back by splitting on "/".

// DefaultClusterName is whisk.cluster.name's default: the first segment of every key.
const DefaultClusterName = "whisk"

// EtcdKeys builds the keys of one OpenWhisk cluster. The zero value uses DefaultClusterName.
type EtcdKeys struct{ Cluster string }

func (k EtcdKeys) c() string {
	if k.Cluster == "" {
		return DefaultClusterName
	}
	return k.Cluster
}

// InstanceLease is C/instance/invoker<N>[/<uniqueName>[/<displayedName>]]/lease; its value is the lease id
// in decimal. Deleting it tells the invoker to re-grant its lease.
func (k EtcdKeys) InstanceLease(inv InvokerInstanceID) string {
	return k.c() + "/instance/" + inv.String() + "/lease"
}

// InvokerResource is the key of the invoker's InvokerResourceMessage: C/invokers/<N>, C/invokers/<N>/<U> or
// C/invokers/<N>/<U>/<D> (the displayed name only together with the unique name, as the scheduler parses it).
func (k EtcdKeys) InvokerResource(inv InvokerInstanceID) string {
	s := k.c() + "/invokers/" + strconv.Itoa(inv.Instance)
	if inv.UniqueName != "" {
		s += "/" + inv.UniqueName
		if inv.DisplayedName != "" {
			s += "/" + inv.DisplayedName
		}
	}
	return s
}

// InvokersPrefix is C/invokers/, under which the scheduler reads every invoker's record.
func (k EtcdKeys) InvokersPrefix() string { return k.c() + "/invokers/" }

// containerPrefix is <C>/<kind>/<invocationNs>/<path/name>/<rev>/ (version dropped, no leading slash).
func (k EtcdKeys) containerPrefix(kind, ns string, fqn FullyQualifiedName, rev string) string {
	return k.c() + "/" + kind + "/" + ns + "/" + fqn.DocID() + "/" + rev + "/"
}

// ExistingPrefix is C/namespace/<ns>/<fqn>/<rev>/: the containers pulling for that action revision.
func (k EtcdKeys) ExistingPrefix(ns string, fqn FullyQualifiedName, rev string) string {
	return k.containerPrefix("namespace", ns, fqn, rev)
}

// InProgressPrefix is C/in-progress/<ns>/<fqn>/<rev>/: the scheduler's creations in flight.
func (k EtcdKeys) InProgressPrefix(ns string, fqn FullyQualifiedName, rev string) string {
	return k.containerPrefix("in-progress", ns, fqn, rev)
}

// WarmedPrefix is C/warmed/<ns>/<fqn>/<rev>/: the paused containers.
func (k EtcdKeys) WarmedPrefix(ns string, fqn FullyQualifiedName, rev string) string {
	return k.containerPrefix("warmed", ns, fqn, rev)
}

// LiveContainerPrefixes are the three prefixes whose key counts add up to the live container count of the
// keep-or-remove decision.
func (k EtcdKeys) LiveContainerPrefixes(ns string, fqn FullyQualifiedName, rev string) []string {
	return []string{k.ExistingPrefix(ns, fqn, rev), k.InProgressPrefix(ns, fqn, rev), k.WarmedPrefix(ns, fqn, rev)}
}

// ExistingContainer is C/namespace/<ns>/<fqn>/<rev>/invoker<N>/container/<containerId>, written (empty value)
// while the container pulls.
func (k EtcdKeys) ExistingContainer(ns string, fqn FullyQualifiedName, rev string, invoker int, containerID string) string {
	return k.ExistingPrefix(ns, fqn, rev) + "invoker" + strconv.Itoa(invoker) + "/container/" + containerID
}

// WarmedContainer is C/warmed/<ns>/<fqn>/<rev>/invoker/<N>/container/<containerId> ("invoker/<N>", unlike the
// existing key's "invoker<N>"), written (empty value) while the container is paused.
func (k EtcdKeys) WarmedContainer(ns string, fqn FullyQualifiedName, rev string, invoker int, containerID string) string {
	return k.WarmedPrefix(ns, fqn, rev) + "invoker/" + strconv.Itoa(invoker) + "/container/" + containerID
}

// QueueLeader is C/queue/<ns>/<fqn>/leader: the SchedulerEndpoints of the scheduler holding the action's queue.
func (k EtcdKeys) QueueLeader(ns string, fqn FullyQualifiedName) string {
	return k.c() + "/queue/" + ns + "/" + fqn.DocID() + "/leader"
}

// SchedulerPrefix is C/scheduler/, under which each scheduler keeps its SchedulerStates.
func (k EtcdKeys) SchedulerPrefix() string { return k.c() + "/scheduler/" }

// InvokerStatus is the status of an InvokerResourceMessage. The scheduler places only on "up"; any other value
// counts as offline.
type InvokerStatus string

// Invoker states.
const (
	InvokerUp        InvokerStatus = "up"
	InvokerUnhealthy InvokerStatus = "unhealthy"
	InvokerDown      InvokerStatus = "down"
)

// InvokerResourceMessage is the invoker's resource and health record, in MB. FreeMemoryMB is userMemory −
// busy − inProgress (paused containers count as free, prewarms are not counted).
type InvokerResourceMessage struct {
	Status              InvokerStatus
	FreeMemoryMB        int64
	BusyMemoryMB        int64
	InProgressMemoryMB  int64
	Tags                []string
	DedicatedNamespaces []string
}

// Marshal writes the record with every member (tags and dedicatedNamespaces always as arrays).
func (r InvokerResourceMessage) Marshal() ([]byte, error) {
	w := newWriter()
	w.str("status", string(r.Status))
	w.num("freeMemory", r.FreeMemoryMB)
	w.num("busyMemory", r.BusyMemoryMB)
	w.num("inProgressMemory", r.InProgressMemoryMB)
	w.strs("tags", r.Tags)
	w.strs("dedicatedNamespaces", r.DedicatedNamespaces)
	return w.bytes()
}

// ParseInvokerResourceMessage reads a record; every member is required (jsonFormat6). Any status string is
// accepted, as the scheduler does (it treats unknown ones as offline).
func ParseInvokerResourceMessage(b []byte) (InvokerResourceMessage, error) {
	var r InvokerResourceMessage
	o, err := decodeObject(b, "invoker resource message")
	if err != nil {
		return r, err
	}
	s, err := o.str("status", true)
	if err != nil {
		return r, err
	}
	r.Status = InvokerStatus(s)
	if r.FreeMemoryMB, err = o.integer("freeMemory", true, 0); err != nil {
		return r, err
	}
	if r.BusyMemoryMB, err = o.integer("busyMemory", true, 0); err != nil {
		return r, err
	}
	if r.InProgressMemoryMB, err = o.integer("inProgressMemory", true, 0); err != nil {
		return r, err
	}
	if r.Tags, err = o.strings("tags", true); err != nil {
		return r, err
	}
	if r.DedicatedNamespaces, err = o.strings("dedicatedNamespaces", true); err != nil {
		return r, err
	}
	return r, nil
}

// SchedulerEndpoints locates a scheduler: {"host","rpcPort","pekkoPort"}; schedulers built before the Pekko
// migration (2025-10; ef725a6, 2.0.0) write "akkaPort" instead. Both are read; only Host and RPCPort matter to
// an invoker.
type SchedulerEndpoints struct {
	Host      string
	RPCPort   int
	ActorPort int  // pekkoPort or akkaPort
	Akka      bool // the record used "akkaPort"
}

// Target is host:port for a gRPC dial.
func (e SchedulerEndpoints) Target() string { return joinHostPort(e.Host, e.RPCPort) }

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// Marshal writes the endpoints with "akkaPort" when Akka is set, "pekkoPort" otherwise.
func (e SchedulerEndpoints) Marshal() ([]byte, error) {
	w := newWriter()
	w.str("host", e.Host)
	w.num("rpcPort", int64(e.RPCPort))
	if e.Akka {
		w.num("akkaPort", int64(e.ActorPort))
	} else {
		w.num("pekkoPort", int64(e.ActorPort))
	}
	return w.bytes()
}

// MarshalJSON is Marshal, for embedding.
func (e SchedulerEndpoints) MarshalJSON() ([]byte, error) { return e.Marshal() }

// ParseSchedulerEndpoints reads either era's record. host and rpcPort are required and must name a dialable
// endpoint; the actor port may be absent.
func ParseSchedulerEndpoints(b []byte) (SchedulerEndpoints, error) {
	o, err := decodeObject(b, "scheduler endpoints")
	if err != nil {
		return SchedulerEndpoints{}, err
	}
	return parseSchedulerEndpoints(o)
}

func parseSchedulerEndpoints(o object) (SchedulerEndpoints, error) {
	var e SchedulerEndpoints
	var err error
	if e.Host, err = o.str("host", true); err != nil {
		return e, err
	}
	if e.RPCPort, err = o.intField("rpcPort", true, 0); err != nil {
		return e, err
	}
	if e.Host == "" || e.RPCPort <= 0 || e.RPCPort > 65535 {
		return e, malformed(o.what, "host %q / rpcPort %d is not a gRPC endpoint", e.Host, e.RPCPort)
	}
	if o.has("pekkoPort") {
		e.ActorPort, err = o.intField("pekkoPort", false, 0)
	} else if o.has("akkaPort") {
		e.Akka = true
		e.ActorPort, err = o.intField("akkaPort", false, 0)
	}
	return e, err
}

// SchedulerStates is a scheduler's record under C/scheduler/: {"sid":{"asString"},"queueSize","endpoints"}.
type SchedulerStates struct {
	SID       SchedulerInstanceID
	QueueSize int
	Endpoints SchedulerEndpoints
}

// Marshal writes the record.
func (s SchedulerStates) Marshal() ([]byte, error) {
	w := newWriter()
	w.value("sid", s.SID)
	w.num("queueSize", int64(s.QueueSize))
	w.value("endpoints", s.Endpoints)
	return w.bytes()
}

// ParseSchedulerStates reads a record of either era.
func ParseSchedulerStates(b []byte) (SchedulerStates, error) {
	var s SchedulerStates
	o, err := decodeObject(b, "scheduler states")
	if err != nil {
		return s, err
	}
	sid, _, err := o.sub("sid", true)
	if err != nil {
		return s, err
	}
	if s.SID, err = parseSchedulerInstanceID(sid); err != nil {
		return s, err
	}
	if s.QueueSize, err = o.intField("queueSize", true, 0); err != nil {
		return s, err
	}
	ep, _, err := o.sub("endpoints", true)
	if err != nil {
		return s, err
	}
	s.Endpoints, err = parseSchedulerEndpoints(ep)
	return s, err
}
