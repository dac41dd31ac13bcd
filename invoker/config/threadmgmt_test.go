package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scheduler.threadManagement defaults to true (pre-warms in flight are frozen for a conflicting
// invocation); false reaches the function controller as NoThreadManagement.
func TestSchedulerThreadManagement(t *testing.T) {
	base := `{"invoker":{"id":0,"listenHost":"127.0.0.1"},"kafka":{"embedded":true},"store":{"kind":"file","path":"/x"},"runtimes":{"manifest":` +
		smallManifest + `}`
	for _, c := range []struct {
		name, section string
		want          bool
	}{
		{"default", ``, true},
		{"explicit true", `,"scheduler":{"threadManagement":true}`, true},
		{"false", `,"scheduler":{"threadManagement":false}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "c.json", base+c.section+`}`)
			cfg, err := Load([]string{"--config", p}, envFunc(nil))
			require.NoError(t, err)
			assert.Equal(t, c.want, cfg.Scheduler.ThreadManagement)
			assert.Equal(t, !c.want, cfg.SchedulerConfig().Controller.NoThreadManagement)
		})
	}
	_, err := Load([]string{"--config", writeFile(t, "bad.json", base+`,"scheduler":{"threadManagement":"sometimes"}}`)}, envFunc(nil))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "scheduler.threadManagement")
}
