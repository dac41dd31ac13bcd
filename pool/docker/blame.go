package docker

import (
	"strings"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// startStage is where a container start failed.
type startStage int

const (
	// stageCreate: the engine refused to create the container (no container exists).
	stageCreate startStage = iota
	// stageStart: the container was created but the engine could not start its process.
	stageStart
	// stageExited: the process started but stopped by itself before the container was ready.
	stageExited
)

// blameStart is the activation response of a failed container start, classified as OpenWhisk's Docker
// container factory and container proxy classify it: a developer error when the user's image is at fault,
// a whisk error (the invoker's trouble, which counts against its health at the controller) otherwise.
//
// OpenWhisk pulls a blackbox image before `docker run`; NEMO never pulls, and an image present in the
// engine counts as a successful pull. So:
//
//   - image missing: a blackbox image could not be pulled (whatever its tag: a "latest" pull failure fails
//     the start at once, any other tag is tried locally and fails the same way) → developer error
//     "Failed to pull container image '<image>'."; a managed runtime's image is the operator's → whisk error;
//   - any other refusal to create the container (the engine's own failure, exit status 125) → whisk error;
//   - the process cannot be found in the image (exit status 127: "executable file not found", or the
//     runtime's `exec: "<path>": … no such file or directory`) → developer error "executable file not found
//     in image <image>";
//   - any other start failure (126: permission denied, 125) → whisk error, the image having been pulled;
//   - the process exits at once: for a blackbox image its /init can only fail on a connection error →
//     developer error "The action did not initialize and exited unexpectedly."; a managed runtime that
//     dies before it is given any code is the operator's image → whisk error.
func blameStart(kind, image string, stage startStage, err error) proxy.Response {
	blackbox := kind == "blackbox"
	provision := proxy.ErrorResponse(proxy.StatusWhiskError, proxy.MsgProvisionFailed)
	switch stage {
	case stageCreate:
		if blackbox && cerrdefs.IsNotFound(err) {
			return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgImagePullFailed(image))
		}
	case stageStart:
		if commandNotFound(errText(err)) {
			return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgCommandNotFound(image))
		}
	case stageExited:
		if blackbox {
			return proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalInit)
		}
	}
	return provision
}

// commandNotFound reports whether the runtime could not find the container's process in the image (exit
// status 127). "no such file or directory" counts only in the runtime's exec message: the engine's own
// file errors (its state store while it stops, say) are not the image's fault.
func commandNotFound(msg string) bool {
	if strings.Contains(msg, "executable file not found") {
		return true
	}
	return strings.Contains(msg, `exec: "`) && strings.Contains(msg, "no such file or directory")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
