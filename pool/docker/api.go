package docker

import (
	"context"
	"errors"
	"fmt"

	"io"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// API is the slice of the Docker Engine API the backend uses; *client.Client implements it, unit tests fake it.
type API interface {
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig,
		networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, id string, options container.StartOptions) error
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerLogs(ctx context.Context, id string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerPause(ctx context.Context, id string) error
	ContainerUnpause(ctx context.Context, id string) error
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}

var _ API = (*client.Client)(nil)

// NewClient connects to the engine named by the environment (DOCKER_HOST, default the local socket) and
// negotiates the API version down to the daemon's (Debian's 20.10 engine speaks 1.41).
func NewClient(opts ...client.Opt) (*client.Client, error) {
	all := append([]client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}, opts...)
	c, err := client.NewClientWithOpts(all...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	return c, nil
}

// Sentinel errors; callers test with errors.Is.
var (
	// ErrImageNotFound: the image of the spec is not present locally (no registry pulls are made).
	ErrImageNotFound = errors.New("docker: image not found")
	// ErrStart: the container was created but could not be started or inspected; it has been removed.
	ErrStart = errors.New("docker: container did not start")
	// ErrForeignHandle: a pool.Handle not created by this backend.
	ErrForeignHandle = errors.New("docker: handle not created by this backend")
	// ErrFreezer: the cgroup freezer failed or did not reach the wanted state in time.
	ErrFreezer = errors.New("docker: freezer")
	// ErrBadName: the container name is not a valid Docker name.
	ErrBadName = errors.New("docker: invalid container name")
	// ErrEngine: the Docker engine does not answer (see Backend.Reachable); class errdefs.ErrUnavailable, as
	// the stores' and Kafka's unavailability.
	ErrEngine = fmt.Errorf("docker: engine %w", cerrdefs.ErrUnavailable)
)
