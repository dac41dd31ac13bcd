//go:build integration

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/docker"
)

// The floors against the real services (scripts/services.sh env names them):
//
//	eval "$(scripts/services.sh env)"; go test -tags integration -run Floor -bench . ./integration/bench/

const floorImage = "nemo/action-go:latest"

func realKafka(tb testing.TB) []string {
	tb.Helper()
	v := os.Getenv("NEMO_KAFKA")
	if v == "" {
		tb.Skip("NEMO_KAFKA not set: no real Kafka broker")
	}
	return strings.Split(v, ",")
}

// floorBackend is a Docker backend whose containers carry a per-process prefix; it skips without Docker or
// the action image, and removes whatever the test left behind.
func floorBackend(tb testing.TB, mode docker.NetworkMode) (*docker.Backend, string) {
	tb.Helper()
	if os.Getenv("NEMO_DOCKER") != "1" {
		tb.Skip("the cold-start floor needs NEMO_DOCKER=1 and a running engine")
	}
	cli, err := docker.NewClient()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.ImageInspect(ctx, floorImage); err != nil {
		tb.Skipf("image %s missing (scripts/build-images.sh): %v", floorImage, err)
	}
	prefix := fmt.Sprintf("nemobenchit%d", os.Getpid())
	b := docker.New(cli, docker.Config{InvokerID: prefix, Mode: mode, UserMemoryMB: 1024}, zerolog.Nop())
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if n, err := b.Cleanup(ctx, prefix); n > 0 || err != nil {
			tb.Errorf("%d floor containers were left behind (cleanup: %v)", n, err)
		}
	})
	return b, prefix
}

func floorSpec() pool.Spec {
	return pool.Spec{Key: pool.Key{Namespace: "guest", Action: "guest/floor"}, Kind: "go:1.22", Image: floorImage,
		MemoryMB: 128, Concurrency: 1}
}

func floorInit() []byte {
	b, _ := json.Marshal(map[string]any{"value": map[string]any{"name": "floor", "main": "main", "binary": false}})
	return b
}

func TestIntegrationBareLoopFloor(t *testing.T) {
	brokers := realKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, version := range []string{"3.9.0", "0.11.0.1"} {
		d, err := BareLoop(ctx, BareOptions{Brokers: brokers, Version: version, N: 1000})
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		t.Logf("bare loop, Kafka protocol %s: 1000 messages in %v (%.0f msg/s)", version, d, 1000/d.Seconds())
	}
}

func TestIntegrationColdStartFloor(t *testing.T) {
	b, prefix := floorBackend(t, docker.NetworkPublish)
	ctx := context.Background()
	ct, err := ColdStart(ctx, b, prefix+"_1_guest_floor", floorSpec(), floorInit(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ct.Create <= 0 || ct.Init <= 0 || ct.Total < ct.Create {
		t.Errorf("timing %+v: create and init must be positive and within the total", ct)
	}
	t.Logf("bare cold start: create %v, init %v, total %v", ct.Create, ct.Init, ct.Total)
}

func TestIntegrationColdStartFloorFailures(t *testing.T) {
	b, prefix := floorBackend(t, docker.NetworkPublish)
	ctx := context.Background()
	missing := floorSpec()
	missing.Image = "nemo/no-such-image:latest"
	if _, err := ColdStart(ctx, b, prefix+"_2_guest_missing", missing, floorInit(), 10*time.Second); err == nil {
		t.Error("a missing image started")
	}
	// An /init body that is not JSON: the proxy refuses it, the floor reports it and removes the container
	// (the cleanup above fails the test if it does not).
	if _, err := ColdStart(ctx, b, prefix+"_3_guest_badinit", floorSpec(), []byte("not json"), 10*time.Second); !errors.Is(err, ErrFloor) {
		t.Errorf("failed /init: %v, want an ErrFloor error", err)
	}
}

// BenchmarkColdStart is the bare create+start+/init floor (no pool, no invoker), with the port published on
// 127.0.0.1 (bridge: veth, netns, iptables, docker-proxy) and with host networking.
func BenchmarkColdStart(b *testing.B) {
	for _, mode := range []docker.NetworkMode{docker.NetworkPublish, docker.NetworkHost} {
		b.Run(string(mode), func(b *testing.B) {
			be, prefix := floorBackend(b, mode)
			var create, init, total []time.Duration
			for i := 0; i < b.N; i++ {
				t, err := ColdStart(context.Background(), be, fmt.Sprintf("%s_%d_guest_cold", prefix, i), floorSpec(), floorInit(), 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				create, init, total = append(create, t.Create), append(init, t.Init), append(total, t.Total)
			}
			b.ReportMetric(float64(Summarize(create).P50.Microseconds())/1000, "create-ms")
			b.ReportMetric(float64(Summarize(init).P50.Microseconds())/1000, "init-ms")
			b.ReportMetric(float64(Summarize(total).P50.Microseconds())/1000, "total-ms")
		})
	}
}
