package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArgs(t *testing.T) {
	cases := []struct {
		name              string
		args              []string
		id                int
		unique, displayed string
	}{
		{"--id", []string{"--id", "0"}, 0, "", ""},
		{"-id=N form", []string{"-id=7"}, 7, "", ""},
		{"ansible: --id and --uniqueName", []string{"--id", "2", "--uniqueName", "2"}, 2, "2", ""},
		{"--id wins over --overwriteId", []string{"--uniqueName", "n", "--overwriteId", "9", "--id", "1"}, 1, "n", ""},
		{"names are trimmed", []string{"--id", "4", "--uniqueName", " kind-worker ", "--displayedName", "edge\t"}, 4, "kind-worker", "edge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.args, envFunc(baseEnv()))
			require.NoError(t, err)
			assert.Equal(t, tc.id, c.Invoker.ID)
			assert.Equal(t, tc.unique, c.Invoker.UniqueName)
			assert.Equal(t, tc.displayed, c.Invoker.DisplayedName)
		})
	}
}

func TestArgsNames(t *testing.T) {
	c, err := Load([]string{"--id", "0", "--uniqueName", "0"}, envFunc(baseEnv()))
	require.NoError(t, err)
	assert.Equal(t, "invoker0/0", c.InstanceID().String())
	assert.Equal(t, "wsk00", c.ContainerPrefix()) // ansible's --uniqueName 0 --id 0
	c, err = Load([]string{"--id", "0", "--uniqueName", "kind worker/1", "--displayedName", "edge"}, envFunc(baseEnv()))
	require.NoError(t, err)
	assert.Equal(t, "invoker0/kind worker/1/edge", c.InstanceID().String())
	assert.Equal(t, "wskkindworker10", c.ContainerPrefix())
	assert.Equal(t, "wskkindworker10", c.PoolConfig().Pool.NamePrefix)
}

func TestArgsInvalid(t *testing.T) {
	cases := []struct {
		name        string
		args        []string
		field, msg  string
		commandLine bool // the command line itself is at fault: wraps ErrCommandLine
	}{
		{"no id at all", nil, "invoker.id", "not set: pass --id N", false},
		{"--uniqueName alone needs ZooKeeper", []string{"--uniqueName", "kind-worker"}, "--uniqueName", "without --id and without ZOOKEEPER_HOSTS", false},
		{"--overwriteId needs ZooKeeper", []string{"--uniqueName", "kind-worker", "--overwriteId", "4"}, "--overwriteId", "needs --uniqueName and ZOOKEEPER_HOSTS", false},
		{"an empty --uniqueName is no name", []string{"--uniqueName", "  "}, "invoker.id", "not set", false},
		{"--id not a number", []string{"--id", "zero"}, "--id", `"zero" is not a non-negative integer`, true},
		{"--id negative", []string{"--id", "-1"}, "--id", "not a non-negative integer", true},
		{"--overwriteId not a number", []string{"--overwriteId", "x"}, "--overwriteId", "not a non-negative integer", true},
		{"unknown flag", []string{"--id", "0", "--zookeeper", "z"}, "command line", "flag provided but not defined: -zookeeper", true},
		{"flag without value", []string{"--id"}, "command line", "flag needs an argument", true},
		{"positional argument", []string{"--id", "0", "extra"}, "command line", `unexpected argument "extra"`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, envFunc(baseEnv()))
			requireInvalid(t, err, tc.field, tc.msg)
			assert.Equal(t, tc.commandLine, errors.Is(err, ErrCommandLine), "wraps ErrCommandLine: %v", err)
		})
	}
}

