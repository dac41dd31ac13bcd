package scheduler_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/scheduler"
	"github.com/nemo-edge/nemo/scheduler/schedtest"
)

// scenarioEnv is the scenarios' setup: 1024 MB of 256 MB containers (4 slots), 256 MB cold reserve, warm
// pool of 3, the pool as the controller runs it (scheduler.ControlledPool: no warm-count bound or idle
// timeout of its own) without pause grace (freezing would add a line per container), container operations
// completed by the script. unmanaged turns thread management off (scheduler.Config.NoThreadManagement).
func scenarioEnv(unmanaged bool) *schedtest.Env {
	return schedtest.New(schedtest.Config{
		Pool:       scheduler.ControlledPool(pool.Config{UserMemoryMB: 1024, ColdReserveMB: 256, PauseGrace: -1}),
		Controller: &scheduler.Config{MaxWarm: 3, MinScore: 0.3, NoThreadManagement: unmanaged},
	}, schedtest.Epoch)
}

// TestScenarios replays testdata/*.txt, data-driven files (github.com/cockroachdb/datadriven), through the
// controller and a real pool.Pool coupled by schedtest.Env: each directive (schedtest.DefaultCommands) is
// followed by "----" and the environment's action log for it (the decision's state, the controller's
// commands, the pool's actions, in order). The environment's invariants are checked after every directive.
// Files named unmanaged_*.txt run with thread management off. go test ./scheduler -run TestScenarios
// -rewrite regenerates the expected logs.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if filepath.Ext(path) != ".txt" {
			return
		}
		e := scenarioEnv(strings.HasPrefix(filepath.Base(path), "unmanaged_"))
		datadriven.RunTestAny(t, path, e.Handle)
	})
}
