package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/proxy"
)

// fakeID is the id the fake API gives its n-th created container.
func fakeID(n int) string { return fmt.Sprintf("%064d", n) }

func TestCreatePublishMode(t *testing.T) {
	api := newFakeAPI()
	b, root := testBackend(t, api, Config{})
	fakeV1Cgroup(t, root, fakeID(1), 0)
	h, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(256))
	require.NoError(t, err)
	c := h.(*Container)
	assert.Equal(t, fakeID(1), c.ID())
	assert.Equal(t, "wsk0_1_guest_hello", c.Name())
	assert.Equal(t, "127.0.0.1:32768", c.Addr())
	assert.True(t, c.UsesCgroupFreezer())
	require.Len(t, api.created, 1)
	assert.Equal(t, "wsk0_1_guest_hello", api.created[0].Name)
	assert.Equal(t, int64(256<<20), api.created[0].Host.Memory)
	assert.Equal(t, 1, api.callCount("start"))
	assert.Equal(t, 0, api.callCount("remove"))
	assert.True(t, c.viaAPI, "no readable LogPath: logs through the API")
}

func TestCreateContainerIPMode(t *testing.T) {
	api := newFakeAPI()
	insp := inspectRunning(fakeID(1), 0, "", "")
	insp.NetworkSettings.Networks = map[string]*network.EndpointSettings{"openwhisk_default": {IPAddress: "172.18.0.5"}}
	api.inspect[fakeID(1)] = insp
	b, _ := testBackend(t, api, Config{Mode: NetworkContainerIP, Network: "openwhisk_default"})
	h, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	require.NoError(t, err)
	assert.Equal(t, "172.18.0.5:8080", h.(*Container).Addr())
	assert.Equal(t, container.NetworkMode("openwhisk_default"), api.created[0].Host.NetworkMode)
	assert.False(t, h.(*Container).UsesCgroupFreezer(), "no cgroup in the temp tree")
}

func TestCreateUsesJSONFileWhenReadable(t *testing.T) {
	api := newFakeAPI()
	logPath := filepath.Join(t.TempDir(), "c-json.log")
	require.NoError(t, os.WriteFile(logPath, nil, 0o644))
	insp := inspectRunning(fakeID(1), 0, "127.0.0.1", "40000")
	insp.LogPath = logPath
	api.inspect[fakeID(1)] = insp
	b, _ := testBackend(t, api, Config{})
	h, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	require.NoError(t, err)
	assert.False(t, h.(*Container).viaAPI)
	src, ok := h.(*Container).logs.(*fileSource)
	require.True(t, ok, "logs from the json-file, got %T", h.(*Container).logs)
	assert.Equal(t, logPath, src.path)
	assert.Equal(t, 5*time.Millisecond, src.poll)
}

// A missing image: OpenWhisk pulls a blackbox image first and, whatever its tag, ends with the developer
// error "Failed to pull container image" when neither the pull nor a local copy worked; a managed
// runtime's missing image is the operator's problem.
func TestCreateImageMissing(t *testing.T) {
	cases := []struct {
		kind, image string
		devError    bool
	}{
		{"go:1.22", "nemo/action-go:latest", false},
		{"blackbox", "user/img", true},
		{"blackbox", "registry:5000/user/img:latest", true},
		{"blackbox", "user/img:1.0", true},
		{"blackbox", "registry:5000/user/img", true},
		{"blackbox", "user/img@sha256:" + strings.Repeat("ab", 32), true},
	}
	for _, tc := range cases {
		t.Run(tc.kind+" "+tc.image, func(t *testing.T) {
			api := newFakeAPI()
			api.createErr = notFound("image " + tc.image)
			b, _ := testBackend(t, api, Config{})
			spec := actionSpec(128)
			spec.Kind, spec.Image = tc.kind, tc.image
			_, err := b.Create(context.Background(), "wsk0_1_guest_hello", spec)
			require.ErrorIs(t, err, ErrImageNotFound)
			var ce *pool.CreateError
			assert.Equal(t, tc.devError, errors.As(err, &ce))
			if tc.devError {
				assert.Equal(t, proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgImagePullFailed(tc.image)), ce.Response)
			}
		})
	}
}