func TestArgsZooKeeperAssignment(t *testing.T) {
	zkEnv := func(hosts string) func(string) string {
		env := baseEnv()
		env["ZOOKEEPER_HOSTS"] = hosts
		return envFunc(env)
	}
	t.Run("--uniqueName alone leaves the id to ZooKeeper", func(t *testing.T) {
		c, err := Load([]string{"--uniqueName", "kind-worker"}, zkEnv("owdev-zookeeper-0.owdev-zookeeper.openwhisk.svc.cluster.local:2181"))
		require.NoError(t, err)
		req, ok := c.PendingID()
		require.True(t, ok)
		assert.Equal(t, []string{"owdev-zookeeper-0.owdev-zookeeper.openwhisk.svc.cluster.local:2181"}, req.Hosts.Servers)
		assert.Equal(t, "kind-worker", req.UniqueName)
		assert.Nil(t, req.OverwriteID)
		assert.Equal(t, 30*time.Second, c.Invoker.ZooKeeperTimeout.D())

		require.NoError(t, c.SetID(3))
		_, ok = c.PendingID()
		assert.False(t, ok)
		assert.Equal(t, 3, c.Invoker.ID)
		assert.Equal(t, "wskkind-worker3", c.ContainerPrefix())
		assert.Equal(t, "invoker3/kind-worker", c.InstanceID().String())
	})
	t.Run("--overwriteId goes to ZooKeeper", func(t *testing.T) {
		c, err := Load([]string{"--uniqueName", "n", "--overwriteId", "4"}, zkEnv("zk:2181/chroot"))
		require.NoError(t, err)
		req, ok := c.PendingID()
		require.True(t, ok)
		require.NotNil(t, req.OverwriteID)
		assert.Equal(t, 4, *req.OverwriteID)
		assert.Equal(t, "/chroot", req.Hosts.Chroot)
	})
	t.Run("--id wins and ZooKeeper is not asked", func(t *testing.T) {
		c, err := Load([]string{"--id", "2", "--uniqueName", "n", "--overwriteId", "9"}, zkEnv("zk:2181"))
		require.NoError(t, err)
		_, ok := c.PendingID()
		assert.False(t, ok)
		assert.Equal(t, 2, c.Invoker.ID)
	})
	t.Run("an unused ZOOKEEPER_HOSTS is not checked", func(t *testing.T) {
		_, err := Load([]string{"--id", "0"}, zkEnv(":2181"))
		require.NoError(t, err, "OpenWhisk ignores ZOOKEEPER_HOSTS when --id is given")
	})
	t.Run("ZooKeeper wins over the file's id", func(t *testing.T) {
		path := writeFile(t, "nemo.json", minimalFile)
		c, err := Load([]string{"--config", path, "--uniqueName", "u"}, envFunc(map[string]string{"ZOOKEEPER_HOSTS": "zk"}))
		require.NoError(t, err)
		req, ok := c.PendingID()
		require.True(t, ok)
		assert.Equal(t, []string{"zk:2181"}, req.Hosts.Servers)
	})
	t.Run("the file can name the hosts and the deadline", func(t *testing.T) {
		path := writeFile(t, "zk.json", `{"invoker": {"zookeeperHosts": "zk1:2181,zk2:2181", "zookeeperTimeout": "5s", "listenHost": "127.0.0.1"},
 "kafka": {"brokers": ["127.0.0.1:9092"]}, "store": {"kind": "file", "path": "/tmp/nemo-store"},
 "runtimes": {"manifest": `+smallManifest+`}}`)
		c, err := Load([]string{"--config", path, "--uniqueName", "u"}, envFunc(nil))
		require.NoError(t, err)
		req, ok := c.PendingID()
		require.True(t, ok)
		assert.Equal(t, []string{"zk1:2181", "zk2:2181"}, req.Hosts.Servers)
		assert.Equal(t, 5*time.Second, c.Invoker.ZooKeeperTimeout.D())
	})
	for _, tc := range []struct {
		name, hosts string
		args        []string
		field, msg  string
	}{
		{"malformed ZOOKEEPER_HOSTS", ":2181", []string{"--uniqueName", "n"}, "ZOOKEEPER_HOSTS", "empty host"},
		{"a unique name that is no znode name", "zk:2181", []string{"--uniqueName", "a/b"}, "--uniqueName", "contains '/'"},
		{"--overwriteId negative", "zk:2181", []string{"--uniqueName", "n", "--overwriteId", "-1"}, "--overwriteId", "not a non-negative integer"},
		{"--overwriteId without --uniqueName", "zk:2181", []string{"--overwriteId", "1"}, "--overwriteId", "needs --uniqueName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.args, zkEnv(tc.hosts))
			requireInvalid(t, err, tc.field, tc.msg)
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		_, err := Load([]string{"--id", "0", arg}, envFunc(baseEnv()))
		require.ErrorIs(t, err, flag.ErrHelp, arg)
		assert.NotErrorIs(t, err, ErrInvalid, "asking for help is not an invalid configuration")
	}
}

// TestFlagsDeclaresWhatLoadAccepts keeps the printed usage (Flags) and the parser (Load) one list: every
// flag Flags declares has a usage text and Load's command line takes it (whatever the configuration then
// makes of it), and the printed usage lists it.
func TestFlagsDeclaresWhatLoadAccepts(t *testing.T) {
	fs := flag.NewFlagSet("invoker", flag.ContinueOnError)
	Flags(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		names = append(names, f.Name)
		assert.NotEmpty(t, f.Usage, "--%s has no usage text", f.Name)
		value := "3"
		if f.Name == "config" {
			value = writeFile(t, "nemo.json", minimalFile)
		}
		args := []string{"--" + f.Name, value}
		if f.Name != "id" && f.Name != "overwriteId" {
			args = append(args, "--id", "3")
		}
		_, err := Load(args, envFunc(baseEnv()))
		assert.NotErrorIs(t, err, ErrCommandLine, "Load's command line rejects the declared flag --%s", f.Name)
	})
	assert.Subset(t, names, []string{"id", "overwriteId", "uniqueName", "displayedName", "config"})

	var out strings.Builder
	fs.SetOutput(&out)
	fs.PrintDefaults()
	for _, name := range names {
		assert.Contains(t, out.String(), "-"+name+" ", "printed usage lists --%s", name)
	}
}

