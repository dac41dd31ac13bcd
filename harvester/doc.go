// Package harvester is NEMO's slack harvester (paper §4.2): it frees network
// function (NF) CPU cycles for edge functions while invocations run.
//
// # Sessions
//
// Manager.Begin(ctx, reason) opens a reference-counted harvest session and
// returns an idempotent release. The first open session switches harvesting
// on (the paper's changeMode) before Begin returns; the last release switches
// it off after Config.Linger, so back-to-back invocations do not flap the
// NIC. The switch is a handful of ioctls and shared-memory stores; its cost is
// exported as nemo_harvest_switch_seconds_total and _max.
//
// # Knobs
//
//   - NIC interrupt coalescing (rx-usecs) through the SIOCETHTOOL ioctl
//     (github.com/safchain/ethtool). The original parameters are read once
//     and persisted to Config.StateFile before the first change; Close
//     restores them. RestoreLeftovers puts back whatever a crashed or killed
//     run left in the state file; New calls it, and the invoker calls it at
//     every start whether or not the harvester is enabled. Devices without
//     coalescing (veth, lo: EOPNOTSUPP) get one warning and harvesting
//     continues with the other knobs.
//   - Click burst through one clickshm.Writer per NF (package clickshm). The
//     element's acknowledgement line is read back with Writer.Ack (Run every
//     half lease, and every /metrics scrape): nemo_nf_click_reader says whether
//     the NF's Click side never attached, is live, stale (stopped
//     acknowledging: hung or killed) or detached; nemo_nf_click_acked says a
//     live element acknowledged the latest setting and
//     nemo_nf_click_applied_burst what it put in effect. Each change of the
//     reader's state is logged once, and an element that has not attached 5 s
//     after the writer was created is logged as never attached.
//
// # Several invokers on one host
//
// Invokers sharing a NIC coordinate through flock(2) on files beside the
// state file (hostlock.go): the state file is changed under <state>.lock, an
// invoker holds <state>.<iface>.users shared from its first harvest of the NIC
// until Close and <state>.<iface>.active shared while harvesting it. The
// original is recorded once, by whoever changes the NIC first; the invoker that
// can take .active exclusively when its harvest ends is the last one and
// restores it; the entry goes when nobody holds .users. The kernel drops a dead
// invoker's locks, so leftovers are told apart from live users without pids.
// A Click segment has one writer: an invoker that finds it held starts without
// that knob and Run retries to take it over.
//
// # Tags and profiles
//
// Each NF is tagged (nf_name, pkt_size): the packet-size bucket (64, 128,
// 256, 512, 1024, 1500) is measured from /sys/class/net/<if>/statistics over
// Config.TagWindow. Profiles map tags to settings. DefaultProfiles has the
// paper's shape (no harvesting below 512-byte packets, more at 1024 and
// 1500, rx-usecs under 60 µs) with values NEMO chose within it (the paper
// publishes no per-tag table); Config.Profiles overrides them.
//
// # Accounting and the QoS guard
//
// Run samples each NF's own CPU time every CPUSample (100 ms): its cgroup
// (v1 cpuacct.usage or v2 cpu.stat) when Config names one, else its process
// (/proc/<pid>/stat, all threads). Cores alone are never a CPU source: their
// busy time includes the edge functions the invoker pins to the NF's cores,
// so an NF configured with cores only gets no CPU accounting (a warning at
// start, nemo_nf_cpu_accounting 0) rather than a figure that counts edge
// functions as NF time. The samples feed an Accountant (utilisation, NF CPU
// seconds and harvested share per tag).
//
// The QoS guard is off by default (QoSConfig.Enabled). When on, it reads the
// NF's interface every QoS.Sample: received bytes and packets, and drops —
// rx_dropped, rx_missed_errors and the drops of the packet sockets bound to
// the interface (sock_diag), which is where an AF_PACKET NF such as Click's
// FromDevice loses what it cannot keep up with. When an NF degrades while
// harvesting or edge-function load is on, the guard switches harvesting off
// and calls Backoff.SuspendPrewarms, which holds back new pre-warms; nothing
// running is frozen or stopped. It recovers with hysteresis. Metrics reports
// everything through the invoker's registry (Prometheus text).
//
// # Boundaries
//
// The decisions (Accountant, Guard, measureBucket, Profiles, the session
// decision wantOnLocked) are pure; Manager is the thin driver around them.
// This package never creates or freezes containers (Backoff is implemented by
// the scheduler), never changes anything but rx-usecs on the configured
// interfaces, and never touches an interface that is neither in Config.NFs
// nor in the state file an earlier run wrote.
//
// # Tests
//
// testdata/guard/*.txt replay the Guard in the datadriven format
// (github.com/cockroachdb/datadriven): config, then one sample directive per
// step with the guard's decision as expected output. go test ./harvester -run
// TestGuardScenarios -rewrite regenerates them (docs/testing.md).
package harvester
