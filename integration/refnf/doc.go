// Package refnf is TEST EQUIPMENT: a small reference network function (NF) used
// to measure how NF CPU cost depends on packet size and on burst reception, and
// to exercise the clickshm burst-control path end to end without Click.
//
// It is not part of the NEMO invoker and nothing in the invoker may import it.
//
// What it owns:
//   - the packet processors of the paper's Table 1 — firewall (first-match rule
//     list on the 5-tuple), NAT (source rewrite from a mapping table with
//     incremental checksum fix-up) and load balancer (stable 5-tuple hash onto N
//     backends, destination rewrite);
//   - the receive engine: one poll() + one recvfrom() per packet when burst is
//     off (Click FromDevice METHOD LINUX with BURST 1), or poll() + one
//     recvmmsg() of up to `burst` packets per wake-up when burst is on;
//   - an optional CPU charge per wake-up (EngineConfig.WakeupCost, -wakeup-cost): the interrupt work a
//     NIC costs the NF's core per interrupt, which veth moves to the sender's core;
//   - the clickshm follower: polls a clickshm segment, applies Enable/Burst
//     clamped to [1, 1024] and writes the ack line, like the NemoBurstCtl
//     element of deployments/click;
//   - counters (packets, bytes, verdict drops, kernel drops, wake-ups, syscalls,
//     process CPU from getrusage) exposed as JSON.
//
// What it must not touch: anything outside the network namespaces and veth
// pair the caller names (see package netns); it never opens a socket on a host
// interface, and it never edits package clickshm (it only reads it through
// clickshm.Reader).
package refnf
