package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nemo-edge/nemo/harvester"
	"github.com/nemo-edge/nemo/invoker/messaging"
	"github.com/nemo-edge/nemo/invoker/wire"
)

// Validate resolves what is derived (the database names from the prefix, the parsed manifest, edge
// function cpusets from their NF's cores, "container-ip" → "ip") and checks every field. It returns the
// first problem as an *Error naming its field. Load calls it; call it again after changing a Config.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.validateInvoker, c.validateKafka, c.validateStore, c.validateRuntimes, c.validateLimits,
		c.validatePool, c.validateDocker, c.validateScheduler, c.validateHarvester, c.validateEdgeFunctions,
		c.validateOpenWhisk, c.validateCredentials,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

var logLevels = []string{"trace", "debug", "info", "warn", "error", "disabled"}

func (c *Config) validateInvoker() error {
	in := &c.Invoker
	switch {
	case in.ID == unsetID && c.pendingID == nil:
		return invalid("invoker.id", "not set: pass --id N (or --uniqueName S with ZOOKEEPER_HOSTS, or set invoker.id in the config file)")
	case in.ID == unsetID: // ZooKeeper will give it (PendingID)
	case in.ID < 0:
		return invalid("invoker.id", "%d is negative", in.ID)
	}
	switch {
	case in.ZooKeeperTimeout <= 0:
		return invalid("invoker.zookeeperTimeout", "%s must be positive", in.ZooKeeperTimeout)
	case in.Port < 1 || in.Port > 65535:
		return invalid("invoker.port", "%d is not a port number (1-65535)", in.Port)
	case in.ListenHost != "" && strings.ContainsAny(in.ListenHost, " /?#@"):
		return invalid("invoker.listenHost", "%q is not a host or IP address", in.ListenHost)
	case in.Username == "":
		return invalid("invoker.username", "empty")
	case strings.Contains(in.Username, ":"):
		return invalid("invoker.username", "%q contains ':' (not allowed in Basic auth)", in.Username)
	case !contains(logLevels, in.LogLevel):
		return invalid("invoker.logLevel", "%q is not one of %s", in.LogLevel, strings.Join(logLevels, ", "))
	case in.MaxConnections < 1:
		return invalid("invoker.maxConnections", "%d must be at least 1", in.MaxConnections)
	case strings.ContainsAny(in.UniqueName, "\n\r"):
		return invalid("invoker.uniqueName", "contains a line break")
	case strings.ContainsAny(in.DisplayedName, "\n\r"):
		return invalid("invoker.displayedName", "contains a line break")
	}
	if in.ParameterStorageKey != "" {
		if _, err := wire.NewParameterKey(in.ParameterStorageKey); err != nil {
			return invalid("invoker.parameterStorageKey", "%v", err)
		}
	}
	return nil
}

// validateCredentials refuses OpenWhisk's well-known default credentials on an address other machines
// (or action containers) can reach, unless the operator accepts that explicitly. It runs last, so a
// configuration with other mistakes reports those first.
func (c *Config) validateCredentials() error {
	in := &c.Invoker
	if in.Username == DefaultUsername && in.Password == DefaultPassword && !in.AllowDefaultCredentials &&
		!loopbackHost(in.ListenHost) {
		return invalid("invoker.password", "the default credentials on %s would let anyone who reaches the port "+
			"disable this invoker: set %s and %s (or invoker.username and invoker.password), listen on loopback "+
			"(invoker.listenHost), or accept the risk with %s=true", listenDesc(in.ListenHost),
			EnvInvokerUsername, EnvInvokerPassword, EnvAllowDefaultCredentials)
	}
	return nil
}

// loopbackHost reports whether listening on host is reachable from this machine only.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func listenDesc(host string) string {
	if host == "" {
		return "every interface"
	}
	return host
}

var topicPrefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

