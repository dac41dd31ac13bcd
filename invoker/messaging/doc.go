// Package messaging owns the invoker's Kafka I/O (github.com/IBM/sarama): creating its topic, consuming
// invoker{N} with a commit point that loses nothing, and producing acks, pings and user events.
//
// It moves bytes and wire.Ack values only. It must not parse activation content, and must not touch
// containers, the artifact store or the pool; a record's meaning, and any duplicate handling, belong to
// the handler (invoker/activation).
//
// # Topics and settings
//
// Names and settings follow OpenWhisk's invoker (docs/protocol.md#kafka): the invoker consumes
// prefix+"invoker{N}" with consumer group = topic name and client id "consumer-invoker{N}", creates that
// topic itself (EnsureTopic + InvokerTopicConfigs: 1 partition, 48 h retention, max.message.bytes
// 1054644), and produces to prefix+"completed"+controller, prefix+"health" and userEventPrefix+"events".
// Kafka protocol levels from 0.11.0.1 (OpenWhisk devtools) to current brokers work; Config.Version
// selects one and unknown strings are rejected at startup.
//
// # Delivery semantics of the Feed (at-least-once, duplicates bounded)
//
// OpenWhisk commits right after each poll, so an invoker crash loses the activations it had taken
// (at-most-once). The Feed instead commits, per partition, only the offset below which every delivered
// record has called Record.Done (the "contiguous done prefix"). It marks and commits that offset every
// Config.CommitInterval (100 ms), when a group session ends (rebalance, error) and at shutdown. At most
// `capacity` records (MaxPeek) are between delivery and Done at any time.
//
//   - After SIGKILL (or a power cut, or a lost broker connection followed by a restart): the next consumer
//     of the group starts at the last committed offset, which is at most CommitInterval behind the
//     contiguous done prefix. It gets again (a) every record that had not called Done, (b) every record
//     that was done but sat above an unfinished one, and (c) done records whose commit had not been
//     sent yet (≤ one commit interval's worth).
//   - After a clean shutdown (Run's ctx cancelled): the feed stops handing out records, waits up to
//     Config.DrainTimeout for in-flight ones to call Done or Release, commits, and leaves. Records
//     released (the handler gave them back unfinished: they had not started when the invoker stopped)
//     or still unfinished after the drain, and done ones above them, are redelivered to the next
//     consumer.
//   - After a rebalance within the same process (session error, coordinator move, group recreated after
//     an error): the new session starts from the committed offset, but records this Feed already handed
//     out are recognised and not handed out again; their Done still counts and is committed through the
//     new session. So rebalances within one process cause no duplicates. If the partition moves to
//     another process (two invokers sharing an id, a misconfiguration), that process redelivers as after
//     SIGKILL.
//
// Duplicates therefore come only from a process that stops with work unfinished or uncommitted. Their
// number per partition is bounded by (last delivered offset − lowest unfinished offset + 1) plus one
// commit interval of completions; at most `capacity` of them were actually unfinished. Config.
// MaxUncommitted caps the distance past the commit point that the feed will deliver (0 = no cap), which
// bounds the redelivered done records too, at the price of stalling behind one long-running record.
// The handler must make a redelivered record harmless: the activation path checks the activation
// store and, if the activation already exists, only re-sends its ack instead of running it again.
//
// # Back-pressure
//
// SetHeld(true) stops handing out records while what the records in flight wait for is unavailable (the
// activation path holds the feed while an ack cannot reach the broker or a record cannot reach the
// store), independently of Pause (/disable). Records in flight keep their slots, so at most `capacity`
// records wait out an outage; nothing is taken that could not be answered.
//
// Static group membership (KIP-345, Version ≥ 2.3) lets a restarted invoker take its partition back
// at once instead of waiting for the dead member's 30 s session timeout.
//
// # Availability
//
// NewFeed, NewProducer and EnsureTopic fail with an error wrapping ErrUnavailable when no broker
// answers (an invoker cannot start without Kafka, as in OpenWhisk). After startup, outages are ridden
// out: Feed.Run retries retriable errors 3× 100 ms apart and otherwise recreates the consumer group
// every second until Kafka is back or its ctx ends; sends fail within their ctx with ErrUnavailable
// (after 3 retries 100 ms apart) and the Pinger logs and keeps pinging.
//
// # Producing
//
// Sends are synchronous (acks=1): SendAck returns after the partition leader stored the record. The
// caller sequences records that must arrive in order (a blocking activation's Result before its
// Completion) by sending the second only after the first returned nil. A record refused as too large
// (by the broker or by max.request.size 1054644) is resent in the ack's Shrunk form. A send abandoned
// because its ctx ended may still reach Kafka later.
package messaging
