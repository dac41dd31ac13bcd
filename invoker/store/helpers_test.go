package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nemo-edge/nemo/pool/proxy"
	"github.com/stretchr/testify/require"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// mustErrorText extracts result.error of an error response.
func mustErrorText(t testing.TB, r proxy.Response) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.Result, &body))
	return body.Error
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}
