package etcdreg

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A config missing what the session cannot work without is refused before any connection is attempted.
func TestOpenRefusesIncompleteConfig(t *testing.T) {
	good := Config{Endpoints: []string{"127.0.0.1:1"}, LeaseTTL: time.Second, LeaseKey: "whisk/instance/invoker0/lease", WatchPrefix: "whisk/"}
	for name, mutate := range map[string]func(*Config){
		"no endpoints":    func(c *Config) { c.Endpoints = nil },
		"TTL below 1 s":   func(c *Config) { c.LeaseTTL = 500 * time.Millisecond },
		"no lease key":    func(c *Config) { c.LeaseKey = "" },
		"no watch prefix": func(c *Config) { c.WatchPrefix = "" },
	} {
		c := good
		mutate(&c)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		if _, err := Open(ctx, c, zerolog.Nop()); err == nil {
			t.Errorf("%s: opened", name)
		}
		cancel()
		if time.Since(start) > 500*time.Millisecond {
			t.Errorf("%s: refused only after trying to connect", name)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Endpoints: []string{"x:1"}, LeaseTTL: 10 * time.Second, LeaseKey: "k", WatchPrefix: "p/"}
	if err := c.defaults(); err != nil {
		t.Fatal(err)
	}
	if c.KeepAliveInterval != 500*time.Millisecond || c.RetryInterval != time.Second || c.CallTimeout != 3*time.Second {
		t.Fatalf("defaults %+v", c)
	}
}
