package clickshm

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzPage hands an arbitrary file to both sides of the protocol. The Reader opens it (a file shorter than
// the header is ErrTooSmall), and a Snapshot succeeds exactly when the page carries the magic, major version
// 1 and an even seq, reporting what the bytes say (flags, burst, rx-usecs, lease) with a target burst within
// its clamp. Then a Writer takes the file: a page with the magic in the other byte order, or another major
// version, is refused with ErrIncompatible and left as it was (bar being extended to a page); anything else becomes a valid page (taken over
// in place, seq even, or initialised), published settings round-trip to the Reader, and the writer's verdict
// on the reader is "never" until the reader acknowledges. Seeds: pages written by the Writer and Reader
// themselves, a byte-swapped and a version-2 page, and the committed corpus in testdata/fuzz.
func FuzzPage(f *testing.F) {
	for _, seed := range seedPages(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 2*PageSize {
			in = in[:2*PageSize]
		}
		path := filepath.Join(t.TempDir(), "seg")
		if err := os.WriteFile(path, in, 0o600); err != nil {
			t.Fatal(err)
		}
		le := binary.LittleEndian
		// What both sides see: the file's bytes, zero past its end (a short file is mapped, or extended, to a page).
		page := make([]byte, max(len(in), PageSize))
		copy(page, in)
		word := func(off int) uint32 { return le.Uint32(page[off:]) }
		r, err := OpenReader(path)
		switch {
		case len(in) < HeaderSize:
			if !errors.Is(err, ErrTooSmall) {
				t.Fatalf("%d-byte file: got %v, want ErrTooSmall", len(in), err)
			}
		case err != nil:
			t.Fatalf("open: %v", err)
		default:
			st, ok := r.Snapshot()
			valid := word(OffMagic) == Magic && uint16(word(OffVersionMajor)) == VersionMajor && word(OffSeq)&1 == 0
			if ok != valid {
				t.Fatalf("snapshot ok %v, but magic %#x version %d seq %d", ok, word(OffMagic), uint16(word(OffVersionMajor)), word(OffSeq))
			}
			if ok {
				if st.Seq != word(OffSeq) || st.Flags != word(OffFlags) || st.Burst != word(OffBurst) ||
					st.RxUsecs != word(OffRxUsecs) || st.LeaseMs != word(OffLeaseMs) {
					t.Fatalf("snapshot %+v does not say what the page says", st)
				}
				if st.Enable != (st.Flags&FlagBurstEnable != 0) || st.Closed != (st.Flags&FlagWriterClosed != 0) {
					t.Fatalf("flags %#x read as enable %v closed %v", st.Flags, st.Enable, st.Closed)
				}
				if b := st.TargetBurst(7, 64); b < 1 || b > 64 && b != 7 {
					t.Fatalf("target burst %d outside [1, 64] and not the default", b)
				}
			}
			r.Close()
		}

		before, _ := os.ReadFile(path)
		w, err := Create(path, 100, WithoutHeartbeatLoop(), WithLockWait(0))
		incompatible := word(OffMagic) == swap32(Magic) ||
			word(OffMagic) == Magic && uint16(word(OffVersionMajor)) != VersionMajor
		if incompatible {
			if !errors.Is(err, ErrIncompatible) {
				t.Fatalf("incompatible page taken: %v", err)
			}
			after, _ := os.ReadFile(path)
			if string(after[:min(len(after), len(before))]) != string(before[:min(len(after), len(before))]) {
				t.Fatal("an incompatible page was changed")
			}
			return
		}
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		defer w.Close()
		if w.Seq()&1 != 0 {
			t.Fatalf("seq %d odd after Create", w.Seq())
		}
		if a, err := w.Ack(); err != nil || a.Reader != ReaderNever {
			t.Fatalf("reader before any acknowledgement: %v %v", a.Reader, err)
		}
		if err := w.Publish(Settings{Enable: true, Burst: 4096, RxUsecs: 9}); err != nil {
			t.Fatal(err)
		}
		r, err = OpenReader(path)
		if err != nil {
			t.Fatalf("open the written page: %v", err)
		}
		defer r.Close()
		st, ok := r.Snapshot()
		if !ok || !st.Enable || st.Burst != MaxBurst || st.RxUsecs != 9 || st.Seq != w.Seq() || !st.Live {
			t.Fatalf("published settings not read back: %+v ok %v", st, ok)
		}
		r.Ack(st.Seq, 32)
		if a, err := w.Ack(); err != nil || a.Reader != ReaderLive || !a.Current || a.AppliedBurst != 32 {
			t.Fatalf("acknowledgement not read back: %+v %v", a, err)
		}
	})
}

// seedPages are pages the two sides write themselves, and two the Writer must refuse.
func seedPages(f *testing.F) [][]byte {
	dir := f.TempDir()
	path := filepath.Join(dir, "seg")
	w, err := Create(path, 250, WithoutHeartbeatLoop())
	if err != nil {
		f.Fatal(err)
	}
	read := func() []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	seeds := [][]byte{read()}
	if err := w.Publish(Settings{Enable: true, Burst: 32, RxUsecs: 50}); err != nil {
		f.Fatal(err)
	}
	r, err := OpenReader(path)
	if err != nil {
		f.Fatal(err)
	}
	r.Ack(w.Seq(), 32)
	seeds = append(seeds, read())
	r.Close()
	w.Close()
	seeds = append(seeds, read()) // WRITER_CLOSED, reader detached
	swapped := append([]byte(nil), seeds[1]...)
	binary.BigEndian.PutUint32(swapped[OffMagic:], Magic)
	v2 := append([]byte(nil), seeds[1]...)
	binary.LittleEndian.PutUint16(v2[OffVersionMajor:], 2)
	odd := append([]byte(nil), seeds[1]...)
	binary.LittleEndian.PutUint32(odd[OffSeq:], binary.LittleEndian.Uint32(odd[OffSeq:])|1)
	return append(seeds, swapped, v2, odd, seeds[1][:HeaderSize], seeds[1][:HeaderSize-1], nil)
}
