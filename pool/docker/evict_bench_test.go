//go:build integration

package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/nemo-edge/nemo/pool"
)

// BenchmarkEvict measures what an eviction costs on this machine: Backend.Remove (docker rm -f, thawing
// first) of an initialised idle container, running and frozen by the cgroup freezer, for the action images
// of scripts/build-images.sh. Each iteration creates and initialises a fresh container (untimed), then times:
//
//   - remove-ms: Backend.Remove of the container as it is (running, or frozen);
//   - freed-ms: from the start of that Remove until the container's processes are gone (its init process
//     polled in /proc every 0.2 ms): when its memory is back, the rest is the engine's bookkeeping;
//   - create-beside-remove-ms: Backend.Create of a new container started together with that Remove (what a
//     cold start pays when it does not wait for the eviction to finish), against create-ms;
//   - kill-ms (a second container in the same state): SIGKILL until the engine reports it stopped, the
//     moment its memory is back; its removal after that is timed as rm-after-kill-ms;
//
// and, as the floor measured in the same run, create-ms: Backend.Create (create + start + inspect) of the
// container that is then evicted. remove/create is the ratio the simulator's cost model uses
// (scheduler/sim.EvictionCost cites this benchmark). Run under the shared lock:
//
//	NEMO_DOCKER=1 go test -tags integration -run '^$' -bench Evict -benchtime 10x ./pool/docker/
func BenchmarkEvict(b *testing.B) {
	images := []struct {
		name  string
		image string
		spec  func() pool.Spec
		init  []byte
	}{
		{"go", goImage, func() pool.Spec { return goSpec(256) }, initBody(nil)},
		{"python", pythonImage, func() pool.Spec {
			return pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/py"}, Kind: "python:3", Image: pythonImage, MemoryMB: 256}
		}, pythonInit()},
	}
	for _, img := range images {
		for _, frozen := range []bool{false, true} {
			state := "running"
			if frozen {
				state = "frozen"
			}
			b.Run(img.name+"/"+state, func(b *testing.B) {
				be, cli := itBackend(b, Config{})
				requireImage(b, cli, img.image)
				ctx := context.Background()
				ready := func() (*Container, time.Duration) {
					t0 := time.Now()
					h, err := be.Create(ctx, itName("evict"), img.spec())
					if err != nil {
						b.Fatal(err)
					}
					created := time.Since(t0)
					c := h.(*Container)
					if res := be.Init(ctx, c, img.init, 30*time.Second); !res.OK {
						_ = be.Remove(ctx, c)
						b.Fatalf("init: %s", res.Response.Result)
					}
					if frozen {
						if err := be.Freeze(ctx, c); err != nil {
							_ = be.Remove(ctx, c)
							b.Fatal(err)
						}
					}
					return c, created
				}
				var rm, freed, beside, kill, rmAfter, create []time.Duration
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					c, created := ready()
					k, _ := ready()
					insp, err := cli.ContainerInspect(ctx, c.ID())
					if err != nil || insp.State == nil || insp.State.Pid <= 0 {
						b.Fatalf("inspect %s: %v", c.Name(), err)
					}
					proc := fmt.Sprintf("/proc/%d", insp.State.Pid)
					gone := make(chan time.Time, 1)
					stop := make(chan struct{})
					go func() {
						for {
							if _, err := os.Stat(proc); err != nil {
								gone <- time.Now()
								return
							}
							select {
							case <-stop:
								return
							case <-time.After(200 * time.Microsecond):
							}
						}
					}()
					var next *Container
					created2 := make(chan time.Duration, 1)
					b.StartTimer()
					t0 := time.Now()
					go func() {
						h, err := be.Create(ctx, itName("evict"), img.spec())
						if err != nil {
							created2 <- -1
							return
						}
						d := time.Since(t0)
						next = h.(*Container)
						created2 <- d
					}()
					if err := be.Remove(ctx, c); err != nil {
						b.Fatal(err)
					}
					rm = append(rm, time.Since(t0))
					b.StopTimer()
					select {
					case at := <-gone:
						freed = append(freed, at.Sub(t0))
					case <-time.After(10 * time.Second):
						close(stop)
						b.Fatalf("%s still exists 10 s after its container was removed", proc)
					}
					d := <-created2
					if d < 0 {
						b.Fatal("create beside the removal failed")
					}
					beside = append(beside, d)
					if err := be.Remove(ctx, next); err != nil {
						b.Fatal(err)
					}
					create = append(create, created)
					b.StartTimer()

					b.StopTimer()
					t1 := time.Now()
					if k.frozen {
						// The kill reaches a frozen process only once thawed (cgroup v1 holds signals; Docker's
						// own kill of a paused container unpauses too): the thaw is part of the cost.
						if err := be.Thaw(ctx, k); err != nil {
							b.Fatal(err)
						}
					}
					waitC, errC := cli.ContainerWait(ctx, k.ID(), container.WaitConditionNotRunning)
					if err := cli.ContainerKill(ctx, k.ID(), "KILL"); err != nil {
						b.Fatal(err)
					}
					select {
					case <-waitC:
					case err := <-errC:
						b.Fatal(err)
					}
					kill = append(kill, time.Since(t1))
					t2 := time.Now()
					if err := be.Remove(ctx, k); err != nil {
						b.Fatal(err)
					}
					rmAfter = append(rmAfter, time.Since(t2))
					b.StartTimer()
				}
				b.StopTimer()
				ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
				b.ReportMetric(ms(median(rm)), "remove-ms")
				b.ReportMetric(ms(median(freed)), "freed-ms")
				b.ReportMetric(ms(median(beside)), "create-beside-remove-ms")
				b.ReportMetric(ms(median(kill)), "kill-ms")
				b.ReportMetric(ms(median(rmAfter)), "rm-after-kill-ms")
				b.ReportMetric(ms(median(create)), "create-ms")
				b.ReportMetric(float64(median(rm))/float64(median(create)), "remove/create")
			})
		}
	}
}

func pythonInit() []byte {
	code := "def main(args):\n    return {'ok': True}\n"
	body, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "py", "main": "main", "binary": false, "code": code}})
	return body
}
