package docker

import (
	"errors"
	"fmt"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// Every start failure against OpenWhisk's classification (DockerContainer.create: the pull, `docker run`'s
// exit status 125/126/127, the IP inspection; ContainerProxy: BlackboxStartupError is a developer error,
// WhiskContainerStartupError and anything else a whisk error). NEMO never pulls: an image present in the
// engine stands for a successful pull.
func TestBlameStartFollowsOpenWhisk(t *testing.T) {
	const img = "user/img:1.0"
	missing := fmt.Errorf("No such image: %s: %w", img, cerrdefs.ErrNotFound)
	dev := func(msg string) proxy.Response { return proxy.ErrorResponse(proxy.StatusDeveloperError, msg) }
	whisk := proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgProvisionFailed)
	cases := []struct {
		name  string
		kind  string
		stage startStage
		err   error
		want  proxy.Response
	}{
		// Pull: "latest" (or no tag) fails at once; another tag falls back to `docker run`, which fails too.
		{"blackbox image missing", "blackbox", stageCreate, missing, dev(proxy.MsgImagePullFailed(img))},
		{"managed runtime image missing", "nodejs:20", stageCreate, missing, whisk},
		// `docker run` exit 125 without a container (the engine's own refusal) after a good pull.
		{"blackbox create refused by the engine", "blackbox", stageCreate,
			fmt.Errorf("no command specified: %w", cerrdefs.ErrInvalidArgument), whisk},
		{"engine unreachable", "blackbox", stageCreate, fmt.Errorf("dial unix: %w", cerrdefs.ErrUnavailable), whisk},
		// Exit 127: the entry point is not in the image.
		{"blackbox command not found", "blackbox", stageStart,
			errors.New(`OCI runtime create failed: exec: "/bin/proxy": executable file not found in $PATH`),
			dev(proxy.MsgCommandNotFound(img))},
		{"managed runtime command not found", "python:3", stageStart,
			errors.New(`exec: "/x": stat /x: no such file or directory: unknown`), dev(proxy.MsgCommandNotFound(img))},
		// The engine's own file errors are not the image's (seen while dockerd stops).
		{"engine store failure at start", "blackbox", stageStart,
			errors.New("Error response from daemon: failed to update store for object type *libnetwork.endpoint: open : no such file or directory"),
			whisk},
		// Exit 126 (not matched by OpenWhisk's run) and 125: the image was pulled, so the invoker's trouble.
		{"permission denied", "blackbox", stageStart, errors.New(`exec: "/bin/proxy": permission denied`), whisk},
		{"cgroup failure at start", "blackbox", stageStart, errors.New("OCI runtime create failed: cgroup"), whisk},
		// Started and exited at once: a blackbox /init meets a dead container (connection error).
		{"blackbox exits at start", "blackbox", stageExited, nil, dev(proxy.MsgAbnormalInit)},
		{"managed runtime exits before any code", "nodejs:20", stageExited, nil, whisk},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, blameStart(tc.kind, img, tc.stage, tc.err))
		})
	}
}
