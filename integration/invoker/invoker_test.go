//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/integration/itest"
)

// wantInstance is the InvokerInstanceId every Completion, Combined ack and ping must carry.
func (h *harness) wantInstance() string {
	return fmt.Sprintf(`{"dedicatedNamespaces":[],"instance":%d,"instanceType":"invoker","tags":[],"userMemory":%q}`,
		h.id, userMemoryWire)
}

// canonical re-encodes JSON with sorted keys, to compare values independent of field order.
func canonical(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// checkSlotFreeAck checks what Completion and Combined acks share: the transid bytes, isSystemError and
// the instance (shape of completion-message.json, values of this invoker).
func (h *harness) checkSlotFreeAck(t *testing.T, a itest.Ack, sent activation, systemError bool) {
	t.Helper()
	require.Equal(t, string(sent.TransID), string(a.Fields["transid"]), "transid must be echoed byte-exactly")
	require.Equal(t, fmt.Sprint(systemError), string(a.Fields["isSystemError"]))
	fx := fixture(t, "completion-message.json")
	require.Equal(t, keys(object(t, fx["instance"])), keys(object(t, a.Fields["instance"])), "instance fields")
	require.Equal(t, h.wantInstance(), canonical(t, a.Fields["instance"]))
}

// checkLogLine checks one line of an activation's logs: "%-30s <stream>: <msg>" with an RFC 3339 time.
func checkLogLine(line, stream, msg string) bool {
	if len(line) < 31 {
		return false
	}
	ts := strings.TrimRight(line[:30], " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return false
	}
	return line[30:] == " "+stream+": "+msg
}

// TestAcksRecordsAndWarmReuse: a blocking activation with logs gets a Result (logs []) then a
// Completion, and its record is stored with the action's formatted log lines; the first run is cold
// (initTime), the second warm in the same container; a non-blocking one gets one Completion; a blocking
// one of an action with logs limit 0 gets one Combined ack.
func TestAcksRecordsAndWarmReuse(t *testing.T) {
	svc := itest.NeedServices(t)
	h := newHarness(t, svc, harnessOptions{})
	itest.SeedAction(t, h.store, "hello", 256, 10)
	itest.SeedAction(t, h.store, "nolog", 256, 0)
	p := h.start()

	resultFx := fixture(t, "result-message.json")
	resultActFx := object(t, resultFx["response"])
	combinedFx := fixture(t, "combined-completion.json")
	completionFx := fixture(t, "completion-message.json")
	recordFx := fixture(t, "activation-record-success.json")
	coldAnnotations := keys(annotations(t, resultActFx["annotations"])) // limits path kind timeout initTime waitTime

	// checkSplit checks a blocking activation answered Result then Completion and returns the Result's
	// activation.
	checkSplit := func(t *testing.T, sent activation) map[string]json.RawMessage {
		t.Helper()
		h.waitSlotFree(90*time.Second, sent.AID)
		acks := h.acks.ForID(sent.AID)
		require.Len(t, acks, 2, "blocking with logs: a Result, then a Completion")
		require.Equal(t, "result", acks[0].Kind)
		require.Equal(t, "completion", acks[1].Kind)

		res := acks[0]
		require.Equal(t, keys(resultFx), keys(res.Fields), "ResultMessage fields")
		require.Equal(t, string(sent.TransID), string(res.Fields["transid"]), "transid must be echoed byte-exactly")
		act := object(t, res.Fields["response"])
		require.Equal(t, keys(resultActFx), keys(act), "activation fields in the ResultMessage")
		require.Equal(t, sent.AID, jsonString(t, act["activationId"]))
		require.Equal(t, itest.Namespace, jsonString(t, act["namespace"]))
		require.Equal(t, itest.Namespace, jsonString(t, act["subject"]))
		require.Equal(t, "[]", compactJSON(t, act["logs"]), "the Result carries no logs")
		require.Equal(t, "false", string(act["publish"]))

		comp := acks[1]
		require.Equal(t, keys(completionFx), keys(comp.Fields), "CompletionMessage fields")
		require.Equal(t, sent.AID, jsonString(t, comp.Fields["activationId"]))
		h.checkSlotFreeAck(t, comp, sent, false)
		return act
	}
	// resultOf returns the action's result object and checks status success.
	resultOf := func(t *testing.T, act map[string]json.RawMessage) map[string]json.RawMessage {
		t.Helper()
		resp := object(t, act["response"])
		require.Equal(t, "0", string(resp["statusCode"]), "status: %s", act["response"])
		return object(t, resp["result"])
	}

	// 1. Cold, blocking, logs collected.
	cold := h.message("hello", true, map[string]any{"name": "edge", "log_lines": 3}, msgOptions{})
	h.produce(cold.Raw)
	coldAct := checkSplit(t, cold)
	require.Equal(t, "hello", jsonString(t, coldAct["name"]))
	ann := annotations(t, coldAct["annotations"])
	require.Equal(t, coldAnnotations, keys(ann), "cold start annotations")
	require.GreaterOrEqual(t, jsonInt(t, ann["initTime"]), int64(0))
	res := resultOf(t, coldAct)
	require.Equal(t, "Hello edge!", jsonString(t, res["greeting"]))
	require.Equal(t, "1", string(res["runs"]), "first run of a new container")
	require.Equal(t, cold.AID, jsonString(t, res["activation_id"]))

	rec := h.waitRecord(cold.AID, 30*time.Second)
	delete(rec, "_rev") // CouchDB's, not the invoker's
	require.Equal(t, keys(recordFx), keys(rec), "activation record fields")
	require.Equal(t, itest.Namespace+"/"+cold.AID, jsonString(t, rec["_id"]))
	require.Equal(t, "activation", jsonString(t, rec["entityType"]))
	require.GreaterOrEqual(t, jsonInt(t, rec["updated"]), jsonInt(t, rec["end"]))
	require.Equal(t, coldAnnotations, keys(annotations(t, rec["annotations"])))
	var logs []string
	require.NoError(t, json.Unmarshal(rec["logs"], &logs))
	for i := 0; i < 3; i++ {
		for _, stream := range []string{"stdout", "stderr"} {
			msg := fmt.Sprintf("log line %d", i)
			found := false
			for _, l := range logs {
				found = found || checkLogLine(l, stream, msg)
			}
			require.True(t, found, "record logs lack %q on %s formatted %%-30s: %q", msg, stream, logs)
		}
	}
	require.Len(t, logs, 6, "3 lines on stdout and 3 on stderr, sentinels removed: %q", logs)

	// 2. Warm: same action again, with a transid carrying the extraLogging flag and parent metadata.
	now := time.Now().UnixMilli()
	tid := json.RawMessage(fmt.Sprintf(`[%q,%d,true,[%q,%d]]`, randomAlnum(32), now, randomAlnum(32), now-7))
	warm := h.message("hello", true, map[string]any{"name": "again", "log_lines": 1}, msgOptions{transid: tid})
	h.produce(warm.Raw)
	warmAct := checkSplit(t, warm)
	warmAnn := annotations(t, warmAct["annotations"])
	require.NotContains(t, warmAnn, "initTime", "a warm run has no initTime")
	require.Contains(t, warmAnn, "waitTime")
	res = resultOf(t, warmAct)
	require.Equal(t, "2", string(res["runs"]), "the second run must reuse the first run's container")
	warmRec := h.waitRecord(warm.AID, 30*time.Second)
	require.NotContains(t, annotations(t, warmRec["annotations"]), "initTime")

	// 3. Non-blocking: one Completion, after the logs; the record is stored all the same.
	nb := h.message("hello", false, map[string]any{"name": "async", "log_lines": 1}, msgOptions{})
	h.produce(nb.Raw)
	h.waitSlotFree(60*time.Second, nb.AID)
	nbRec := h.waitRecord(nb.AID, 30*time.Second)
	require.Equal(t, "3", string(object(t, object(t, nbRec["response"])["result"])["runs"]), "still the same warm container")

	// 4. Logs limit 0, blocking: one Combined ack with the full activation.
	nl := h.message("nolog", true, map[string]any{"name": "quiet", "log_lines": 2}, msgOptions{})
	h.produce(nl.Raw)
	h.waitSlotFree(90*time.Second, nl.AID)
	nlRec := h.waitRecord(nl.AID, 30*time.Second)
	require.Equal(t, "[]", compactJSON(t, nlRec["logs"]), "logs limit 0: no logs collected")

	// Exactly the acks each case calls for: nothing extra arrives later.
	time.Sleep(1500 * time.Millisecond)
	all, bad := h.acks.Snapshot()
	require.Empty(t, bad, "unparsable acks")
	perID := map[string][]string{}
	for _, a := range all {
		perID[a.AID] = append(perID[a.AID], a.Kind)
	}
	require.Equal(t, map[string][]string{
		cold.AID: {"result", "completion"},
		warm.AID: {"result", "completion"},
		nb.AID:   {"completion"},
		nl.AID:   {"combined"},
	}, perID, "acks per activation")

	nbAck := h.acks.ForID(nb.AID)[0]
	require.Equal(t, keys(completionFx), keys(nbAck.Fields))
	h.checkSlotFreeAck(t, nbAck, nb, false)

	comb := h.acks.ForID(nl.AID)[0]
	require.Equal(t, keys(combinedFx), keys(comb.Fields), "CombinedCompletionAndResultMessage fields")
	h.checkSlotFreeAck(t, comb, nl, false)
	nlAct := object(t, comb.Fields["response"])
	require.Equal(t, keys(object(t, combinedFx["response"])), keys(nlAct), "a blocking Combined carries the full activation")
	require.Equal(t, nl.AID, jsonString(t, nlAct["activationId"]))
	require.Equal(t, "Hello quiet!", jsonString(t, resultOf(t, nlAct)["greeting"]))
	require.Equal(t, "[]", compactJSON(t, nlAct["logs"]))

	// A clean stop removes this invoker's containers.
	require.NotEmpty(t, containersOf(t, h.id), "the warm containers exist while the invoker runs")
	require.Equal(t, 0, h.stop(p), "exit status after SIGTERM")
	require.Empty(t, containersOf(t, h.id), "containers left after a clean shutdown")
}

// TestMissingActionAndMalformedRecords: an activation of an action that does not exist gets one
// Combined ack with the application error (full activation when blocking, the id when not); records
// that are not ActivationMessages get no ack and do not hold up the activations behind them.
func TestMissingActionAndMalformedRecords(t *testing.T) {
	svc := itest.NeedServices(t)
	h := newHarness(t, svc, harnessOptions{})
	itest.SeedAction(t, h.store, "hello", 256, 10)
	h.start()

	combinedFx := fixture(t, "combined-completion.json")
	shrunkFx := fixture(t, "combined-completion-nonblocking-shrunk.json")

	// Two records no controller would send, then real work behind them.
	h.produce([]byte("this is not JSON {"))
	h.produce([]byte(`{"activationId":"not-an-activation-id","blocking":true}`))
	missB := h.message("deleted", true, map[string]any{"name": "x"}, msgOptions{})
	missN := h.message("deleted", false, map[string]any{"name": "y"}, msgOptions{})
	ok := h.message("hello", true, map[string]any{"name": "after"}, msgOptions{})
	for _, a := range []activation{missB, missN, ok} {
		h.produce(a.Raw)
	}
	h.waitSlotFree(90*time.Second, missB.AID, missN.AID, ok.AID)

	// Blocking: the full fallback activation.
	acks := h.acks.ForID(missB.AID)
	require.Len(t, acks, 1)
	a := acks[0]
	require.Equal(t, "combined", a.Kind)
	require.Equal(t, keys(combinedFx), keys(a.Fields))
	h.checkSlotFreeAck(t, a, missB, false)
	act := object(t, a.Fields["response"])
	require.Equal(t, keys(object(t, combinedFx["response"])), keys(act))
	require.Equal(t, `{"result":{"error":"Action could not be found or may have been deleted."},"statusCode":1}`,
		canonical(t, act["response"]))
	ann := annotations(t, act["annotations"])
	require.Equal(t, []string{"kind", "path"}, keys(ann))
	require.Equal(t, `"unknown"`, string(ann["kind"]))
	require.Equal(t, `"guest/deleted"`, string(ann["path"]))
	require.Equal(t, "0", string(act["duration"]))

	// Non-blocking: shrunk to the activation id.
	acks = h.acks.ForID(missN.AID)
	require.Len(t, acks, 1)
	a = acks[0]
	require.Equal(t, "combined", a.Kind)
	require.Equal(t, keys(shrunkFx), keys(a.Fields))
	require.Equal(t, missN.AID, jsonString(t, a.Fields["response"]), "a non-blocking Combined ack is shrunk")
	h.checkSlotFreeAck(t, a, missN, false)

	// Fallback activations are stored like any other.
	rec := h.waitRecord(missN.AID, 30*time.Second)
	require.Equal(t, `{"result":{"error":"Action could not be found or may have been deleted."},"statusCode":1}`,
		canonical(t, rec["response"]))

	// Nothing answered the two bad records; everything else got exactly its acks.
	time.Sleep(1500 * time.Millisecond)
	all, bad := h.acks.Snapshot()
	require.Empty(t, bad)
	perID := map[string][]string{}
	for _, a := range all {
		perID[a.AID] = append(perID[a.AID], a.Kind)
	}
	require.Equal(t, map[string][]string{
		missB.AID: {"combined"},
		missN.AID: {"combined"},
		ok.AID:    {"result", "completion"},
	}, perID)
	invalid, found := h.metric(`nemo_records_total{result="invalid"}`)
	require.True(t, found, "nemo_records_total{result=\"invalid\"} in /metrics")
	require.Equal(t, 2.0, invalid)
}

// TestSIGKILLLosesNoActivation: a stream of non-blocking activations, the invoker SIGKILLed once about
// a third are answered and restarted with the same id: every activation gets a slot-freeing ack and a
// record. What docs/faults.md promises for the redelivered records is asserted: those already recorded
// (by the killed process, so their record starts before the kill) are re-acked from the store and never
// run again, those not recorded are run; at least one redelivered record must have been re-acked, so the
// promise was exercised. Duplicate acks are allowed only where the docs say they come from: a re-ack of a
// recorded activation, or a re-run of one whose ack went out before its record. The restarted process
// removes the dead one's containers at start, and a clean shutdown leaves none.
func TestSIGKILLLosesNoActivation(t *testing.T) {
	svc := itest.NeedServices(t)
	h := newHarness(t, svc, harnessOptions{config: map[string]any{"invoker": map[string]any{"logLevel": "debug"}}})
	itest.SeedAction(t, h.store, "hello", 128, 10)
	p1 := h.start()

	const n = 150
	acts := make([]activation, n)
	aids := make([]string, n)
	for i := range acts {
		acts[i] = h.message("hello", false, map[string]any{"name": fmt.Sprintf("s%d", i), "sleep_ms": 60 + i%41, "log_lines": 1}, msgOptions{})
		aids[i] = acts[i].AID
		h.produce(acts[i].Raw)
	}
	require.True(t, h.acks.WaitFor(120*time.Second, func(acks []itest.Ack) bool { return len(itest.SlotFreeCounts(acks)) >= n/3 }),
		"a third of the activations were not answered within 120 s")
	// Kill at the worst moment that comes soon: while the pool is removing a container, so the daemon is
	// still removing it when the next process starts — but never so late that the stream is over.
	removing := waitLogLine(p1.LogPath, `"message":"removing container"`, 150*time.Millisecond)
	h.kill(p1)
	killMs := time.Now().UnixMilli()
	before, _ := h.acks.Snapshot()
	ackedBefore := len(itest.SlotFreeCounts(before))
	require.Less(t, ackedBefore, n, "the kill came after the whole stream was answered: nothing was in flight")
	leftovers := containersOf(t, h.id)
	t.Logf("SIGKILL after %d of %d activations answered (during a container removal: %v); %d containers left behind",
		ackedBefore, n, removing, len(leftovers))
	require.NotEmpty(t, leftovers, "a SIGKILLed invoker cannot have removed its containers")

	p2 := h.start()
	for _, id := range leftovers {
		require.False(t, containerExists(id), "container %.12s of the killed process still exists after the restart", id)
	}
	h.waitSlotFree(180*time.Second, aids...)

	// What the restarted process did with redelivered records (its log), and what the store holds.
	reacked, ranByP2 := map[string]bool{}, map[string]bool{}
	for _, l := range readLog(p2.LogPath) {
		switch msg := l.str("message"); {
		case strings.Contains(msg, "already recorded"):
			reacked[l.str("activationId")] = true
		case msg == "activation finished":
			ranByP2[l.str("activationId")] = true
		}
	}
	all, bad := h.acks.Snapshot()
	require.Empty(t, bad)
	counts := itest.SlotFreeCounts(all)
	var lost, dups, dupReacked, dupRerun, guardMiss, missingRecords int
	for _, aid := range aids {
		c := counts[aid]
		if c == 0 {
			lost++
			continue
		}
		rec, ok := h.record(aid)
		if !ok {
			missingRecords++
			t.Errorf("activation %s was answered but has no record", aid)
			continue
		}
		if c == 1 {
			continue
		}
		dups++
		// Ran before the kill → the first process stored it and the second re-acked from the record;
		// ran after → the first process was killed between the ack and the record, the second re-ran it.
		if jsonInt(t, rec["start"]) < killMs {
			dupReacked++
			if ranByP2[aid] {
				guardMiss++
				t.Logf("duplicate %s: recorded before the kill, yet run again by the restarted invoker", aid)
			}
		} else {
			dupRerun++
		}
	}
	redeliveredRun := 0
	for _, aid := range aids {
		if ranByP2[aid] {
			redeliveredRun++
		}
	}
	t.Logf("SIGKILL: sent %d, answered before the kill %d, lost %d, missing records %d; process 2 re-acked %d from "+
		"the store and ran %d; duplicates (ids with >1 slot-freeing ack) %d: re-acked from the record %d, re-run %d "+
		"(recorded yet re-run: %d)", n, ackedBefore, lost, missingRecords, len(reacked), redeliveredRun, dups, dupReacked,
		dupRerun, guardMiss)
	require.Zero(t, lost, "activations without any slot-freeing ack")

	// Re-ack instead of re-run (docs/faults.md): every activation the restarted process re-acked from the store
	// was recorded by the killed one and was not run again, and no activation recorded before the kill was
	// run again.
	reackedRecorded := 0
	for aid := range reacked {
		require.Contains(t, aids, aid, "process 2 re-acked an activation this test did not send")
		rec, ok := h.record(aid)
		require.True(t, ok, "activation %s was re-acked from the store but has no record", aid)
		require.Less(t, jsonInt(t, rec["start"]), killMs, "activation %s was re-acked from a record the killed process wrote", aid)
		require.False(t, ranByP2[aid], "activation %s was both re-acked from the store and run again", aid)
		require.GreaterOrEqual(t, counts[aid], 1, "activation %s was re-acked, yet no slot-freeing ack arrived", aid)
		reackedRecorded++
	}
	require.Zero(t, guardMiss, "activations recorded before the kill that the restarted invoker ran again instead of re-acking")
	require.Equal(t, dupReacked, countIn(reacked, aids, func(aid string) bool {
		rec, _ := h.record(aid)
		return counts[aid] > 1 && rec != nil && jsonInt(t, rec["start"]) < killMs
	}), "every duplicate ack of an activation recorded before the kill is the restarted invoker's re-ack")
	require.NotZero(t, reackedRecorded, "no redelivered record was already recorded: the re-ack path was not exercised "+
		"(the kill found no finished activation above an unfinished one)")

	require.Equal(t, 0, h.stop(p2), "exit status after SIGTERM")
	require.Empty(t, containersOf(t, h.id), "containers left after a clean shutdown")
}

// TestHealthPingsAndHTTPEndpoints: pings on topic health about every second with the full instance id;
// GET/HEAD /ping; /metrics; /disable (one isEnabled:false ping, then silence, nothing consumed) and
// /enable (consumption and pings resume); /isEnabled; 401 for missing or wrong credentials.
func TestHealthPingsAndHTTPEndpoints(t *testing.T) {
	svc := itest.NeedServices(t)
	h := newHarness(t, svc, harnessOptions{})
	itest.SeedAction(t, h.store, "hello", 256, 10)
	pings := h.watchPings()
	h.start()

	pingFx := fixture(t, "ping-message.json")
	require.True(t, pings.WaitFor(15*time.Second, func(p []ping) bool { return len(p) >= 4 }), "4 pings within 15 s")
	first := pings.Snapshot()
	for _, p := range first {
		require.Equal(t, keys(pingFx), keys(p.Fields), "ping fields: %s", p.Raw)
		require.Equal(t, keys(object(t, pingFx["name"])), keys(object(t, p.Fields["name"])))
		require.Equal(t, h.wantInstance(), canonical(t, p.Fields["name"]))
		require.Equal(t, "true", string(p.Fields["isEnabled"]))
	}
	var gaps []time.Duration
	for i := 1; i < len(first); i++ {
		gaps = append(gaps, first[i].At.Sub(first[i-1].At).Round(time.Millisecond))
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	t.Logf("ping intervals (sorted): %v", gaps)
	median := gaps[len(gaps)/2]
	require.True(t, median > 500*time.Millisecond && median < 2*time.Second, "pings about every second; median gap %v", median)

	// Open endpoints.
	a := h.http(http.MethodGet, "/ping", "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "pong", a.body)
	a = h.http(http.MethodHead, "/ping", "", "")
	require.Equal(t, http.StatusOK, a.status, "HEAD /ping (devtools polls curl --head --fail)")

	// Credentials.
	for _, c := range []struct{ method, path, user, pass string }{
		{http.MethodPost, "/disable", "", ""},
		{http.MethodPost, "/disable", invokerUser, "wrong"},
		{http.MethodPost, "/enable", "intruder", invokerPass},
		{http.MethodGet, "/isEnabled", invokerUser, "wrong"},
	} {
		a = h.http(c.method, c.path, c.user, c.pass)
		require.Equal(t, http.StatusUnauthorized, a.status, "%s %s as %q:%q", c.method, c.path, c.user, c.pass)
	}
	a = h.http(http.MethodGet, "/isEnabled", invokerUser, invokerPass)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, `{"enabled":true}`, canonical(t, []byte(a.body)))

	// Disable: one ping with isEnabled:false, then no pings; nothing is consumed.
	a = h.http(http.MethodPost, "/disable", invokerUser, invokerPass)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, h.name()+" is now disabled.", a.body)
	require.True(t, pings.WaitFor(5*time.Second, func(p []ping) bool { return !p[len(p)-1].Enabled }),
		"a ping with isEnabled:false after /disable")
	offPings := pings.Snapshot()
	a = h.http(http.MethodGet, "/isEnabled", invokerUser, invokerPass)
	require.Equal(t, `{"enabled":false}`, canonical(t, []byte(a.body)))

	held := h.message("hello", true, map[string]any{"name": "later"}, msgOptions{})
	h.produce(held.Raw)
	require.False(t, h.acks.WaitFor(4*time.Second, func(acks []itest.Ack) bool { return len(acks) > 0 }),
		"an activation produced while disabled was answered")
	after := pings.Snapshot()
	require.Len(t, after, len(offPings), "pings after the isEnabled:false one: %d", len(after)-len(offPings))
	disabledPings := 0
	for _, p := range after {
		if !p.Enabled {
			disabledPings++
		}
	}
	require.Equal(t, 1, disabledPings, "exactly one isEnabled:false ping")
	if lag, ok := h.metric("nemo_kafka_lag"); ok {
		t.Logf("nemo_kafka_lag while disabled: %v", lag)
	}

	// Enable: the held activation is consumed and answered; pings resume.
	a = h.http(http.MethodPost, "/enable", invokerUser, invokerPass)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, h.name()+" is now enabled.", a.body)
	h.waitSlotFree(60*time.Second, held.AID)
	require.Equal(t, []string{"result", "completion"}, itest.Kinds(h.acks.ForID(held.AID)))
	require.True(t, pings.WaitFor(5*time.Second, func(p []ping) bool { return len(p) > len(after) && p[len(p)-1].Enabled }),
		"pings resume with isEnabled:true after /enable")
	a = h.http(http.MethodGet, "/isEnabled", invokerUser, invokerPass)
	require.Equal(t, `{"enabled":true}`, canonical(t, []byte(a.body)))
	a = h.http(http.MethodPost, "/enable", invokerUser, invokerPass)
	require.Equal(t, h.name()+" is already enabled.", a.body)

	// /metrics (open) counts what happened: one successful activation, a Result and a Completion. The
	// activation is counted once its record is stored, which may come just after the ack.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if v, _ := h.metric(`nemo_activations_total{status="success"}`); v >= 1 {
			break
		}
	}
	a = h.http(http.MethodGet, "/metrics", "", "")
	require.Equal(t, http.StatusOK, a.status)
	for _, name := range []string{"nemo_activations_total", "nemo_acks_total", "nemo_kafka_lag", "nemo_pool_memory_used_bytes",
		"nemo_scheduler_state_total"} {
		require.Contains(t, a.body, "\n# TYPE "+name+" ", "/metrics lacks %s", name)
		require.Contains(t, a.body, "\n"+name, "/metrics has no sample of %s", name)
	}
	for sample, want := range map[string]float64{
		`nemo_activations_total{status="success"}`: 1,
		`nemo_acks_total{kind="result"}`:           1,
		`nemo_acks_total{kind="completion"}`:       1,
		`nemo_kafka_lag`:                           0,
	} {
		v, ok := h.metric(sample)
		require.True(t, ok, "/metrics has no %s", sample)
		require.Equal(t, want, v, sample)
	}
	used, ok := h.metric(`nemo_pool_memory_used_bytes{state="all"}`)
	require.True(t, ok)
	require.GreaterOrEqual(t, used, float64(256<<20), "the warm container of the 256 MB action is accounted")
}

