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
//     restores them, and New restores whatever a crashed run left behind.
//     Devices without coalescing (veth, lo: EOPNOTSUPP) get one warning and
//     harvesting continues with the other knobs.
//   - Click burst through one clickshm.Writer per NF (package clickshm).
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
// Config.TagWindow. Profiles map tags to settings; DefaultProfiles follows
// the paper (no harvesting below 512-byte packets, rx-usecs under 60 µs) and
// Config.Profiles overrides it.
//
// # Accounting and the QoS guard
//
// Run samples NF CPU time every 100 ms (/proc/<pid>/stat, cgroup v1
// cpuacct.usage or v2 cpu.stat, or the NF's cores in /proc/stat) into an
// Accountant (utilisation and harvested share per tag), and feeds interface
// drops and throughput to a Guard. When an NF degrades while harvesting or
// edge-function load is on, the guard turns harvesting off and calls
// Backoff.SuspendPrewarms; it recovers with hysteresis. Metrics reports
// everything in the Prometheus text format.
//
// # Boundaries
//
// The decisions (Accountant, Guard, measureBucket, Profiles, the session
// decision wantOnLocked) are pure; Manager is the thin driver around them.
// This package never creates or freezes containers (Backoff is implemented by
// the scheduler), never changes anything but rx-usecs on the configured
// interfaces, and never touches an interface that is not in Config.NFs.
//
// # Tests
//
// testdata/guard/*.txt replay the Guard in the datadriven format
// (github.com/cockroachdb/datadriven): config, then one sample directive per
// step with the guard's decision as expected output. go test ./harvester -run
// TestGuardScenarios -rewrite regenerates them (docs/testing.md).
package harvester
