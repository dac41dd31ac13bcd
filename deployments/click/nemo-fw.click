// nemo-fw.click -- a small firewall NF whose receive burst the NEMO invoker
// controls through /dev/shm/nemo-fw (clickshm v1). Needs a Click built with
// fromdevice-burst.patch and NemoBurstCtl (see README.md).
//
// Run:   click nemo-fw.click IN=ens1f0 OUT=ens1f1 SHM=/dev/shm/nemo-fw SOCK=/run/nemo-fw.sock
//        (each NAME=value overrides the define below; all four are optional)
// Debug: printf 'READ ctl.writer\nQUIT\n' | socat - UNIX-CONNECT:/run/nemo-fw.sock

define($IN ens1f0, $OUT ens1f1, $SHM /dev/shm/nemo-fw, $SOCK /run/nemo-fw.sock)

// METHOD LINUX reads one packet per recvfrom(); BURST is how many it reads
// per poll() wake-up -- the knob the invoker turns while edge functions run.
fd :: FromDevice($IN, METHOD LINUX, BURST 1, PROMISC true);

// Polls the segment every 10 ms; bursts above 64 are clamped; without a live
// invoker the burst returns to FromDevice's own BURST (1).
ctl :: NemoBurstCtl(SHM $SHM, DEV fd, INTERVAL 10ms, MAX 64);

ControlSocket(UNIX, $SOCK);

fd -> cnt :: Counter
   -> Strip(14)
   -> CheckIPHeader
   -> IPFilter(allow udp, allow icmp, deny all)
   -> Unstrip(14)
   -> Queue(1024)
   -> ToDevice($OUT);
