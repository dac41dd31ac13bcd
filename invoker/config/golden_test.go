package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/store"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/docker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resolvedView is what testdata/resolve.txt records: the resolved Config (the inline manifest replaced by the
// kinds it defines) and what each component receives from it.
type resolvedView struct {
	Config         *Config
	Kinds          []string
	Instance       wire.InvokerInstanceID
	ListenAddr     string
	MaxPeek        int
	Messaging      messaging.Config
	Store          store.Config
	Pool           pool.Config
	DefaultTimeout string
	Docker         docker.Config
	SchedulerTick  string
}

func view(c *Config) resolvedView {
	cp := *c
	cp.Runtimes.Manifest = nil
	sc := c.SchedulerConfig()
	pc := c.PoolConfig()
	return resolvedView{
		Config: &cp, Kinds: c.Manifest.Kinds(), Instance: c.InstanceID(), ListenAddr: c.ListenAddr(), MaxPeek: c.MaxPeek(),
		Messaging: c.MessagingConfig(), Store: c.StoreConfig(), Docker: c.DockerConfig(),
		Pool: pc.Pool, DefaultTimeout: pc.DefaultTimeout.String(),
		SchedulerTick: sc.Controller.Tick.String(),
	}
}

// TestDevtoolsGolden resolves the openwhisk-devtools invoker environment (docs/protocol.md#devtools) with /init.sh --id 0.
func TestDevtoolsGolden(t *testing.T) {
	env := readEnvFile(t, filepath.Join("testdata", "devtools.env"))
	manifest, err := os.ReadFile(filepath.Join("testdata", "runtimes-devtools.json"))
	require.NoError(t, err)
	env["RUNTIMES_MANIFEST"] = string(manifest)

	c, err := Load([]string{"--id", "0"}, envFunc(env))
	require.NoError(t, err)

	// The facts the golden file must show, asserted by name so a careless -update cannot lose them.
	assert.Equal(t, 8085, c.Invoker.Port)
	assert.Equal(t, []string{"kafka.docker:9092"}, c.Kafka.Brokers)
	assert.Equal(t, "https://172.17.0.1", c.Docker.APIHost)
	assert.Equal(t, "openwhisk_default", c.Docker.Network)
	assert.Equal(t, MB(1024), c.Pool.UserMemoryMB)
	assert.True(t, c.Kafka.UserEvents)
	assert.Equal(t, store.Config{Protocol: "http", Host: "db.docker", Port: 5984, Username: "whisk_admin", Password: "some_passw0rd",
		WhisksDB: "local_whisks", ActivationsDB: "local_activations", SubjectsDB: "local_subjects"}, c.StoreConfig())
	assert.Equal(t, "invoker0", c.InstanceID().String())
	assert.Equal(t, int64(1073741824), c.InstanceID().UserMemoryBytes) // fixtures: "userMemory":"1073741824 B"
	assert.Equal(t, "wsk0", c.ContainerPrefix())
	assert.Equal(t, 8, c.MaxPeek()) // 1024/128 containers, concurrency 1
	stems := c.StemCells()
	require.Len(t, stems, 1)
	assert.Equal(t, pool.StemCell{Kind: "nodejs:14", Image: "openwhisk/action-nodejs-v14:nightly", MemoryMB: 256, Count: 2,
		Reactive: &pool.Reactive{MinCount: 1, MaxCount: 4, TTL: 2 * time.Minute, Threshold: 1, Increment: 1}}, stems[0],
		"devtools' manifest makes nodejs:14 reactive")
	assert.Equal(t, time.Minute, c.PoolConfig().Pool.StemCheckInterval)

}

