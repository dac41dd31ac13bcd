package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func fullEnv() map[string]string {
	return map[string]string{
		EnvProtocol: "http", EnvHost: "couchdb", EnvPort: "5984", EnvUsername: "whisk_admin", EnvPassword: "some_passw0rd",
		EnvWhisksDB: "local_whisks", EnvActivationsDB: "local_activations", EnvSubjectsDB: "local_subjects",
	}
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(fullEnv()))
	require.NoError(t, err)
	require.Equal(t, Config{
		Protocol: "http", Host: "couchdb", Port: 5984, Username: "whisk_admin", Password: "some_passw0rd",
		WhisksDB: "local_whisks", ActivationsDB: "local_activations", SubjectsDB: "local_subjects",
	}, cfg)
	require.Equal(t, "http://couchdb:5984", cfg.baseURL())
}

func TestConfigFromEnvDBPrefixFallback(t *testing.T) {
	env := fullEnv()
	delete(env, EnvWhisksDB)
	delete(env, EnvActivationsDB)
	delete(env, EnvSubjectsDB)
	env[EnvDBPrefix] = "local_"
	cfg, err := ConfigFromEnv(envOf(env))
	require.NoError(t, err)
	require.Equal(t, "local_whisks", cfg.WhisksDB)
	require.Equal(t, "local_activations", cfg.ActivationsDB)
	require.Equal(t, "local_subjects", cfg.SubjectsDB)

	// An explicit name wins over the prefix.
	env[EnvActivationsDB] = "acts"
	cfg, err = ConfigFromEnv(envOf(env))
	require.NoError(t, err)
	require.Equal(t, "acts", cfg.ActivationsDB)
	require.Equal(t, "local_whisks", cfg.WhisksDB)
}

func TestConfigFromEnvDereferencesDollarValues(t *testing.T) {
	env := fullEnv()
	env[EnvPassword] = "$COUCH_SECRET"
	env["COUCH_SECRET"] = "from-elsewhere"
	env[EnvHost] = "$COUCH_HOST"
	env["COUCH_HOST"] = "db.local"
	cfg, err := ConfigFromEnv(envOf(env))
	require.NoError(t, err)
	require.Equal(t, "from-elsewhere", cfg.Password)
	require.Equal(t, "db.local", cfg.Host)
}

func TestConfigFromEnvErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(map[string]string)
		wantVar string
	}{
		{"missing port", func(e map[string]string) { delete(e, EnvPort) }, EnvPort},
		{"port not a number", func(e map[string]string) { e[EnvPort] = "fivenine" }, EnvPort},
		{"port out of range", func(e map[string]string) { e[EnvPort] = "70000" }, EnvPort},
		{"missing host", func(e map[string]string) { delete(e, EnvHost) }, EnvHost},
		{"missing protocol", func(e map[string]string) { delete(e, EnvProtocol) }, EnvProtocol},
		{"bad protocol", func(e map[string]string) { e[EnvProtocol] = "ftp" }, EnvProtocol},
		{"missing username", func(e map[string]string) { delete(e, EnvUsername) }, EnvUsername},
		{"missing whisks db without prefix", func(e map[string]string) { delete(e, EnvWhisksDB) }, EnvWhisksDB},
		{"missing activations db without prefix", func(e map[string]string) { delete(e, EnvActivationsDB) }, EnvActivationsDB},
		{"missing subjects db without prefix", func(e map[string]string) { delete(e, EnvSubjectsDB) }, EnvSubjectsDB},
		{"invalid db name", func(e map[string]string) { e[EnvWhisksDB] = "Whisks" }, EnvWhisksDB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := fullEnv()
			tc.edit(env)
			_, err := ConfigFromEnv(envOf(env))
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrInvalid), "%v", err)
			require.Contains(t, err.Error(), tc.wantVar)
		})
	}
}

func TestConfigFromURL(t *testing.T) {
	cfg, err := ConfigFromURL("http://nemo:nemo@127.0.0.1:5984", "t1_")
	require.NoError(t, err)
	require.Equal(t, Config{Protocol: "http", Host: "127.0.0.1", Port: 5984, Username: "nemo", Password: "nemo",
		WhisksDB: "t1_whisks", ActivationsDB: "t1_activations", SubjectsDB: "t1_subjects"}, cfg)

	_, err = ConfigFromURL("ftp://u:p@host:1", "x_")
	require.ErrorIs(t, err, ErrInvalid)
	_, err = ConfigFromURL("http://host:1", "x_")
	require.ErrorIs(t, err, ErrInvalid) // no username
	require.True(t, strings.Contains(err.Error(), EnvUsername))
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	_, err := New(Config{Protocol: "http", Host: "h", Port: 0, Username: "u", WhisksDB: "a", ActivationsDB: "b", SubjectsDB: "c"}, nopLogger())
	require.ErrorIs(t, err, ErrInvalid)
}
