package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeAPI is a hand-written Docker API fake: canned results, optional per-call hooks, call counters.
// A hook that blocks on ctx models a hung daemon.
type fakeAPI struct {
	mu    sync.Mutex
	calls map[string]int

	created   []createCall
	removed   []string
	paused    []string
	unpaused  []string
	logsOpts  []container.LogsOptions
	inspect   map[string]container.InspectResponse
	list      []container.Summary
	createErr error
	startErr  error
	removeErr map[string]error

	hangOn    map[string]bool // calls that block until their ctx ends (a hung daemon)
	onCreate  func(ctx context.Context) error
	onInspect func(ctx context.Context, id string) error
	onLogs    func(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error)
	// listErr, when set, fails ContainerList (an engine that does not answer).
	listErr func() error
	// onEvents answers Events; by default the stream stays silent until ctx ends.
	onEvents   func(ctx context.Context, o events.ListOptions) (<-chan events.Message, <-chan error)
	eventsOpts []events.ListOptions
}

type createCall struct {
	Config *container.Config
	Host   *container.HostConfig
	Name   string
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{calls: map[string]int{}, inspect: map[string]container.InspectResponse{}, removeErr: map[string]error{},
		hangOn: map[string]bool{}}
}

// count records a call and reports a hang if the call is configured to hang.
func (f *fakeAPI) count(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[name]++
}

func (f *fakeAPI) hang(ctx context.Context, name string) error {
	f.mu.Lock()
	h := f.hangOn[name]
	f.mu.Unlock()
	if h {
		return blockUntilDone(ctx)
	}
	return nil
}

func (f *fakeAPI) callCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeAPI) ContainerCreate(ctx context.Context, cfg *container.Config, hc *container.HostConfig,
	_ *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.count("create")
	if err := f.hang(ctx, "create"); err != nil {
		return container.CreateResponse{}, err
	}
	if f.onCreate != nil {
		if err := f.onCreate(ctx); err != nil {
			return container.CreateResponse{}, err
		}
	}
	if f.createErr != nil {
		return container.CreateResponse{}, f.createErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, createCall{Config: cfg, Host: hc, Name: name})
	id := fmt.Sprintf("%064d", len(f.created))
	if _, ok := f.inspect[id]; !ok {
		f.inspect[id] = inspectRunning(id, 0, "127.0.0.1", "32768")
	}
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeAPI) ContainerStart(ctx context.Context, id string, _ container.StartOptions) error {
	f.count("start")
	if err := f.hang(ctx, "start"); err != nil {
		return err
	}
	return f.startErr
}

func (f *fakeAPI) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	f.count("inspect")
	if err := f.hang(ctx, "inspect"); err != nil {
		return container.InspectResponse{}, err
	}
	if f.onInspect != nil {
		if err := f.onInspect(ctx, id); err != nil {
			return container.InspectResponse{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.inspect[id]
	if !ok {
		return r, notFound("container " + id)
	}
	return r, nil
}

func (f *fakeAPI) ContainerRemove(ctx context.Context, id string, o container.RemoveOptions) error {
	f.count("remove")
	if err := f.hang(ctx, "remove"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.removeErr[id]; err != nil {
		return err
	}
	if !o.Force {
		return errors.New("fake: remove without force")
	}
	f.removed = append(f.removed, id)
	return nil
}

func (f *fakeAPI) ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error) {
	f.count("list")
	if err := f.hang(ctx, "list"); err != nil {
		return nil, err
	}
	if !o.All {
		return nil, errors.New("fake: list without All")
	}
	name := o.Filters.Get("name")
	f.mu.Lock()
	list, listErr := f.list, f.listErr
	f.mu.Unlock()
	if listErr != nil {
		if err := listErr(); err != nil {
			return nil, err
		}
	}
	var out []container.Summary
	for _, s := range list {
		for _, n := range s.Names {
			if len(name) == 1 && strings.Contains(n, name[0]) { // Docker's name filter matches substrings
				out = append(out, s)
				break
			}
		}
	}
	return out, nil
}

func (f *fakeAPI) ContainerLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	f.count("logs")
	f.mu.Lock()
	f.logsOpts = append(f.logsOpts, o)
	f.mu.Unlock()
	if f.onLogs != nil {
		return f.onLogs(ctx, id, o)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

func (f *fakeAPI) Events(ctx context.Context, o events.ListOptions) (<-chan events.Message, <-chan error) {
	f.count("events")
	f.mu.Lock()
	f.eventsOpts = append(f.eventsOpts, o)
	hook := f.onEvents
	f.mu.Unlock()
	if hook != nil {
		return hook(ctx, o)
	}
	errs := make(chan error, 1)
	go func() { <-ctx.Done(); errs <- ctx.Err() }()
	return make(chan events.Message), errs
}

func (f *fakeAPI) ContainerPause(ctx context.Context, id string) error {
	f.count("pause")
	if err := f.hang(ctx, "pause"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = append(f.paused, id)
	return nil
}

func (f *fakeAPI) ContainerUnpause(ctx context.Context, id string) error {
	f.count("unpause")
	if err := f.hang(ctx, "unpause"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unpaused = append(f.unpaused, id)
	return nil
}

func notFound(what string) error { return fmt.Errorf("No such %s: %w", what, cerrdefs.ErrNotFound) }

func inspectRunning(id string, pid int, hostIP, hostPort string) container.InspectResponse {
	r := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID:    id,
			State: &container.State{Status: "running", Running: true, Pid: pid},
		},
		NetworkSettings: &container.NetworkSettings{},
	}
	r.NetworkSettings.Ports = nat.PortMap{proxyPort: {{HostIP: hostIP, HostPort: hostPort}}}
	return r
}

// blockUntilDone models a daemon that never answers.
func blockUntilDone(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
