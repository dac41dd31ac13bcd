// Package activation owns the invoker's activation path: for one consumed Kafka record it parses the
// ActivationMessage, guards against redelivered duplicates, fetches the action, has a Runner execute it,
// builds the WhiskActivation record, stores it and sends the acknowledgements in OpenWhisk's order.
//
// It must not touch Kafka, CouchDB, Docker or cgroups directly: it talks to them through the small
// interfaces declared here (Store, Acker, Runner), which invoker/store, invoker/filestore,
// invoker/messaging, pool.Manager and scheduler.Invoker satisfy.
//
// # Acknowledgements (docs/protocol.md#acknowledgements)
//
//   - blocking, logs collected ("split"): a ResultMessage (activation without logs) as soon as /run
//     returns, then, after log collection and after the Result send returned, a CompletionMessage;
//   - blocking, no log collection (logs limit 0): one CombinedCompletionAndResultMessage;
//   - non-blocking: one CompletionMessage, after log collection when logs are collected;
//   - fetch failure, blacklisted namespace, provisioning failure: one Combined message, shrunk
//     (response = activation id) when non-blocking;
//   - a record that does not parse gets no ack (there is nowhere to send one); it is logged and counted.
//
// Exactly one slot-freeing ack (Completion or Combined) is sent per parsed message, and a user event goes
// with it when user events are enabled.
//
// # Delivery and duplicates
//
// The Kafka feed commits an offset only after every record below it is Done, so a crash redelivers
// unfinished records (invoker/messaging's doc). Process calls Done only after the activation record is
// in the store and the slot-freeing ack was sent. For a record that may have been delivered to an
// earlier incarnation of this invoker (Item.MaybeRedelivered), Process first looks the activation up in
// the store: if it is recorded, its acks are sent again from the stored record and nothing is re-run.
// What remains possible after a crash:
//
//   - killed after the slot-freeing ack but before the record was stored: the activation runs again and
//     the controller sees a second ack for the same id (it ignores acks for ids it no longer tracks);
//   - killed after the record was stored but before the offset was committed: the ack is sent again,
//     the action is not re-run.
//
// No activation that was consumed goes unanswered.
//
// Besides its nemo_* counters it counts how each run got its container under OpenWhisk's own metric name
// (counter_invoker_containerStart…, owmetrics.go), spelled with or without Kamon tags as Config.KamonTags says.
package activation
