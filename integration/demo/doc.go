// Package demo holds the test of the README's first command: scripts/demo.sh, which builds and runs
// `nemo demo` (the invoker on embedded defaults: an in-process Kafka, a file store, real containers)
// against the Docker engine of the test machine. It checks what the demo prints, in the shape
// invoker/cmd/nemo documents — a cold then warm answers, the acks, the stored records (also read from the
// store directory), the metrics excerpt — and that no container with the demo's name prefix (wskdemo0_) is
// left afterwards, while a container named like a real invoker0's (wsk0_…) survives the demo's clean-ups.
//
// It needs the Docker engine (NEMO_DOCKER=1) and the test action image (scripts/build-images.sh); it
// skips with a message when either is missing. Run it under the shared lock, like every integration test:
//
//	eval "$(scripts/services.sh env)"; go test -tags integration -count=1 -v ./integration/demo/
//
// Test equipment: nothing in the invoker imports it. It creates one container of its own (the decoy, with
// a per-run random name) and removes it at the end, also on failure.
package demo
