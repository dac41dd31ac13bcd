package config

import (
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/nemo-edge/nemo/invoker/activation"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/store"
	"github.com/nemo-edge/nemo/invoker/wire"
	"github.com/nemo-edge/nemo/pool"
	"github.com/nemo-edge/nemo/pool/docker"
	"github.com/nemo-edge/nemo/scheduler"
)

// The methods below translate a validated Config into each component's own configuration. They do not
// validate; call them on what Load, Demo or Validate returned.

// serdesOverhead is OpenWhisk's whisk.activation.serdes-overhead, added to the payload limit for the
// largest Kafka record (docs/protocol.md#producer).
const serdesOverhead = 6068

// InstanceID is the invoker's identity in pings and acks: invoker{ID}, the pool's user memory, the names,
// and empty tags and dedicated namespaces.
func (c *Config) InstanceID() wire.InvokerInstanceID {
	return wire.InvokerInstanceID{
		Instance:            c.Invoker.ID,
		UserMemoryBytes:     int64(c.Pool.UserMemoryMB) << 20,
		UniqueName:          c.Invoker.UniqueName,
		DisplayedName:       c.Invoker.DisplayedName,
		Tags:                []string{},
		DedicatedNamespaces: []string{},
	}
}

// ListenAddr is the HTTP server's address, "host:port" (host empty = every interface).
func (c *Config) ListenAddr() string {
	return net.JoinHostPort(c.Invoker.ListenHost, strconv.Itoa(c.Invoker.Port))
}

// ContainerPrefix is OpenWhisk's container name prefix (docs/protocol.md#names-and-labels): "wsk" + uniqueName + id, keeping
// letters, digits, '_', '.' and '-'. With --id 0 it is "wsk0"; with --uniqueName 0 --id 0, "wsk00".
func (c *Config) ContainerPrefix() string {
	raw := "wsk" + c.Invoker.UniqueName + strconv.Itoa(c.Invoker.ID)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, raw)
}

// MessagingConfig is the Kafka configuration (Brokers is empty when Kafka.Embedded: the caller fills in
// the in-process cluster's address).
func (c *Config) MessagingConfig() messaging.Config {
	return messaging.Config{
		Brokers:               append([]string(nil), c.Kafka.Brokers...),
		Version:               c.Kafka.Version,
		TopicPrefix:           c.Kafka.TopicPrefix,
		UserEventPrefix:       c.Kafka.UserEventPrefix,
		InvokerID:             c.Invoker.ID,
		ReplicationFactor:     int16(c.Kafka.ReplicationFactor),
		MaxRequestBytes:       int(c.Limits.PayloadMaxMB)<<20 + serdesOverhead,
		Security:              c.kafkaSecurity(),
		InvokerTopicOverrides: c.Kafka.InvokerTopic,
	}
}

// MaxPeek is how many activations the feed takes from Kafka before any finishes (docs/protocol.md#consumer).
func (c *Config) MaxPeek() int {
	return messaging.MaxPeek(int(c.Pool.UserMemoryMB), c.Limits.Concurrency.Max, c.Pool.ConcurrentPeekFactor)
}

// StoreConfig is the CouchDB store's configuration (meaningful when Store.Kind is "couchdb").
func (c *Config) StoreConfig() store.Config {
	db := c.Store.CouchDB
	return store.Config{
		Protocol: db.Protocol, Host: db.Host, Port: db.Port, Username: db.Username, Password: db.Password,
		WhisksDB: db.WhisksDB, ActivationsDB: db.ActivationsDB, SubjectsDB: db.SubjectsDB,
	}
}

// StemCells are the pool's prewarm containers: Pool.StemCells when given (a fixed count), else the
// manifest's, with their reactive settings.
func (c *Config) StemCells() []pool.StemCell {
	var out []pool.StemCell
	if c.Pool.StemCells != nil {
		for _, s := range c.Pool.StemCells {
			sc := pool.StemCell{Kind: s.Kind, MemoryMB: int(s.MemoryMB), Count: s.Count}
			if c.Manifest != nil {
				if rk, err := c.Manifest.Resolve(s.Kind); err == nil {
					sc.Kind, sc.Image = rk.Kind, rk.Image
				}
			}
			out = append(out, sc)
		}
		return out
	}
	if c.Manifest != nil {
		for _, s := range c.Manifest.StemCells() {
			sc := pool.StemCell{Kind: s.Kind, Image: s.Image, MemoryMB: s.MemoryMB, Count: s.Count}
			if r := s.Reactive; r != nil {
				sc.Reactive = &pool.Reactive{MinCount: r.MinCount, MaxCount: r.MaxCount, TTL: r.TTL,
					Threshold: r.Threshold, Increment: r.Increment}
			}
			out = append(out, sc)
		}
	}
	return out
}

