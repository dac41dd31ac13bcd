// Package trafficgen is TEST EQUIPMENT: a pktgen-like UDP sender for the
// reference NF benchmark. It builds Ethernet/IPv4/UDP frames of an exact size
// and injects them with an AF_PACKET socket into one end of the project's
// veth pair, paced by a token bucket, and always stops by itself (a duration
// or a count is required, and MaxDuration caps both).
//
// Sizes are Ethernet FRAME sizes as handed to the device and as the receiver's
// recvfrom returns them: 14 B Ethernet header + 20 B IPv4 + 8 B UDP + payload,
// without the 4-byte FCS (veth has none). So -size 64 carries 22 B of UDP
// payload and -size 1500 carries 1458 B (IPv4 total length 1486).
//
// NIC coalescing stand-in (Coalescing, -follow-shm): veth has no interrupt coalescing, so while the NF's
// clickshm segment says harvesting is on, the sender sends trains of frames back to back (as many as a
// reference link carries in the published rx-usecs, or a fixed -train-on), and smooth frames otherwise.
// It reads the segment with plain reads and never acks or attaches: the NF and the writer do not see it.
//
// What it must not touch: it only sends, only on the interface it is given
// inside the namespace it is given, and refuses source or destination
// addresses outside AllowedPrefix (10.77.0.0/24, the project's own veth
// subnet). It never configures links, addresses or routes.
package trafficgen
