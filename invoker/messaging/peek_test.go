package messaging

import "testing"

func TestMaxPeek(t *testing.T) {
	for _, tc := range []struct {
		memoryMB, concurrency int
		factor                float64
		want                  int
	}{
		{1024, 1, 0.5, 8},  // OpenWhisk defaults: max(8, 4)
		{2048, 1, 0.5, 16}, // NEMO's default user memory
		{1024, 2, 0.5, 8},  // max(8, 8)
		{1024, 4, 0.5, 16}, // concurrency raises the peek: max(8, 16)
		{2048, 500, 0.5, 4000},
		{1000, 1, 0.5, 7},  // 1000/128 = 7 (integer division)
		{1024, 3, 0.7, 16}, // floor(8*3*0.7 = 16.8)
		{256, 1, 0, 2},
		{100, 1, 0.5, 1}, // OpenWhisk would say 0 and never consume; we take at least one
	} {
		if got := MaxPeek(tc.memoryMB, tc.concurrency, tc.factor); got != tc.want {
			t.Errorf("MaxPeek(%d, %d, %v) = %d, want %d", tc.memoryMB, tc.concurrency, tc.factor, got, tc.want)
		}
	}
}
