package clickshm

import "time"

// abandon simulates a crash: the mapping and the fd (and so the flock) go away
// without WRITER_CLOSED being published and without the heartbeat loop running.
func (w *Writer) abandon() {
	if w.stop != nil {
		w.stopOnce.Do(func() { close(w.stop) })
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	_ = w.pg.unmap()
	w.pg = page{}
	_ = w.f.Close()
}

// setClock gives the reader an injected clock.
func (r *Reader) setClock(f func() time.Time) {
	r.mu.Lock()
	r.nowForTests = f
	r.mu.Unlock()
}

// setClock gives the writer an injected clock for Ack's staleness verdict.
func (w *Writer) setClock(f func() time.Time) {
	w.mu.Lock()
	w.nowTest = f
	w.mu.Unlock()
}