func TestCreateStartFailureRemovesContainer(t *testing.T) {
	api := newFakeAPI()
	api.startErr = errors.New("OCI runtime create failed: something")
	b, _ := testBackend(t, api, Config{})
	_, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	assert.ErrorIs(t, err, ErrStart)
	var ce *pool.CreateError
	assert.False(t, errors.As(err, &ce), "a provisioning failure")
	assert.Equal(t, []string{fakeID(1)}, api.removed)

	api2 := newFakeAPI()
	api2.startErr = errors.New(`OCI runtime create failed: exec: "/bin/proxy": executable file not found in $PATH`)
	b2, _ := testBackend(t, api2, Config{})
	_, err = b2.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgCommandNotFound("nemo/action-go:latest")), ce.Response)
	assert.Equal(t, []string{fakeID(1)}, api2.removed)
}

func TestCreateInspectFailureAndNoPortRemoveContainer(t *testing.T) {
	api := newFakeAPI()
	api.onInspect = func(context.Context, string) error { return errors.New("inspect broke") }
	b, _ := testBackend(t, api, Config{})
	_, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	assert.ErrorIs(t, err, ErrStart)
	assert.Equal(t, []string{fakeID(1)}, api.removed)

	api2 := newFakeAPI()
	api2.inspect[fakeID(1)] = inspectRunning(fakeID(1), 0, "0.0.0.0", "") // nothing published
	b2, _ := testBackend(t, api2, Config{})
	_, err = b2.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
	assert.ErrorIs(t, err, ErrStart)
	assert.ErrorContains(t, err, "not published")
	assert.Equal(t, []string{fakeID(1)}, api2.removed)
}

func TestCreateRejectsBadName(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{})
	_, err := b.Create(context.Background(), "no spaces allowed", actionSpec(128))
	assert.ErrorIs(t, err, ErrBadName)
	assert.Equal(t, 0, api.callCount("create"))
}

