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
//  1. Defaults(): OpenWhisk's invoker defaults (docs/protocol.md#scheduling) and the paper's pool (2048 MB, 6 warm, 512 MB
//     cold reserve, 3 s pre-warm tick);
//  2. the JSON file named by --config or $NEMO_CONFIG (unknown fields are errors; durations are strings
//     such as "10s" or "10 minutes"; sizes are MB integers or strings such as "2048m", "2g");
//  3. the environment an OpenWhisk deployment sets: PORT, KAFKA_HOSTS, RUNTIMES_MANIFEST,
//     WHISK_API_HOST_PROTO/_NAME/_PORT, DB_PREFIX and the CONFIG_* keys listed in env.go (CouchDB, pool
//     memory, container args, proxy timeouts, Kafka topics, user events, invoker credentials, runtimes,
//     system limits), plus NEMO_KAFKA_VERSION and NEMO_ALLOW_DEFAULT_CREDENTIALS. CONFIG_* values
//     starting with "$" dereference another variable (transformEnvironment.sh). List variables
//     (..._extraEnvVars_N etc.) are probed for N = 0..99. OpenWhisk's other sources count as the same
//     settings (openwhisk.go): the HOCON file in OPENWHISK_CONFIG or OPENWHISK_ENCODED_CONFIG (hocon.go),
//     then -D options in JAVA_OPTS and INVOKER_OPTS, then CONFIG_* variables win, as in OpenWhisk's image;
//     envow.go reads what only they can spell (whisk.parameter-storage.aes-128/aes-256) and the TLS, Kafka
//     security, log level and metric settings. A setting that changes what an invoker does and that NEMO
//     does not do is refused (refuse.go: other artifact/activation/log stores or container factories,
//     container-args extra-args, raw Kafka client settings, FPC mode, Kamon to StatsD...); the rest of an
//     OpenWhisk environment is what OpenWhisk's classic invoker does not read either (docs/deployments.md
//     lists every variable). LoadEnviron (the binary's) sees every variable; Load, over a getenv that
//     cannot list them, finds prefix-only settings (extra-args, whisk.etcd.*, Kafka client settings) only
//     in the file or -D options;
//  4. the command line of OpenWhisk's /init.sh: --id N, --uniqueName S, --displayedName S, --overwriteId N
//     (ZOOKEEPER_HOSTS is read with it: see Instance id).
//
// # Instance id
//
// --id wins. Else a --uniqueName with ZooKeeper hosts (ZOOKEEPER_HOSTS or invoker.zookeeperHosts) gets
// its id from ZooKeeper as OpenWhisk's invoker does (helm's DaemonSet starts invokers this way), with
// --overwriteId moving the name to a given id: Load parses and checks the request and leaves it pending
// (PendingID), because this package does no I/O; the caller asks ZooKeeper (package invoker/instanceid)
// and records the answer with SetID. Else invoker.id from the file. --overwriteId without ZooKeeper, and
// a --uniqueName with neither --id, ZooKeeper nor invoker.id, are refused. Names are trimmed, and an empty
// one counts as not given, as in OpenWhisk.
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
// Only the first problem is reported. Errors about the command line itself (an unknown flag, a missing or
// bad value, a stray argument) also wrap ErrCommandLine, so the command can print its usage; Flags declares
// the flags Load accepts, with their usage text, for that printing.
//
// # Known gaps
//
//   - The Kafka protocol level cannot be learnt from an OpenWhisk environment; it defaults to
//     messaging.DefaultVersion (2.1.0). The devtools broker (Kafka 0.11.0.1) needs NEMO_KAFKA_VERSION=0.11.0.1.
//   - The HOCON reader covers what deployments put in OPENWHISK_CONFIG (objects, dotted keys, arrays,
//     substitutions, include classpath(...)); other includes are refused.
//   - pool.stemCells (a config-file override of the manifest's stem cells) has no reactive form: a fixed
//     count. The manifest's reactive stem cells are honoured.
//
// # Tests
//
// testdata/resolve.txt is a datadriven table (github.com/cockroachdb/datadriven): each load directive names
// its inputs (command line, environment file, manifest, config file) and expects the effective
// configuration, with what each component receives, as JSON, or the error. go test ./invoker/config -run
// TestResolve -rewrite regenerates it (docs/testing.md).
package config
