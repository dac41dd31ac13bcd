// Package harvest holds the end-to-end tests of NF slack harvesting through the real invoker binary
// (invoker/cmd/nemo), driven by real parts only: the reference NF (integration/refnf, TEST EQUIPMENT) reading a
// veth end through a packet socket and following the invoker's clickshm segment, the traffic generator
// (integration/trafficgen) feeding it frames of chosen sizes, a cgroup holding the NF, and the action running as
// an edge function pinned by the invoker to the NF's core.
//
//   - TestHarvestDrivenByRealTraffic: tags measured from traffic at two packet sizes select two profiles of the
//     built-in table, whose bursts the NF applies and acknowledges back to the harvester (/metrics); an NF whose
//     Click side never attached shows up in /metrics and the log; the QoS guard backs off (harvesting off, new
//     pre-warms held back) when the NF drops packets under a flood while the edge function loads its core, and
//     recovers; the NF CPU the harvester accounts from the NF's cgroup matches what the NF process used while
//     the edge function kept the same core busy.
//   - TestLeftoverNICRestoredWithHarvesterDisabled: NIC settings a crashed run left in the state file are acted
//     on at start although harvester.enabled is false.
//
// The tests need root and iproute2 (a network namespace of their own holds the traffic generator's veth end;
// the NF's end stays in the root namespace, where the harvester reads its counters and packet sockets, with IPv4
// forwarding off and the frames addressed to another MAC, so nothing leaves the pair), a cgroup2 mount of their
// own, the Kafka broker named by NEMO_KAFKA, the CouchDB-API server named by NEMO_COUCHDB and the Docker engine
// (NEMO_DOCKER=1):
//
//	eval "$(scripts/services.sh env)"; go test -tags integration -count=1 -v ./integration/harvest/
//
// Everything they create carries a per-run random suffix (namespace, veth pair, cgroup, /dev/shm segments,
// invoker id, controller id, database prefix) and is removed at the end, also on failure. They dial only
// 127.0.0.1 and never touch an interface, topic, database or container they did not create.
package harvest