// Every Docker call is bounded: a daemon that never answers costs DockerTimeout, not forever.
func TestDockerCallsHonourDeadlines(t *testing.T) {
	for _, call := range []string{"create", "start", "inspect"} {
		t.Run("create/"+call, func(t *testing.T) {
			api := newFakeAPI()
			api.hangOn[call] = true
			b, _ := testBackend(t, api, Config{DockerTimeout: 50 * time.Millisecond})
			start := time.Now()
			_, err := b.Create(context.Background(), "wsk0_1_guest_hello", actionSpec(128))
			assert.ErrorContains(t, err, "deadline exceeded")
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
	t.Run("remove", func(t *testing.T) {
		api := newFakeAPI()
		api.hangOn["remove"] = true
		b, _ := testBackend(t, api, Config{DockerTimeout: 50 * time.Millisecond})
		err := b.Remove(context.Background(), &Container{id: "x", name: "x", http: newProxyClient("127.0.0.1:1", 1)})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("cleanup list", func(t *testing.T) {
		api := newFakeAPI()
		api.hangOn["list"] = true
		b, _ := testBackend(t, api, Config{DockerTimeout: 50 * time.Millisecond})
		_, err := b.Cleanup(context.Background(), "wsk0")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("pause fallback", func(t *testing.T) {
		api := newFakeAPI()
		api.hangOn["pause"] = true
		b, _ := testBackend(t, api, Config{FreezeTimeout: 50 * time.Millisecond})
		start := time.Now()
		err := b.Freeze(context.Background(), &Container{id: "x", name: "x", http: newProxyClient("127.0.0.1:1", 1)})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second)
	})
}

func TestFreezeThawThroughCgroup(t *testing.T) {
	api := newFakeAPI()
	b, root := testBackend(t, api, Config{})
	c := &Container{id: "abc", name: "x", http: newProxyClient("127.0.0.1:1", 1), cg: fakeV1Cgroup(t, root, "abc", 0)}
	state := filepath.Join(c.cg.FreezerDir, "freezer.state")
	ctx := context.Background()

	require.NoError(t, b.Freeze(ctx, c))
	assert.Equal(t, "FROZEN", readTrim(t, state))
	require.NoError(t, b.Freeze(ctx, c), "idempotent")
	require.NoError(t, b.Thaw(ctx, c))
	assert.Equal(t, "THAWED", readTrim(t, state))
	require.NoError(t, b.Thaw(ctx, c), "idempotent")
	assert.Equal(t, 0, api.callCount("pause")+api.callCount("unpause"), "never mixed with docker pause")
}

func TestFreezeFallsBackToDockerPause(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{})
	c := &Container{id: "abc", name: "x", http: newProxyClient("127.0.0.1:1", 1)}
	require.NoError(t, b.Freeze(context.Background(), c))
	require.NoError(t, b.Thaw(context.Background(), c))
	assert.Equal(t, []string{"abc"}, api.paused)
	assert.Equal(t, []string{"abc"}, api.unpaused)
}

func TestRemoveThawsFrozenContainer(t *testing.T) {
	api := newFakeAPI()
	b, root := testBackend(t, api, Config{})
	c := &Container{id: "abc", name: "x", http: newProxyClient("127.0.0.1:1", 1), cg: fakeV1Cgroup(t, root, "abc", 0)}
	require.NoError(t, b.Freeze(context.Background(), c))
	require.NoError(t, b.Remove(context.Background(), c))
	assert.Equal(t, "THAWED", readTrim(t, filepath.Join(c.cg.FreezerDir, "freezer.state")))
	assert.Equal(t, []string{"abc"}, api.removed)

	api.removeErr["gone"] = notFound("container gone")
	assert.NoError(t, b.Remove(context.Background(), &Container{id: "gone", name: "gone", http: newProxyClient("127.0.0.1:1", 1)}),
		"already removed is fine")
	api.removeErr["busy"] = errors.New("removal in progress")
	assert.ErrorContains(t, b.Remove(context.Background(), &Container{id: "busy", name: "busy", http: newProxyClient("127.0.0.1:1", 1)}),
		"removal in progress")
}

func TestCleanup(t *testing.T) {
	api := newFakeAPI()
	b, root := testBackend(t, api, Config{})
	frozen := fakeV1Cgroup(t, root, "frozen", 0)
	require.NoError(t, os.WriteFile(filepath.Join(frozen.FreezerDir, "freezer.state"), []byte("FROZEN\n"), 0o644))
	paused := inspectRunning("paused", 0, "", "")
	paused.State.Paused, paused.State.Status = true, "paused"
	exited := inspectRunning("exited", 0, "", "")
	exited.State.Running, exited.State.Status = false, "exited"
	api.inspect["frozen"] = inspectRunning("frozen", 0, "", "")
	api.inspect["paused"] = paused
	api.inspect["exited"] = exited
	api.list = []container.Summary{
		{ID: "frozen", Names: []string{"/wsk0_1_guest_hello"}},
		{ID: "paused", Names: []string{"/wsk0_2_prewarm_go122"}},
		{ID: "exited", Names: []string{"/wsk0_3_guest_bye"}},
		{ID: "foreign1", Names: []string{"/xwsk0_4_other"}},     // substring match only
		{ID: "foreign2", Names: []string{"/mine_wsk0_5_other"}}, // substring match only
		{ID: "foreign3", Names: []string{"/wsk01_6_guest_x"}},   // another invoker
	}
	n, err := b.Cleanup(context.Background(), "wsk0")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.ElementsMatch(t, []string{"frozen", "paused", "exited"}, api.removed)
	assert.Equal(t, []string{"paused"}, api.unpaused)
	assert.Equal(t, "THAWED", readTrim(t, filepath.Join(frozen.FreezerDir, "freezer.state")), "thawed before removal")

	_, err = b.Cleanup(context.Background(), "")
	assert.Error(t, err, "an empty prefix would match everything")
}

func TestCleanupContinuesPastFailures(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{})
	api.list = []container.Summary{
		{ID: "a", Names: []string{"/wsk0_1_x_y"}},
		{ID: "b", Names: []string{"/wsk0_2_x_y"}},
	}
	api.removeErr["a"] = errors.New("device busy")
	n, err := b.Cleanup(context.Background(), "wsk0")
	assert.Equal(t, 1, n)
	assert.ErrorContains(t, err, "device busy")
	assert.Equal(t, []string{"b"}, api.removed)
}

// With the daemon gone (socket missing) every call fails fast instead of hanging.
func TestDeadDaemonSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	cli, err := NewClient(client.WithHost("unix://" + sock))
	require.NoError(t, err)
	defer cli.Close()
	b := New(cli, Config{DockerTimeout: 5 * time.Second}, zerolog.Nop())
	ctx := context.Background()
	start := time.Now()
	_, err = b.Create(ctx, "wsk0_1_guest_hello", actionSpec(128))
	assert.Error(t, err)
	_, err = b.Cleanup(ctx, "wsk0")
	assert.Error(t, err)
	assert.Error(t, b.Remove(ctx, &Container{id: "x", name: "x", http: newProxyClient("127.0.0.1:1", 1)}))
	assert.Error(t, b.Freeze(ctx, &Container{id: "x", name: "x", http: newProxyClient("127.0.0.1:1", 1)}))
	assert.Less(t, time.Since(start), 4*time.Second, "errors, not waits")
}

// A removal already under way (started by a killed invoker) is waited for, not reported as a failure.
func TestCleanupWaitsForRemovalInProgress(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{})
	api.list = []container.Summary{{ID: "dying", Names: []string{"/wsk0_1_x_y"}}}
	api.removeErr["dying"] = fmt.Errorf("removal of container dying is already in progress: %w", cerrdefs.ErrConflict)
	api.inspect["dying"] = inspectRunning("dying", 0, "", "")
	go func() {
		time.Sleep(250 * time.Millisecond)
		api.mu.Lock()
		delete(api.inspect, "dying") // the daemon finished the earlier removal
		api.mu.Unlock()
	}()
	n, err := b.Cleanup(context.Background(), "wsk0")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestCleanupReportsRemovalStuckInProgress(t *testing.T) {
	api := newFakeAPI()
	b, _ := testBackend(t, api, Config{DockerTimeout: 300 * time.Millisecond})
	api.list = []container.Summary{{ID: "stuck", Names: []string{"/wsk0_1_x_y"}}}
	api.removeErr["stuck"] = fmt.Errorf("removal of container stuck is already in progress: %w", cerrdefs.ErrConflict)
	api.inspect["stuck"] = inspectRunning("stuck", 0, "", "")
	_, err := b.Cleanup(context.Background(), "wsk0")
	assert.ErrorContains(t, err, "still being removed")
}

// A container whose process exits right after start (an image that is not an action runtime): its output
// goes with the error, it is removed, and the error says the Manager may try another container.
func TestCreateContainerExitedAtStart(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		status int
		msg    string
	}{
		{"blackbox", proxy.StatusDeveloperError, proxy.MsgAbnormalInit},
		{"go:1.22", proxy.StatusWhiskError, proxy.MsgProvisionFailed},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			api := newFakeAPI()
			logPath := filepath.Join(t.TempDir(), "c-json.log")
			require.NoError(t, os.WriteFile(logPath, []byte(
				`{"log":"usage: not-a-runtime [flags]\n","stream":"stderr","time":"2024-06-01T10:15:20.1Z"}`+"\n"), 0o644))
			insp := inspectRunning(fakeID(1), 0, "127.0.0.1", "")
			insp.State = &container.State{Status: "exited", Running: false, ExitCode: 2}
			insp.LogPath = logPath
			api.inspect[fakeID(1)] = insp
			b, _ := testBackend(t, api, Config{})
			spec := actionSpec(128)
			spec.Kind = tc.kind
			_, err := b.Create(context.Background(), "wsk0_1_guest_hello", spec)
			require.ErrorIs(t, err, pool.ErrExitedAtStart)
			var ce *pool.CreateError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, proxy.ErrorResponse(tc.status, tc.msg), ce.Response)
			assert.Equal(t, []string{"2024-06-01T10:15:20.1Z         stderr: usage: not-a-runtime [flags]"}, ce.Logs)
			assert.Equal(t, []string{fakeID(1)}, api.removed, "nothing left behind")
		})
	}
}
