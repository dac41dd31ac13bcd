//go:build !classiconly

package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Records as the file store keeps them (the activations DB document of a cold and of a warm activation).
const (
	coldRecord = `{"namespace":"guest","name":"hello","subject":"guest","activationId":"000000000000000018eefbe9d75e6197",` +
		`"start":1796650283628,"end":1796650283685,"response":{"statusCode":0,"result":{"greeting":"Hello edge-0!","runs":1},"size":40},` +
		`"logs":["2026-12-07T13:31:23.685331398Z stderr: log line 0","2026-12-07T13:31:23.685349973Z stdout: log line 0"],` +
		`"version":"0.0.1","publish":false,"annotations":[{"key":"limits","value":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}},` +
		`{"key":"path","value":"guest/hello"},{"key":"kind","value":"blackbox"},{"key":"timeout","value":false},` +
		`{"key":"initTime","value":56},{"key":"waitTime","value":502}],"duration":57,"_id":"guest/000000000000000018eefbe9d75e6197",` +
		`"entityType":"activation","updated":1796650283690}`
	warmRecord = `{"namespace":"guest","name":"hello","subject":"guest","activationId":"000000000000000018eefbe9fcee19ac",` +
		`"start":1796650283757,"end":1796650283758,"response":{"statusCode":2,"result":{"error":"boom"}},"logs":[],` +
		`"annotations":[{"key":"kind","value":"blackbox"},{"key":"waitTime","value":1}],"duration":1}`
)

func TestDemoRecordSummary(t *testing.T) {
	cold, err := parseDemoRecord([]byte(coldRecord))
	require.NoError(t, err)
	assert.Equal(t, "000000000000000018eefbe9d75e6197", cold.id)
	assert.Equal(t, "success, duration 57 ms, initTime 56 ms, waitTime 502 ms, 2 log lines", cold.summary())
	assert.JSONEq(t, `{"greeting":"Hello edge-0!","runs":1}`, string(cold.result))
	require.NotNil(t, cold.initTime, "a cold record has an initTime")

	warm, err := parseDemoRecord([]byte(warmRecord))
	require.NoError(t, err)
	assert.Nil(t, warm.initTime, "a warm record has none")
	assert.Equal(t, "action developer error, duration 1 ms, waitTime 1 ms, 0 log lines", warm.summary())

	_, err = parseDemoRecord([]byte(`{"annotations":[{"key":"initTime","value":"soon"}]}`))
	assert.ErrorContains(t, err, "annotation initTime")
	_, err = parseDemoRecord([]byte(`[`))
	assert.Error(t, err)

	odd, err := parseDemoRecord([]byte(`{"response":{"statusCode":9}}`))
	require.NoError(t, err)
	assert.Equal(t, "status 9, 0 log lines", odd.summary())
	assert.Equal(t, "null", string(odd.result), "a record without a result shows null")
}

func TestDemoSummary(t *testing.T) {
	ms := time.Millisecond
	assert.Equal(t, "1 cold (559.6 ms), 3 warm (median 2.3 ms)", summarize([]demoAnswer{
		{cold: true, after: 559600 * time.Microsecond}, {after: 4 * ms}, {after: 2300 * time.Microsecond}, {after: 2 * ms}}))
	assert.Equal(t, "0 cold, 1 warm (3.0 ms)", summarize([]demoAnswer{{after: 3 * ms}}))
	assert.Equal(t, "warm", demoAnswer{}.state())
	assert.Equal(t, "cold", demoAnswer{cold: true}.state())
}
