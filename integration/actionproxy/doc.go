// Package actionproxy is NEMO's own action proxy: test equipment that speaks the OpenWhisk action container
// protocol (POST /init, POST /run, docs/protocol.md#action-containers) so the Docker backend can be exercised without a registry.
// Production deployments use OpenWhisk's runtime images; nothing in the invoker imports this package.
//
// Model: actionloop. /init starts one long-lived child process; every /run writes the request as one JSON line
// to the child's stdin and reads one JSON line back from the child's file descriptor 3. The child inherits the
// proxy's stdout and stderr, so its log lines land in the container's log stream; after each /run the proxy
// writes XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX to stdout and to stderr. /init does not write sentinels: the
// invoker collects one activation's logs (init output included) up to the first pair of sentinels.
//
// Code accepted by /init: base64 (binary:true) of a zip holding an "exec" entry point, or of an ELF / "#!"
// executable; plain text code is written to a source file and run through the configured launcher (the Python
// image uses this). Without code, the proxy runs Config.DefaultExec (a "blackbox" image with a baked-in action).
//
// This package owns the proxy and its cmd (cmd/actionproxy) and the test action (testaction). It must not
// import invoker or pool packages: the proxy is built FROM scratch and knows only the wire protocol.
package actionproxy
