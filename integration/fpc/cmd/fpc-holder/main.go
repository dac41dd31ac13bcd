// Command fpc-holder is test equipment: it holds an invoker's etcd session (the instance lease key, the
// resource record and any extra keys) the way FPC mode does, so integration tests can kill it with SIGKILL
// and watch its keys expire, or delete its lease key and watch it re-register. SIGTERM closes the session
// (revoking the lease). It prints "ready <lease id>" once every key is written.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/invoker/fpc/etcdreg"
	"github.com/nemo-edge/nemo/invoker/wire"
)

type keyFlags []string

func (k *keyFlags) String() string     { return strings.Join(*k, ",") }
func (k *keyFlags) Set(s string) error { *k = append(*k, s); return nil }

func main() {
	endpoint := flag.String("etcd", "127.0.0.1:23790", "etcd endpoint")
	cluster := flag.String("cluster", "whisk", "cluster name")
	id := flag.Int("id", 0, "invoker id")
	unique := flag.String("unique", "", "uniqueName")
	ttl := flag.Int("ttl", 2, "lease TTL in seconds")
	var extra keyFlags
	flag.Var(&extra, "key", "extra key to keep (empty value), repeatable")
	flag.Parse()

	log := zerolog.New(os.Stderr).With().Timestamp().Logger()
	keys := wire.EtcdKeys{Cluster: *cluster}
	inv := wire.InvokerInstanceID{Instance: *id, UniqueName: *unique, UserMemoryBytes: 2048 << 20}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	s, err := etcdreg.Open(ctx, etcdreg.Config{Endpoints: []string{*endpoint}, LeaseTTL: time.Duration(*ttl) * time.Second,
		RetryInterval: 200 * time.Millisecond, LeaseKey: keys.InstanceLease(inv), WatchPrefix: *cluster + "/"}, log)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rec, _ := wire.InvokerResourceMessage{Status: wire.InvokerUp, FreeMemoryMB: 2048}.Marshal()
	s.Put(keys.InvokerResource(inv), string(rec))
	for _, k := range extra {
		s.Put(k, "")
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = s.Flush(fctx)
	fcancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ready %d\n", s.LeaseID())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if err := s.Close(cctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
