package fetch

import (
	"crypto/tls"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nemo-edge/nemo/invoker/fpc/activationpb"
)

// maxMessageBytes bounds one FetchResponse: an activation message is at most about 1 MB of payload plus its
// envelope, so 8 MB leaves room without letting a broken peer make the invoker allocate without limit.
const maxMessageBytes = 8 << 20

// Conns keeps one gRPC connection (one HTTP/2 connection, multiplexing every container's calls) per scheduler
// endpoint, shared by all pullers of that scheduler and closed when the last one releases it. The scheduler
// serves cleartext HTTP/2 unless whisk.scheduler.grpc.tls is set.
type Conns struct {
	tls   *tls.Config // nil: cleartext (h2c)
	mu    sync.Mutex
	conns map[string]*sharedConn
	dials int // connections created, for tests and metrics
}

type sharedConn struct {
	conn   *grpc.ClientConn
	client activationpb.ActivationServiceClient
	refs   int
}

// NewConns returns an empty set. tlsConfig nil means cleartext, as the scheduler serves by default.
func NewConns(tlsConfig *tls.Config) *Conns {
	return &Conns{tls: tlsConfig, conns: map[string]*sharedConn{}}
}

// Acquire returns the client for target (host:port), creating its connection on first use. grpc.NewClient
// does not dial: the connection is made by the first call and re-made by gRPC after a failure. Each Acquire
// must be paired with one Release.
func (c *Conns) Acquire(target string) (activationpb.ActivationServiceClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.conns[target]; ok {
		s.refs++
		return s.client, nil
	}
	creds := insecure.NewCredentials()
	if c.tls != nil {
		creds = credentials.NewTLS(c.tls)
	}
	conn, err := grpc.NewClient("dns:///"+target,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)))
	if err != nil {
		return nil, fmt.Errorf("%w: scheduler %s: %v", ErrTransport, target, err)
	}
	c.dials++
	s := &sharedConn{conn: conn, client: activationpb.NewActivationServiceClient(conn), refs: 1}
	c.conns[target] = s
	return s.client, nil
}

// Release drops one reference to target's connection and closes it when none is left.
func (c *Conns) Release(target string) {
	c.mu.Lock()
	s, ok := c.conns[target]
	if ok {
		s.refs--
		if s.refs <= 0 {
			delete(c.conns, target)
		}
	}
	c.mu.Unlock()
	if ok && s.refs <= 0 {
		_ = s.conn.Close()
	}
}

// Open is the number of connections currently open, and Created how many were ever created.
func (c *Conns) Open() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.conns) }

// Created is how many connections were ever created.
func (c *Conns) Created() int { c.mu.Lock(); defer c.mu.Unlock(); return c.dials }

// Close closes every connection (on invoker shutdown, after the pullers have said goodbye).
func (c *Conns) Close() {
	c.mu.Lock()
	all := c.conns
	c.conns = map[string]*sharedConn{}
	c.mu.Unlock()
	for _, s := range all {
		_ = s.conn.Close()
	}
}
