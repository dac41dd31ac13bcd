// Package instanceid gives an invoker started with --uniqueName and no --id its id, the way OpenWhisk's
// Scala invoker does it with ZooKeeper (ZOOKEEPER_HOSTS), so that NEMO and Scala invokers can share one
// ZooKeeper and one id space. Helm's DaemonSet starts every invoker this way, with the node name as the
// unique name.
//
// # The znodes (shared with OpenWhisk)
//
//	/invokers/idAssignment/mapping/<uniqueName>   the id of that unique name: a big-endian two's-complement
//	                                              integer of minimal length (Java's BigInteger.toByteArray:
//	                                              0 is 00, 127 is 7f, 128 is 00 80)
//	/invokers/idAssignment/counter                Curator SharedCount: a 4-byte big-endian int, written with
//	                                              the version read before (optimistic lock)
//
// Missing parents are created as persistent znodes, which works on ZooKeeper 3.4 (Helm's default image)
// and later alike; OpenWhisk's Curator creates them as container znodes where the server has them. Both
// readers accept either.
//
// # What a request gets (Decide)
//
//   - A unique name with a mapping keeps its id (a restarted pod, a rescheduled DaemonSet pod on the same
//     node). The counter is not touched.
//   - A new unique name gets the lowest id, at or above both the number of mappings and the counter, that
//     no mapping holds. The mapping is created and the counter set to id+1 in one ZooKeeper transaction,
//     conditional on the counter's version and on the mapping not existing; on a conflict the state is read
//     again and the decision remade. With no --overwriteId history this is exactly OpenWhisk's id (the
//     number of mappings, counter = id+1). Unlike OpenWhisk's two separate writes it cannot hand one id to
//     two invokers that start at once, and it never hands out an id a mapping already holds (OpenWhisk can,
//     after an --overwriteId moved a name to a higher id). Because OpenWhisk sets the counter before it
//     creates its mapping, the counter floor also keeps a NEMO invoker off the id a Scala invoker is about
//     to take. One difference follows: after an --overwriteId moved an existing name onto another name's
//     id (the mapping count shrinks), OpenWhisk fills the freed id next and NEMO continues at the counter.
//   - --overwriteId N moves the unique name to id N: every other name mapped to N loses its mapping (the
//     operator's "this node replaces that one"), and the name's mapping is created or rewritten, again in
//     one transaction. As in OpenWhisk, N may be at most the number of mappings (ErrRefused beyond), and
//     the counter keeps its value; it is rewritten unchanged in the same transaction, so that its version
//     moves and a new id being taken at the same moment is decided again.
//
// # What it owns
//
// The decision (Decide, pure: a State in, a Decision of ZooKeeper operations out), the znode encodings,
// the parsing of ZOOKEEPER_HOSTS (ParseHosts; an optional chroot suffix is applied to every path), and a
// thin driver (Assigner) that reads the state, executes the decision atomically and retries on conflict.
// Every driver call is bounded by the caller's ctx: the ZooKeeper client has no context of its own, so
// each call runs beside a select on ctx and the session is closed when Assign returns.
//
// It must not touch anything but its znodes, and it does not keep a session open: like OpenWhisk, the
// invoker asks once at start-up and closes the connection.
//
// # Errors
//
// ErrUnavailable (no session within the deadline, the connection lost, a deadline hit, too many
// conflicting writers): worth retrying, the invoker exits with status 1. ErrRefused (a unique name that
// cannot be a znode name, an --overwriteId beyond the number of invokers): retrying cannot help, exit
// status 2. ErrCorrupt (a znode this request depends on does not hold what OpenWhisk writes): an operator
// must repair or delete it.
package instanceid