func (c *Config) validateKafka() error {
	k := &c.Kafka
	if k.Embedded && len(k.Brokers) > 0 {
		return invalid("kafka.brokers", "must be empty when kafka.embedded is true")
	}
	if !k.Embedded && len(k.Brokers) == 0 {
		return invalid("kafka.brokers", "empty: set %s or kafka.brokers (or kafka.embedded)", EnvKafkaHosts)
	}
	for i, b := range k.Brokers {
		if err := checkHostPort(b); err != nil {
			return invalid(fmt.Sprintf("kafka.brokers[%d]", i), "%v", err)
		}
	}
	if k.Version == "" {
		return invalid("kafka.version", "empty")
	}
	if _, err := messaging.ParseVersion(k.Version); err != nil {
		return invalidCause("kafka.version", err, "%q is not a Kafka version sarama supports (e.g. \"0.11.0.1\", \"3.9.0\")", k.Version)
	}
	for _, p := range []struct{ field, v string }{{"kafka.topicPrefix", k.TopicPrefix}, {"kafka.userEventPrefix", k.UserEventPrefix}} {
		if !topicPrefixRE.MatchString(p.v) || len(p.v) > 200 {
			return invalid(p.field, "%q: topic names allow only [A-Za-z0-9._-]", p.v)
		}
	}
	if k.ReplicationFactor < 1 || k.ReplicationFactor > math.MaxInt16 {
		return invalid("kafka.replicationFactor", "%d out of range [1, %d]", k.ReplicationFactor, math.MaxInt16)
	}
	return nil
}

// validateStore fills the CouchDB database names from the prefix (<prefix>whisks, …) and checks
// the fields store.New would refuse.
func (c *Config) validateStore() error {
	s := &c.Store
	switch s.Kind {
	case StoreFile:
		if strings.TrimSpace(s.Path) == "" {
			return invalid("store.path", "empty (required for store.kind \"file\")")
		}
		return nil
	case StoreCouchDB:
	default:
		return invalid("store.kind", "%q must be %q or %q", s.Kind, StoreCouchDB, StoreFile)
	}
	db := &s.CouchDB
	for _, n := range []struct {
		dst    *string
		suffix string
	}{{&db.WhisksDB, "whisks"}, {&db.ActivationsDB, "activations"}, {&db.SubjectsDB, "subjects"}} {
		if *n.dst == "" && db.DBPrefix != "" {
			*n.dst = db.DBPrefix + n.suffix
		}
	}
	db.Protocol = strings.ToLower(db.Protocol)
	switch {
	case db.Protocol != "http" && db.Protocol != "https":
		return invalid("store.couchdb.protocol", "%q must be http or https (%s)", db.Protocol, EnvCouchProtocol)
	case db.Host == "":
		return invalid("store.couchdb.host", "empty (set %s)", EnvCouchHost)
	case strings.ContainsAny(db.Host, "/?#@ "):
		return invalid("store.couchdb.host", "%q is not a host name (%s)", db.Host, EnvCouchHost)
	case db.Port < 1 || db.Port > 65535:
		return invalid("store.couchdb.port", "%d is not a port number (%s)", db.Port, EnvCouchPort)
	case db.Username == "":
		return invalid("store.couchdb.username", "empty (set %s)", EnvCouchUsername)
	case db.RequestTimeout.D() < 0:
		return invalid("store.couchdb.requestTimeout", "%s must be positive", db.RequestTimeout)
	}
	if db.RequestTimeout == 0 {
		db.RequestTimeout = Defaults().Store.CouchDB.RequestTimeout
	}
	for _, n := range []struct{ field, env, v string }{
		{"store.couchdb.whisksDb", EnvCouchWhisksDB, db.WhisksDB},
		{"store.couchdb.activationsDb", EnvCouchActivationsDB, db.ActivationsDB},
		{"store.couchdb.subjectsDb", EnvCouchSubjectsDB, db.SubjectsDB},
	} {
		if n.v == "" {
			return invalid(n.field, "empty (set %s or %s)", n.env, EnvDBPrefix)
		}
		if err := checkDBName(n.v); err != nil {
			return invalid(n.field, "%q: %v", n.v, err)
		}
	}
	return nil
}