// PoolConfig is the pool Manager's configuration: the pool bounds (coldReserveMB 0 becomes the pool's
// "no reserve", -1), the container name prefix, and the std time limit for pre-warms.
func (c *Config) PoolConfig() pool.ManagerConfig {
	reserve := int(c.Pool.ColdReserveMB)
	if reserve == 0 {
		reserve = -1
	}
	return pool.ManagerConfig{
		Pool: pool.Config{
			UserMemoryMB:  int(c.Pool.UserMemoryMB),
			MaxWarm:       c.Pool.MaxWarm,
			ColdReserveMB: reserve,
			PauseGrace:    c.Pool.PauseGrace.D(),
			IdleTimeout:   c.Pool.IdleTimeout.D(),
			StemCells:     c.StemCells(),
			NamePrefix:    c.ContainerPrefix(),

			StemCheckInterval:  c.stemCheckInterval(),
			StemCheckInitDelay: c.Pool.PrewarmExpirationCheckInitDelay.D(),
		},
		DefaultTimeout: c.Limits.Time.Std.D(),
	}
}

// EdgeFunctionCPUSet is the cpuset of a configured edge function's containers, "" for any other action
// (the Docker backend's default cpuset applies): the activation path pins containers with it.
func (c *Config) EdgeFunctionCPUSet(docID string) string { return c.edgeFunctionCPUSet(docID) }

// DockerConfig is the Docker backend's configuration. Per-function CPU pinning (EdgeFunction.CPUSet) is
// not part of it: see CPUSetFor.
func (c *Config) DockerConfig() docker.Config {
	d := c.Docker
	mode := docker.NetworkContainerIP
	switch d.Mode {
	case NetworkPublish:
		mode = docker.NetworkPublish
	case NetworkHost:
		mode = docker.NetworkHost
	}
	return docker.Config{
		InvokerID:        strconv.Itoa(c.Invoker.ID),
		Mode:             mode,
		Network:          d.Network,
		PublishHost:      d.PublishHost,
		UserMemoryMB:     int(c.Pool.UserMemoryMB),
		UserCPUs:         d.UserCPUs,
		CPUSet:           d.CPUSet,
		APIHost:          d.APIHost,
		ExtraEnv:         append([]string(nil), d.ExtraEnv...),
		DNS:              append([]string(nil), d.DNS...),
		DNSSearch:        append([]string(nil), d.DNSSearch...),
		DNSOptions:       append([]string(nil), d.DNSOptions...),
		LogSource:        docker.LogSource(d.LogSource),
		MaxResponseBytes: int64(c.Limits.PayloadMaxMB) << 20,
		TruncationBytes:  int64(c.Limits.PayloadTruncationMB) << 20,
		CgroupRoot:       d.CgroupRoot,
		Firewall:         docker.FirewallMode(d.Firewall),
		Forbidden:        c.forbiddenAddresses(),
		User:             d.User,
		ReadOnlyRootfs:   d.ReadOnlyRootfs,
	}
}

// forbiddenAddresses are the Kafka brokers and the CouchDB server, which action containers must not reach.
func (c *Config) forbiddenAddresses() []string {
	out := append([]string(nil), c.Kafka.Brokers...)
	if c.Store.Kind == StoreCouchDB && c.Store.CouchDB.Host != "" {
		out = append(out, net.JoinHostPort(c.Store.CouchDB.Host, strconv.Itoa(c.Store.CouchDB.Port)))
	}
	return out
}

// ActionLimits are the system's action limits as the activation path clamps action documents into them.
func (c *Config) ActionLimits() activation.Limits {
	l := c.Limits
	return activation.Limits{
		MinMemoryMB: int(l.Memory.Min), MaxMemoryMB: int(l.Memory.Max),
		MinTimeout: l.Time.Min.D(), MaxTimeout: l.Time.Max.D(),
		MinLogsMB: int(l.Logs.Min), MaxLogsMB: int(l.Logs.Max),
		MinConcurrency: l.Concurrency.Min, MaxConcurrency: l.Concurrency.Max,
	}
}

