package registrytest

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// proxyMode is what a Proxy does with the bytes it is given.
type proxyMode int

const (
	modeForward   proxyMode = iota // copy bytes both ways
	modePause                      // hold bytes until Resume, then deliver them
	modeBlackhole                  // drop bytes silently; the connection is broken for good
)

// Proxy is a TCP proxy on loopback between clients and one upstream address,
// for fault tests. Point a client at Addr; then Pause, Blackhole or DropAll
// to break the path, and Resume to heal it. Its methods are safe for concurrent use.
type Proxy struct {
	upstream string
	ln       net.Listener
	wg       sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond // signalled when mode changes or the proxy closes
	mode     proxyMode
	closed   bool
	conns    map[*proxyConn]struct{}
	accepted int // connections ever forwarded
}

// proxyConn is one client connection and its upstream connection.
type proxyConn struct {
	client, server net.Conn
	broken         bool // saw traffic while black-holed; guarded by Proxy.mu
}

// StartProxy starts a proxy to upstream for the test and closes it at cleanup.
func StartProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	p, err := NewProxy(upstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewProxy starts a proxy to upstream on a free loopback port.
func NewProxy(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registrytest: proxy listen: %w", err)
	}
	p := &Proxy{upstream: upstream, ln: ln, conns: map[*proxyConn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	return p, nil
}

// Addr returns the host:port clients should dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Upstream returns the address the proxy forwards to.
func (p *Proxy) Upstream() string { return p.upstream }

// Pause holds every byte in both directions, on open and new connections,
// until Resume. Connections stay open: to both ends the path looks stalled.
func (p *Proxy) Pause() { p.setMode(modePause) }

// Blackhole silently drops every byte in both directions, as a network
// partition does. New connections are accepted and then hear nothing.
// Connections that lose bytes are closed when the proxy resumes.
func (p *Proxy) Blackhole() { p.setMode(modeBlackhole) }

// Resume forwards again. Held bytes are delivered; connections that lost
// bytes while black-holed are closed so their ends reconnect.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.mode = modeForward
	var broken []*proxyConn
	for c := range p.conns {
		if c.broken {
			broken = append(broken, c)
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	for _, c := range broken {
		c.close()
	}
}

// DropAll closes every open connection; new ones are still accepted.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// Conns returns the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Accepted returns the number of connections the proxy has ever forwarded:
// it grows when a client reconnects, even before a dropped connection is
// gone from Conns.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops accepting, closes every connection and waits for the proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.ln.Close()
	p.DropAll()
	p.wg.Wait()
}

func (p *Proxy) setMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(client) })
	}
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		client.Close()
		return
	}
	c := &proxyConn{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.accepted++
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(c, server, client) })
	p.pipe(c, client, server)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst chunk by chunk, applying the mode to each chunk.
// It closes both ends when either fails.
func (p *Proxy) pipe(c *proxyConn, dst, src net.Conn) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && p.admit(c) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// admit waits out a pause and reports whether a chunk should be forwarded.
func (p *Proxy) admit(c *proxyConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mode == modePause && !p.closed {
		p.cond.Wait()
	}
	if p.mode == modeBlackhole || c.broken {
		c.broken = true
		return false
	}
	return !p.closed
}

func (c *proxyConn) close() {
	c.client.Close()
	c.server.Close()
}