// TestExampleFileGolden resolves testdata/nemo.json, a file using every section.
func TestExampleFileGolden(t *testing.T) {
	c, err := Load([]string{"--config", filepath.Join("testdata", "nemo.json")}, envFunc(nil))
	require.NoError(t, err)
	assert.Equal(t, "invoker3/edge-a", c.InstanceID().String())
	assert.Equal(t, NetworkIP, c.Docker.Mode, `"container-ip" is read as "ip"`)
	assert.Equal(t, docker.NetworkContainerIP, c.DockerConfig().Mode)
	assert.Equal(t, "1", c.CPUSetFor("guest/fw-stats"))
	assert.Equal(t, "2-3", c.CPUSetFor("guest/nat-audit"))
	assert.Equal(t, "4-7", c.CPUSetFor("guest/unlisted"))
	assert.Equal(t, []pool.StemCell{{Kind: "python:3", Image: "openwhisk/action-python-v3.7:nightly", MemoryMB: 256, Count: 1}}, c.StemCells())
	assert.Equal(t, "edge_whisks", c.StoreConfig().WhisksDB)
	sc := c.SchedulerConfig()
	assert.Equal(t, 3e9, float64(sc.Controller.Tick))
	assert.Equal(t, 6, sc.Controller.MaxWarm)
}

// TestResolve replays testdata/resolve.txt, a data-driven table (github.com/cockroachdb/datadriven) of
// inputs and the effective configuration they resolve to: the resolved Config and what each component
// receives from it (resolvedView), as indented JSON, or the error. -rewrite regenerates the expected
// outputs. One directive:
//
//	load [args=(<arg>, ...)] [env=<KEY=VALUE file>] [manifest=<file>] [config=<file>]
//
// Files are under testdata; manifest= puts the file into RUNTIMES_MANIFEST, config= passes --config.
func TestResolve(t *testing.T) {
	datadriven.RunTest(t, filepath.Join("testdata", "resolve.txt"), func(t *testing.T, td *datadriven.TestData) string {
		if td.Cmd != "load" {
			td.Fatalf(t, "unknown command %q", td.Cmd)
		}
		var args []string
		env := map[string]string{}
		for _, a := range td.CmdArgs {
			switch a.Key {
			case "args":
				args = append(args, a.Vals...)
			case "env":
				env = readEnvFile(t, filepath.Join("testdata", a.SingleVal(t)))
			case "manifest":
				m, err := os.ReadFile(filepath.Join("testdata", a.SingleVal(t)))
				require.NoError(t, err)
				env["RUNTIMES_MANIFEST"] = string(m)
			case "config":
				args = append(args, "--config", filepath.Join("testdata", a.SingleVal(t)))
			default:
				td.Fatalf(t, "unknown argument %q", a.Key)
			}
		}
		c, err := Load(args, envFunc(env))
		if err != nil {
			return "error: " + err.Error()
		}
		v := view(c)
		if p := v.Config.Runtimes.ManifestPath; p != "" {
			v.Config.Runtimes.ManifestPath = filepath.Base(p) // independent of the checkout path
		}
		return string(marshalIndent(t, v))
	})
}

// TestRoundTrip writes resolved configurations back as files and loads them again: the same Config.
func TestRoundTrip(t *testing.T) {
	devEnv := readEnvFile(t, filepath.Join("testdata", "devtools.env"))
	manifest, err := os.ReadFile(filepath.Join("testdata", "runtimes-devtools.json"))
	require.NoError(t, err)
	devEnv["RUNTIMES_MANIFEST"] = string(manifest)
	dev, err := Load([]string{"--id", "0"}, envFunc(devEnv))
	require.NoError(t, err)
	example, err := Load([]string{"--config", filepath.Join("testdata", "nemo.json")}, envFunc(nil))
	require.NoError(t, err)
	valid := validConfig()
	require.NoError(t, valid.Validate())

	for name, c := range map[string]*Config{"devtools": dev, "example": example, "demo": Demo(), "valid": valid} {
		t.Run(name, func(t *testing.T) {
			first := marshalIndent(t, c)
			path := writeFile(t, "c.json", string(first))
			back, err := Load([]string{"--config", path}, envFunc(nil))
			require.NoError(t, err)
			assert.Equal(t, string(first), string(marshalIndent(t, back)))
			assert.Equal(t, c.Manifest.Kinds(), back.Manifest.Kinds())
		})
	}
}
