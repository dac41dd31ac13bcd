// Package clickshm implements clickshm v1.0, the one-page shared-memory
// protocol through which the NEMO invoker tells a Click network function to
// switch burst processing on or off (paper §4.2, "changeMode").
//
// # Layout
//
// The segment is a 4096-byte file, normally /dev/shm/nemo-<nf>, native
// little-endian. Line 0 (0x00-0x3F) is written only by the Writer: magic
// "NEMO" (stored last at init), version 1.0, header_size 128, a seqlock word,
// the seq-protected flags (bit0 BURST_ENABLE, bit1 WRITER_CLOSED), burst_size,
// rx_usecs and update_ns, and outside the seqlock writer_pid, heartbeat_ns and
// lease_ms. Line 1 (0x40-0x7F) is written only by the reader: ack_seq,
// applied_burst, reader_pid, reader_flags (ATTACHED, FALLBACK) and ack_ns. The
// offsets are the Off* constants; clickshm.h asserts the same offsets in C.
//
// # Protocol
//
// The Writer bumps seq to odd, stores the fields, bumps seq to even. Readers
// load seq, copy, re-load seq and accept equal even values, with bounded
// retries. Create takes an existing valid page over in place (seq keeps
// counting) and never unlinks the file. The writer stores heartbeat_ns at
// least every lease/4 and holds flock(LOCK_SH) while alive; a reader calls the
// writer dead when WRITER_CLOSED is set, or when the heartbeat has not changed
// for longer than lease_ms on the reader's own clock and a flock(LOCK_EX|LOCK_NB)
// probe succeeds. A dead writer means "revert to the default burst".
//
// # Acknowledgements
//
// A reader acknowledges on every tick (NemoBurstCtl every INTERVAL, 10 ms by
// default): it stores applied_burst, reader_flags and ack_ns, then ack_seq,
// the last even seq it applied. ack_ns is therefore also the reader's
// heartbeat. Writer.Ack reads line 1 and judges it on the writer's own clock,
// never comparing the two processes' clocks: ReaderNever when ack_ns has not
// changed since Create (no NF has attached to this writer; on take-over the
// previous run's line 1 does not count), ReaderLive when it changed within
// lease_ms, ReaderStale when it has not for longer (the NF hung or was killed
// while attached), ReaderDetached when ATTACHED was cleared (the NF stopped
// cleanly). Ack.Current says a live reader applied the latest Publish, and
// AppliedBurst is the burst it put in effect (its own MAX clamp included).
// WaitAck blocks, bounded by its context, until a given seq is acknowledged.
// Writer.ReaderAck returns line 1 as stored.
//
// # Ownership
//
// This package owns the segment format, the Go Writer (used by the harvester),
// the Go Reader (used by integration/refnf) and the C header clickshm.h (used by
// the NemoBurstCtl Click element under deployments/click). It does not decide
// when to harvest (package harvester does) and never touches NIC settings:
// rx_usecs is only a published hint.
//
// Every live field is accessed through sync/atomic on pointers into the mmap'd
// page; mappings are unmapped only under the owner's mutex after every
// accessor has been shut out.
package clickshm