const minimalFile = `{"invoker": {"id": 5, "port": 9000, "listenHost": "127.0.0.1"},
 "kafka": {"brokers": ["127.0.0.1:9092"]},
 "store": {"kind": "file", "path": "/tmp/nemo-store"},
 "runtimes": {"manifest": ` + smallManifest + `}}`

func TestConfigFile(t *testing.T) {
	path := writeFile(t, "nemo.json", minimalFile)

	t.Run("--config", func(t *testing.T) {
		c, err := Load([]string{"--config", path}, envFunc(nil))
		require.NoError(t, err)
		assert.Equal(t, 5, c.Invoker.ID)
		assert.Equal(t, 9000, c.Invoker.Port)
		assert.Equal(t, StoreFile, c.Store.Kind)
		assert.Equal(t, MB(2048), c.Pool.UserMemoryMB, "defaults stay where the file is silent")
	})
	t.Run("NEMO_CONFIG", func(t *testing.T) {
		c, err := Load(nil, envFunc(map[string]string{"NEMO_CONFIG": path}))
		require.NoError(t, err)
		assert.Equal(t, 5, c.Invoker.ID)
	})
	t.Run("--config wins over NEMO_CONFIG", func(t *testing.T) {
		_, err := Load([]string{"--config", path}, envFunc(map[string]string{"NEMO_CONFIG": "/nonexistent.json"}))
		require.NoError(t, err)
	})
	t.Run("environment overrides the file", func(t *testing.T) {
		c, err := Load([]string{"--config", path}, envFunc(map[string]string{
			"PORT": "8085", "KAFKA_HOSTS": "kafka.docker:9092", "CONFIG_whisk_containerPool_userMemory": "1024m",
			"CONFIG_whisk_couchdb_host": "db.docker", "CONFIG_whisk_couchdb_username": "u", "DB_PREFIX": "local_",
		}))
		require.NoError(t, err)
		assert.Equal(t, 8085, c.Invoker.Port)
		assert.Equal(t, []string{"kafka.docker:9092"}, c.Kafka.Brokers)
		assert.Equal(t, MB(1024), c.Pool.UserMemoryMB)
		assert.Equal(t, StoreCouchDB, c.Store.Kind, "CONFIG_whisk_couchdb_* selects couchdb")
	})
	t.Run("KAFKA_HOSTS turns embedded off", func(t *testing.T) {
		p := writeFile(t, "e.json", `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifest":`+smallManifest+`}}`)
		c, err := Load([]string{"--config", p}, envFunc(map[string]string{"KAFKA_HOSTS": "k:1"}))
		require.NoError(t, err)
		assert.False(t, c.Kafka.Embedded)
	})
	t.Run("command line overrides the file", func(t *testing.T) {
		c, err := Load([]string{"--config", path, "--id", "1", "--uniqueName", "u"}, envFunc(nil))
		require.NoError(t, err)
		assert.Equal(t, 1, c.Invoker.ID)
		assert.Equal(t, "u", c.Invoker.UniqueName)
	})
	t.Run("--uniqueName alone takes the file's id", func(t *testing.T) {
		c, err := Load([]string{"--config", path, "--uniqueName", "u"}, envFunc(nil))
		require.NoError(t, err)
		assert.Equal(t, 5, c.Invoker.ID)
	})
	t.Run("relative manifestPath is relative to the file", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "rt.json"), []byte(smallManifest), 0o644))
		p := filepath.Join(dir, "c.json")
		require.NoError(t, os.WriteFile(p, []byte(`{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifestPath":"rt.json"}}`), 0o644))
		c, err := Load([]string{"--config", p}, envFunc(nil))
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(dir, "rt.json"), c.Runtimes.ManifestPath) // dir is absolute
		assert.Equal(t, []string{"nodejs:20", "python:3"}, c.Manifest.Kinds())
	})
	t.Run("RUNTIMES_MANIFEST replaces the file's manifestPath", func(t *testing.T) {
		p := writeFile(t, "c.json", `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifestPath":"/nonexistent.json"}}`)
		c, err := Load([]string{"--config", p}, envFunc(map[string]string{"RUNTIMES_MANIFEST": smallManifest}))
		require.NoError(t, err)
		assert.Empty(t, c.Runtimes.ManifestPath)
	})
	t.Run("sizes and durations in every accepted form", func(t *testing.T) {
		p := writeFile(t, "c.json", `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},
			"runtimes":{"manifest":`+smallManifest+`},
			"pool":{"userMemoryMB":"4g","coldReserveMB":"1024","pauseGrace":"50 milliseconds","idleTimeout":"1h30m"},
			"limits":{"memory":{"min":"128m","std":"256 MB","max":"1 GB"}}}`)
		c, err := Load([]string{"--config", p}, envFunc(nil))
		require.NoError(t, err)
		assert.Equal(t, MB(4096), c.Pool.UserMemoryMB)
		assert.Equal(t, MB(1024), c.Pool.ColdReserveMB)
		assert.Equal(t, 50*time.Millisecond, c.Pool.PauseGrace.D())
		assert.Equal(t, 90*time.Minute, c.Pool.IdleTimeout.D())
		assert.Equal(t, MBRange{Min: 128, Max: 1024, Std: 256}, c.Limits.Memory)
	})
}

