package itest

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

func TestClassifyAck(t *testing.T) {
	for _, c := range []struct {
		name, raw, kind, aid string
	}{
		{"result carries the activation", `{"transid":[],"response":{"activationId":"a1"}}`, AckResult, "a1"},
		{"completion names the id", `{"transid":[],"activationId":"a2","instance":{},"isSystemError":false}`, AckCompletion, "a2"},
		{"combined carries the activation", `{"response":{"activationId":"a3"},"instance":{}}`, AckCombined, "a3"},
		{"combined shrunk to the id", `{"response":"a4","instance":{}}`, AckCombined, "a4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := ClassifyAck([]byte(c.raw))
			require.NoError(t, err)
			require.Equal(t, c.kind, a.Kind)
			require.Equal(t, c.aid, a.AID)
			require.Equal(t, c.raw, string(a.Raw))
			require.Equal(t, c.kind != AckResult, a.SlotFree())
		})
	}
	for _, raw := range []string{
		`not json`,
		`{"instance":{}}`,                         // completion without activationId
		`{"response":{"result":{}}}`,              // activation without id
		`{"response":{"activationId":""}}`,        // empty id
		`{"response":42,"instance":{"x":"y"}}`,    // neither an id nor an activation
		`["an","array","is","not","an","object"]`, // not an object
	} {
		_, err := ClassifyAck([]byte(raw))
		require.Error(t, err, "%s", raw)
	}
}

func TestSlotFreeCounts(t *testing.T) {
	acks := []Ack{{Kind: AckResult, AID: "a"}, {Kind: AckCompletion, AID: "a"}, {Kind: AckCombined, AID: "b"},
		{Kind: AckCompletion, AID: "b"}, {Kind: AckResult, AID: "c"}}
	require.Equal(t, map[string]int{"a": 1, "b": 2}, SlotFreeCounts(acks))
}

func TestJournalWaitFor(t *testing.T) {
	var j Journal[int]
	require.False(t, j.WaitFor(20*time.Millisecond, func(v []int) bool { return len(v) > 0 }), "nothing appended yet")
	go func() {
		for i := range 3 {
			time.Sleep(5 * time.Millisecond)
			j.Append(i)
		}
	}()
	require.True(t, j.WaitFor(5*time.Second, func(v []int) bool { return len(v) == 3 }))
	require.Equal(t, []int{0, 1, 2}, j.Snapshot())
}

func TestAckLogKeepsBadRecordsApart(t *testing.T) {
	var l AckLog
	for _, raw := range []string{`{"response":"a1","instance":{}}`, `garbage`, `{"activationId":"a2","instance":{}}`} {
		l.Add(consumerMessage(raw))
	}
	acks, bad := l.Snapshot()
	require.Len(t, acks, 2)
	require.Len(t, bad, 1)
	require.Contains(t, bad[0], "garbage")
	require.Equal(t, []string{AckCombined}, Kinds(l.ForID("a1")))
	require.Equal(t, []string{AckCompletion}, Kinds(l.ForID("a2")))
	require.Empty(t, l.ForID("a3"))
}

func consumerMessage(raw string) *sarama.ConsumerMessage {
	return &sarama.ConsumerMessage{Value: []byte(raw)}
}

func TestParseMetrics(t *testing.T) {
	body := "# HELP nemo_x help\n# TYPE nemo_x gauge\nnemo_x 1\nnemo_y{knob=\"nic:a b\"} 2.5\n\nnemo_bad NaNish\nnovalue\n"
	samples, malformed := ParseMetrics(body)
	require.Equal(t, map[string]float64{"nemo_x": 1, `nemo_y{knob="nic:a b"}`: 2.5}, samples)
	require.Equal(t, []string{"nemo_bad NaNish", "novalue"}, malformed)
}

func TestActivationMarshal(t *testing.T) {
	rev := "3-abc"
	b, err := Activation{Action: "hello", AID: "0123", TransID: TransID("tid"), Revision: &rev, Blocking: true,
		Content: map[string]any{"name": "x"}, Controller: "7"}.Marshal()
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	require.JSONEq(t, `{"path":"guest","name":"hello","version":"0.0.1"}`, string(m["action"]))
	require.JSONEq(t, `{"asString":"7","instanceType":"controller"}`, string(m["rootControllerIndex"]))
	require.Equal(t, `"3-abc"`, string(m["revision"]))
	require.Equal(t, `"0123"`, string(m["activationId"]))
	require.Equal(t, "true", string(m["blocking"]))
	require.JSONEq(t, `{"name":"x"}`, string(m["content"]))
	var tid []json.RawMessage
	require.NoError(t, json.Unmarshal(m["transid"], &tid))
	require.Len(t, tid, 2)
	require.Equal(t, `"tid"`, string(tid[0]))

	b, err = Activation{Action: "hello", AID: "0123", TransID: TransID("tid")}.Marshal()
	require.NoError(t, err)
	m = nil
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, "null", string(m["revision"]), "no revision: null, the invoker reads the latest")
	require.NotContains(t, m, "content", "nil content is left out")
}

