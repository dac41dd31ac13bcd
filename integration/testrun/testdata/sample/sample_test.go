package sample

import "testing"

// The tests of this module pass, fail and skip on purpose: testrun's tests run `go test -json` on it.

func TestPass(t *testing.T) {}

func TestFail(t *testing.T) { t.Error("boom: the expected failure") }

func TestSkipNeedsThing(t *testing.T) { t.Skip("no thing on this machine") }

func TestSub(t *testing.T) {
	t.Run("runs", func(t *testing.T) {})
	t.Run("skips", func(t *testing.T) { t.Skipf("sub %d skipped", 2) })
}
