//go:build integration

package filestore

// Runs the seeded sample action in the real test image: the demo's first activation, without the pool.
// Run: NEMO_DOCKER=1 go test -tags integration ./invoker/filestore/...
// Needs nemo/action-go:latest (scripts/build-images.sh).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
)

func TestSeededSampleRunsInTestImage(t *testing.T) {
	if os.Getenv("NEMO_DOCKER") != "1" {
		t.Skip("Docker integration tests need NEMO_DOCKER=1 and a running engine")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", DefaultSampleImage).CombinedOutput(); err != nil {
		t.Skipf("image %s not built (scripts/build-images.sh): %v: %s", DefaultSampleImage, err, bytes.TrimSpace(out))
	}

	s := newTestStore(t)
	id, err := SeedSample(ctx, s, DefaultSampleImage)
	require.NoError(t, err)
	action, err := s.GetAction(ctx, id, "")
	require.NoError(t, err)

	msg, err := wire.ParseActivationMessage([]byte(`{
		"transid":["filestoreit",1717236920000],
		"action":{"path":"guest","name":"hello"},
		"revision":null,
		"user":{"subject":"guest","namespace":{"name":"guest","uuid":"u"},"authkey":{"api_key":"u:k"},"rights":[],"limits":{}},
		"activationId":"0123456789abcdef0123456789abcdef",
		"rootControllerIndex":{"asString":"0","instanceType":"controller"},
		"blocking":true,
		"content":{"name":"NEMO"}}`))
	require.NoError(t, err)
	require.Equal(t, id, msg.Action.DocID())

	name := fmt.Sprintf("filestoreit%d", os.Getpid())
	out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--rm", "--name", name,
		"-p", "127.0.0.1::8080", DefaultSampleImage).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", name).Run()
	})
	out, err = exec.CommandContext(ctx, "docker", "port", name, "8080/tcp").CombinedOutput()
	require.NoError(t, err, "%s", out)
	addr := strings.TrimSpace(strings.Split(string(out), "\n")[0])
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), "published on %q", addr)

	deadline := time.Now().Add(time.Minute).UnixMilli()
	initBody, err := wire.InitBody(msg, action, deadline)
	require.NoError(t, err)
	status, body := postUntilUp(ctx, t, "http://"+addr+"/init", initBody)
	require.Equal(t, http.StatusOK, status, "init: %s", body)

	runBody, err := wire.RunBody(msg, action, deadline)
	require.NoError(t, err)
	status, body = post(ctx, t, "http://"+addr+"/run", runBody)
	require.Equal(t, http.StatusOK, status, "run: %s", body)
	var result struct {
		Greeting     string `json:"greeting"`
		ActivationID string `json:"activation_id"`
	}
	require.NoError(t, json.Unmarshal(body, &result), "%s", body)
	assert.Equal(t, "Hello NEMO!", result.Greeting)
	assert.Equal(t, msg.ActivationID, result.ActivationID)
}

func post(ctx context.Context, t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	status, b, err := tryPost(ctx, url, body)
	require.NoError(t, err)
	return status, b
}

// postUntilUp retries while the container's proxy is not listening yet.
func postUntilUp(ctx context.Context, t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	for {
		status, b, err := tryPost(ctx, url, body)
		if err == nil {
			return status, b
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never answered: %v", url, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tryPost(ctx context.Context, url string, body []byte) (int, []byte, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
