// Package netfault is a TCP proxy on the loopback interface that fault
// tests put between a client and a real server (PostgreSQL, Redis, a
// broker, another node) to make the network between them misbehave on
// demand: delay every byte the client sends, stall both directions
// without closing anything, refuse new connections, or cut the open
// ones. The client is pointed at the proxy's Addr instead of the server;
// nothing else changes, so the server and the client's driver are the
// real ones.
//
//	p, err := netfault.Start("127.0.0.1:5432")
//	defer p.Close()
//	dsn := "postgres://postgres@" + p.Addr() + "/db"
//	p.Set(netfault.Fault{Delay: 500 * time.Millisecond}) // every query 500 ms late
//	p.Set(netfault.Fault{})                              // healthy again
//
// A fault applies at once to every connection, open or new, and lasts
// until the next Set. The proxy never reads the protocol: a "query" is
// whatever the client writes in one go, which for request-response
// protocols (PostgreSQL's extended query, RESP, Kafka) is one request.
package netfault

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Fault is what the proxy does to the traffic; the zero value forwards
// it untouched.
type Fault struct {
	// Delay holds each chunk the client sends for this long before it
	// goes on to the server (a slow server or link: a request-response
	// round trip takes Delay more). Chunks keep their order and their
	// spacing: a stream is shifted by Delay, not slowed to one chunk per
	// Delay. Answers come back undelayed.
	Delay time.Duration
	// Stall forwards nothing in either direction while it is set, and
	// closes nothing: a hung server or a network that drops every
	// packet. What was held flows on when the stall ends.
	Stall bool
	// Refuse closes the listener, so that new connections are refused
	// (ECONNREFUSED) as by a server that is down; open connections are
	// left alone (Drop cuts them). The proxy listens again on the same
	// address when a Fault without Refuse is set.
	Refuse bool
}

// chunkSize bounds one read from either side.
const chunkSize = 32 << 10

// Proxy forwards connections from its own address to a target address.
type Proxy struct {
	target string
	addr   string

	mu      sync.Mutex
	fault   Fault
	changed chan struct{} // closed and replaced on every Set
	ln      net.Listener  // nil while refusing
	conns   map[*pair]struct{}
	closed  bool
	accepts sync.WaitGroup // accept loops
	pairs   sync.WaitGroup // connections' goroutines
}

// Start listens on a free loopback port and forwards every connection to
// target (host:port). Close stops it.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netfault: listen: %w", err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln,
		changed: make(chan struct{}), conns: make(map[*pair]struct{})}
	p.accepts.Add(1)
	go p.accept(ln)
	return p, nil
}

// Addr is the proxy's host:port, the address to give the client. It
// stays the same across Refuse.
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Set replaces the current fault with f, for open and new connections.
func (p *Proxy) Set(f Fault) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("netfault: proxy closed")
	}
	p.fault = f
	close(p.changed)
	p.changed = make(chan struct{})
	switch {
	case f.Refuse && p.ln != nil:
		err := p.ln.Close()
		p.ln = nil
		if err != nil {
			return fmt.Errorf("netfault: stop listening: %w", err)
		}
	case !f.Refuse && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("netfault: listen again on %s: %w", p.addr, err)
		}
		p.ln = ln
		p.accepts.Add(1)
		go p.accept(ln)
	}
	return nil
}

// Fault is the fault in force.
func (p *Proxy) Fault() Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault
}

// Drop cuts every open connection (both sides see their socket closed)
// and returns how many there were.
func (p *Proxy) Drop() int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		pairs = append(pairs, c)
	}
	p.mu.Unlock()
	for _, c := range pairs {
		c.close()
	}
	return len(pairs)
}

// Conns is the number of open connections through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, cuts every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.changed)
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.accepts.Wait()
	p.Drop()
	p.pairs.Wait()
	return err
}

// state returns the fault in force and a channel closed when it changes.
func (p *Proxy) state() (Fault, <-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault, p.changed, p.closed
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.accepts.Done()
	for {
		client, err := ln.Accept()
		if err != nil {
			return // closed: Refuse or Close
		}
		p.pairs.Add(1)
		go p.serve(client)
	}
}

// serve connects client to the target and starts forwarding both ways.
func (p *Proxy) serve(client net.Conn) {
	defer p.pairs.Done()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close() // the target is down: so is the proxy, for this client
		return
	}
	c := &pair{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.pairs.Add(2)
	p.mu.Unlock()
	go p.forward(c, client, server, true)
	go p.forward(c, server, client, false)
}

// pair is one proxied connection: the client's and the server's sockets.
type pair struct {
	client, server net.Conn
	once           sync.Once
}

func (c *pair) close() {
	c.once.Do(func() {
		c.client.Close()
		c.server.Close()
	})
}

// chunk is data read from one side and when it was read.
type chunk struct {
	data []byte
	at   time.Time
}

// forward copies src to dst until either fails, applying the fault: a
// reader goroutine stamps each chunk with the time it arrived, and this
// goroutine writes it once the fault allows (its arrival plus Delay for
// the client's side, and never during a Stall).
func (p *Proxy) forward(c *pair, src, dst net.Conn, upstream bool) {
	defer p.pairs.Done()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	chunks := make(chan chunk, 64)
	go func() { // ends when src fails, which c.close() ensures
		defer close(chunks)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{data: buf[:n], at: time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		for range chunks { // let the reader end after the close
		}
	}()
	for ch := range chunks {
		if !p.hold(ch, upstream) {
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			return
		}
	}
}

// hold waits until ch may be written under the fault in force (which may
// change while it waits). It returns false when the proxy closes.
func (p *Proxy) hold(ch chunk, upstream bool) bool {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		f, changed, closed := p.state()
		if closed {
			return false
		}
		var wait <-chan time.Time
		switch {
		case f.Stall:
			// nothing flows until the fault changes
		case upstream && f.Delay > 0:
			left := time.Until(ch.at.Add(f.Delay))
			if left <= 0 {
				return true
			}
			// The deliberate delay of the fault: a timer, not a poll.
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			wait = timer.C
		default:
			return true
		}
		select {
		case <-wait:
			return true
		case <-changed:
		}
	}
}
