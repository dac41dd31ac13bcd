package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
)

// This file keeps action containers away from what they must not reach, beyond OpenWhisk's isolation:
//
//   - each other: action containers run on a Docker bridge network without inter-container traffic
//     (com.docker.network.bridge.enable_icc=false), which Prepare creates when it does not exist yet;
//   - the invoker's host (its HTTP endpoints, a Kafka broker or CouchDB on the same machine, any other
//     service listening there) and the Kafka brokers and store given in Config.Forbidden wherever they
//     run: iptables rules on the network's bridge, in chains of this invoker's own that Prepare installs
//     and Unprepare removes. Replies to connections the host opened (the invoker dialling /init and /run)
//     and DNS to the host pass.
//
// Host networking (NetworkHost) shares the host's network namespace and cannot be isolated.

// FirewallMode says whether Prepare installs the host firewall rules.
type FirewallMode string

const (
	// FirewallAuto installs the rules when iptables and the network's bridge are reachable from the
	// invoker's network namespace (an invoker on the host), and warns otherwise (an invoker in a container
	// of its own, without the host's network namespace, cannot protect the host).
	FirewallAuto FirewallMode = "auto"
	// FirewallOn installs the rules or fails Prepare (the invoker refuses to start).
	FirewallOn FirewallMode = "on"
	// FirewallOff installs nothing.
	FirewallOff FirewallMode = "off"
)

// Labels and options of the network Prepare creates.
const (
	optICC        = "com.docker.network.bridge.enable_icc"
	optBridgeName = "com.docker.network.bridge.name"
	labelNetwork  = "nemo.network"
)

