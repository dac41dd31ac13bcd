package clickshm

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// The test binary doubles as the Go writer process of the cross-process tests:
// with CLICKSHM_HELPER set, TestMain runs that role instead of the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("CLICKSHM_HELPER") {
	case "":
		os.Exit(m.Run())
	case "torn-writer":
		os.Exit(tornWriter(os.Getenv("CLICKSHM_PATH"), os.Getenv("CLICKSHM_MS")))
	case "idle-writer":
		os.Exit(idleWriter(os.Getenv("CLICKSHM_PATH"), os.Getenv("CLICKSHM_LEASE")))
	default:
		fmt.Fprintln(os.Stderr, "unknown CLICKSHM_HELPER")
		os.Exit(64)
	}
}

// tornWriter publishes back to back for ms milliseconds keeping two
// invariants a torn read would break: rx_usecs == 3*burst, and the parity of
// update_ns equals the ENABLE bit. It then closes (WRITER_CLOSED).
func tornWriter(path, msStr string) int {
	ms, _ := strconv.Atoi(msStr)
	w, err := Create(path, 1000)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	var n uint64
	for i := uint32(0); ; i++ {
		if i&1023 == 0 && time.Now().After(deadline) {
			break
		}
		ns := monoNow() + uint64(i&1) // vary parity independently of the clock
		b := i%1024 + 1
		if err := w.publish(Settings{Enable: ns&1 == 1, Burst: b, RxUsecs: 3 * b}, 0, ns); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n++
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("publishes=%d\n", n)
	return 0
}

// idleWriter publishes once and then only heartbeats until killed.
func idleWriter(path, leaseStr string) int {
	lease, _ := strconv.Atoi(leaseStr)
	w, err := Create(path, uint32(lease))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := w.Publish(Settings{Enable: true, Burst: 32}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	select {}
}
