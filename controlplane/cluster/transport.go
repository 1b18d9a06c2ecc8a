package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/clustertls"
)

// handshakeTimeout bounds a TLS handshake on the Raft port, so that a
// client that connects and sends nothing holds no goroutine for long.
const handshakeTimeout = 10 * time.Second

// streamLayer is raft's TCP stream layer (what raft.NewTCPTransport builds)
// with three differences: every connection is mutual TLS from the cluster
// CA (a peer without a member certificate gets no byte through to raft),
// the address it advertises may be a host name, which peers resolve on
// every dial (raft keeps members by that string, so a node that comes back
// on a new IP under the same name, as a Kubernetes pod or a compose
// service does, is still found), and an optional gate through which tests
// cut the node off the network.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr // nil: the listener's address
	tls       *clustertls.Config
	gate      *netGate // nil in production
	// resolve maps a dialled address before the dial (tests: DNS); nil
	// in production.
	resolve func(string) string
}

// newStreamLayer listens on bind. advertise may be nil.
func newStreamLayer(bind string, advertise net.Addr, tc *clustertls.Config, gate *netGate) (*streamLayer, error) {
	if tc == nil {
		return nil, errors.New("the Raft transport needs cluster TLS")
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	s := &streamLayer{ln: ln, advertise: advertise, tls: tc, gate: gate}
	if advertise == nil {
		if a, ok := ln.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
			ln.Close()
			return nil, errors.New("the Raft address other nodes would use is not a concrete IP and port: set the advertise address")
		}
	}
	return s, nil
}

// hostPortAddr is an advertised address kept as written, host name and
// all, rather than resolved once (as a *net.TCPAddr would be).
type hostPortAddr string

// Network implements net.Addr.
func (hostPortAddr) Network() string { return "tcp" }

// String implements net.Addr: the host:port as configured.
func (a hostPortAddr) String() string { return string(a) }

// Accept implements net.Listener. It returns the connection as a TLS
// server that requires a member certificate; the handshake runs on the
// connection's first read, in raft's goroutine for it, so that a slow
// client delays no one else. While the gate is cut, it drops every
// connection it accepts.
func (s *streamLayer) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		if s.gate != nil {
			var ok bool
			if c, ok = s.gate.track(c); !ok {
				continue
			}
		}
		return &serverConn{Conn: tls.Server(c, s.tls.Server())}, nil
	}
}

// serverConn is an accepted TLS connection whose handshake has a deadline.
type serverConn struct {
	*tls.Conn
	once sync.Once
	err  error
}

// Read implements net.Conn: the handshake first (bounded), then the data.
func (c *serverConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		defer cancel()
		if c.err = c.HandshakeContext(ctx); c.err != nil {
			c.err = fmt.Errorf("Raft peer %s refused: %w", c.RemoteAddr(), c.err)
			_ = c.Close()
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

// Close implements net.Listener.
func (s *streamLayer) Close() error { return s.ln.Close() }

// Addr implements net.Listener: the address advertised to other nodes.
func (s *streamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}

// Dial implements raft.StreamLayer: a TLS client that checks the peer's
// certificate against the cluster CA and the host dialled, and presents
// this node's.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	host, _, err := net.SplitHostPort(string(addr))
	if err != nil {
		return nil, fmt.Errorf("Raft peer address %q: %w", addr, err)
	}
	c, err := s.dial(ctx, "tcp", string(addr))
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, s.tls.Client(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS with Raft peer %s: %w", addr, err)
	}
	return tc, nil
}

// dial connects through the gate, if any.
func (s *streamLayer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.resolve != nil {
		addr = s.resolve(addr)
	}
	if s.gate != nil {
		return s.gate.DialContext(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// errCutOff is what a cut gate answers dials with.
var errCutOff = errors.New("network cut off (test)")

// netGate carries a node's connections so that a test can cut them all at
// once and refuse new ones: a network partition of one node. Production
// nodes have none.
type netGate struct {
	mu    sync.Mutex
	cut   bool
	conns map[*gatedConn]struct{}
}

func newNetGate() *netGate { return &netGate{conns: make(map[*gatedConn]struct{})} }

// Cut closes every connection through the gate and refuses new ones until
// Heal.
func (g *netGate) Cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cut = true
	for c := range g.conns {
		c.Conn.Close() // not c.Close, which takes g.mu
	}
	clear(g.conns)
}

// Heal lets connections through again.
func (g *netGate) Heal() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cut = false
}

// DialContext dials through the gate; it fails at once while cut.
func (g *netGate) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	cut := g.cut
	g.mu.Unlock()
	if cut {
		return nil, errCutOff
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if c, ok := g.track(c); ok {
		return c, nil
	}
	return nil, errCutOff
}

// track registers c, or closes it and returns false while cut.
func (g *netGate) track(c net.Conn) (net.Conn, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cut {
		c.Close()
		return nil, false
	}
	gc := &gatedConn{Conn: c, gate: g}
	g.conns[gc] = struct{}{}
	return gc, true
}

// gatedConn forgets itself in its gate when closed.
type gatedConn struct {
	net.Conn
	gate *netGate
}

// Close implements net.Conn.
func (c *gatedConn) Close() error {
	c.gate.mu.Lock()
	delete(c.gate.conns, c)
	c.gate.mu.Unlock()
	return c.Conn.Close()
}

// Interface guard.
var _ raft.StreamLayer = (*streamLayer)(nil)
