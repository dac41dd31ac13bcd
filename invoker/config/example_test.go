package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
)

// The example configuration ships the pool and controller the simulator evaluates (docs/simulator.md):
// the simulator's NEMO runs scheduler.DefaultConfig on scheduler.ControlledPool(pool.DefaultConfig), so
// every setting of the example that shapes the policy must resolve to those defaults.
func TestExampleShipsTheSimulatedPolicy(t *testing.T) {
	c, err := Load([]string{"--config", filepath.Join("..", "..", "deployments", "config", "nemo.example.json")},
		func(string) string { return "" })
	require.NoError(t, err)
	got, want := c.SchedulerConfig().Controller, scheduler.DefaultConfig()
	assert.Equal(t, want.Tick, got.Tick, "prewarmInterval")
	assert.Equal(t, want.StopAfter, got.StopAfter, "keepAlive")
	assert.Equal(t, want.MinScore, got.MinScore, "minScore")
	assert.Equal(t, want.ReplaceMargin, got.ReplaceMargin, "replaceMargin")
	assert.Equal(t, want.FreeSlotsOnly, got.FreeSlotsOnly, "freeSlotsOnly")
	assert.Equal(t, want.Evict, got.Evict, "evict")
	assert.Equal(t, want.Trim, got.Trim, "trim")
	assert.Equal(t, want.MaxSuspend, got.MaxSuspend, "maxSuspend")
	assert.Equal(t, want.MaxWarm, got.MaxWarm, "pool.maxWarm (the pre-warm pool)")
	assert.Equal(t, want.FailureBackoff, got.FailureBackoff, "failureBackoff")
	assert.Equal(t, scheduler.ExpectedBenefit{Slack: scheduler.DefaultSlack, MinHorizon: scheduler.DefaultMinHorizon},
		got.Score, "score")
	assert.Nil(t, got.Value, "the value of idle containers: the controller's default (KeepValue)")
	assert.Equal(t, scheduler.DefaultHistoryConfig(), got.History, "history")

	p, wantPool := c.PoolConfig().Pool, pool.DefaultConfig()
	assert.Equal(t, wantPool.UserMemoryMB, p.UserMemoryMB, "userMemoryMB")
	assert.Equal(t, wantPool.ColdReserveMB, p.ColdReserveMB, "coldReserveMB")
	assert.Equal(t, wantPool.PauseGrace, p.PauseGrace, "pauseGrace")
	controlled := scheduler.ControlledPool(p)
	assert.Equal(t, -1, controlled.MaxWarm, "the pool's own bound is off under the controller")
	assert.Negative(t, int64(controlled.IdleTimeout), "the pool's idle timeout is off under the controller")
}
