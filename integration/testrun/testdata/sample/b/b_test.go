package b

import "testing"

func TestOnlyPasses(t *testing.T) {}
