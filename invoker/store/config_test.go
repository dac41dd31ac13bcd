package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

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
