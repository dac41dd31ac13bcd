package itest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	actionImageOnce sync.Once
	actionImage     string
	actionImageErr  error
)

// BuildActionImage builds this checkout's action proxy and test action into a FROM-scratch image like
// nemo/action-go (the test action is its blackbox default) and returns its tag,
// nemo-it/action-go:<hash of the binaries>, with the action directory under /tmp (so it also runs on a
// read-only root filesystem). Tests that need the test action's newest behaviours use it,
// so they do not depend on which checkout last built nemo/action-go. Built once per test binary; an
// image with the same hash is reused.
func BuildActionImage(t testing.TB) string {
	t.Helper()
	actionImageOnce.Do(func() { actionImage, actionImageErr = buildActionImage() })
	if actionImageErr != nil {
		t.Fatal(actionImageErr)
	}
	return actionImage
}

func buildActionImage() (string, error) {
	dir, err := os.MkdirTemp("", "nemo-it-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	h := sha256.New()
	for _, b := range []struct{ name, pkg string }{
		{"actionproxy", "github.com/nemo-edge/nemo/integration/actionproxy/cmd/actionproxy"},
		{"testaction", "github.com/nemo-edge/nemo/integration/actionproxy/testaction"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, b.name), b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
		f, err := os.Open(filepath.Join(dir, b.name))
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	tag := "nemo-it/action-go:" + hex.EncodeToString(h.Sum(nil))[:16]
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return tag, nil
	}
	dockerfile := "FROM scratch\nCOPY actionproxy testaction /bin/\n" +
		"ENV OW_LISTEN=:8080 OW_ACTION_DIR=/tmp/action OW_WAIT_FOR_ACK=1 OW_DEFAULT_EXEC=/bin/testaction\n" +
		"EXPOSE 8080\nENTRYPOINT [\"/bin/actionproxy\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	return tag, dockerBuild(tag, dir, nil)
}

// BuildImage builds an image from a Dockerfile without context (its FROM must be present locally; no
// registry is reached) and removes it when the test ends.
func BuildImage(t testing.TB, tag, dockerfile string) {
	t.Helper()
	if err := dockerBuild(tag, "-", strings.NewReader(dockerfile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
}

// dockerBuild runs the legacy builder (no buildx here) on context dir ("-": the Dockerfile on stdin).
func dockerBuild(tag, dir string, stdin io.Reader) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build %s: %w\n%s", tag, err, out)
	}
	return nil
}