func TestInvokerEnvReplacesAmbientConfiguration(t *testing.T) {
	t.Setenv("CONFIG_whisk_stale", "1")
	t.Setenv("NEMO_KAFKA", "127.0.0.1:1")
	t.Setenv("KAFKA_HOSTS", "elsewhere:9092")
	t.Setenv("ITEST_KEEP_ME", "yes")
	u, err := url.Parse("http://user:secret@127.0.0.1")
	require.NoError(t, err)
	env := InvokerEnv{Kafka: "127.0.0.1:9092", Couch: u, DBPrefix: "p_", Port: 8085}.Environ()
	got := map[string][]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	require.NotContains(t, got, "CONFIG_whisk_stale")
	require.NotContains(t, got, "NEMO_KAFKA")
	require.Equal(t, []string{"yes"}, got["ITEST_KEEP_ME"])
	require.Equal(t, []string{"127.0.0.1:9092"}, got["KAFKA_HOSTS"], "the ambient KAFKA_HOSTS is replaced, not doubled")
	require.Equal(t, []string{"5984"}, got["CONFIG_whisk_couchdb_port"], "CouchDB's port when the URL has none")
	require.Equal(t, []string{"user"}, got["CONFIG_whisk_couchdb_username"])
	require.Equal(t, []string{"secret"}, got["CONFIG_whisk_couchdb_password"])
	require.Equal(t, []string{"p_activations"}, got["CONFIG_whisk_couchdb_databases_WhiskActivation"])
	require.Equal(t, []string{"8085"}, got["PORT"])
	require.Equal(t, []string{UserMemory}, got["CONFIG_whisk_containerPool_userMemory"])
}

func TestProcLifecycle(t *testing.T) {
	dir := t.TempDir()
	// sleeper starts `sleep 30`, logging to dir/<log>.
	sleeper := func(t *testing.T, log string) *Proc {
		return Spawn(t, ProcSpec{Name: "sleep", Bin: "/bin/sleep", Args: []string{"30"}, LogPath: filepath.Join(dir, log)})
	}
	t.Run("exit code and separate stdout", func(t *testing.T) {
		p := Spawn(t, ProcSpec{Name: "sh", Bin: "/bin/sh", Args: []string{"-c", "echo out; echo err >&2; exit 3"},
			Dir: dir, OutPath: filepath.Join(dir, "a.out"), LogPath: filepath.Join(dir, "a.err")})
		require.True(t, p.WaitExit(10*time.Second))
		require.Equal(t, 3, p.ExitCode())
		require.Equal(t, []string{"out"}, ReadLines(p.OutPath))
		require.Equal(t, []string{"err"}, ReadLines(p.LogPath))
		require.Contains(t, p.Describe(), "exit status 3")
	})
	t.Run("terminate", func(t *testing.T) {
		p := sleeper(t, "b.log")
		require.False(t, p.Exited())
		require.Equal(t, -1, p.ExitCode(), "still running")
		require.NoError(t, p.Terminate(10*time.Second))
		require.True(t, p.Exited())
		require.ErrorIs(t, p.Terminate(time.Second), os.ErrProcessDone, "a second SIGTERM finds the process gone")
	})
	t.Run("terminate kills what ignores SIGTERM", func(t *testing.T) {
		p := Spawn(t, ProcSpec{Name: "stubborn", Bin: "/bin/sh", Args: []string{"-c", "trap '' TERM; echo ready; exec sleep 30"},
			LogPath: filepath.Join(dir, "c.log")})
		for deadline := time.Now().Add(10 * time.Second); len(ReadLines(p.LogPath)) == 0; time.Sleep(10 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "the shell did not start")
		}
		err := p.Terminate(200 * time.Millisecond)
		require.ErrorContains(t, err, "did not exit")
		require.True(t, p.Exited(), "killed after the grace")
	})
	t.Run("kill", func(t *testing.T) {
		p := sleeper(t, "d.log")
		require.NoError(t, p.Kill())
		require.Equal(t, -1, p.ExitCode(), "killed by a signal")
		require.Error(t, p.Kill(), "nothing left to kill")
	})
	t.Run("wait ready sees the exit", func(t *testing.T) {
		p := Spawn(t, ProcSpec{Name: "false", Bin: "/bin/false", LogPath: filepath.Join(dir, "e.log")})
		err := WaitReady(p, "http://127.0.0.1:1/ping", 10*time.Second)
		require.ErrorIs(t, err, ErrExited)
	})
	t.Run("wait ready times out", func(t *testing.T) {
		p := sleeper(t, "f.log")
		defer func() { _ = p.Kill() }()
		err := WaitReady(p, "http://127.0.0.1:1/ping", 300*time.Millisecond)
		require.Error(t, err)
		require.False(t, errors.Is(err, ErrExited))
		require.Contains(t, err.Error(), "did not answer")
	})
}

func TestLogFile(t *testing.T) {
	t.Setenv("NEMO_IT_LOGDIR", "")
	require.Equal(t, filepath.Join("/d", "x.log"), LogFile("/d", "x.log"))
	t.Setenv("NEMO_IT_LOGDIR", "/keep")
	require.Equal(t, filepath.Join("/keep", "x.log"), LogFile("/d", "x.log"))
}
