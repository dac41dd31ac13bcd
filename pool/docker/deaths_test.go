package docker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deathLog collects WatchDeaths reports.
type deathLog chan string

func (d deathLog) died(name string) { d <- name }

func (d deathLog) next(t *testing.T) string {
	t.Helper()
	select {
	case n := <-d:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no death reported")
		return ""
	}
}

func (d deathLog) none(t *testing.T) {
	t.Helper()
	select {
	case n := <-d:
		t.Fatalf("unexpected death reported: %s", n)
	default:
	}
}

func dieEvent(name string) events.Message {
	return events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
		Actor: events.Actor{ID: "id-" + name, Attributes: map[string]string{"name": name}}}
}

func watch(t *testing.T, b *Backend, prefix string) deathLog {
	t.Helper()
	d := make(deathLog, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.WatchDeaths(ctx, prefix, d.died)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

func TestWatchDeathsReportsDieEventsOfItsPrefixOnly(t *testing.T) {
	api := newFakeAPI()
	stream := make(chan events.Message)
	api.onEvents = func(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
		return stream, make(chan error)
	}
	d := watch(t, New(api, Config{}, zerolog.Nop()), "wsk0")

	stream <- dieEvent("wsk0_1_guest_hello")
	assert.Equal(t, "wsk0_1_guest_hello", d.next(t))
	stream <- dieEvent("wsk01_2_guest_other")                                             // another invoker's prefix
	stream <- dieEvent("mydb")                                                            // not an action container
	stream <- events.Message{Type: events.ContainerEventType, Action: events.ActionStart, // not a death
		Actor: events.Actor{Attributes: map[string]string{"name": "wsk0_3_guest_x"}}}
	stream <- dieEvent("wsk0_4_guest_hello")
	assert.Equal(t, "wsk0_4_guest_hello", d.next(t), "only dies of prefix+\"_\" are reported")
	d.none(t)

	api.mu.Lock()
	defer api.mu.Unlock()
	require.NotEmpty(t, api.eventsOpts)
	o := api.eventsOpts[0]
	assert.Equal(t, []string{"container"}, o.Filters.Get("type"))
	assert.Equal(t, []string{"die"}, o.Filters.Get("event"))
	assert.NotEmpty(t, o.Since, "a subscription replays recent events")
}

// An engine restart stops every container (no live-restore) and ends the event stream, so the events of
// the restart itself are lost: after every (re)subscription the watcher lists the containers of its prefix
// and reports those stopped — not those still being created or running, nor another prefix's.
func TestWatchDeathsResyncsAfterTheEngineComesBack(t *testing.T) {
	api := newFakeAPI()
	api.list = []container.Summary{
		{Names: []string{"/wsk0_1_guest_a"}, State: container.StateExited},  // stopped by the restart
		{Names: []string{"/wsk0_2_guest_b"}, State: container.StateCreated}, // the pool is still starting it
		{Names: []string{"/wsk0_3_guest_c"}, State: container.StateRunning}, // started after the restart
		{Names: []string{"/wsk00_4_guest_d"}, State: container.StateExited}, // another invoker's
	}
	api.onEvents = func(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
		errs := make(chan error, 1)
		if api.callCount("events") == 1 {
			errs <- errors.New("unexpected EOF") // the first stream breaks: the engine restarted
		} else {
			go func() { <-ctx.Done(); errs <- ctx.Err() }()
		}
		return make(chan events.Message), errs
	}
	b := New(api, Config{}, zerolog.Nop())
	d := make(deathLog, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.WatchDeaths(ctx, "wsk0", d.died)
	}()
	assert.Equal(t, "wsk0_1_guest_a", d.next(t), "resync after the first subscription")
	assert.Equal(t, "wsk0_1_guest_a", d.next(t), "resync after reconnecting")
	assert.Equal(t, 2, api.callCount("events"))
	cancel()
	<-done
	d.none(t)
}

// Reachable follows the event stream: nil while connected, ErrEngine from the moment the stream breaks until
// a reconnection (and its resync) succeeds.
func TestReachableFollowsTheEventStream(t *testing.T) {
	api := newFakeAPI()
	var mu sync.Mutex
	engineUp := true
	var current chan error
	api.listErr = func() error {
		mu.Lock()
		defer mu.Unlock()
		if !engineUp {
			return errors.New("Cannot connect to the Docker daemon")
		}
		return nil
	}
	api.onEvents = func(ctx context.Context, _ events.ListOptions) (<-chan events.Message, <-chan error) {
		errs := make(chan error, 1)
		mu.Lock()
		if engineUp {
			current = errs
		} else {
			errs <- errors.New("connection refused")
		}
		mu.Unlock()
		return make(chan events.Message), errs
	}
	b := New(api, Config{}, zerolog.Nop())
	require.NoError(t, b.Reachable(), "before watching")
	watch(t, b, "wsk0")
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntil("the first subscription", func() bool { mu.Lock(); defer mu.Unlock(); return current != nil })
	require.NoError(t, b.Reachable(), "connected")

	mu.Lock()
	engineUp = false
	current <- errors.New("unexpected EOF") // the engine went away
	mu.Unlock()
	waitUntil("the engine reported unreachable", func() bool { return b.Reachable() != nil })
	require.ErrorIs(t, b.Reachable(), ErrEngine)
	waitUntil("a failed reconnection", func() bool { return api.callCount("events") >= 3 })
	require.ErrorIs(t, b.Reachable(), ErrEngine, "still down while reconnections fail")

	mu.Lock()
	engineUp = true
	mu.Unlock()
	waitUntil("the engine reachable again", func() bool { return b.Reachable() == nil })
}

// Containers whose removal failed while the engine went away (a start that failed, a container the pool
// destroyed; the pool has forgotten both) are removed once the event stream reconnects, and only once.
func TestWatchDeathsRemovesContainersWhoseRemovalFailed(t *testing.T) {
	api := newFakeAPI()
	api.startErr = errors.New("transport is closing: unavailable")
	down := errors.New("Cannot connect to the Docker daemon")
	api.removeErr[fakeID(1)] = down
	api.removeErr["dead"] = down
	b, _ := testBackend(t, api, Config{})
	_, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	require.ErrorIs(t, err, ErrStart)
	require.Error(t, b.Remove(context.Background(), &Container{id: "dead", name: "wsk0_2_guest_hello", http: newProxyClient("127.0.0.1:1", 1)}))
	require.Empty(t, api.removed, "the removals failed")

	api.mu.Lock()
	clear(api.removeErr) // the engine is back
	api.mu.Unlock()
	d := watch(t, b, "wsk0")
	require.Eventually(t, func() bool {
		api.mu.Lock()
		defer api.mu.Unlock()
		return len(api.removed) == 2
	}, 10*time.Second, 10*time.Millisecond, "the orphans are removed once the engine answers")
	api.mu.Lock()
	assert.ElementsMatch(t, []string{fakeID(1), "dead"}, api.removed)
	api.mu.Unlock()
	d.none(t)
	b.orphansMu.Lock()
	assert.Empty(t, b.orphans)
	b.orphansMu.Unlock()
}