// checkDBName is CouchDB's rule: ^[a-z][a-z0-9_$()+/-]*$.
func checkDBName(name string) error {
	if name[0] < 'a' || name[0] > 'z' {
		return errors.New("a database name must start with a lowercase letter")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("_$()+-/", r)) {
			return fmt.Errorf("invalid character %q in a database name", r)
		}
	}
	return nil
}

// validateRuntimes parses the manifest (inline or from its file) and applies the registries.
func (c *Config) validateRuntimes() error {
	r := &c.Runtimes
	var data []byte
	field := "runtimes.manifest"
	switch {
	case len(r.Manifest) > 0 && r.ManifestPath != "":
		return invalid("runtimes.manifestPath", "set runtimes.manifest or runtimes.manifestPath, not both")
	case len(r.Manifest) > 0:
		data = r.Manifest
		if c.manifestFrom != "" {
			field = c.manifestFrom
		}
	case r.ManifestPath != "":
		field = "runtimes.manifestPath"
		b, err := os.ReadFile(r.ManifestPath)
		if err != nil {
			return invalidCause(field, err, "cannot read %s: %v", r.ManifestPath, unwrapPathError(err))
		}
		if err := checkJSON(r.ManifestPath, b); err != nil {
			return err
		}
		data = b
	default:
		return invalid("runtimes.manifest", "not set: set %s, runtimes.manifest or runtimes.manifestPath", EnvRuntimesManifest)
	}
	if err := checkJSON(field, data); err != nil {
		return err
	}
	m, err := wire.ParseManifest(data)
	if err != nil {
		return invalidCause(field, err, "%s", strings.TrimPrefix(err.Error(), "wire: "))
	}
	if len(m.Kinds()) == 0 && len(m.Blackboxes) == 0 {
		return invalid(field, "no runtimes and no blackboxes")
	}
	for _, reg := range []struct{ field, v string }{
		{"runtimes.registry", r.Registry}, {"runtimes.userImagesRegistry", r.UserImagesRegistry},
		{"runtimes.localImagePrefix", r.LocalImagePrefix},
	} {
		if strings.ContainsAny(reg.v, " \t\n@") {
			return invalid(reg.field, "%q is not an image registry or prefix", reg.v)
		}
	}
	m.SetRegistries(r.Registry, r.UserImagesRegistry)
	if r.BypassPullForLocalImages {
		m.LocalImagePrefix = r.LocalImagePrefix
	}
	c.Manifest = m
	return nil
}

func (c *Config) validateLimits() error {
	l := &c.Limits
	for _, r := range []struct {
		field         string
		min, max, std int64
		lowest        int64
		show          func(int64) string
	}{
		{"limits.memory", int64(l.Memory.Min), int64(l.Memory.Max), int64(l.Memory.Std), 1, showMB},
		{"limits.logs", int64(l.Logs.Min), int64(l.Logs.Max), int64(l.Logs.Std), 0, showMB},
		{"limits.time", int64(l.Time.Min), int64(l.Time.Max), int64(l.Time.Std), 1, showDuration},
		{"limits.concurrency", int64(l.Concurrency.Min), int64(l.Concurrency.Max), int64(l.Concurrency.Std), 1, showInt},
	} {
		switch {
		case r.min < r.lowest:
			return invalid(r.field+".min", "%s is below %s", r.show(r.min), r.show(r.lowest))
		case r.std < r.min:
			return invalid(r.field+".std", "%s is below %s.min (%s)", r.show(r.std), r.field, r.show(r.min))
		case r.max < r.std:
			return invalid(r.field+".max", "%s is below %s.std (%s)", r.show(r.max), r.field, r.show(r.std))
		}
	}
	if l.PayloadMaxMB < 1 {
		return invalid("limits.payloadMaxMB", "%d must be at least 1", l.PayloadMaxMB)
	}
	if l.PayloadTruncationMB < 1 {
		return invalid("limits.payloadTruncationMB", "%d must be at least 1", l.PayloadTruncationMB)
	}
	return nil
}

