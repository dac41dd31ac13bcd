package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallManifest has one runtime family with a stem cell and one blackbox.
const smallManifest = `{"runtimes":{"nodejs":[{"kind":"nodejs:20","default":true,"image":{"prefix":"openwhisk","name":"action-nodejs-v20","tag":"nightly"},"stemCells":[{"initialCount":2,"memory":"256 MB"}]}],"python":[{"kind":"python:3","default":true,"image":{"prefix":"openwhisk","name":"action-python-v3.11","tag":"nightly"}}]},"blackboxes":[{"prefix":"openwhisk","name":"dockerskeleton","tag":"nightly"}]}`

// envFunc serves a map as getenv.
func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// baseEnv is a minimal valid OpenWhisk-style environment.
func baseEnv() map[string]string {
	return map[string]string{
		"KAFKA_HOSTS":                   "127.0.0.1:9092",
		"RUNTIMES_MANIFEST":             smallManifest,
		"CONFIG_whisk_couchdb_host":     "127.0.0.1",
		"CONFIG_whisk_couchdb_username": "nemo",
		"CONFIG_whisk_couchdb_password": "nemo",
		"DB_PREFIX":                     "local_",
		"CONFIG_whisk_invoker_password": "not-the-default",
	}
}

// with returns a copy of m with kv pairs applied ("" deletes).
func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// readEnvFile reads KEY=VALUE lines (# comments).
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "bad env line %q", line)
		m[k] = v
	}
	require.NoError(t, sc.Err())
	return m
}

// writeFile writes a config file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// requireInvalid asserts err is an *Error for field whose message contains msg, and wraps ErrInvalid.
func requireInvalid(t *testing.T, err error, field, msg string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInvalid)
	var ce *Error
	require.True(t, errors.As(err, &ce), "not a *config.Error: %T %v", err, err)
	require.Equal(t, field, ce.Field, "field of %q", err.Error())
	require.Contains(t, ce.Msg, msg, "message of %q", err.Error())
	require.NotContains(t, err.Error(), "\n", "error must be one line")
	require.True(t, strings.HasPrefix(err.Error(), "config: "+field+": "), "format of %q", err.Error())
}

func marshalIndent(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}
