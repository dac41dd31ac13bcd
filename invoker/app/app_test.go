package app

import (
	"reflect"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/pool"
)

// Under the function controller the invoker runs the pool the simulator evaluates: no warm-count bound
// or idle timeout of the pool's own, the cold reserve, pause grace and the rest as configured. A plain
// pool (scheduler disabled) keeps what the configuration says.
func TestManagerConfig(t *testing.T) {
	configured := pool.ManagerConfig{Pool: pool.Config{
		UserMemoryMB: 2048, ColdReserveMB: 512, MaxWarm: 6, IdleTimeout: 10 * time.Minute, PauseGrace: 10 * time.Second,
	}}

	controlled := managerConfig(Parts{Pool: configured}).Pool
	if controlled.MaxWarm != -1 || controlled.IdleTimeout >= 0 {
		t.Errorf("under the controller: MaxWarm %d, IdleTimeout %v; want both off (-1)", controlled.MaxWarm, controlled.IdleTimeout)
	}
	if controlled.UserMemoryMB != 2048 || controlled.ColdReserveMB != 512 || controlled.PauseGrace != 10*time.Second {
		t.Errorf("under the controller the memory, reserve and pause grace change: %+v", controlled)
	}

	plain := managerConfig(Parts{Pool: configured, PlainPool: true}).Pool
	if !reflect.DeepEqual(plain, configured.Pool) {
		t.Errorf("plain pool = %+v, want the configured %+v", plain, configured.Pool)
	}
	if configured.Pool.MaxWarm != 6 {
		t.Errorf("managerConfig changed the caller's configuration")
	}
}