func showMB(v int64) string       { return fmt.Sprintf("%d MB", v) }
func showInt(v int64) string      { return fmt.Sprint(v) }
func showDuration(v int64) string { return Duration(v).String() }

func (c *Config) validatePool() error {
	p := &c.Pool
	switch {
	case p.UserMemoryMB < 1:
		return invalid("pool.userMemoryMB", "%d must be positive", p.UserMemoryMB)
	case p.ColdReserveMB < 0:
		return invalid("pool.coldReserveMB", "%d is negative (0 = no reserve)", p.ColdReserveMB)
	case p.ColdReserveMB >= p.UserMemoryMB:
		return invalid("pool.coldReserveMB", "%d must be less than pool.userMemoryMB (%d)", p.ColdReserveMB, p.UserMemoryMB)
	case p.MaxWarm == 0 || p.MaxWarm < -1:
		return invalid("pool.maxWarm", "%d must be at least 1 (or -1 for unbounded)", p.MaxWarm)
	case p.PauseGrace == 0:
		return invalid("pool.pauseGrace", "0 is not allowed: use a positive duration, or a negative one to never pause")
	case p.IdleTimeout == 0:
		return invalid("pool.idleTimeout", "0 is not allowed: use a positive duration, or a negative one to never remove")
	case p.PrewarmExpirationCheckInterval <= 0:
		return invalid("pool.prewarmExpirationCheckInterval", "%v must be positive", p.PrewarmExpirationCheckInterval.D())
	case !(p.ConcurrentPeekFactor > 0) || math.IsInf(p.ConcurrentPeekFactor, 0):
		return invalid("pool.concurrentPeekFactor", "%g must be a positive number", p.ConcurrentPeekFactor)
	}
	total := 0
	for i, s := range p.StemCells {
		f := fmt.Sprintf("pool.stemCells[%d]", i)
		switch {
		case s.Kind == "":
			return invalid(f+".kind", "empty")
		case s.MemoryMB < 1:
			return invalid(f+".memoryMB", "%d must be positive", s.MemoryMB)
		case s.Count < 1:
			return invalid(f+".count", "%d must be positive", s.Count)
		}
		if _, err := c.Manifest.Resolve(s.Kind); err != nil {
			return invalid(f+".kind", "%q is not a kind of the runtimes manifest (%s)", s.Kind, strings.Join(c.Manifest.Kinds(), ", "))
		}
		total += int(s.MemoryMB) * s.Count
	}
	if p.StemCells == nil {
		for _, s := range c.Manifest.StemCells() {
			total += s.MemoryMB * s.Count
		}
	}
	if avail := int(p.UserMemoryMB - p.ColdReserveMB); total > avail {
		field := "pool.stemCells"
		if p.StemCells == nil {
			field = "runtimes.manifest"
		}
		return invalid(field, "stem cells need %d MB, more than pool.userMemoryMB - pool.coldReserveMB (%d MB)", total, avail)
	}
	if err := c.PoolConfig().Pool.Validate(); err != nil { // the pool's own rules, as a backstop
		return invalidCause("pool", err, "%v", err)
	}
	return nil
}

var dockerModes = []string{NetworkIP, NetworkPublish, NetworkHost}

