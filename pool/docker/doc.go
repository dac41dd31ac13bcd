// Package docker is the Docker backend of the container pool: it implements pool.Backend.
//
// It owns, for action containers only:
//   - the Docker driver (create+start with OpenWhisk's docker run flags, docs/protocol.md#limits; inspect; force
//     remove, retried once the engine answers again when it failed; startup/shutdown Cleanup of leftovers by
//     name prefix), behind the narrow API interface so unit tests use a fake;
//   - the action protocol client (POST /init with connection-refused retries, POST /run) over keep-alive
//     HTTP/1.1 connections used on the activation's own goroutine (proxyclient.go), and the mapping of
//     every reply to an OpenWhisk ActivationResponse (docs/protocol.md#errors);
//   - log collection up to the activation sentinels, from the json-file directly (byte cursor; the file is held
//     open and watched by inotify for the container's life, polling only where inotify is unavailable) or from the
//     Docker logs API (time cursor), with OpenWhisk's limits and appended lines (docs/protocol.md#logs);
//   - the cgroup freezer (v1 freezer.state, v2 cgroup.freeze) with bounded waits, and OOM detection from the
//     memory cgroup. Docker's own pause is used only when a container's freezer cannot be located.
//
// It does not decide anything: when to create, freeze or destroy is pool's job (the pool is also the only
// authority on frozen state, since Docker reports a directly frozen container as running). It must not touch
// containers outside its name prefix, Kafka, the stores, or the pool's bookkeeping. It never pulls images (no
// registry is assumed; an image present in the engine stands for a successful pull). Start failures are
// blamed as OpenWhisk blames them (blame.go): a missing blackbox image, a missing entry point, a blackbox
// container that exits at start are developer errors; anything else is a whisk error.
package docker
