package instanceid

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is ZooKeeper's client port, used for a host given without one.
const DefaultPort = 2181

// Hosts is a parsed ZooKeeper connect string (ZOOKEEPER_HOSTS).
type Hosts struct {
	// Servers are host:port pairs, in the order given.
	Servers []string
	// Chroot prefixes every znode path ("" for none), as ZooKeeper's own clients apply a connect
	// string's "/path" suffix.
	Chroot string
}

// String is the connect string again.
func (h Hosts) String() string { return strings.Join(h.Servers, ",") + h.Chroot }

// path is p under the chroot.
func (h Hosts) path(p string) string { return h.Chroot + p }

// ParseHosts parses a ZooKeeper connect string: "host[:port][,host[:port]...][/chroot]", the form
// OpenWhisk deployments put in ZOOKEEPER_HOSTS (Helm: "<release>-zookeeper-0.<release>-zookeeper.<ns>
// .svc.cluster.local:2181"). IPv6 addresses are bracketed ("[::1]:2181"). A missing port is DefaultPort.
// Like OpenWhisk, it refuses an empty string and a host or port left empty around a ':'.
func ParseHosts(s string) (Hosts, error) {
	var h Hosts
	s = strings.TrimSpace(s)
	if s == "" {
		return h, fmt.Errorf("empty, want host:port[,host:port...][/chroot]")
	}
	list := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		list, h.Chroot = s[:i], s[i:]
		if h.Chroot == "/" {
			h.Chroot = ""
		}
		if h.Chroot != "" {
			if strings.HasSuffix(h.Chroot, "/") {
				return Hosts{}, fmt.Errorf("chroot %q ends with '/'", h.Chroot)
			}
			for _, seg := range strings.Split(h.Chroot[1:], "/") {
				if err := CheckName(seg); err != nil {
					return Hosts{}, fmt.Errorf("chroot %q: segment %v", h.Chroot, err)
				}
			}
		}
	}
	for _, hp := range strings.Split(list, ",") {
		hp = strings.TrimSpace(hp)
		if hp == "" {
			return Hosts{}, fmt.Errorf("%q has an empty host in its list", s)
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			// No port: "zk" or "[::1]"; anything else with a ':' is malformed.
			host, port = strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]"), strconv.Itoa(DefaultPort)
			if strings.Contains(hp, ":") && !strings.HasPrefix(hp, "[") {
				return Hosts{}, fmt.Errorf("%q is not host:port", hp)
			}
		}
		if host == "" {
			return Hosts{}, fmt.Errorf("%q has an empty host", hp)
		}
		if strings.ContainsAny(host, " \t/@?#") {
			return Hosts{}, fmt.Errorf("%q is not a host name or address", host)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return Hosts{}, fmt.Errorf("%q: port %q is not a number in 1-65535", hp, port)
		}
		h.Servers = append(h.Servers, net.JoinHostPort(host, port))
	}
	return h, nil
}
