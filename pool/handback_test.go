package pool

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/pool/proxy"
)

// With NoLocalReschedule a /run that never reached the action returns ErrContainerHealth at once (no second
// container is started for it) and the broken container is still destroyed; nothing counts as a move.
func TestManagerHandsBackRunThatNeverReachedTheAction(t *testing.T) {
	fb := newFakeBackend()
	m := newTestManager(t, testManagerConfig(), fb)
	_, err := m.Run(t.Context(), testJob("a1", "guest/hello", 256, 1), nil)
	require.NoError(t, err)
	var first string
	fb.mu.Lock()
	for n := range fb.live {
		first = n
	}
	fb.runResult = func(name string, body []byte) RunResult {
		if name == first {
			return RunResult{Response: proxy.ErrorResponse(proxy.StatusDeveloperError, proxy.MsgAbnormalRun), Dead: true, Reschedule: true}
		}
		return RunResult{Response: proxy.Response{StatusCode: proxy.StatusSuccess, Result: json.RawMessage(`{"ok":true}`)}}
	}
	fb.mu.Unlock()

	job := testJob("a2", "guest/hello", 256, 1)
	job.NoLocalReschedule = true
	o, err := m.Run(t.Context(), job, nil)
	require.ErrorIs(t, err, ErrContainerHealth)
	assert.Nil(t, o)
	assert.Equal(t, 1, fb.count("create"), "no new container for the handed-back activation")
	eventually(t, "the gone container removed", func() bool {
		fb.mu.Lock()
		defer fb.mu.Unlock()
		_, live := fb.live[first]
		return !live
	})
	assert.Equal(t, ManagerStats{}, m.Stats())
}
