package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchAction seeds the couch:-attachment fixture (a 24 KB Python action: one document GET plus one
// attachment GET when uncached) into a fake and returns a store on it.
func benchAction(b *testing.B) (*Store, string, string) {
	f := newFakeCouch(b)
	f.seedDoc(whisks, fixture(b, "action-doc-python-attachment.json"), map[string]fakeAttachment{
		"7c0f5b7e-2a6d-4b1e-9f43-5d8c2e7a1b90": {contentType: "text/plain; charset=UTF-8", data: fixture(b, "action-doc-python-attachment.codefile.py")},
	})
	s := newTestStore(b, f)
	return s, "guest/greeter", "2-9d3c1e5b7a2f4c6d8e0b1a3c5e7f9d2b"
}

// BenchmarkGetActionCached measures a revision-keyed cache hit and reports how many times faster it is
// than the uncached fetch (floor) measured in the same run against the same fake.
func BenchmarkGetActionCached(b *testing.B) {
	s, id, rev := benchAction(b)
	ctx := b.Context()
	const floorOps = 200
	start := time.Now()
	for range floorOps {
		_, err := s.GetAction(ctx, id, "") // empty revision: always fetched
		require.NoError(b, err)
	}
	floor := time.Since(start) / floorOps
	_, err := s.GetAction(ctx, id, rev)
	require.NoError(b, err)

	n := 0
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetAction(ctx, id, rev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	perOp := b.Elapsed() / time.Duration(n)
	b.ReportMetric(float64(floor.Nanoseconds()), "uncached-ns/op")
	b.ReportMetric(float64(floor)/float64(max(perOp, 1)), "x-vs-uncached")
}

// BenchmarkGetActionUncached is the floor on its own: document + attachment over loopback HTTP.
func BenchmarkGetActionUncached(b *testing.B) {
	s, id, _ := benchAction(b)
	ctx := b.Context()
	for b.Loop() {
		if _, err := s.GetAction(ctx, id, ""); err != nil {
			b.Fatal(err)
		}
	}
}