// SchedulerConfig is the function controller's configuration. Its pre-warm pool bound is pool.maxWarm.
func (c *Config) SchedulerConfig() scheduler.InvokerConfig {
	s := c.Scheduler
	var score scheduler.Score = scheduler.ExpectedBenefit{
		Slack: s.Score.Slack.D(), MinHorizon: s.Score.MinHorizon.D(), CostWeight: s.Score.CostWeight,
	}
	if s.Score.Kind == ScorePaper {
		score = scheduler.PaperScore{RecencyScale: s.Score.RecencyScale.D()}
	}
	evict := scheduler.EvictByScore
	if s.Evict == "lru" {
		evict = scheduler.EvictLeastRecentInvocation
	}
	maxWarm := c.Pool.MaxWarm
	if maxWarm < 0 {
		maxWarm = math.MaxInt32
	}
	ic := scheduler.InvokerConfig{
		Controller: scheduler.Config{
			Tick:           s.PrewarmInterval.D(),
			StopAfter:      s.KeepAlive.D(),
			Score:          score,
			MinScore:       s.MinScore,
			FreeSlotsOnly:  s.FreeSlotsOnly,
			ReplaceMargin:  s.ReplaceMargin,
			Evict:          evict,
			FailureBackoff: s.FailureBackoff.D(),
			MaxWarm:        maxWarm,
			Trim:           s.Trim,
			MaxSuspend:     s.MaxSuspend.D(),
			History: scheduler.HistoryConfig{
				RateHalfLife: s.History.RateHalfLife.D(), GapDecay: s.History.GapDecay, TimeSmoothing: s.History.TimeSmoothing,
			},
			Hint: c.schedulerHint,
		},
		ControlTimeout: s.ControlTimeout.D(),
		PrewarmTimeout: s.PrewarmTimeout.D(),
	}
	ic.Controller.NoThreadManagement = !s.ThreadManagement
	return ic
}

// EdgeFunction returns the entry for an action document id ("guest/pkg/hello", pool.Key.Action).
func (c *Config) EdgeFunction(docID string) (EdgeFunction, bool) {
	docID = strings.Trim(docID, "/")
	for _, ef := range c.EdgeFunctions {
		if ef.DocID() == docID {
			return ef, true
		}
	}
	return EdgeFunction{}, false
}

// CPUSetFor is the cpuset for an action's containers: its edge function's, else Docker.CPUSet ("" = none).
func (c *Config) CPUSetFor(docID string) string {
	if ef, ok := c.EdgeFunction(docID); ok && ef.CPUSet != "" {
		return ef.CPUSet
	}
	return c.Docker.CPUSet
}

// edgeFunctionCPUSet is the cpuset of a configured edge function, "" otherwise (the backend's default
// applies).
func (c *Config) edgeFunctionCPUSet(docID string) string {
	if ef, ok := c.EdgeFunction(docID); ok {
		return ef.CPUSet
	}
	return ""
}

// schedulerHint is PrewarmHint for the function controller.
func (c *Config) schedulerHint(action string) scheduler.Hint {
	switch c.PrewarmHint(action) {
	case PrewarmAlways:
		return scheduler.HintAlways
	case PrewarmNever:
		return scheduler.HintNever
	}
	return scheduler.HintAuto
}

// ParameterKey holds the parameter-encryption keys, nil when none is configured (Validate checked them):
// invoker.parameterStorage's, plus the deprecated invoker.parameterStorageKey in the slot its size names.
func (c *Config) ParameterKey() *wire.ParameterKey {
	aes128, aes256 := c.parameterKeys()
	if aes128 == "" && aes256 == "" {
		return nil
	}
	k, err := wire.NewParameterKeys(aes128, aes256)
	if err != nil {
		return nil
	}
	return k
}

// parameterKeys merges the deprecated single key into the AES-128 or AES-256 slot (by its decoded size).
func (c *Config) parameterKeys() (aes128, aes256 string) {
	ps := c.Invoker.ParameterStorage
	aes128, aes256 = ps.AES128, ps.AES256
	if old := c.Invoker.ParameterStorageKey; old != "" {
		if k, err := wire.NewParameterKey(old); err == nil {
			if k.Scheme() == "aes128" && aes128 == "" {
				aes128 = old
			} else if k.Scheme() == "aes256" && aes256 == "" {
				aes256 = old
			}
		}
	}
	return aes128, aes256
}

// PrewarmHint is an action's pre-warm hint (PrewarmAuto when it has no edge function entry).
func (c *Config) PrewarmHint(docID string) string {
	if ef, ok := c.EdgeFunction(docID); ok {
		return ef.Prewarm
	}
	return PrewarmAuto
}
