// Package wire holds the OpenWhisk wire formats a drop-in classic invoker speaks, as Go types and codecs.
//
// It owns:
//   - Kafka messages: ActivationMessage (invoker<N>), the acks ResultMessage / CompletionMessage /
//     CombinedMessage (completed<controller>), PingMessage (health) and EventMessage (events);
//   - CouchDB documents: action documents (Action, Exec, attachment references and the mem: decoder) and
//     activation records (WhiskActivation and its DB Document);
//   - the RUNTIMES_MANIFEST (Manifest, RuntimeKind, StemCell, ImageName);
//   - action-container bodies (InitBody / RunBody), the docker json-file log line and the activation log format;
//   - OpenWhisk's user-visible error texts (Msg*), and the record-building helpers Annotations,
//     FallbackActivation and ActivationEvent.
//
// Exactness rules (docs/protocol.md#messages; golden data in testdata/fixtures):
//   - The transid is kept as the raw bytes received and echoed unchanged in every ack, because the controller
//     recognises health-action acks by TransactionId equality (id and start millis). The ack Marshal methods
//     splice those bytes in; everything else is written compact, without HTML escaping.
//   - spray-json conventions: member order is free, Option members are omitted when absent, non-Option members
//     are always written, a null revision is written as null, instants are epoch milliseconds.
//   - Readers are lenient where controllers differ (unknown members ignored; initArgs, lockedArgs, tags and
//     dedicatedNamespaces may be absent; content may be an object or an array; the action FQN may be a plain
//     string; UserLimits members are kept raw) and strict where OpenWhisk is (activation ids are 32 lowercase
//     hex, required members, entityType, at most one attachment).
//   - Errors wrap a few sentinels (ErrMalformed, ErrInvalidActivationID, ErrNotAction, ErrNotExecutable,
//     ErrUnknownKind, ErrInvalidManifest); the Msg* doc comments say which OpenWhisk message each maps to.
//
// Fast paths (docs/allocations.md): the codecs every activation passes through — ParseActivationMessage,
// the transid accessors, the ack Marshal methods, WhiskActivation.MarshalJSON and Document, Annotations
// and KV, RunBody, EventMessage.Marshal and ActivationEvent — read and write JSON without reflection (fastjson.go, scan.go, message_fast.go). Each
// produces exactly what the reference codec (encoding/json, through the writer of newWriter) produces and
// leaves every input it is not sure of (escapes, repeated members, errors) to it; the FuzzFast* targets
// compare the two on every input.
//
// Version drift handled here (docs/protocol.md#version-drift): InvokerInstanceId always carries "tags" and
// "dedicatedNamespaces" (2021+ controllers require them); pings always carry "isEnabled" (2022+); acks use
// "instance", never the pre-1.0 "invoker"; userMemory is written "<bytes> B" and read with B/K/KB/M/MB/G/GB;
// ActivationMessage content may be an array (post-1.0.0); the /run not-JSON message uses the ef725a6/HEAD
// wording (proxy.MsgNotJSON), never 1.0.0's.
//
// It must not touch: any I/O. No Kafka, HTTP, CouchDB, Docker or file access, no clocks (callers pass "now"),
// no logging. Transport and storage packages (invoker/messaging, invoker/store, pool/docker) use these types.
package wire
