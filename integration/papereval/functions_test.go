package papereval

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hostHarness loads an action the way the image's launcher does (the module at /init, then main per
// request) and prints one JSON line per call.
const hostHarness = `
import importlib.util, json, sys, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("__action__", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
init = time.perf_counter() - t0
for i in range(2):
    t = time.perf_counter()
    r = m.main({})
    print(json.dumps({"init": init, "run": time.perf_counter() - t, "result": r}))
`

// Every workload action loads and answers twice with its own name and identical output, under the host's
// python3 (the image runs the same code under Debian's python3). Timings are printed, not asserted.
func TestActionsRunUnderPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	dir := t.TempDir()
	for _, f := range Functions {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			src, err := f.Source()
			require.NoError(t, err)
			path := filepath.Join(dir, f.File)
			require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, "-c", hostHarness, path).Output()
			require.NoError(t, err, "python3 %s", f.File)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			require.Len(t, lines, 2)
			var first, second struct {
				Init, Run float64
				Result    map[string]any
			}
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
			require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
			require.Equal(t, f.Name, first.Result["function"])
			require.Greater(t, first.Result["init_s"], 0.0, "the action reports its /init time")
			delete(first.Result, "run_s")
			delete(second.Result, "run_s")
			require.Equal(t, first.Result, second.Result, "a warm call repeats the same work")
			t.Logf("%-14s init %6.3f s  run %6.3f s", f.Name, first.Init, first.Run)
		})
	}
}

func TestActionDoc(t *testing.T) {
	for _, f := range Functions {
		a, err := ActionDoc(f, f.Name+"-c1", time.UnixMilli(1700000000000))
		require.NoError(t, err)
		b, err := a.MarshalJSON()
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		require.Equal(t, "guest/"+f.Name+"-c1", doc["_id"])
		exec := doc["exec"].(map[string]any)
		require.Equal(t, "python:3", exec["kind"])
		require.Contains(t, exec["code"], "def main(args)")
		require.Equal(t, float64(256), doc["limits"].(map[string]any)["memory"])
	}
	require.Len(t, EdgeFunctions(), 4)
	require.Len(t, AllFunctions(), 10)
}
