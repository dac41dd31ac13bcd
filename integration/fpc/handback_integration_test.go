//go:build integration

package fpc

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nemo-edge/nemo/integration/fpcsched"
	"github.com/nemo-edge/nemo/integration/itest"
	"github.com/nemo-edge/nemo/pool/proxy"
)

func ackSnapshot(e *e2e) []itest.Ack {
	acks, _ := e.acks.Snapshot()
	return acks
}

// run runs a host command for the test's fault injection; the test is skipped when the tool is missing.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("needs %s: %v", name, err)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// With NEMO_FPC_RESCHEDULE_ON_CONTAINER_FAILURE=true, an activation whose container refuses the connection
// (OpenWhisk's ContainerHealthError: the action never saw it) goes back to the scheduler with
// RescheduleActivation instead of being answered or moved to another container here: the stand-in scheduler
// gets it back, the container and its existing key go, no ack is sent for it. A new container then pulls it
// from the queue and answers it exactly once. The refusal is injected on the host: a REJECT (tcp-reset) rule
// for the container's published port, after the invoker's kept-alive connection to it is killed (ss -K), so
// the next /run dials anew and is refused.
func TestITFPCRescheduleOnContainerFailure(t *testing.T) {
	e := newE2E(t)
	inv := e.start(e.id, true, "fpc", "NEMO_FPC_RESCHEDULE_ON_CONTAINER_FAILURE=true")
	e.waitUp(e.id)
	waitNoContainers(t, e.id, 30*time.Second) // the self-test's container is gone
	e.sched.AddQueue(e.queue())
	if a := e.create(itest.RandomHex(16)); a.Ack == nil || !a.Ack.Success() {
		t.Fatalf("creation ack %+v", a.Ack)
	}
	first := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(first, true, nil))
	e.waitSlotFree(first, 60*time.Second)
	ids, _ := itest.InvokerContainers(e.id)
	if len(ids) != 1 {
		t.Fatalf("containers: %q", ids)
	}
	hostPort := strings.TrimSpace(run(t, "docker", "port", ids[0], "8080/tcp"))
	hostPort = strings.Split(hostPort, "\n")[0]
	port := hostPort[strings.LastIndex(hostPort, ":")+1:]
	rule := []string{"OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", port, "-j", "REJECT", "--reject-with", "tcp-reset"}
	run(t, "iptables", append([]string{"-I"}, rule...)...)
	t.Cleanup(func() { _ = exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })
	run(t, "ss", "-K", "dst", "127.0.0.1", "dport", "=", ":"+port)

	second := itest.RandomHex(16)
	e.sched.Enqueue(e.queue(), e.activation(second, true, nil))
	deadline := time.Now().Add(30 * time.Second)
	for {
		handed := false
		for _, r := range e.sched.Rescheduled() {
			if strings.Contains(r.ActivationMessage, second) {
				handed = true
			}
		}
		if handed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("activation not handed back; rescheduled %d\n%s", len(e.sched.Rescheduled()), itest.Tail(inv.p.LogPath, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := e.w.Wait(30*time.Second, func(kvs map[string]fpcsched.KV) bool { return len(e.existingKeys(kvs, e.id)) == 0 }); !ok {
		t.Fatalf("the failed container's key stayed: %q", e.keysOf(e.w.Snapshot(), e.id))
	}
	waitNoContainers(t, e.id, 30*time.Second)
	if n := itest.SlotFreeCounts(ackSnapshot(e))[second]; n != 0 {
		t.Fatalf("the handed-back activation was answered here (%d slot-freeing acks)", n)
	}
	if !strings.Contains(strings.Join(itest.ReadLines(inv.p.LogPath), "\n"), "activation handed back to the scheduler") {
		t.Fatal("no hand-back log line")
	}

	// A new container pulls it from the queue and answers it, once.
	run(t, "iptables", append([]string{"-D"}, rule...)...)
	if a := e.create(itest.RandomHex(16)); a.Ack == nil || !a.Ack.Success() {
		t.Fatalf("second creation ack %+v", a.Ack)
	}
	e.waitSlotFree(second, 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	if n := itest.SlotFreeCounts(ackSnapshot(e))[second]; n != 1 {
		t.Fatalf("the handed-back activation got %d slot-freeing acks, want 1", n)
	}
	if rec := e.record(second); rec.Response.StatusCode != proxy.StatusSuccess {
		t.Fatalf("record %+v", rec.Response)
	}
}
