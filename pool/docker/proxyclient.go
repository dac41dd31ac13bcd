package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proxyClient speaks HTTP/1.1 to one action container's proxy over keep-alive connections, each exchange
// on the caller's goroutine. net/http's Transport gives every connection a read and a write goroutine and
// hands each request to them and the response back: three goroutine switches per activation on the hot path
// for a peer that is one process on a local bridge. Here a request is written and its response read by the
// goroutine that runs the activation.
type proxyClient struct {
	addr    string
	maxIdle int
	// idleTimeout drops a connection idle for longer (the proxy may have closed it long ago).
	idleTimeout time.Duration
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)

	mu   sync.Mutex
	idle []*proxyConn // most recently used last
}

type proxyConn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
}

// newProxyClient keeps up to conns idle connections (the container's concurrency) to addr.
func newProxyClient(addr string, conns int) *proxyClient {
	if conns < 1 {
		conns = 1
	}
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	return &proxyClient{addr: addr, maxIdle: conns, idleTimeout: 5 * time.Minute, dial: d.DialContext}
}

// errProxyClosedConn is a connection the proxy closed before it answered (EOF before the status line).
var errProxyClosedConn = errors.New("the action proxy closed the connection before answering")

// post sends body to path as application/json and reads the reply, keeping at most maxResponse bytes
// (truncation bytes when larger). ctx bounds the whole exchange: its deadline becomes the connection's,
// its cancellation interrupts the read or write in progress.
func (p *proxyClient) post(ctx context.Context, path string, body []byte, maxResponse, truncation int64) reply {
	pc, err := p.get(ctx)
	if err != nil {
		return reply{Err: err}
	}
	r, reusable := p.exchangeOn(ctx, pc, path, body, maxResponse, truncation)
	if reusable {
		p.put(pc)
	} else {
		_ = pc.c.Close()
	}
	return r
}

func (p *proxyClient) exchangeOn(ctx context.Context, pc *proxyConn, path string, body []byte, maxResponse, truncation int64) (reply, bool) {
	// The context's end (deadline or cancellation) breaks the blocking read or write. The connection carries
	// no deadline of its own, so an exchange never fails before ctx.Err() says why (the caller tells a
	// cancelled exchange from a proxy that broke off by that).
	stop := context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(time.Unix(1, 0)) })
	r, reusable := p.exchangeBounded(ctx, pc, path, body, maxResponse, truncation)
	if !stop() {
		reusable = false // the deadline was (or is being) poisoned
	}
	return r, reusable
}

func (p *proxyClient) exchangeBounded(ctx context.Context, pc *proxyConn, path string, body []byte, maxResponse, truncation int64) (reply, bool) {
	ctxErr := func(err error) error {
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if e := ctx.Err(); e != nil {
				return fmt.Errorf("%w (%w)", e, err)
			}
		}
		return err
	}

	bw := pc.bw
	_, _ = bw.WriteString("POST ")
	_, _ = bw.WriteString(path)
	_, _ = bw.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = bw.WriteString(p.addr)
	_, _ = bw.WriteString("\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ")
	_, _ = bw.WriteString(strconv.Itoa(len(body)))
	_, _ = bw.WriteString("\r\n\r\n")
	_, _ = bw.Write(body)
	if err := bw.Flush(); err != nil {
		return reply{Err: ctxErr(err)}, false
	}

	// The body is read to its end, or the connection closed instead: Body.Close would drain a body known
	// to be too large to read.
	resp, err := http.ReadResponse(pc.br, nil) //nolint:bodyclose // see above
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %w", errProxyClosedConn, err)
		}
		return reply{Err: ctxErr(err)}, false
	}
	r := reply{Status: resp.StatusCode}
	// The connection can carry another exchange only when this body was read to its end.
	reusable := !resp.Close
	if resp.ContentLength > maxResponse {
		// Known too large: keep the head, do not read the rest (the connection goes with it).
		keep := min(truncation, maxResponse)
		r.Body, err = io.ReadAll(io.LimitReader(resp.Body, keep))
		r.Length, r.Truncated = resp.ContentLength, true
		if err != nil {
			return reply{Status: resp.StatusCode, Err: ctxErr(err)}, false
		}
		return r, false
	}
	buf, err := readBody(resp.Body, resp.ContentLength, maxResponse+1)
	if err != nil {
		return reply{Status: resp.StatusCode, Err: ctxErr(err)}, false
	}
	if int64(len(buf)) > maxResponse {
		// Chunked and too large: count the rest so the error can state the length.
		rest, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return reply{Status: resp.StatusCode, Err: ctxErr(err)}, false
		}
		r.Body = buf[:min(truncation, maxResponse)]
		r.Length, r.Truncated = int64(len(buf))+rest, true
		return r, reusable
	}
	r.Body, r.Length = buf, int64(len(buf))
	return r, reusable
}

// readBody reads up to limit bytes of body, sized at once when the length is known.
func readBody(body io.Reader, length, limit int64) ([]byte, error) {
	if length >= 0 && length < limit {
		buf := make([]byte, length)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(io.LimitReader(body, limit))
}

// get returns an idle connection that is still open, or dials one.
func (p *proxyClient) get(ctx context.Context) (*proxyConn, error) {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(pc.idleFrom) < p.idleTimeout && pc.br.Buffered() == 0 && peerOpen(pc.c) {
			return pc, nil
		}
		_ = pc.c.Close()
	}
	c, err := p.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &proxyConn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, nil
}

// peerOpen reports whether the proxy has neither closed the idle connection nor sent anything on it: one
// non-blocking peek, because no goroutine reads idle connections here (that is what net/http's read loop
// would notice).
func peerOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		open = errors.Is(err, unix.EAGAIN) // 0 bytes: closed; 1: unsolicited bytes
		return true
	})
	return err == nil && open
}

func (p *proxyClient) put(pc *proxyConn) {
	_ = pc.c.SetDeadline(time.Time{})
	pc.idleFrom = time.Now()
	p.mu.Lock()
	if len(p.idle) >= p.maxIdle {
		p.mu.Unlock()
		_ = pc.c.Close()
		return
	}
	p.idle = append(p.idle, pc)
	p.mu.Unlock()
}

// CloseIdleConnections closes the idle connections; exchanges in progress keep theirs until they end.
func (p *proxyClient) CloseIdleConnections() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range idle {
		_ = pc.c.Close()
	}
}
