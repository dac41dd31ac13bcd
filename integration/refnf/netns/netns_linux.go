// Package netns is TEST EQUIPMENT shared by refnf and trafficgen: it creates
// and removes the project's own network namespaces and veth pair (with the
// `ip` tool) and runs code inside a named namespace on a locked OS thread.
//
// It must not touch any namespace or link other than the ones named in a Pair,
// and it never assigns routes or addresses in the root namespace.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Sentinel errors.
var (
	// ErrNoIPTool means the `ip` binary is not on PATH.
	ErrNoIPTool = errors.New("netns: ip tool not found")
	// ErrNotFound means the named namespace does not exist.
	ErrNotFound = errors.New("netns: namespace not found")
	// ErrBadName means a namespace or interface name is unusable.
	ErrBadName = errors.New("netns: bad name")
)

// RunDir is where `ip netns` keeps its namespace handles.
const RunDir = "/run/netns"

// Path returns the bind-mount path of a named namespace.
func Path(name string) string { return filepath.Join(RunDir, name) }

// Exists reports whether the named namespace exists.
func Exists(name string) bool {
	_, err := os.Stat(Path(name))
	return err == nil
}

// Do runs fn on a locked OS thread that has joined the named network
// namespace, then switches the thread back. Sockets created inside fn stay in
// that namespace for their lifetime. An empty name runs fn in the current
// namespace. If switching back fails the thread is left locked, so the Go
// runtime discards it instead of reusing a thread in the wrong namespace.
func Do(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	if err := checkName(name); err != nil {
		return err
	}
	target, err := os.Open(Path(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return fmt.Errorf("netns: open %s: %w", name, err)
	}
	defer target.Close()

	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open own namespace: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: setns %s: %w", name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return errors.Join(fnErr, fmt.Errorf("netns: switch back from %s: %w", name, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// Interface looks up an interface inside a namespace.
func Interface(ns, ifname string) (*net.Interface, error) {
	var ifi *net.Interface
	err := Do(ns, func() error {
		var err error
		ifi, err = net.InterfaceByName(ifname)
		if err != nil {
			return fmt.Errorf("netns: interface %s in %q: %w", ifname, ns, err)
		}
		return nil
	})
	return ifi, err
}

// Pair describes the test topology: a veth pair whose NF end lives in NFNetns
// and whose peer end lives in PeerNetns ("" = the current namespace). No IP
// addresses are configured on either end: traffic is injected at layer 2, so
// the kernels in both namespaces drop the IPv4 packets silently (no route, no
// ICMP) and nothing can leave the pair.
type Pair struct {
	NFNetns, PeerNetns string
	NFIf, PeerIf       string
	NFMAC, PeerMAC     string // e.g. 02:77:00:00:00:02; "" keeps the kernel's random MAC
	MTU                int    // 0 = 1500
}

// DefaultPair is the topology nf-bench.sh uses.
func DefaultPair() Pair {
	return Pair{
		NFNetns: "nemo-nf", PeerNetns: "nemo-tg",
		NFIf: "nfin0", PeerIf: "nfout0",
		NFMAC: "02:77:00:00:00:02", PeerMAC: "02:77:00:00:00:01",
	}
}

func checkName(s string) error {
	if s == "" || len(s) > 15 || strings.ContainsAny(s, "/ \t\n") || s == "." || s == ".." {
		return fmt.Errorf("%w: %q", ErrBadName, s)
	}
	return nil
}

func (p Pair) validate() error {
	for _, n := range []string{p.NFNetns, p.NFIf, p.PeerIf} {
		if err := checkName(n); err != nil {
			return err
		}
	}
	if p.PeerNetns != "" {
		if err := checkName(p.PeerNetns); err != nil {
			return err
		}
		if p.PeerNetns == p.NFNetns {
			return fmt.Errorf("%w: peer and NF namespaces must differ", ErrBadName)
		}
	}
	for _, m := range []string{p.NFMAC, p.PeerMAC} {
		if m == "" {
			continue
		}
		if _, err := net.ParseMAC(m); err != nil {
			return fmt.Errorf("%w: MAC %q", ErrBadName, m)
		}
	}
	return nil
}

// ip runs the ip tool with a deadline and returns its combined output.
func ip(ctx context.Context, args ...string) (string, error) {
	bin, err := exec.LookPath("ip")
	if err != nil {
		return "", ErrNoIPTool
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("netns: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// HaveIPTool reports whether `ip` is available.
func HaveIPTool() bool {
	_, err := exec.LookPath("ip")
	return err == nil
}

func nsArgs(ns string, args ...string) []string {
	if ns == "" {
		return args
	}
	return append([]string{"-n", ns}, args...)
}

func linkExists(ctx context.Context, ns, ifname string) bool {
	_, err := ip(ctx, nsArgs(ns, "link", "show", "dev", ifname)...)
	return err == nil
}

// Ensure creates whatever part of the topology is missing and brings both
// ends up. It is idempotent. It reports whether it created the NF namespace.
func (p Pair) Ensure(ctx context.Context) (created bool, err error) {
	if err := p.validate(); err != nil {
		return false, err
	}
	if !HaveIPTool() {
		return false, ErrNoIPTool
	}
	for _, ns := range []string{p.NFNetns, p.PeerNetns} {
		if ns == "" || Exists(ns) {
			continue
		}
		if _, err := ip(ctx, "netns", "add", ns); err != nil {
			return created, err
		}
		if ns == p.NFNetns {
			created = true
		}
		if _, err := ip(ctx, "-n", ns, "link", "set", "lo", "up"); err != nil {
			return created, err
		}
	}
	nfThere := linkExists(ctx, p.NFNetns, p.NFIf)
	peerThere := linkExists(ctx, p.PeerNetns, p.PeerIf)
	if nfThere != peerThere {
		return created, fmt.Errorf("netns: half a pair exists (%s in %q: %v, %s in %q: %v); run teardown first",
			p.NFIf, p.NFNetns, nfThere, p.PeerIf, p.PeerNetns, peerThere)
	}
	if !nfThere {
		// Create both ends inside the NF namespace, then move the peer out:
		// no moment exists where an end sits in an unrelated namespace.
		if _, err := ip(ctx, "-n", p.NFNetns, "link", "add", p.NFIf, "type", "veth", "peer", "name", p.PeerIf); err != nil {
			return created, err
		}
		peerDest := p.PeerNetns
		if peerDest == "" {
			peerDest = "1" // pid 1's namespace: the root one
		}
		if _, err := ip(ctx, "-n", p.NFNetns, "link", "set", p.PeerIf, "netns", peerDest); err != nil {
			return created, err
		}
	}
	ends := []struct{ ns, ifname, mac string }{{p.NFNetns, p.NFIf, p.NFMAC}, {p.PeerNetns, p.PeerIf, p.PeerMAC}}
	for _, e := range ends {
		if e.mac != "" {
			if _, err := ip(ctx, nsArgs(e.ns, "link", "set", "dev", e.ifname, "address", e.mac)...); err != nil {
				return created, err
			}
		}
		if p.MTU > 0 {
			if _, err := ip(ctx, nsArgs(e.ns, "link", "set", "dev", e.ifname, "mtu", fmt.Sprint(p.MTU))...); err != nil {
				return created, err
			}
		}
		// No IPv6 autoconfiguration: keeps router solicitations and MLD
		// reports off the wire so packet counts are exact.
		if _, err := ip(ctx, nsArgs(e.ns, "link", "set", "dev", e.ifname, "addrgenmode", "none")...); err != nil {
			return created, err
		}
		if _, err := ip(ctx, nsArgs(e.ns, "link", "set", "dev", e.ifname, "up")...); err != nil {
			return created, err
		}
	}
	return created, nil
}

// Teardown deletes the namespaces of the pair. Deleting a namespace deletes
// the veth end inside it, and a veth end never outlives its peer, so the pair
// goes too (also when PeerNetns is ""; no root-namespace link is touched by
// name). Missing pieces are not an error.
func (p Pair) Teardown(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return err
	}
	if !HaveIPTool() {
		return ErrNoIPTool
	}
	var errs []error
	for _, ns := range []string{p.NFNetns, p.PeerNetns} {
		if ns == "" || !Exists(ns) {
			continue
		}
		if _, err := ip(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
