package harvester

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleConfigValidatesAndTakesDefaults(t *testing.T) {
	c := Config{
		Enabled: true, Linger: 250 * time.Millisecond, StateFile: "/var/lib/nemo/harvester-nic.json",
		NFs: []NFConfig{
			{Name: "firewall", Interface: "ens1f0", PID: 4242, Cores: []int{2, 3}, Shm: "/dev/shm/nemo-firewall"},
			{Name: "nat", Interface: "ens1f1", Cgroup: "/sys/fs/cgroup/cpuacct/nf/nat", Shm: "/dev/shm/nemo-nat"},
		},
		Profiles: []ProfileConfig{{NF: "nat", PktSize: 1500, RxUsecs: 40, Burst: 64}, {NF: "*", PktSize: 512, RxUsecs: 0, Burst: 1}},
		QoS:      QoSConfig{Enabled: true, MaxDropRate: 50},
	}
	require.NoError(t, c.Validate())
	d := c.withDefaults()
	assert.Equal(t, 250*time.Millisecond, d.linger())
	assert.Equal(t, uint32(60), d.MaxRxUsecs)
	assert.Equal(t, 100*time.Millisecond, d.CPUSample)
	assert.Equal(t, time.Second, d.ShmLease)
	assert.Equal(t, 500*time.Millisecond, d.QoS.Sample)
	assert.Equal(t, 5*time.Second, d.QoS.MinBackoff)
	assert.True(t, *d.NICCoalescing)
	assert.Equal(t, 50.0, d.QoS.MaxDropRate)
	assert.Equal(t, 6, d.QoS.RecoverSamples)

	p := NewProfiles(c.Profiles, d.MaxRxUsecs)
	assert.Equal(t, Setting{RxUsecs: 40, Burst: 64}, p.Lookup(Tag{"nat", 1500}))
	assert.Equal(t, Setting{RxUsecs: 50, Burst: 32}, p.Lookup(Tag{"firewall", 1500}))
	assert.Equal(t, Setting{RxUsecs: 0, Burst: 1}, p.Lookup(Tag{"firewall", 512}))
}

func TestLingerDefaults(t *testing.T) {
	assert.Equal(t, 200*time.Millisecond, (&Config{}).linger())
	assert.Equal(t, time.Duration(0), (&Config{Linger: -1}).linger())
	assert.Equal(t, 5*time.Millisecond, (&Config{Linger: 5 * time.Millisecond}).linger())
}

func TestValidateNamesTheField(t *testing.T) {
	base := func() Config {
		return Config{NFs: []NFConfig{{Name: "fw", Interface: "ens1", Shm: "/dev/shm/a"}, {Name: "nat", Interface: "ens2"}}}
	}
	cases := []struct {
		field string
		mut   func(*Config)
	}{
		{"nfs[0].name", func(c *Config) { c.NFs[0].Name = "" }},
		{"nfs[1].name", func(c *Config) { c.NFs[1].Name = "fw" }},
		{"nfs[0].name", func(c *Config) { c.NFs[0].Name = "f w" }},
		{"nfs[1].interface", func(c *Config) { c.NFs[1].Interface = "" }},
		{"nfs[0].interface", func(c *Config) { c.NFs[0].Interface = "a-very-long-interface-name" }},
		{"nfs[0].interface", func(c *Config) { c.NFs[0].Interface = "../eth0" }},
		{"nfs[0].pid", func(c *Config) { c.NFs[0].PID = -3 }},
		{"nfs[0].cgroup", func(c *Config) { c.NFs[0].Cgroup = "relative/cg" }},
		{"nfs[0].cores[1]", func(c *Config) { c.NFs[0].Cores = []int{1, -2} }},
		{"nfs[0].cores", func(c *Config) { c.NFs[0].Cores = []int{1, 1} }},
		{"nfs[0].shm", func(c *Config) { c.NFs[0].Shm = "nemo-fw" }},
		{"nfs[1].shm", func(c *Config) { c.NFs[1].Shm = "/dev/shm/a" }},
		{"linger", func(c *Config) { c.Linger = 2 * time.Minute }},
		{"stateFile", func(c *Config) { c.StateFile = "state.json" }},
		{"maxRxUsecs", func(c *Config) { c.MaxRxUsecs = 5000 }},
		{"shmLease", func(c *Config) { c.ShmLease = 5 * time.Millisecond }},
		{"cpuSample", func(c *Config) { c.CPUSample = time.Millisecond }},
		{"tagWindow", func(c *Config) { c.TagWindow = -1 }},
		{"qos.maxDropRatio", func(c *Config) { c.QoS.MaxDropRatio = 2 }},
		{"qos.maxDropRate", func(c *Config) { c.QoS.MaxDropRate = -1 }},
		{"qos.throughputDrop", func(c *Config) { c.QoS.ThroughputDrop = 1 }},
		{"qos.recoverSamples", func(c *Config) { c.QoS.RecoverSamples = -1 }},
		{"profiles[0].nf", func(c *Config) { c.Profiles = []ProfileConfig{{NF: "dpi", PktSize: 64}} }},
		{"profiles[0].pktSize", func(c *Config) { c.Profiles = []ProfileConfig{{NF: "*", PktSize: 100}} }},
		{"profiles[0].rxUsecs", func(c *Config) { c.Profiles = []ProfileConfig{{NF: "*", PktSize: 1500, RxUsecs: 61}} }},
		{"profiles[0].burst", func(c *Config) { c.Profiles = []ProfileConfig{{NF: "fw", PktSize: 1500, Burst: 2048}} }},
		{"profiles[1]", func(c *Config) { c.Profiles = []ProfileConfig{{NF: "fw", PktSize: 64}, {NF: "fw", PktSize: 64}} }},
	}
	require.NoError(t, func() error { c := base(); return c.Validate() }())
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			c := base()
			tc.mut(&c)
			err := c.Validate()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.field+":")
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{NFs: []NFConfig{{Name: "", Interface: ""}}, Linger: time.Hour}
	err := c.Validate()
	require.Error(t, err)
	var n int
	for _, f := range []string{"nfs[0].name", "nfs[0].interface", "linger"} {
		if strings.Contains(err.Error(), f) {
			n++
		}
	}
	assert.Equal(t, 3, n, err.Error())
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	assert.Len(t, joined.Unwrap(), 3)
}

func TestMaxRxUsecsRaisesTheProfileLimit(t *testing.T) {
	c := Config{MaxRxUsecs: 100, NFs: []NFConfig{{Name: "fw", Interface: "ens1"}},
		Profiles: []ProfileConfig{{NF: "fw", PktSize: 1500, RxUsecs: 90}}}
	assert.NoError(t, c.Validate())
}
