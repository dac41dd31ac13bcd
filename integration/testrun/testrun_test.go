package testrun

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampleStream runs the real `go test -json` on testdata/sample, whose tests pass, fail and skip on purpose.
func sampleStream(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = "testdata/sample"
	cmd.Env = append(cmd.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the sample module has a failing test, so go test exits 1")
	return out
}

func TestReadSummarisesARealStream(t *testing.T) {
	var echoed []string
	res, err := Read(bytes.NewReader(sampleStream(t)), func(l string) { echoed = append(echoed, l) })
	require.NoError(t, err)
	assert.False(t, res.OK())
	assert.Equal(t, []string{"sample TestFail"}, res.Failed)
	require.Len(t, res.Failures, 1)
	assert.Contains(t, res.Failures[0], "boom: the expected failure")
	assert.Equal(t, []Skip{
		{Package: "sample", Test: "TestSkipNeedsThing", Message: "sample_test.go:11: no thing on this machine"},
		{Package: "sample", Test: "TestSub/skips", Message: "sample_test.go:15: sub 2 skipped"},
	}, res.Skips)
	require.Len(t, echoed, 2)
	assert.True(t, strings.HasPrefix(echoed[0], "ok  \tsample/b\t") || strings.HasPrefix(echoed[1], "ok  \tsample/b\t"), "%q", echoed)
	assert.True(t, strings.HasPrefix(echoed[0], "FAIL\tsample\t") || strings.HasPrefix(echoed[1], "FAIL\tsample\t"), "%q", echoed)
}

func TestReadBuildFailure(t *testing.T) {
	stream := `{"ImportPath":"m/x [m/x.test]","Action":"build-output","Output":"x_test.go:3:1: syntax error\n"}
{"ImportPath":"m/x [m/x.test]","Action":"build-fail"}
{"Action":"start","Package":"m/x"}
{"Action":"output","Package":"m/x","Output":"FAIL\tm/x [build failed]\n"}
{"Action":"fail","Package":"m/x","Elapsed":0,"FailedBuild":"m/x [m/x.test]"}
`
	res, err := Read(strings.NewReader(stream), nil)
	require.NoError(t, err)
	assert.False(t, res.OK())
	require.Len(t, res.BuildErrors, 1)
	assert.Contains(t, res.BuildErrors[0], "syntax error")
	assert.Equal(t, []string{"m/x"}, res.Failed, "a package that failed without a failing test is reported as such")
}

func TestAllowList(t *testing.T) {
	list := `# why each entry is here
sample TestSkipNeedsThing no thing exists on this machine
x/* TestSub/* subtests of x cannot run here
`
	allow, err := ParseAllowList(strings.NewReader(list), "example.com/m")
	require.NoError(t, err)
	require.Len(t, allow, 2)
	assert.Equal(t, "example.com/m/sample", allow[0].Package)
	assert.Equal(t, "no thing exists on this machine", allow[0].Why)

	skips := []Skip{
		{Package: "example.com/m/sample", Test: "TestSkipNeedsThing"},
		{Package: "example.com/m/x/y", Test: "TestSub/one"},
		{Package: "example.com/m/sample", Test: "TestOther"},
	}
	allowed, why, unexpected, used := Check(skips, allow)
	assert.Equal(t, skips[:2], allowed)
	assert.Equal(t, []string{"no thing exists on this machine", "subtests of x cannot run here"}, why)
	assert.Equal(t, skips[2:], unexpected, "a skip without an entry is unexpected")
	assert.Equal(t, map[int]bool{2: true, 3: true}, used)

	_, err = ParseAllowList(strings.NewReader("sample TestX\n"), "example.com/m")
	require.ErrorIs(t, err, ErrAllowList, "an entry must say why")
	_, err = ParseAllowList(strings.NewReader("sample Test[ reason\n"), "example.com/m")
	require.ErrorIs(t, err, ErrAllowList, "a bad pattern is an error")
}

func TestReadTimeoutShowsTheTestThatDidNotEnd(t *testing.T) {
	stream := `{"Action":"start","Package":"m/x"}
{"Action":"run","Package":"m/x","Test":"TestQuick"}
{"Action":"pass","Package":"m/x","Test":"TestQuick"}
{"Action":"run","Package":"m/x","Test":"TestHangs"}
{"Action":"output","Package":"m/x","Test":"TestHangs","Output":"panic: test timed out after 10m0s\n"}
{"Action":"output","Package":"m/x","Test":"TestHangs","Output":"goroutine 7 [select]:\n"}
{"Action":"output","Package":"m/x","Output":"FAIL\tm/x\t600.0s\n"}
{"Action":"fail","Package":"m/x","Elapsed":600}
`
	res, err := Read(strings.NewReader(stream), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"m/x"}, res.Failed)
	require.Len(t, res.Failures, 1)
	assert.Contains(t, res.Failures[0], "(TestHangs did not end)")
	assert.Contains(t, res.Failures[0], "panic: test timed out")
	assert.NotContains(t, res.Failures[0], "TestQuick")
}
