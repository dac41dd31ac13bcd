package clickshm_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nemo-edge/nemo/clickshm"
)

// The invoker side publishes; an NF polls with a Reader, applies the target
// burst and acknowledges it.
func Example() {
	dir, _ := os.MkdirTemp("", "clickshm-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nemo-fw")

	w, err := clickshm.Create(path, 1000)
	if err != nil {
		panic(err)
	}
	r, err := clickshm.OpenReader(path)
	if err != nil {
		panic(err)
	}
	defer r.Close()

	_ = w.Publish(clickshm.Settings{Enable: true, Burst: 32, RxUsecs: 50})

	// One tick of the NF's poll loop.
	const defaultBurst, maxBurst = 1, 64
	st, ok := r.Snapshot()
	if ok {
		burst := st.TargetBurst(defaultBurst, maxBurst)
		r.Ack(st.Seq, burst)
		fmt.Println("seq", st.Seq, "live", st.Live, "burst", burst)
	}
	ack, _ := w.ReaderAck()
	fmt.Println("writer sees ack", ack.AckSeq, "applied", ack.AppliedBurst)

	_ = w.Close()
	st, _ = r.Snapshot()
	fmt.Println("after Close: closed", st.Closed, "burst", st.TargetBurst(defaultBurst, maxBurst))
	// Output:
	// seq 2 live true burst 32
	// writer sees ack 2 applied 32
	// after Close: closed true burst 1
}