func (c *Config) validateDocker() error {
	d := &c.Docker
	if d.Mode == "container-ip" {
		d.Mode = NetworkIP
	}
	switch {
	case !contains(dockerModes, d.Mode):
		return invalid("docker.mode", "%q is not one of %s", d.Mode, strings.Join(dockerModes, ", "))
	case d.Mode != NetworkHost && strings.TrimSpace(d.Network) == "":
		return invalid("docker.network", "empty")
	case d.Mode != NetworkIP && net.ParseIP(d.PublishHost) == nil:
		return invalid("docker.publishHost", "%q is not an IP address", d.PublishHost)
	case d.UserCPUs < 0 || math.IsNaN(d.UserCPUs) || math.IsInf(d.UserCPUs, 0):
		return invalid("docker.userCpus", "%g must be 0 (no quota) or positive", d.UserCPUs)
	case !contains([]string{"auto", "file", "api"}, d.LogSource):
		return invalid("docker.logSource", "%q is not one of auto, file, api", d.LogSource)
	case !filepath.IsAbs(d.CgroupRoot):
		return invalid("docker.cgroupRoot", "%q must be an absolute path", d.CgroupRoot)
	case !contains([]string{"auto", "on", "off"}, d.Firewall):
		return invalid("docker.firewall", "%q is not one of auto, on, off", d.Firewall)
	case d.Mode == NetworkHost && d.Firewall == "on":
		return invalid("docker.firewall", "\"on\" needs a bridge network: docker.mode host shares the host's network")
	case strings.ContainsAny(d.User, " \t\n"):
		return invalid("docker.user", "%q is not a user (uid[:gid] or a name)", d.User)
	}
	if d.APIHost != "" {
		u, err := url.Parse(d.APIHost)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("docker.apiHost", "%q is not an http(s) URL", d.APIHost)
		}
	}
	if d.CPUSet != "" {
		if err := checkCPUSet(d.CPUSet); err != nil {
			return invalid("docker.cpuset", "%v", err)
		}
	}
	for i, v := range d.ExtraEnv {
		if err := checkEnvVar(v); err != nil {
			return invalid(fmt.Sprintf("docker.extraEnv[%d]", i), "%v", err)
		}
	}
	for i, v := range d.DNS {
		if net.ParseIP(v) == nil {
			return invalid(fmt.Sprintf("docker.dns[%d]", i), "%q is not an IP address", v)
		}
	}
	for _, l := range []struct {
		field string
		vals  []string
	}{{"docker.dnsSearch", d.DNSSearch}, {"docker.dnsOptions", d.DNSOptions}} {
		for i, v := range l.vals {
			if v == "" || strings.ContainsAny(v, " \t\n") {
				return invalid(fmt.Sprintf("%s[%d]", l.field, i), "%q must be one non-empty word", v)
			}
		}
	}
	return nil
}

func (c *Config) validateScheduler() error {
	s := &c.Scheduler
	positive := []struct {
		field string
		v     Duration
	}{
		{"scheduler.prewarmInterval", s.PrewarmInterval}, {"scheduler.failureBackoff", s.FailureBackoff},
		{"scheduler.prewarmTimeout", s.PrewarmTimeout}, {"scheduler.controlTimeout", s.ControlTimeout},
		{"scheduler.score.slack", s.Score.Slack}, {"scheduler.score.minHorizon", s.Score.MinHorizon},
		{"scheduler.score.recencyScale", s.Score.RecencyScale}, {"scheduler.history.rateHalfLife", s.History.RateHalfLife},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return invalid(p.field, "%s must be positive", p.v)
		}
	}
	switch {
	case s.KeepAlive == 0:
		return invalid("scheduler.keepAlive", "0 is not allowed: use a positive duration, or a negative one to never stop")
	case s.MaxSuspend == 0:
		return invalid("scheduler.maxSuspend", "0 is not allowed: use a positive duration, or a negative one to suspend until the invocation ends")
	case !(s.MinScore > 0) || math.IsInf(s.MinScore, 0):
		return invalid("scheduler.minScore", "%g must be positive", s.MinScore)
	case !(s.ReplaceMargin > 0) || math.IsInf(s.ReplaceMargin, 0):
		return invalid("scheduler.replaceMargin", "%g must be positive", s.ReplaceMargin)
	case s.Evict != "score" && s.Evict != "lru":
		return invalid("scheduler.evict", "%q is not one of score, lru", s.Evict)
	case s.Score.Kind != ScoreExpectedBenefit && s.Score.Kind != ScorePaper:
		return invalid("scheduler.score.kind", "%q is not one of %s, %s", s.Score.Kind, ScoreExpectedBenefit, ScorePaper)
	case !(s.Score.CostWeight >= 0 && s.Score.CostWeight <= 1):
		return invalid("scheduler.score.costWeight", "%g out of range [0, 1]", s.Score.CostWeight)
	case !(s.History.GapDecay > 0 && s.History.GapDecay < 1):
		return invalid("scheduler.history.gapDecay", "%g out of range (0, 1)", s.History.GapDecay)
	case !(s.History.TimeSmoothing > 0 && s.History.TimeSmoothing <= 1):
		return invalid("scheduler.history.timeSmoothing", "%g out of range (0, 1]", s.History.TimeSmoothing)
	}
	return nil
}

