package config

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDurationJSON(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`"10s"`: 10 * time.Second, `"10 seconds"`: 10 * time.Second, `"50 milliseconds"`: 50 * time.Millisecond,
		`"2 minutes"`: 2 * time.Minute, `"1m30s"`: 90 * time.Second, `"-1s"`: -time.Second, `"1 h"`: time.Hour,
	} {
		var d Duration
		require.NoError(t, json.Unmarshal([]byte(in), &d), in)
		assert.Equal(t, want, d.D(), in)
	}
	for d, want := range map[time.Duration]string{
		10 * time.Minute: `"10m"`, 3 * time.Second: `"3s"`, 2 * time.Hour: `"2h"`, 50 * time.Millisecond: `"50ms"`,
		90 * time.Second: `"90s"`, 1500 * time.Microsecond: `"1.5ms"`, -time.Second: `"-1s"`, 0: `"0s"`,
	} {
		b, err := json.Marshal(Duration(d))
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
		var back Duration
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, d, back.D(), "round trip of %s", want)
	}
}

func TestMBJSON(t *testing.T) {
	for in, want := range map[string]MB{
		`2048`: 2048, `"2048"`: 2048, `"2048m"`: 2048, `"2g"`: 2048, `"1024 MB"`: 1024, `"1 GB"`: 1024,
		`"1048576k"`: 1024, `0`: 0, `-1`: -1,
	} {
		var m MB
		require.NoError(t, json.Unmarshal([]byte(in), &m), in)
		assert.Equal(t, want, m, in)
	}
	b, err := json.Marshal(MB(2048))
	require.NoError(t, err)
	assert.Equal(t, `2048`, string(b))
}

func TestParseSizeMB(t *testing.T) {
	for in, want := range map[string]MB{"1024m": 1024, "1 g": 1024, "1073741824": 1024, "1073741824 B": 1024, "0 m": 0} {
		got, err := parseSizeMB(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "m", "1.5g", "1000k", "-1m", "12 parsecs", "99999999999g"} {
		_, err := parseSizeMB(in)
		assert.Error(t, err, in)
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "TRUE": true, "yes": true, "on": true, "false": false, "no": false, "Off": false} {
		got, err := parseBool(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := parseBool("1")
	assert.Error(t, err)
}

func TestCPUSet(t *testing.T) {
	assert.Equal(t, "1-3,5", formatCPUSet([]int{3, 1, 2, 5}))
	assert.Equal(t, "0", formatCPUSet([]int{0}))
	assert.Equal(t, "2-3", formatCPUSet([]int{3, 2, 2}))
	assert.Equal(t, "", formatCPUSet(nil))
	for _, ok := range []string{"0", "1-3", "0,2-3,7", "4095"} {
		assert.NoError(t, checkCPUSet(ok), ok)
	}
	for _, bad := range []string{"", "a", "1-", "-1", "1,,2", "3-1", "4096", " 1"} {
		assert.Error(t, checkCPUSet(bad), bad)
	}
}