func TestConfigFileInvalid(t *testing.T) {
	head := `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifest":` + smallManifest + `},`
	cases := []struct {
		name, content string
		field, msg    string // field "" = the file's path
	}{
		{"syntax error with position", "{\n  \"invoker\": {\"id\": 0,}\n}", "", "invalid JSON at offset 24 (line 2, column 23)"},
		{"truncated", `{"invoker": {"id": 0}`, "", "unexpected end of input"},
		{"empty file", ``, "", "empty file"},
		{"not an object", `[1, 2]`, "", "want a JSON object, got an array"},
		{"trailing data", `{"invoker": {"id": 0}} {}`, "", "unexpected data after the top-level JSON object"},
		{"unknown field", `{"pool": {"maxWarmm": 3}}`, "", `unknown field "maxWarmm"`},
		{"wrong type", `{"pool": {"maxWarm": "six"}}`, "pool.maxWarm", "want an integer, got string"},
		{"wrong type nested in a list", `{"edgeFunctions": [{"action": 7}]}`, "edgeFunctions.action", "want a string, got number"},
		{"duration as a number", `{"pool": {"pauseGrace": 10}}`, "pool.pauseGrace", `want a duration string such as "10s"`},
		{"duration unparsable", `{"scheduler": {"prewarmInterval": "3 parsecs"}}`, "scheduler.prewarmInterval", `"3 parsecs" is not a duration`},
		{"size unparsable", `{"pool": {"userMemoryMB": "lots"}}`, "pool.userMemoryMB", `"lots" is not a size`},
		{"size fractional", `{"pool": {"userMemoryMB": 2048.5}}`, "pool.userMemoryMB", "2048.5 is not a whole number of MB"},
		{"size not whole MB", `{"pool": {"coldReserveMB": "100k"}}`, "pool.coldReserveMB", `"100k" is not a whole number of MB`},
		{"size as bool", `{"pool": {"coldReserveMB": true}}`, "pool.coldReserveMB", "want a size such as 2048"},
		{"harvester type error", head + `"harvester": {"nfs": [{"name": "fw", "cores": "1"}]}}`, "harvester.nfs.cores", "want an array, got string"},
		{"harvester unknown field", head + `"harvester": {"lingerMs": 5}}`, "harvester", `unknown field "lingerMs"`},
		{"harvester old and new key", head + `"harvester": {"linger_ms": 5, "linger": "5ms"}}`, "harvester.linger_ms", `keep only "linger"`},
		{"harvester old key not milliseconds", head + `"harvester": {"qos": {"min_backoff_ms": "5s"}}}`, "harvester.qos.min_backoff_ms", "want an integer number of milliseconds"},
		{"harvester duration as a number", head + `"harvester": {"linger": 200}}`, "harvester.linger", `want a duration string such as "10s"`},
		{"manifest and manifestPath", `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifest":{},"manifestPath":"/m.json"}}`,
			"runtimes.manifestPath", "not both"},
		{"manifestPath missing file", `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifestPath":"/nonexistent/m.json"}}`,
			"runtimes.manifestPath", "cannot read /nonexistent/m.json: no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "c.json", tc.content)
			_, err := Load([]string{"--config", p}, envFunc(nil))
			field := tc.field
			if field == "" {
				field = p
			}
			requireInvalid(t, err, field, tc.msg)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := Load([]string{"--config", "/nonexistent/nemo.json"}, envFunc(nil))
		requireInvalid(t, err, "/nonexistent/nemo.json", "cannot read config file: no such file or directory")
		assert.True(t, errors.Is(err, fs.ErrNotExist))
	})
	t.Run("manifestPath with invalid JSON", func(t *testing.T) {
		dir := t.TempDir()
		m := filepath.Join(dir, "m.json")
		require.NoError(t, os.WriteFile(m, []byte(`{"runtimes": [}`), 0o644))
		p := filepath.Join(dir, "c.json")
		require.NoError(t, os.WriteFile(p, []byte(`{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifestPath":"m.json"}}`), 0o644))
		_, err := Load([]string{"--config", p}, envFunc(nil))
		requireInvalid(t, err, m, "invalid JSON at offset 14")
	})
}