func (c *Config) validateHarvester() error {
	hc := c.HarvesterConfig()
	err := hc.Validate()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	first := strings.TrimPrefix(errs[0].Error(), harvester.ErrInvalidConfig.Error()+": ")
	field, msg, ok := strings.Cut(first, ": ")
	if !ok {
		field, msg = "", first
	}
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	return invalidCause(strings.TrimSuffix("harvester."+field, "."), err, "%s", msg)
}

// entityNameRE is OpenWhisk's entity name rule (EntityName.REGEX; \w is ASCII there too).
var entityNameRE = regexp.MustCompile(`^([\w]|[\w][\w@ .-]*[\w@.-]+)$`)

var prewarmHints = []string{PrewarmAuto, PrewarmAlways, PrewarmNever}

func (c *Config) validateEdgeFunctions() error {
	nfs := map[string]HarvestNF{}
	for _, nf := range c.Harvester.NFs {
		nfs[nf.Name] = nf
	}
	seen := map[string]int{}
	for i := range c.EdgeFunctions {
		ef := &c.EdgeFunctions[i]
		f := fmt.Sprintf("edgeFunctions[%d]", i)
		ef.Namespace = strings.Trim(ef.Namespace, "/")
		ef.Action = strings.Trim(ef.Action, "/")
		if ef.Prewarm == "" {
			ef.Prewarm = PrewarmAuto
		}
		if !entityNameRE.MatchString(ef.Namespace) {
			return invalid(f+".namespace", "%q is not a namespace name", ef.Namespace)
		}
		parts := strings.Split(ef.Action, "/")
		if len(parts) > 2 {
			return invalid(f+".action", "%q: want \"name\" or \"package/name\"", ef.Action)
		}
		for _, p := range parts {
			if !entityNameRE.MatchString(p) {
				return invalid(f+".action", "%q is not an action name", ef.Action)
			}
		}
		if j, dup := seen[ef.DocID()]; dup {
			return invalid(f+".action", "%q duplicates edgeFunctions[%d]", ef.DocID(), j)
		}
		seen[ef.DocID()] = i
		if !contains(prewarmHints, ef.Prewarm) {
			return invalid(f+".prewarm", "%q is not one of %s", ef.Prewarm, strings.Join(prewarmHints, ", "))
		}
		if ef.NF != "" {
			nf, ok := nfs[ef.NF]
			if !ok {
				return invalid(f+".nf", "%q is not a harvester NF (harvester.nfs[].name)", ef.NF)
			}
			if ef.CPUSet == "" {
				if len(nf.Cores) == 0 {
					return invalid(f+".nf", "NF %q lists no cores to pin to: set harvester.nfs[].cores or %s.cpuset", ef.NF, f)
				}
				ef.CPUSet = formatCPUSet(nf.Cores)
			}
		}
		if ef.CPUSet != "" {
			if err := checkCPUSet(ef.CPUSet); err != nil {
				return invalid(f+".cpuset", "%v", err)
			}
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
