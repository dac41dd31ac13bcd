package fpc

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fpcEnv is the environment ansible's scheduler_env gives a JVM invoker (roles/invoker/tasks/deploy.yml).
func fpcEnv() map[string]string {
	return map[string]string{
		EnvInvokerProvider:       FPCInvokerProvider,
		EnvInvokerServerProvider: FPCServerProvider,
		EnvEtcdHosts:             "172.17.0.1:2379",
		EnvEtcdLeaseTimeout:      "10",
		EnvEtcdPoolThreads:       "10",
		EnvRetryInterval:         "1 second",
		EnvMaxPeek:               "500",
		EnvClusterName:           "whisk",
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func TestLoad(t *testing.T) {
	want := Defaults()
	wantFPC := Defaults()
	wantFPC.Mode, wantFPC.Server = FPC, FPCServer
	wantFPC.EtcdEndpoints = []string{"172.17.0.1:2379"}
	wantFPC.LeaseTTL, wantFPC.EtcdThreads, wantFPC.MaxPeek = 10*time.Second, 10, 500

	for _, tc := range []struct {
		name string
		env  map[string]string
		want func(c *Config)
	}{
		{"nothing set: classic", nil, func(c *Config) { *c = want }},
		{"empty values count as unset", map[string]string{EnvInvokerProvider: "", EnvInvokerServerProvider: " "}, func(c *Config) { *c = want }},
		{"classic named explicitly", map[string]string{EnvInvokerProvider: ClassicInvokerProvider, EnvInvokerServerProvider: DefaultServerProvider},
			func(c *Config) { *c = want }},
		{"classic ignores etcd settings", map[string]string{EnvEtcdHosts: "not a host"}, func(c *Config) { *c = want }},
		{"ansible scheduler_env", fpcEnv(), func(c *Config) { *c = wantFPC }},
		{"helm: lease 1 s, named endpoint", with(fpcEnv(), EnvEtcdHosts, "owdev-etcd.openwhisk.svc.cluster.local:2379", EnvEtcdLeaseTimeout, "1"),
			func(c *Config) {
				*c = wantFPC
				c.EtcdEndpoints = []string{"owdev-etcd.openwhisk.svc.cluster.local:2379"}
				c.LeaseTTL = time.Second
			}},
		{"FPC core with the default server", with(fpcEnv(), EnvInvokerServerProvider, "<unset>"),
			func(c *Config) { *c = wantFPC; c.Server = DefaultServer }},
		{"classic core with the FPC server", map[string]string{EnvInvokerServerProvider: FPCServerProvider},
			func(c *Config) { *c = want; c.Server = FPCServer }},
		{"several endpoints, http URLs, spaces", with(fpcEnv(), EnvEtcdHosts, "10.0.0.1:2379, http://10.0.0.2:2379/ ,10.0.0.3:2380"),
			func(c *Config) {
				*c = wantFPC
				c.EtcdEndpoints = []string{"10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2380"}
			}},
		{"dereference", with(fpcEnv(), EnvEtcdHosts, "$ETCD", "ETCD", "10.9.9.9:2379"),
			func(c *Config) { *c = wantFPC; c.EtcdEndpoints = []string{"10.9.9.9:2379"} }},
		{"credentials", with(fpcEnv(), EnvEtcdUsername, "root", EnvEtcdPassword, "s3cret"),
			func(c *Config) { *c = wantFPC; c.EtcdUsername, c.EtcdPassword = "root", "s3cret" }},
		{"tuning", with(fpcEnv(), EnvClusterName, "edge", EnvGRPCTLS, "true", EnvRetryInterval, "500", EnvKeepingDuration, "2 minutes",
			EnvMemorySyncInterval, "2s", EnvBatchDeletionSize, "3", EnvPrewarmPromotion, "yes",
			EnvResourceTags, "edge, gpu,", EnvDedicatedNamespaces, "alice"),
			func(c *Config) {
				*c = wantFPC
				c.ClusterName, c.GRPCTLS, c.RetryInterval, c.KeepingDuration = "edge", true, 500*time.Millisecond, 2*time.Minute
				c.MemorySyncInterval, c.BatchDeletionSize, c.PrewarmPromotion = 2*time.Second, 3, true
				c.ResourceTags, c.DedicatedNamespaces = []string{"edge", "gpu"}, []string{"alice"}
			}},
		{"namespace default limits: complete pairs only", with(fpcEnv(), EnvNamespaceDefaultMemoryMin, "128 m", EnvNamespaceDefaultMemoryMax, "512 MB",
			EnvNamespaceDefaultTimeMin, "100 ms", EnvNamespaceDefaultTimeMax, "5 minutes", EnvNamespaceDefaultConcurrencyMax, "4"),
			func(c *Config) {
				*c = wantFPC
				c.NamespaceDefaults = NamespaceDefaults{MemoryMB: &[2]int{128, 512}, Time: &[2]time.Duration{100 * time.Millisecond, 5 * time.Minute}}
			}},
		{"NEMO's own: health action kind, hand-back on container failure",
			with(fpcEnv(), EnvHealthActionKind, "python:3", EnvRescheduleOnContainerFailure, "false", EnvCreationLimitCheck, "Compat"),
			func(c *Config) {
				*c = wantFPC
				c.HealthActionKind, c.RescheduleOnContainerFailure, c.CreationLimitCheck = "python:3", false, "compat"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			var w Config
			tc.want(&w)
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("got  %+v\nwant %+v", got, w)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		name string // the variable the error must name
	}{
		{map[string]string{EnvInvokerProvider: "org.apache.openwhisk.core.invoker.Bogus"}, EnvInvokerProvider},
		{map[string]string{EnvInvokerServerProvider: "FPCInvokerServer"}, EnvInvokerServerProvider},
		{with(fpcEnv(), EnvEtcdHosts, "<unset>"), EnvEtcdHosts},
		{with(fpcEnv(), EnvEtcdHosts, " , "), EnvEtcdHosts},
		{with(fpcEnv(), EnvEtcdHosts, "etcd"), EnvEtcdHosts},
		{with(fpcEnv(), EnvEtcdHosts, "https://etcd:2379"), EnvEtcdHosts},
		{with(fpcEnv(), EnvEtcdHosts, "etcd:0"), EnvEtcdHosts},
		{with(fpcEnv(), EnvEtcdUsername, "root"), EnvEtcdUsername},
		{with(fpcEnv(), EnvEtcdLeaseTimeout, "<unset>"), EnvEtcdLeaseTimeout},
		{with(fpcEnv(), EnvEtcdLeaseTimeout, "10 seconds"), EnvEtcdLeaseTimeout}, // an Int upstream
		{with(fpcEnv(), EnvEtcdLeaseTimeout, "0"), EnvEtcdLeaseTimeout},
		{with(fpcEnv(), EnvEtcdPoolThreads, "<unset>"), EnvEtcdPoolThreads},
		{with(fpcEnv(), EnvMaxPeek, "<unset>"), EnvMaxPeek},
		{with(fpcEnv(), EnvMaxPeek, "-1"), EnvMaxPeek},
		{with(fpcEnv(), EnvClusterName, "a/b"), EnvClusterName},
		{with(fpcEnv(), EnvGRPCTLS, "maybe"), EnvGRPCTLS},
		{with(fpcEnv(), EnvRetryInterval, "soon"), EnvRetryInterval},
		{with(fpcEnv(), EnvKeepingDuration, "0"), EnvKeepingDuration},
		{with(fpcEnv(), EnvBatchDeletionSize, "0"), EnvBatchDeletionSize},
		{with(fpcEnv(), EnvRescheduleOnContainerFailure, "sometimes"), EnvRescheduleOnContainerFailure},
		{with(fpcEnv(), EnvCreationLimitCheck, "strict"), EnvCreationLimitCheck},
		{with(fpcEnv(), EnvNamespaceDefaultMemoryMin, "lots", EnvNamespaceDefaultMemoryMax, "512 MB"), EnvNamespaceDefaultMemoryMin},
		{with(fpcEnv(), EnvNamespaceDefaultTimeMin, "1 s", EnvNamespaceDefaultTimeMax, "never"), EnvNamespaceDefaultTimeMax},
	} {
		_, err := Load(func(k string) string { return tc.env[k] })
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("env %v: err = %v, want ErrInvalid naming %s", tc.env, err, tc.name)
		}
	}
}

// A "$NAME" whose target is empty stays literal, as in transformEnvironment.sh, and then fails as a value.
func TestLoadDereferenceOfEmptyKeepsLiteral(t *testing.T) {
	env := with(fpcEnv(), EnvEtcdHosts, "$MISSING")
	_, err := Load(func(k string) string { return env[k] })
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"$MISSING"`) {
		t.Fatalf("err = %v", err)
	}
}
