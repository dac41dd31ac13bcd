package sim

import "testing"

// BenchmarkSample100 replays the full sample100 trace (339,657 invocations,
// 8 h) at 2048 MB under each policy. "load" (parsing the three CSVs) is the
// floor the policy runs are compared against.
func BenchmarkSample100(b *testing.B) {
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if _, err := LoadAzure2019(Sample100(traces), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	w, err := LoadAzure2019(Sample100(traces), 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range append(AllPolicies, PolicyTTL) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				pol, err := newPolicy(name, Options{})
				if err != nil {
					b.Fatal(err)
				}
				run(w, Setup{}, pol, name)
			}
		})
	}
}
