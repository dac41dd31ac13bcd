// Package integration holds end-to-end tests of the NEMO invoker binary (invoker/cmd/nemo) against real
// services: the Kafka broker named by NEMO_KAFKA, the CouchDB-API server named by NEMO_COUCHDB and the
// Docker engine (NEMO_DOCKER=1). The tests build the binary, run it the way OpenWhisk's /init.sh does
// (`nemo invoker --id N` with the deployment's environment), play the controller on Kafka (produce to
// invoker{N}, read completed{C} and health) and check the acks, the activation records, the HTTP
// endpoints, the containers and what survives a SIGKILL or a CouchDB outage.
//
// Everything lives behind the build tag `integration`; a test skips, with a message, when a service it
// needs is not named in the environment (see `scripts/services.sh env`):
//
//	eval "$(scripts/services.sh env)"; go test -tags integration ./integration/invoker/
//
// Each test uses its own invoker id, controller id and database prefix, so tests do not share topics,
// consumer groups, databases or containers, and it removes what it created. It dials only 127.0.0.1.
// It must not touch services it did not start: the one CouchDB it stops is a private pouchdb-server.
package integration
