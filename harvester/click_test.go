package harvester

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/clickshm"
)

// The Click element's acknowledgement, as the harvester reads it through clickshm.Writer.Ack: /metrics says
// which NF's Click side never attached, is live (and what burst it applied), stale or detached, and the log
// says each change once.
func TestClickAckMetricsAndLogs(t *testing.T) {
	r := newRig(t, oneNF(t), newFakeNIC("ens1"))
	shm := r.shm.get(fwShm)

	out := samples(r.m)
	assert.Contains(t, out, `nemo_nf_click_reader{nf="fw",state="never"} 1`)
	assert.Contains(t, out, `nemo_nf_click_reader{nf="fw",state="live"} 0`)
	assert.Contains(t, out, `nemo_nf_click_acked{nf="fw"} 0`)
	assert.NotContains(t, out, "nemo_nf_click_applied_burst", "nothing applied by a reader that never attached")
	assert.NotContains(t, r.logs.String(), "never attached", "not yet: the element gets clickNeverGrace to attach")

	r.clock.Advance(clickNeverGrace)
	r.m.observeClick()
	r.m.observeClick()
	assert.Equal(t, 1, strings.Count(r.logs.String(), "the NF's Click side has never attached to its segment"), r.logs.String())

	shm.setAck(clickshm.Ack{ReaderAck: clickshm.ReaderAck{AckSeq: 4, AppliedBurst: 32, ReaderFlags: clickshm.ReaderAttached},
		WriterSeq: 4, Reader: clickshm.ReaderLive, Current: true})
	out = samples(r.m)
	assert.Contains(t, out, `nemo_nf_click_reader{nf="fw",state="never"} 0`)
	assert.Contains(t, out, `nemo_nf_click_reader{nf="fw",state="live"} 1`)
	assert.Contains(t, out, `nemo_nf_click_acked{nf="fw"} 1`)
	assert.Contains(t, out, `nemo_nf_click_applied_burst{nf="fw"} 32`)
	assert.Contains(t, r.logs.String(), "the NF's Click side is attached and acknowledging")
	acks := r.m.ClickAcks()
	require.Len(t, acks, 1)
	assert.Equal(t, "fw", acks[0].NF)
	assert.Equal(t, uint32(32), acks[0].Ack.AppliedBurst)

	shm.setAck(clickshm.Ack{ReaderAck: clickshm.ReaderAck{AckSeq: 4, AppliedBurst: 32, ReaderFlags: clickshm.ReaderAttached},
		WriterSeq: 6, Reader: clickshm.ReaderStale})
	out = samples(r.m)
	assert.Contains(t, out, `nemo_nf_click_reader{nf="fw",state="stale"} 1`)
	assert.Contains(t, out, `nemo_nf_click_acked{nf="fw"} 0`)
	assert.Contains(t, r.logs.String(), "stopped acknowledging")

	shm.setAck(clickshm.Ack{Reader: clickshm.ReaderDetached})
	assert.Contains(t, samples(r.m), `nemo_nf_click_reader{nf="fw",state="detached"} 1`)
	assert.Contains(t, r.logs.String(), "detached from its segment")
}

// An NF configured with cores alone gets no CPU source (its cores' busy time would count the edge functions
// pinned to them): the start-up log says why and /metrics reports accounting off. With a pid it is on.
func TestCPUAccountingOffForCoresOnly(t *testing.T) {
	proc := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(proc, "42"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(proc, "42", "stat"),
		[]byte("42 (click fw) S 1 42 42 0 -1 4194560 0 0 0 0 150 50 0 0 20 0 3 0 100 0 0\n"), 0o644))
	cfg := Config{Enabled: true, StateFile: filepath.Join(t.TempDir(), "nic.json"), NFs: []NFConfig{
		{Name: "fw", Interface: "ens1", Cores: []int{1}},
		{Name: "lb", Interface: "ens2", PID: 42, Cores: []int{2}},
	}}
	logs := &syncBuffer{}
	clock := newFakeClock()
	m, err := New(t.Context(), cfg, zerolog.New(logs), WithCoalescer(newFakeNIC("ens1", "ens2")),
		WithClock(clock), WithProcRoot(proc), WithCounterReader(&fakeCounters{}))
	require.NoError(t, err)
	defer m.Close(t.Context())

	assert.Contains(t, logs.String(), "NF CPU accounting is off for this NF")
	assert.Contains(t, logs.String(), `"nf":"fw"`)
	assert.Contains(t, logs.String(), "only cores [1] are configured")
	assert.NotContains(t, logs.String(), `"nf":"lb","reason"`)

	m.sampleCPU(t.Context())
	clock.Advance(100 * time.Millisecond)
	m.sampleCPU(t.Context())
	out := samples(m)
	assert.Contains(t, out, `nemo_nf_cpu_accounting{nf="fw",source="none"} 0`)
	assert.Contains(t, out, `nemo_nf_cpu_accounting{nf="lb",source="pid"} 1`)
	assert.NotContains(t, out, `nemo_nf_cpu_utilisation{nf="fw"`, "no utilisation for an NF without a CPU source")
	assert.Contains(t, out, `nemo_nf_cpu_utilisation{nf="lb",tag="idle"} 0`)
}
