// Package config builds the invoker's configuration and refuses a bad one at startup.
//
// It owns the JSON config file format (the paper's choice, §5.1: pool sizes, edge functions, log path), the
// translation of an OpenWhisk invoker deployment's environment and command line, validation, the demo
// defaults (Demo), and the adapters that hand each component its own configuration (MessagingConfig,
// StoreConfig, PoolConfig, DockerConfig, SchedulerConfig, HarvesterConfig, InstanceID). It does no I/O besides
// reading the config and manifest files, starts nothing, and must not grow component logic: a default that
// belongs to a component is stated once, in that component (pool.DefaultConfig,
// scheduler.DefaultInvokerConfig, harvester.DefaultConfig), and Defaults copies it so the resolved
// configuration can be printed and compared.
//
// # Sources and precedence
//
// Load(args, getenv) layers, from lowest to highest:
//
//  1. Defaults(): OpenWhisk's invoker defaults (PROTOCOL §7) and the paper's pool (2048 MB, 6 warm, 512 MB
//     cold reserve, 3 s pre-warm tick);
//  2. the JSON file named by --config or $NEMO_CONFIG (unknown fields are errors; durations are strings
//     such as "10s" or "10 minutes"; sizes are MB integers or strings such as "2048m", "2g");
//  3. the environment an OpenWhisk deployment sets: PORT, KAFKA_HOSTS, RUNTIMES_MANIFEST,
//     WHISK_API_HOST_PROTO/_NAME/_PORT, DB_PREFIX and the CONFIG_* keys listed in env.go (CouchDB, pool
//     memory, container args, proxy timeouts, Kafka topics, user events, invoker credentials, runtimes,
//     system limits), plus NEMO_KAFKA_VERSION and NEMO_ALLOW_DEFAULT_CREDENTIALS. CONFIG_* values starting with "$" dereference another
//     variable (transformEnvironment.sh); other CONFIG_* keys are ignored. List variables
//     (..._extraEnvVars_N etc.) are probed for N = 0..99, since getenv cannot enumerate;
//  4. the command line of OpenWhisk's /init.sh: --id N, --uniqueName S, --displayedName S, --overwriteId N.
//
// # Instance id
//
// --id wins; then --overwriteId; then invoker.id from the file. OpenWhisk assigns an id through ZooKeeper
// when only --uniqueName is given (helm's DaemonSet does this). NEMO does not implement that assignment:
// such a start fails with a message asking for --id. Deployments that rely on it must pass --id per node.
//
// # Safety checks
//
// Validate refuses OpenWhisk's default invoker credentials (invoker.user / invoker.pass) on a listen address
// other than loopback unless invoker.allowDefaultCredentials (NEMO_ALLOW_DEFAULT_CREDENTIALS=true) accepts
// the risk: anyone, an action container included, who reaches the port could disable the invoker. This
// check runs last, so other mistakes are reported first. Action limits (limits.*) are handed to the
// activation path (ActionLimits), which clamps every action document into them; the Kafka brokers and the
// CouchDB server are handed to the Docker backend as addresses action containers must not reach.
//
// # Errors
//
// Every failure is one *Error wrapping ErrInvalid, printed on one line that names the field — a JSON path
// ("pool.coldReserveMB"), an environment variable ("KAFKA_HOSTS"), a flag ("--id") or a file — e.g.
//
//	config: pool.coldReserveMB: 2048 must be less than pool.userMemoryMB (2048)
//
// Only the first problem is reported.
//
// # Known gaps
//
//   - The Kafka protocol level cannot be learnt from an OpenWhisk environment; it defaults to
//     messaging.DefaultVersion (2.1.0). The devtools broker (Kafka 0.11.0.1) needs NEMO_KAFKA_VERSION=0.11.0.1.
//   - OPENWHISK_CONFIG / OPENWHISK_ENCODED_CONFIG (whole HOCON files) are not read.
//   - pool.stemCells (a config-file override of the manifest's stem cells) has no reactive form: a fixed
//     count. The manifest's reactive stem cells are honoured.
package config
