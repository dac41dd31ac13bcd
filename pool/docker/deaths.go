package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/nemo-edge/nemo/pool"
)

var _ pool.DeathWatcher = (*Backend)(nil)

// Reconnect delays of the event stream after the engine went away (a restart takes seconds).
const (
	eventsRetryMin = 200 * time.Millisecond
	eventsRetryMax = 5 * time.Second
	// eventsReplay is how far back a (re)subscription asks the engine to replay events, so that a container
	// stopping between the resync's list and the subscription is still reported.
	eventsReplay = 2 * time.Second
)

// WatchDeaths implements pool.DeathWatcher with the engine's event stream: every "die" event of a container
// whose name starts with prefix+"_" is reported. After each (re)subscription the containers of prefix are
// listed and those already stopped (exited or dead) are reported too: an engine restart stops every
// container without live-restore, and its events are lost with the old stream.
func (b *Backend) WatchDeaths(ctx context.Context, prefix string, died func(name string)) {
	wait := eventsRetryMin
	lost := false
	defer b.lostEngine.Store(nil)
	for ctx.Err() == nil {
		since := b.now().Add(-eventsReplay)
		sctx, cancel := context.WithCancel(ctx)
		msgs, errs := b.api.Events(sctx, events.ListOptions{
			Since:   strconv.FormatInt(since.Unix(), 10),
			Filters: filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("event", string(events.ActionDie))),
		})
		n, err := b.reportStopped(ctx, prefix, died)
		if err == nil {
			b.removeOrphans(ctx)
			b.lostEngine.Store(nil)
			if lost {
				b.log.Info().Int("stopped", n).Msg("Docker event stream restored; stopped containers reported to the pool")
			}
			lost, wait = false, eventsRetryMin
			err = pumpDeaths(sctx, prefix, msgs, errs, died)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if !lost {
			b.log.Warn().Err(err).Msg("lost the Docker event stream; reconnecting")
			lost = true
			since := b.now()
			b.lostEngine.Store(&since)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, eventsRetryMax)
	}
}

// Reachable reports whether the engine answers, as the death watcher last saw it: an error from the
// moment the event stream broke until a reconnection succeeds (nil before watching starts).
func (b *Backend) Reachable() error {
	if since := b.lostEngine.Load(); since != nil {
		return fmt.Errorf("%w: Docker engine unreachable since %s", ErrEngine, since.UTC().Format(time.RFC3339))
	}
	return nil
}

// reportStopped lists the containers of prefix and reports those that are no longer running.
func (b *Backend) reportStopped(ctx context.Context, prefix string, died func(name string)) (int, error) {
	list, err := b.listOwn(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range list {
		if s.State != container.StateExited && s.State != container.StateDead {
			continue // created (still starting), running, paused, restarting, removing
		}
		name, _ := ownName(s.Names, prefix)
		died(name)
		n++
	}
	return n, nil
}

// errEventsClosed: the engine ended the event stream without an error.
var errEventsClosed = errors.New("docker: event stream closed")

// pumpDeaths reports die events until the stream fails or ctx ends.
func pumpDeaths(ctx context.Context, prefix string, msgs <-chan events.Message, errs <-chan error, died func(name string)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-errs:
			if !ok || err == nil {
				return errEventsClosed
			}
			return err
		case m, ok := <-msgs:
			if !ok {
				return errEventsClosed
			}
			if m.Type != events.ContainerEventType || m.Action != events.ActionDie {
				continue
			}
			if name := m.Actor.Attributes["name"]; strings.HasPrefix(name, prefix+"_") {
				died(name)
			}
		}
	}
}
