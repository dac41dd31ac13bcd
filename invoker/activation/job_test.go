package activation

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/wire"
)

func jobTestMessage(id, action string) *wire.ActivationMessage {
	ns, name, _ := strings.Cut(action, "/")
	return &wire.ActivationMessage{
		TransID:      wire.NewTransID("tid"+id, 1717236980000),
		Action:       wire.FullyQualifiedName{Path: ns, Name: name},
		User:         wire.Identity{Subject: ns, Namespace: wire.Namespace{Name: ns, UUID: "uuid"}},
		ActivationID: id,
		Content:      json.RawMessage(`{"name":"World"}`),
	}
}

func jobTestAction(action, rev, code string) *wire.Action {
	ns, name, _ := strings.Cut(action, "/")
	return &wire.Action{
		Namespace: ns, Name: name, Rev: rev,
		Exec:   wire.Exec{Kind: "nodejs:20", Code: code},
		Limits: wire.ActionLimits{TimeoutMs: 5000, MemoryMB: 256, LogsMB: 10, Concurrency: 1},
	}
}

var nodeRuntime = &wire.RuntimeKind{Kind: "nodejs:20", Image: "openwhisk/action-nodejs-v20:nightly", SentinelledLogs: true}

func TestJobCarriesTheActivation(t *testing.T) {
	j := &jobs{}
	msg := jobTestMessage("a1", "guest/hello")
	job := j.forActivation(msg, jobTestAction("guest/hello", "1-a", "function main(p) { return p }"), nodeRuntime, zerolog.Nop())
	assert.Equal(t, "a1", job.ID)
	assert.Equal(t, 5*time.Second, job.Timeout)
	assert.Equal(t, int64(10<<20), job.LogLimit)
	assert.True(t, job.SentinelledLogs)
	assert.Equal(t, "openwhisk/action-nodejs-v20:nightly", job.Spec.Image)
	assert.Equal(t, 256, job.Spec.MemoryMB)
	assert.Equal(t, "guest", job.Spec.Key.Namespace)
	deadline := time.UnixMilli(1717236990000)
	init, err := job.InitBody(deadline)
	require.NoError(t, err)
	assert.Contains(t, string(init), `"code":"function main(p) { return p }"`)
	assert.Contains(t, string(init), `"__OW_DEADLINE":"1717236990000"`)
	run, err := job.RunBody(deadline)
	require.NoError(t, err)
	assert.Contains(t, string(run), `"value":{"name":"World"}`)
	assert.Contains(t, string(run), `"activation_id":"a1"`)

	blackbox := jobTestAction("guest/bb", "", "")
	blackbox.Exec = wire.Exec{Kind: "blackbox", Image: "acme/bb:1"}
	assert.Equal(t, "acme/bb:1", j.forActivation(msg, blackbox, nil, zerolog.Nop()).Spec.Image)
}

func TestJobKeyIsTheContentCachedPerRevision(t *testing.T) {
	j := &jobs{}
	msg := jobTestMessage("a1", "guest/hello")
	a1 := jobTestAction("guest/hello", "1-aaa", "function main(p) { return p }")
	b1 := jobTestAction("guest/hello", "1-aaa", "function main(p) { return p }")
	k1 := j.forActivation(msg, a1, nodeRuntime, zerolog.Nop()).Spec.Key
	require.Equal(t, k1, j.forActivation(msg, b1, nodeRuntime, zerolog.Nop()).Spec.Key)
	assert.Equal(t, a1.ContentHash(), k1.ContentHash)

	c2 := jobTestAction("guest/hello", "2-bbb", "function main(p) { return {changed: true} }")
	k2 := j.forActivation(msg, c2, nodeRuntime, zerolog.Nop()).Spec.Key
	assert.NotEqual(t, k1, k2, "a new revision with new code is another function")
	assert.Equal(t, c2.ContentHash(), k2.ContentHash)

	// The cache is keyed by revision: a different content under a cached revision keeps the cached hash.
	d1 := jobTestAction("guest/hello", "1-aaa", "changed behind the revision's back")
	assert.Equal(t, k1, j.forActivation(msg, d1, nodeRuntime, zerolog.Nop()).Spec.Key)

	bound := jobTestMessage("a2", "guest/hello")
	bound.Action.Binding = "other/pkg"
	assert.NotEqual(t, k1, j.forActivation(bound, a1, nodeRuntime, zerolog.Nop()).Spec.Key,
		"containers are not shared across bindings")
}

func TestJobCarriesTheEdgeFunctionCPUSet(t *testing.T) {
	j := &jobs{cpuSetFor: func(docID string) string {
		if docID == "guest/hello" {
			return "2-3"
		}
		return ""
	}}
	a := jobTestAction("guest/hello", "", "x")
	assert.Equal(t, "2-3", j.forActivation(jobTestMessage("a1", "guest/hello"), a, nodeRuntime, zerolog.Nop()).Spec.CPUSet)
	o := jobTestAction("guest/other", "", "x")
	assert.Equal(t, "", j.forActivation(jobTestMessage("b1", "guest/other"), o, nodeRuntime, zerolog.Nop()).Spec.CPUSet)
}
