package harvester

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/safchain/ethtool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RestoreLeftovers works without an enabled harvester or any NF: the invoker calls it at every start.
func TestRestoreLeftoversWithoutAManager(t *testing.T) {
	nic := newFakeNIC("ens1", "veth9")
	nic.state["ens1"] = ethtool.Coalesce{RxCoalesceUsecs: 50}
	nic.unsupported["veth9"] = true
	path := filepath.Join(t.TempDir(), "nic.json")
	sf := &stateFile{path: path}
	require.NoError(t, sf.save(t.Context(), "ens1", ethtool.Coalesce{RxCoalesceUsecs: 3, RxMaxCoalescedFrames: 2}))
	require.NoError(t, sf.save(t.Context(), "veth9", ethtool.Coalesce{RxCoalesceUsecs: 4}))
	require.NoError(t, sf.save(t.Context(), "gone0", ethtool.Coalesce{RxCoalesceUsecs: 5}))

	logs := &syncBuffer{}
	err := RestoreLeftovers(t.Context(), Config{Enabled: false, StateFile: path}, zerolog.New(logs), WithCoalescer(nic))
	require.NoError(t, err)
	assert.Equal(t, ethtool.Coalesce{RxCoalesceUsecs: 3, RxMaxCoalescedFrames: 2}, nic.state["ens1"], "original put back")
	left, err := sf.entries(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"gone0"}, keysOf(left), "restored and unsupported entries leave the file; a failed one stays")
	assert.Contains(t, logs.String(), "restored NIC coalescing left behind by a previous run")
	assert.Contains(t, logs.String(), "without coalescing support; dropping it")
	assert.Contains(t, logs.String(), "keeping the entry for the next start")
	assert.Contains(t, logs.String(), `"component":"harvester"`)
}

func TestRestoreLeftoversNothingToDo(t *testing.T) {
	nic := newFakeNIC("ens1")
	require.NoError(t, RestoreLeftovers(t.Context(), Config{StateFile: filepath.Join(t.TempDir(), "none.json")},
		zerolog.Nop(), WithCoalescer(nic)))
	assert.Zero(t, nic.setCount(), "no state file, no ioctl")
}

func TestRestoreLeftoversRefusesBadInput(t *testing.T) {
	err := RestoreLeftovers(t.Context(), Config{StateFile: "relative.json"}, zerolog.Nop(), WithCoalescer(newFakeNIC()))
	require.ErrorIs(t, err, ErrInvalidConfig)

	path := filepath.Join(t.TempDir(), "nic.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	err = RestoreLeftovers(t.Context(), Config{StateFile: path}, zerolog.Nop(), WithCoalescer(newFakeNIC()))
	require.ErrorIs(t, err, ErrStateFile)
	b, _ := os.ReadFile(path)
	assert.Equal(t, "{not json", string(b), "a corrupt state file is left for the operator")
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
