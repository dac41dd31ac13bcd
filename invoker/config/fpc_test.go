package config

import (
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/invoker/fpc"
)

// The SPI settings and CONFIG_whisk_etcd_* select FPC mode as they do for the Scala invoker; classic stays
// the default where they are absent, and an explicit classic SPI ignores etcd settings.
func TestFPCModeSelection(t *testing.T) {
	fpcKV := []string{"CONFIG_whisk_spi_InvokerProvider", "org.apache.openwhisk.core.invoker.FPCInvokerReactive",
		"CONFIG_whisk_spi_InvokerServerProvider", "org.apache.openwhisk.core.invoker.FPCInvokerServer",
		"CONFIG_whisk_etcd_hosts", "etcd:2379", "CONFIG_whisk_etcd_lease_timeout", "1", "CONFIG_whisk_etcd_pool_threads", "10",
		"CONFIG_whisk_invoker_containerCreation_maxPeek", "500", "CONFIG_whisk_cluster_name", "edge"}
	load := func(m map[string]string) (*Config, error) { return load([]string{"--id", "0"}, envFunc(m), nil) }
	cfg, err := load(with(baseEnv(), fpcKV...))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.FPC()
	if f.Mode != fpc.FPC || f.Server != fpc.FPCServer || f.LeaseTTL != time.Second || f.ClusterName != "edge" ||
		len(f.EtcdEndpoints) != 1 || f.EtcdEndpoints[0] != "etcd:2379" || f.MaxPeek != 500 {
		t.Fatalf("FPC config %+v", f)
	}
	if cfg, err = load(baseEnv()); err != nil {
		t.Fatal(err)
	}
	if m := cfg.FPC().Mode; m != fpc.Classic {
		t.Fatalf("default mode %s", m)
	}
	cfg, err = load(with(baseEnv(), "CONFIG_whisk_spi_InvokerProvider", fpc.ClassicInvokerProvider, "CONFIG_whisk_etcd_hosts", "etcd:2379"))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.FPC().Mode; m != fpc.Classic {
		t.Fatalf("explicit classic with etcd: %s", m)
	}
	// etcd without the SPI is refused (2.x images would run FPC, NEMO classic); so is FPC without etcd.
	if _, err = load(with(baseEnv(), "CONFIG_whisk_etcd_hosts", "etcd:2379")); err == nil || !strings.Contains(err.Error(), "the invoker SPI is not") {
		t.Fatalf("etcd without the SPI: %v", err)
	}
	if _, err = load(with(baseEnv(), fpcKV[:4]...)); err == nil || !strings.Contains(err.Error(), "CONFIG_whisk_etcd_hosts") {
		t.Fatalf("FPC without etcd: %v", err)
	}
}
