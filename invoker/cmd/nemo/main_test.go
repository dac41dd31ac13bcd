package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/config"
)

func TestExitCodeSeparatesConfigurationErrors(t *testing.T) {
	_, err := config.Load([]string{"--id", "0"}, func(k string) string {
		if k == "CONFIG_whisk_containerPool_userMemory" {
			return "lots"
		}
		return ""
	})
	require.Error(t, err)
	assert.Equal(t, exitConfig, exitCode(err), "invalid configuration: %v", err)
	assert.Equal(t, exitConfig, exitCode(fmt.Errorf("startup: %w", err)), "also when wrapped")
	assert.Equal(t, exitFailure, exitCode(errors.New("kafka: connect to [127.0.0.1:1]: connection refused")))
}
