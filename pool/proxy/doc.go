// Package proxy is the protocol of the action proxy, the HTTP server inside every OpenWhisk runtime
// container, seen from the pool that runs those containers: what an /init or /run answer becomes (Response,
// with its four statuses), the user-visible texts of the failures a container can produce (timeouts, memory
// exhausted, a reply that is not JSON, truncation…), and the activation log lines the proxy writes (Docker
// json-file lines, the end-of-activation sentinel, the format a line takes in an activation record).
//
// It owns this vocabulary so that the pool and its Docker backend can speak it without knowing OpenWhisk's
// Kafka messages or CouchDB documents; the invoker (invoker/wire) embeds Response in activation records and
// acks, and adds the texts of failures found before any container is involved (action not found, blocked
// namespace…).
//
// ParseDockerLogLine and FormatLogLine run for every log line of every activation, so they read and write
// without reflection or fmt (logs_fast.go), byte for byte what encoding/json and fmt produce (the
// FuzzFast* targets compare them); a line the fast parser does not take goes to encoding/json.
//
// It must not touch: any I/O (no HTTP, Docker or file access), clocks (callers pass the time) or logging.
// The texts are OpenWhisk's, word for word: users and tools match on them, so they must not change.
package proxy