// The harvester section's old style (snake_case, *_ms integers) still loads, to the same configuration as the
// new style, with one warning per old key naming its replacement.
func TestHarvesterOldKeysLoadWithWarnings(t *testing.T) {
	const nfs = `"nfs": [{"name": "fw", "interface": "eth1", "cores": [1]}]`
	old := writeFile(t, "old.json", `{"invoker": {"id": 0, "listenHost": "127.0.0.1"}, "kafka": {"embedded": true}, "store": {"kind": "file", "path": "/x"},
		"runtimes": {"manifest": `+smallManifest+`}, "harvester": {"enabled": true, "linger_ms": 250, "state_file": "/var/lib/h.json",
		"max_rx_usecs": 40, "cpu_sample_ms": 50, `+nfs+`, "profiles": [{"nf": "fw", "pkt_size": 1500, "rx_usecs": 30, "burst": 16}],
		"qos": {"enabled": true, "sample_ms": 250, "max_drop_rate": 10, "min_backoff_ms": 2000}}}`)
	current := writeFile(t, "new.json", `{"invoker": {"id": 0, "listenHost": "127.0.0.1"}, "kafka": {"embedded": true}, "store": {"kind": "file", "path": "/x"},
		"runtimes": {"manifest": `+smallManifest+`}, "harvester": {"enabled": true, "linger": "250ms", "stateFile": "/var/lib/h.json",
		"maxRxUsecs": 40, "cpuSample": "50ms", `+nfs+`, "profiles": [{"nf": "fw", "pktSize": 1500, "rxUsecs": 30, "burst": 16}],
		"qos": {"enabled": true, "sample": "250ms", "maxDropRate": 10, "minBackoff": "2s"}}}`)
	co, err := Load([]string{"--config", old}, envFunc(nil))
	require.NoError(t, err)
	cn, err := Load([]string{"--config", current}, envFunc(nil))
	require.NoError(t, err)
	assert.Equal(t, cn.HarvesterConfig(), co.HarvesterConfig())
	assert.Empty(t, cn.Warnings())
	assert.Equal(t, []string{
		`harvester.cpu_sample_ms is deprecated: use "cpuSample": "50ms"`,
		`harvester.linger_ms is deprecated: use "linger": "250ms"`,
		`harvester.max_rx_usecs is deprecated: use "maxRxUsecs"`,
		`harvester.state_file is deprecated: use "stateFile"`,
		`harvester.profiles[0].pkt_size is deprecated: use "pktSize"`,
		`harvester.profiles[0].rx_usecs is deprecated: use "rxUsecs"`,
		`harvester.qos.max_drop_rate is deprecated: use "maxDropRate"`,
		`harvester.qos.min_backoff_ms is deprecated: use "minBackoff": "2s"`,
		`harvester.qos.sample_ms is deprecated: use "sample": "250ms"`,
	}, co.Warnings())
	h := co.HarvesterConfig()
	assert.Equal(t, 250*time.Millisecond, h.Linger)
	assert.Equal(t, 2*time.Second, h.QoS.MinBackoff)
	assert.Equal(t, uint32(30), h.Profiles[0].RxUsecs)
}

// "0s" means no linger; the old linger_ms -1 meant the same, and 0 meant the default.
func TestHarvesterLingerZeroMeansNone(t *testing.T) {
	load := func(harvester string) *Config {
		p := writeFile(t, "c.json", `{"invoker": {"id": 0, "listenHost": "127.0.0.1"}, "kafka": {"embedded": true}, "store": {"kind": "file", "path": "/x"},
			"runtimes": {"manifest": `+smallManifest+`}, "harvester": `+harvester+`}`)
		c, err := Load([]string{"--config", p}, envFunc(nil))
		require.NoError(t, err)
		return c
	}
	assert.Equal(t, time.Duration(-1), load(`{"linger": "0s"}`).HarvesterConfig().Linger, "negative: none")
	assert.Equal(t, time.Duration(-1), load(`{"linger_ms": -1}`).HarvesterConfig().Linger)
	assert.Equal(t, 200*time.Millisecond, load(`{"linger_ms": 0}`).HarvesterConfig().Linger, "the default")
	assert.Equal(t, 200*time.Millisecond, load(`{}`).HarvesterConfig().Linger)
}
