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
// unfinished records (invoker/messaging's doc). Process returns (and the record is Done) only when the
// whole answer is delivered: every ack taken by the broker and the activation record stored. While the
// broker or the store is unavailable the path retries with backoff for as long as it takes (each attempt
// bounded by AckTimeout or StoreTimeout), reports the stall (Stalled, OnStall: the invoker holds its feed
// and withholds its health pings) and loses nothing. Only refusals that cannot change end the retries: an
// ack the broker refuses for good (too large even shrunk, an invalid topic), a record the store refuses
// for good (a 4xx other than conflict); those are logged and counted in nemo_answers_lost_total. User
// events are best effort (one attempt), as in OpenWhisk. The action fetch keeps OpenWhisk's window
// (FetchTimeout): after it the activation is answered "Action could not be fetched.".
//
// At shutdown (Config.Quit closed) a record whose activation has not started (duplicate check, fetch,
// waiting for a container: pool.Job.Withdraw) is not answered but given back (ResultAbandoned) for the
// next incarnation; one whose answer is still undelivered when the feed's grace period ends is given
// back too.
//
// For a record that may have been delivered to an earlier incarnation of this invoker
// (Item.MaybeRedelivered), Process first looks the activation up in the store (waiting for the store if
// it is unavailable): if it is recorded, its slot-freeing ack is sent again from the stored record and
// nothing is re-run. The duplicates that remain possible:
//
//   - stopped after the slot-freeing ack but before the record was stored (SIGKILL, or SIGTERM while the
//     store is down): the activation runs again and the controller sees a second ack for the same id (it
//     ignores acks for ids it no longer tracks);
//   - stopped after the record was stored but before the offset was committed: the ack is sent again
//     from the record, the action is not re-run;
//   - an ack attempt that timed out on this side may still have reached the broker: the retry delivers it
//     a second time.
//
// No activation that was consumed goes unanswered.
//
// Besides its nemo_* counters it counts how each run got its container under OpenWhisk's own metric name
// (counter_invoker_containerStart…, owmetrics.go), spelled with or without Kamon tags as Config.KamonTags says.
package activation
