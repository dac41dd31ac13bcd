package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

type countingBackoff struct{ suspends, resumes int }

func (c *countingBackoff) SuspendPrewarms(context.Context) { c.suspends++ }
func (c *countingBackoff) ResumePrewarms(context.Context)  { c.resumes++ }

func TestBackoffRelayForwardsOnceConnected(t *testing.T) {
	var r BackoffRelay
	r.SuspendPrewarms(context.Background()) // nothing connected yet: no panic, nothing to do
	target := &countingBackoff{}
	r.set(target)
	r.SuspendPrewarms(context.Background())
	r.ResumePrewarms(context.Background())
	assert.Equal(t, 1, target.suspends)
	assert.Equal(t, 1, target.resumes)
}

type recordingRunner struct{ events *[]string }

func (r recordingRunner) Run(ctx context.Context, job *Job, onRunDone func(*Outcome)) (*Outcome, error) {
	*r.events = append(*r.events, "run")
	return &Outcome{}, nil
}

type recordingHarvester struct{ events *[]string }

func (h recordingHarvester) Begin(ctx context.Context, reason string) func() {
	*h.events = append(*h.events, "begin "+reason)
	return func() { *h.events = append(*h.events, "release") }
}

func TestHarvestingRunnerWrapsEachRunInASession(t *testing.T) {
	var events []string
	r := harvestingRunner{runner: recordingRunner{&events}, h: recordingHarvester{&events}}
	_, err := r.Run(context.Background(), &Job{}, nil)
	assert.NoError(t, err)
	assert.Equal(t, []string{"begin invocation", "run", "release"}, events)
}