// TestStartupFailures: the invoker refuses to start, with a non-zero exit and one clear line, when Kafka
// is unreachable or the configuration is invalid.
func TestStartupFailures(t *testing.T) {
	bin := nemoBinary(t)
	base := func(t *testing.T) []string {
		return append(itest.CleanEnviron(),
			"PORT="+strconv.Itoa(itest.FreePort(t)),
			"RUNTIMES_MANIFEST="+itest.RuntimesManifest,
			"CONFIG_whisk_couchdb_protocol=http",
			"CONFIG_whisk_couchdb_host=127.0.0.1",
			"CONFIG_whisk_couchdb_port=5984",
			"CONFIG_whisk_couchdb_username=nemo",
			"CONFIG_whisk_couchdb_password=nemo",
			"CONFIG_whisk_couchdb_databases_WhiskEntity=it_startup_whisks",
			"CONFIG_whisk_couchdb_databases_WhiskActivation=it_startup_activations",
			"CONFIG_whisk_couchdb_databases_WhiskAuth=it_startup_subjects",
			// Not the default: those are refused on every interface before anything else is tried.
			"CONFIG_whisk_invoker_password=it-startup",
		)
	}
	// run starts the binary and waits up to limit for it to exit; it returns the exit code and the
	// non-empty output lines.
	run := func(t *testing.T, env []string, limit time.Duration, args ...string) (int, []string, time.Duration) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Dir = t.TempDir()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		require.NoError(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(limit):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("still running after %v; output:\n%s", limit, out.String())
		}
		var lines []string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, l)
			}
		}
		return cmd.ProcessState.ExitCode(), lines, time.Since(start)
	}

	t.Run("kafka unreachable", func(t *testing.T) {
		if os.Getenv("NEMO_DOCKER") != "1" {
			t.Skip("NEMO_DOCKER=1 is not set: the invoker checks the Docker engine before Kafka")
		}
		id := strconv.Itoa(100000 + mrand.IntN(800000))
		env := append(base(t), "KAFKA_HOSTS=127.0.0.1:1")
		code, lines, took := run(t, env, 30*time.Second, "invoker", "--id", id)
		t.Logf("exit %d after %v: %q", code, took.Round(time.Millisecond), lines)
		require.Equal(t, 1, code, "an unreachable service is worth retrying: exit 1")
		require.NotEmpty(t, lines)
		last := lines[len(lines)-1]
		require.True(t, strings.HasPrefix(last, "nemo: "), "the last line is the error: %q", last)
		require.Contains(t, strings.ToLower(last), "kafka")
		require.Contains(t, last, "127.0.0.1:1")
	})

	t.Run("invalid user memory", func(t *testing.T) {
		env := append(base(t), "KAFKA_HOSTS=127.0.0.1:1", "CONFIG_whisk_containerPool_userMemory=lots")
		code, lines, _ := run(t, env, 30*time.Second, "invoker", "--id", "7")
		require.Equal(t, 2, code, "a configuration error: exit 2 (retrying cannot help)")
		require.Len(t, lines, 1, "one line: %q", lines)
		require.Contains(t, lines[0], "CONFIG_whisk_containerPool_userMemory")
		require.Contains(t, lines[0], `"lots"`)
	})

	t.Run("invalid config file field", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nemo.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"pool":{"coldReserveMB":4096}}`), 0o644))
		env := append(base(t), "KAFKA_HOSTS=127.0.0.1:1")
		code, lines, _ := run(t, env, 30*time.Second, "invoker", "--id", "7", "--config", path)
		require.Equal(t, 2, code, "a configuration error: exit 2 (retrying cannot help)")
		require.Len(t, lines, 1, "one line: %q", lines)
		require.Contains(t, lines[0], "pool.coldReserveMB")
	})
}

// countIn counts the ids of aids that are in set and satisfy cond.
func countIn(set map[string]bool, aids []string, cond func(string) bool) int {
	n := 0
	for _, aid := range aids {
		if set[aid] && cond(aid) {
			n++
		}
	}
	return n
}
