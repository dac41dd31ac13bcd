package harvester

import "time"

// WithClock injects the clock used for linger and sampling timestamps. Default is the wall clock.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithCoalescer injects the ethtool implementation. Default is an ioctl socket
// from github.com/safchain/ethtool, opened in the caller's network namespace.
func WithCoalescer(c Coalescer) Option { return func(o *options) { o.eth = c } }

// WithShmOpener injects how clickshm writers are created. Default is clickshm.Create.
func WithShmOpener(f func(path string, leaseMs uint32) (ShmWriter, error)) Option {
	return func(o *options) { o.shmOpen = f }
}

// WithCounterReader injects interface counters. Default reads Config.SysClassNet.
func WithCounterReader(r CounterReader) Option { return func(o *options) { o.counters = r } }

// WithProcRoot sets where /proc is mounted. Default is /proc.
func WithProcRoot(p string) Option { return func(o *options) { o.procRoot = p } }

// WithCPUSources overrides how an NF's CPU source is chosen. Default: the
// NF's cgroup, else its process; none for an NF with cores alone (see
// NFConfig).
func WithCPUSources(f func(NFConfig) CPUSource) Option { return func(o *options) { o.cpuSource = f } }

// dropHostLocks closes the host lock files without restoring anything, as the
// kernel does when the process dies.
func (m *Manager) dropHostLocks() {
	for _, is := range m.ifaces {
		if is.nic != nil && is.nic.users != nil {
			is.nic.users.close()
			is.nic.active.close()
			is.nic.users, is.nic.active, is.nic.orig, is.nic.applied = nil, nil, nil, 0
		}
	}
}

// WithShmRetry sets how often Run tries to take over a segment another invoker writes. Default 5 s.
func WithShmRetry(d time.Duration) Option { return func(o *options) { o.shmRetry = d } }
