package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nemo-edge/nemo/invoker/config"
)

func loadWith(t *testing.T, args []string, env map[string]string) *config.Config {
	t.Helper()
	base := map[string]string{
		"KAFKA_HOSTS":                   "127.0.0.1:9092",
		"CONFIG_whisk_couchdb_host":     "127.0.0.1",
		"CONFIG_whisk_couchdb_username": "u",
		"CONFIG_whisk_couchdb_password": "p",
		"DB_PREFIX":                     "t_",
		"CONFIG_whisk_invoker_username": "test",
		"CONFIG_whisk_invoker_password": "not-the-default",
		"RUNTIMES_MANIFEST":             `{"runtimes":{"go":[{"kind":"go:1.22","default":true,"image":{"prefix":"nemo","name":"action-go","tag":"latest"}}]}}`,
	}
	for k, v := range env {
		base[k] = v
	}
	c, err := config.Load(args, func(k string) string { return base[k] })
	require.NoError(t, err)
	return c
}

func TestAssignIDNothingPending(t *testing.T) {
	c := loadWith(t, []string{"--id", "3", "--uniqueName", "n"}, map[string]string{"ZOOKEEPER_HOSTS": "127.0.0.1:1"})
	require.NoError(t, assignID(context.Background(), c, zerolog.Nop()), "--id given: ZooKeeper is not asked")
	assert.Equal(t, 3, c.Invoker.ID)
}

func TestAssignIDUnreachableIsWorthRetrying(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	c := loadWith(t, []string{"--uniqueName", "kind-worker"}, map[string]string{"ZOOKEEPER_HOSTS": addr})
	c.Invoker.ZooKeeperTimeout = config.Duration(time.Second)
	start := time.Now()
	err = assignID(context.Background(), c, zerolog.Nop())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 10*time.Second, "bounded by invoker.zookeeperTimeout")
	assert.Equal(t, exitFailure, exitCode(err), "%v", err)
	assert.Contains(t, err.Error(), `invoker id for --uniqueName "kind-worker" from ZooKeeper `+addr)
	assert.Contains(t, err.Error(), "connection refused")
}