// networkAPI is what Prepare needs of the engine beyond API (*client.Client has it).
type networkAPI interface {
	NetworkInspect(ctx context.Context, id string, options network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
}

// ErrIsolation: the isolation Config asks for cannot be set up.
var ErrIsolation = errors.New("docker: isolation")

// isolation is what Prepare set up, for Unprepare.
type isolation struct {
	installed [][]string // iptables commands to run to undo the rules (in order)
}

// Prepare readies the host before any container is created: the action network (created without
// inter-container traffic when missing; a warning when an existing one allows it) and the host firewall
// (Config.Firewall). It fails when the network cannot be had or, with FirewallOn, the rules cannot be
// installed.
func (b *Backend) Prepare(ctx context.Context) error {
	if b.cfg.Mode == NetworkHost {
		if b.cfg.Firewall == FirewallOn {
			return fmt.Errorf("%w: host network mode shares the host's network: nothing to firewall", ErrIsolation)
		}
		b.log.Warn().Msg("host network mode: action containers share the invoker's network and can reach everything it can")
		return nil
	}
	napi, ok := b.api.(networkAPI)
	if !ok {
		return fmt.Errorf("%w: the engine client cannot manage networks", ErrIsolation)
	}
	nw, err := b.ensureNetwork(ctx, napi)
	if err != nil {
		return err
	}
	if b.cfg.Firewall == FirewallOff {
		b.log.Warn().Str("network", nw.Name).Msg("host firewall off: action containers can reach the host's services and the Kafka brokers and store")
		return nil
	}
	return b.installFirewall(ctx, nw)
}

// Unprepare removes what Prepare installed (the firewall rules); the network stays for the next start.
func (b *Backend) Unprepare(ctx context.Context) error {
	b.isoMu.Lock()
	defer b.isoMu.Unlock()
	var errs []error
	for _, args := range b.iso.installed {
		if err := b.iptables(ctx, args...); err != nil {
			errs = append(errs, err)
		}
	}
	if len(b.iso.installed) > 0 && len(errs) == 0 {
		b.log.Info().Msg("host firewall rules for action containers removed")
	}
	b.iso.installed = nil
	return errors.Join(errs...)
}

// ensureNetwork inspects Config.Network and creates it, without inter-container traffic, when missing.
func (b *Backend) ensureNetwork(ctx context.Context, napi networkAPI) (network.Inspect, error) {
	ictx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
	nw, err := napi.NetworkInspect(ictx, b.cfg.Network, network.InspectOptions{})
	cancel()
	if cerrdefs.IsNotFound(err) {
		cctx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
		_, err = napi.NetworkCreate(cctx, b.cfg.Network, network.CreateOptions{
			Driver:  "bridge",
			Options: map[string]string{optICC: "false"},
			Labels:  map[string]string{labelNetwork: "actions"},
		})
		cancel()
		if err != nil && !cerrdefs.IsConflict(err) { // created meanwhile by another invoker: fine
			return nw, fmt.Errorf("%w: create network %s: %w", ErrIsolation, b.cfg.Network, err)
		}
		b.log.Info().Str("network", b.cfg.Network).Msg("created the action network without inter-container traffic")
		ictx, cancel := context.WithTimeout(ctx, b.cfg.DockerTimeout)
		nw, err = napi.NetworkInspect(ictx, b.cfg.Network, network.InspectOptions{})
		cancel()
	}
	if err != nil {
		return nw, fmt.Errorf("%w: inspect network %s: %w", ErrIsolation, b.cfg.Network, err)
	}
	if nw.Driver == "bridge" && nw.Options[optICC] != "false" {
		b.log.Warn().Str("network", nw.Name).
			Msg("action containers on this network can reach each other; use a network created with " + optICC + "=false (or leave docker.network to NEMO)")
	}
	return nw, nil
}

// bridgeName is the host interface of a bridge network.
func bridgeName(nw network.Inspect) string {
	if n := nw.Options[optBridgeName]; n != "" {
		return n
	}
	return "br-" + nw.ID[:min(12, len(nw.ID))]
}

// firewallChains are this invoker's chains (the iptables name limit is 28 characters).
func firewallChains(prefix string) (in, fwd string) {
	p := strings.ToUpper(prefix)
	if len(p) > 18 {
		p = p[:18]
	}
	return "NEMO-IN-" + p, "NEMO-FWD-" + p
}

// firewallPlan is the iptables commands that install the rules and those that remove them. It is pure:
// what it decides is tested without touching the host.
func firewallPlan(prefix, bridge, forwardChain string, forbidden []netip.AddrPort) (install, remove [][]string) {
	in, fwd := firewallChains(prefix)
	jumpIn := []string{"INPUT", "-i", bridge, "-j", in}
	jumpFwd := []string{forwardChain, "-i", bridge, "-j", fwd}
	install = [][]string{
		{"-N", in}, {"-F", in},
		{"-A", in, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
		{"-A", in, "-p", "udp", "--dport", "53", "-j", "RETURN"},
		{"-A", in, "-p", "tcp", "--dport", "53", "-j", "RETURN"},
		{"-A", in, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"},
		{"-A", in, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
		{"-N", fwd}, {"-F", fwd},
		{"-A", fwd, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"},
	}
	for _, ap := range forbidden {
		install = append(install, []string{"-A", fwd, "-d", ap.Addr().String(), "-p", "tcp",
			"--dport", strconv.Itoa(int(ap.Port())), "-j", "REJECT", "--reject-with", "tcp-reset"})
	}
	install = append(install, append([]string{"-I"}, insertAt(jumpIn)...), append([]string{"-I"}, insertAt(jumpFwd)...))
	remove = [][]string{
		append([]string{"-D"}, jumpIn...), append([]string{"-D"}, jumpFwd...),
		{"-F", in}, {"-X", in}, {"-F", fwd}, {"-X", fwd},
	}
	return install, remove
}

// insertAt puts a rule first in its chain: CHAIN 1 rest…
func insertAt(rule []string) []string {
	return append([]string{rule[0], "1"}, rule[1:]...)
}

// installFirewall installs the rules for nw's bridge, replacing those a killed earlier run left.
func (b *Backend) installFirewall(ctx context.Context, nw network.Inspect) error {
	bridge := bridgeName(nw)
	why := ""
	if _, err := exec.LookPath(b.cfg.Iptables); err != nil {
		why = "no " + b.cfg.Iptables + " command"
	} else if _, err := os.Stat(filepath.Join("/sys/class/net", bridge)); err != nil {
		why = "bridge " + bridge + " is not in this network namespace (is the invoker in a container of its own?)"
	}
	if why != "" {
		if b.cfg.Firewall == FirewallOn {
			return fmt.Errorf("%w: cannot install the host firewall: %s", ErrIsolation, why)
		}
		b.log.Warn().Str("reason", why).
			Msg("host firewall not installed: action containers can reach the host's services and the Kafka brokers and store")
		return nil
	}
	forbidden := b.resolveForbidden(ctx)
	forward := "DOCKER-USER"
	if b.iptables(ctx, "-n", "-L", forward) != nil {
		forward = "FORWARD" // Docker does not manage iptables here
	}
	install, remove := firewallPlan(b.cfg.InvokerID, bridge, forward, forbidden)
	// Leftovers of an earlier run (killed before Unprepare): remove its jumps, then rebuild.
	for _, args := range remove[:2] {
		for b.iptables(ctx, args...) == nil {
		}
	}
	for _, args := range install {
		err := b.iptables(ctx, args...)
		if err != nil && args[0] == "-N" && strings.Contains(err.Error(), "exists") {
			continue
		}
		if err != nil {
			b.isoMu.Lock()
			b.iso.installed = remove
			b.isoMu.Unlock()
			_ = b.Unprepare(ctx)
			return fmt.Errorf("%w: install the host firewall: %w", ErrIsolation, err)
		}
	}
	b.isoMu.Lock()
	b.iso.installed = remove
	b.isoMu.Unlock()
	addrs := make([]string, len(forbidden))
	for i, a := range forbidden {
		addrs[i] = a.String()
	}
	b.log.Info().Str("bridge", bridge).Strs("forbidden", addrs).
		Msg("host firewall installed: action containers cannot reach this host or the Kafka brokers and store")
	return nil
}

// resolveForbidden turns Config.Forbidden (host:port) into addresses; names that do not resolve are
// skipped with a warning (they are unreachable for the containers too).
func (b *Backend) resolveForbidden(ctx context.Context) []netip.AddrPort {
	var out []netip.AddrPort
	for _, hp := range b.cfg.Forbidden {
		host, portStr, err := net.SplitHostPort(hp)
		port, perr := strconv.ParseUint(portStr, 10, 16)
		if err != nil || perr != nil {
			b.log.Warn().Str("address", hp).Msg("forbidden address is not host:port; ignored")
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip4", host)
		cancel()
		if err != nil {
			b.log.Warn().Err(err).Str("address", hp).Msg("cannot resolve a forbidden address; no rule for it")
			continue
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
			if !slices.Contains(out, ap) {
				out = append(out, ap)
			}
		}
	}
	return out
}

// iptables runs one iptables command (waiting for the xtables lock Docker shares), bounded in time.
func (b *Backend) iptables(ctx context.Context, args ...string) error {
	ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ictx, b.cfg.Iptables, append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", b.cfg.Iptables, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
