// Command refnf runs the reference NF (TEST EQUIPMENT, see package refnf) on
// one interface of a network namespace.
//
// stdout carries JSON lines: {"event":"ready",...} once the socket is bound,
// {"event":"stats",...} on SIGUSR1 and {"event":"exit",...} at the end.
// With -stats-addr the same Stats are served on GET /stats (127.0.0.1 only).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/integration/refnf"
	"github.com/nemo-edge/nemo/integration/refnf/netns"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "refnf:", err)
		os.Exit(1)
	}
}

type event struct {
	Event     string       `json:"event"`
	StatsAddr string       `json:"stats_addr,omitempty"`
	Stats     *refnf.Stats `json:"stats,omitempty"`
	Error     string       `json:"error,omitempty"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("refnf", flag.ContinueOnError)
	def := netns.DefaultPair()
	var (
		mode        = fs.String("mode", "firewall", "NF kind: firewall, nat or lb")
		nsName      = fs.String("netns", def.NFNetns, "network namespace of the NF interface (\"\" = current)")
		ifname      = fs.String("if", def.NFIf, "interface to read")
		setup       = fs.Bool("setup", false, "create the namespace(s) and veth pair if missing (see -peer-netns, -peer-if)")
		peerNS      = fs.String("peer-netns", def.PeerNetns, "with -setup: namespace of the veth peer")
		peerIf      = fs.String("peer-if", def.PeerIf, "with -setup: name of the veth peer")
		burst       = fs.Int("burst", 1, "burst when no clickshm writer is live (clamped to 1..1024)")
		maxBurst    = fs.Int("max-burst", refnf.MaxBurst, "upper clamp for bursts published through clickshm")
		shmPath     = fs.String("shm", "", "clickshm segment to follow (\"\" = static -burst)")
		shmInterval = fs.Duration("shm-interval", 10*time.Millisecond, "clickshm poll interval")
		forward     = fs.Bool("forward", true, "send accepted frames back out of the interface (one-armed NF)")
		loopRead    = fs.Bool("loop-read", false, "burst mode reads with a recvfrom loop instead of recvmmsg")
		rcvbuf      = fs.Int("rcvbuf", 0, "SO_RCVBUFFORCE bytes (0 = kernel default)")
		wakeupCost  = fs.Duration("wakeup-cost", 0, "CPU to burn per wake-up: the interrupt work a NIC would cost this core (veth has none)")
		goPoll      = fs.Bool("go-poll", false, "block in poll through the Go scheduler instead of a raw syscall")
		cpu         = fs.Int("cpu", -1, "pin the process to this CPU (-1 = no pinning)")
		rtPrio      = fs.Int("rt-prio", 0, "run the packet thread SCHED_FIFO at this priority (0 = normal scheduling)")
		statsAddr   = fs.String("stats-addr", "", "serve GET /stats on this 127.0.0.1 address (e.g. 127.0.0.1:0)")
		duration    = fs.Duration("duration", 0, "stop after this long (0 = until SIGINT/SIGTERM)")
		logLevel    = fs.String("log-level", "info", "zerolog level")
		popts       refnf.ProcessorOptions
	)
	fs.StringVar(&popts.FirewallRules, "rules", "", "firewall rules, ';'-separated (default: refnf.DefaultFirewallRules)")
	fs.StringVar(&popts.FirewallDefault, "fw-default", "drop", "firewall default action")
	fs.StringVar(&popts.NATExternal, "nat-external", "", "NAT external address (default 10.77.0.100)")
	fs.StringVar(&popts.NATPorts, "nat-ports", "", "NAT port range lo-hi (default 20000-29999)")
	fs.StringVar(&popts.LBBackends, "lb-backends", "", "LB backends ip[:port],... (default 10.77.0.11-14)")
	fs.StringVar(&popts.LBVIP, "lb-vip", "", "LB virtual IP (\"\" = balance everything)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Str("component", "refnf").Str("mode", *mode).Logger()

	if *cpu >= 0 {
		if err := refnf.PinProcess(*cpu); err != nil {
			return err
		}
	}
	if *statsAddr != "" {
		host, _, err := net.SplitHostPort(*statsAddr)
		if err != nil || host != "127.0.0.1" {
			return fmt.Errorf("-stats-addr must be 127.0.0.1:PORT, got %q", *statsAddr)
		}
	}
	proc, err := refnf.NewProcessor(*mode, popts)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if *duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, *duration)
		defer c2()
	}
	if *setup {
		p := def
		p.NFNetns, p.NFIf, p.PeerNetns, p.PeerIf = *nsName, *ifname, *peerNS, *peerIf
		if _, err := p.Ensure(ctx); err != nil {
			return err
		}
	}
	conn, err := refnf.OpenPacketConn(refnf.PacketConnConfig{Netns: *nsName, Ifname: *ifname, RcvBuf: *rcvbuf, GoPoll: *goPoll})
	if err != nil {
		return err
	}
	defer conn.Close()

	eng := refnf.NewEngine(conn, proc, refnf.EngineConfig{Burst: *burst, Forward: *forward, LoopRead: *loopRead,
		WakeupCost: *wakeupCost})
	var follower *refnf.Follower
	var wg sync.WaitGroup
	if *shmPath != "" {
		follower = refnf.NewFollower(*shmPath, refnf.OpenShm, eng.SetBurst, int64(*burst), int64(*maxBurst))
		wg.Add(1)
		go func() { defer wg.Done(); follower.Run(ctx, *shmInterval) }()
	}
	started := time.Now()
	snapshot := func() *refnf.Stats {
		s := refnf.Snapshot(*mode, started, eng, conn, follower)
		return &s
	}
	out := json.NewEncoder(os.Stdout)
	var outMu sync.Mutex
	emit := func(ev event) {
		outMu.Lock()
		defer outMu.Unlock()
		_ = out.Encode(ev)
	}

	ready := event{Event: "ready"}
	if *statsAddr != "" {
		ln, err := net.Listen("tcp", *statsAddr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(snapshot())
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		}()
		ready.StatsAddr = ln.Addr().String()
	}

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr1:
				emit(event{Event: "stats", Stats: snapshot()})
			}
		}
	}()

	log.Info().Str("netns", *nsName).Str("if", *ifname).Int("burst", *burst).Str("shm", *shmPath).
		Bool("forward", *forward).Int("cpu", *cpu).Msg("reading")
	emit(ready)

	runErr := make(chan error, 1)
	go func() {
		// One locked thread does all packet I/O, like Click's single router thread.
		runtime.LockOSThread()
		// The thread is never unlocked: if it was made realtime, the
		// runtime must not reuse it for other goroutines.
		if *rtPrio > 0 {
			if err := refnf.SetThreadRealtime(*rtPrio); err != nil {
				runErr <- err
				return
			}
		}
		runErr <- eng.Run(ctx)
	}()
	err = <-runErr
	cancel()
	wg.Wait()
	final := event{Event: "exit", Stats: snapshot()}
	if err != nil && !errors.Is(err, context.Canceled) {
		final.Error = err.Error()
	}
	emit(final)
	return err
}
