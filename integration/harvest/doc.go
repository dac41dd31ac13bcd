// Package harvest holds the end-to-end test of issue 5's "done when": an invocation that goes through the
// real invoker binary (invoker/cmd/nemo) switches NF slack harvesting on and off, and the switch is visible
// both in the invoker's /metrics (nemo_harvest_active, nemo_harvest_switches_total) and in the burst the
// reference NF (integration/refnf, TEST EQUIPMENT) applies after following the invoker's clickshm segment.
//
// The test needs root and iproute2 (it creates a network namespace of its own holding one end of a veth
// pair; the other end stays in the root namespace, where the harvester reads its counters), the Kafka
// broker named by NEMO_KAFKA, the CouchDB-API server named by NEMO_COUCHDB and the Docker engine
// (NEMO_DOCKER=1); it skips with a message when any is missing:
//
//	eval "$(scripts/services.sh env)"; go test -tags integration -count=1 -v ./integration/harvest/
//
// Everything it creates carries a per-run random suffix (namespace, veth pair, /dev/shm segment, invoker
// id, controller id, database prefix) and is removed at the end, also on failure. It dials only 127.0.0.1
// and never touches an interface, topic, database or container it did not create.
package harvest
