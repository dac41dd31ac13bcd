package papereval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/config"
)

// Every configuration's file loads through the invoker's own loader (strict: a misspelt field fails) with
// the environment a run gives it, and resolves to what the configuration promises.
func TestInvokerConfigsLoad(t *testing.T) {
	dir := t.TempDir()
	nf := &NFBinding{Name: "firewall", Interface: "penf0", PID: os.Getpid(), Core: 1, Shm: "/dev/shm/x", SysClassNet: dir}
	runEnv := Env{Brokers: []string{"127.0.0.1:9092"}, KafkaVersion: "3.9.0", CouchURL: "http://u:p@127.0.0.1:5984"}
	for _, c := range []struct {
		spec                           RunSpec
		scheduler, harvest, threadMgmt bool
		maxWarm, reserveMB, memMB      int
		stemCells                      bool
	}{
		{RunSpec{Kind: KindMixed, Config: CfgNative}, false, false, true, -1, 0, 2048, true},
		{RunSpec{Kind: KindMixed, Config: CfgNativeWarm}, false, false, true, -1, 0, 3072, true},
		{RunSpec{Kind: KindMixed, Config: CfgColocated}, false, false, true, -1, 0, 2048, true},
		{RunSpec{Kind: KindMixed, Config: CfgHarvest}, false, true, true, -1, 0, 2048, true},
		{RunSpec{Kind: KindMixed, Config: CfgPrewarm}, true, false, true, 6, 512, 2048, true},
		{RunSpec{Kind: KindMixed, Config: CfgNEMO}, true, true, true, 6, 512, 2048, true},
		{RunSpec{Kind: KindMixed, Config: CfgNEMONoTM}, true, true, false, 6, 512, 2048, true},
		{RunSpec{Kind: KindControlled, Config: CfgHarvest}, false, true, true, -1, 0, 4096, false},
	} {
		t.Run(c.spec.Kind+"/"+c.spec.Config, func(t *testing.T) {
			setup, err := InvokerConfigFor(c.spec, nf, 1, "pe1-", dir)
			require.NoError(t, err)
			require.Equal(t, c.memMB, setup.UserMemoryMB)
			b, err := setup.JSON()
			require.NoError(t, err)
			path := filepath.Join(dir, "c.json")
			require.NoError(t, os.WriteFile(path, b, 0o644))
			// The environment the runner gives the invoker.
			kv, err := invokerEnv(runEnv, "pe1_", 8123, setup.UserMemoryMB)
			require.NoError(t, err)
			env := map[string]string{}
			for _, x := range kv {
				k, v, _ := strings.Cut(x, "=")
				env[k] = v
			}
			cfg, err := config.Load([]string{"--id", "7", "--config", path}, func(k string) string { return env[k] })
			require.NoError(t, err, "%s", b)
			require.Equal(t, config.MB(c.memMB), cfg.Pool.UserMemoryMB)
			require.Equal(t, "pe1_activations", cfg.Store.CouchDB.ActivationsDB)
			require.Equal(t, 8123, cfg.Invoker.Port)
			require.Equal(t, []string{"python:3"}, cfg.Manifest.Kinds())
			require.Equal(t, c.scheduler, cfg.Scheduler.Enabled)
			require.Equal(t, c.threadMgmt, cfg.Scheduler.ThreadManagement)
			require.Equal(t, c.harvest, cfg.Harvester.Enabled)
			require.Equal(t, c.maxWarm, cfg.Pool.MaxWarm)
			require.Equal(t, config.MB(c.reserveMB), cfg.Pool.ColdReserveMB)
			require.Equal(t, "pe1-", cfg.Kafka.TopicPrefix)
			pc := cfg.PoolConfig()
			require.Equal(t, c.stemCells, len(pc.Pool.StemCells) > 0, "stem cells %+v", pc.Pool.StemCells)
			for _, f := range Functions {
				require.Equal(t, "1", cfg.CPUSetFor(Namespace+"/"+f.Name), "%s pinned to the NF's core", f.Name)
			}
			if c.harvest {
				require.Len(t, cfg.Harvester.NFs, 1)
				require.Equal(t, "penf0", cfg.Harvester.NFs[0].Interface)
				require.False(t, *cfg.Harvester.NICCoalescing, "veth has no coalescing")
			}
		})
	}
	_, err := InvokerConfigFor(RunSpec{Kind: KindMixed, Config: CfgNEMO}, nil, 1, "p-", dir)
	require.Error(t, err, "a harvesting configuration without an NF")
	_, err = InvokerConfigFor(RunSpec{Kind: KindMixed, Config: "bogus"}, nil, 1, "p-", dir)
	require.Error(t, err)
}
