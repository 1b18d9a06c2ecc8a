package netns_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/netns"
)

// echo serves a line echo on node i's port 7000 until the test ends.
func echo(t *testing.T, nw *netns.Net, i int) string {
	t.Helper()
	addr := net.JoinHostPort(nw.Addr(i).String(), "7000")
	var ln net.Listener
	if err := nw.Do(i, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { defer c.Close(); _, _ = io.Copy(c, c) })
		}
	})
	return addr
}

// dial connects from node i to addr within d.
func dial(nw *netns.Net, i int, addr string, d time.Duration) (net.Conn, error) {
	var c net.Conn
	err := nw.Do(i, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// roundTrip sends a line on c and reads it back within d.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echo: got " + got)
	}
	return nil
}

// timedOut fails the test unless err is a timeout: a dropped packet, not a
// refused connection or an unreachable host.
func timedOut(t *testing.T, what string, err error) {
	t.Helper()
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("%s went through a cut", what)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("%s: %v; want a timeout (packets dropped, not refused)", what, err)
	case !errors.As(err, &ne) || !ne.Timeout():
		t.Fatalf("%s: %v; want a timeout", what, err)
	}
}

// TestCutDropsPackets: three namespaces, echo servers in nodes 0 and 2, a
// client in node 1. A cut of node 0 makes a dial and the IO of an open
// connection time out, and leaves node 1 to node 2 alone; a heal lets
// the open connection carry on and new ones in.
func TestCutDropsPackets(t *testing.T) {
	nw := netns.New(t, 3)
	a0, a2 := echo(t, nw, 0), echo(t, nw, 2)

	c, err := dial(nw, 1, a0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := roundTrip(c, r, "before", 5*time.Second); err != nil {
		t.Fatalf("before the cut: %v", err)
	}

	nw.Cut(0)
	timedOut(t, "IO on an open connection", roundTrip(c, r, "during", time.Second))
	_, err = dial(nw, 1, a0, time.Second)
	timedOut(t, "a dial", err)
	c2, err := dial(nw, 1, a2, 5*time.Second)
	if err != nil {
		t.Fatalf("node 1 to node 2 during node 0's cut: %v", err)
	}
	defer c2.Close()
	if err := roundTrip(c2, bufio.NewReader(c2), "aside", 5*time.Second); err != nil {
		t.Fatalf("node 1 to node 2 during node 0's cut: %v", err)
	}

	nw.Heal(0)
	// The open connection's "during" line is retransmitted and echoed;
	// TCP's back-off may take a few seconds to try again.
	if err := c.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "during\n" {
		t.Fatalf("the open connection after the heal: %q, %v", got, err)
	}
	if err := roundTrip(c, r, "after", 5*time.Second); err != nil {
		t.Fatalf("the open connection after the heal: %v", err)
	}
	c3, err := dial(nw, 1, a0, 5*time.Second)
	if err != nil {
		t.Fatalf("a dial after the heal: %v", err)
	}
	defer c3.Close()
	if err := roundTrip(c3, bufio.NewReader(c3), "new", 5*time.Second); err != nil {
		t.Fatalf("a new connection after the heal: %v", err)
	}
}

// TestCommandRunsInNamespace: a program started with Command sees the
// node's interface and address, not the machine's.
func TestCommandRunsInNamespace(t *testing.T) {
	nw := netns.New(t, 2)
	out, err := nw.Command(1, "ip", "-o", "-4", "addr", "show", "dev", "eth0").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), " "+nw.Addr(1).String()+"/24 ") {
		t.Fatalf("eth0 in %s: %s; want %s", nw.Name(1), out, nw.Addr(1))
	}
}

// udpPeer is a UDP socket of a node.
type udpPeer struct {
	c    *net.UDPConn
	addr *net.UDPAddr
}

func udpOn(t *testing.T, nw *netns.Net, i int) udpPeer {
	t.Helper()
	addr := &net.UDPAddr{IP: nw.Addr(i).AsSlice(), Port: 7001}
	var c *net.UDPConn
	if err := nw.Do(i, func() (err error) { c, err = net.ListenUDP("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return udpPeer{c: c, addr: addr}
}

// arrives reports whether a datagram from one to other arrives within d.
func arrives(t *testing.T, from, to udpPeer, d time.Duration) bool {
	t.Helper()
	if _, err := from.c.WriteToUDP([]byte("ping"), to.addr); err != nil {
		t.Fatalf("send from %v: %v", from.addr, err)
	}
	if err := to.c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	_, _, err := to.c.ReadFromUDP(buf)
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("receive at %v: %v", to.addr, err)
	}
	return err == nil
}

// TestOneWayCut: CutTo stops what node 0 receives and lets what it sends
// through; CutFrom the other way round; Heal both.
func TestOneWayCut(t *testing.T) {
	nw := netns.New(t, 2)
	a, b := udpOn(t, nw, 0), udpOn(t, nw, 1)
	want := func(step string, toA, fromA bool) {
		t.Helper()
		if got := arrives(t, b, a, 500*time.Millisecond); got != toA {
			t.Errorf("%s: a datagram to node 0 arrived: %v, want %v", step, got, toA)
		}
		if got := arrives(t, a, b, 500*time.Millisecond); got != fromA {
			t.Errorf("%s: a datagram from node 0 arrived: %v, want %v", step, got, fromA)
		}
	}
	want("before", true, true)
	nw.CutTo(0)
	want("CutTo", false, true)
	nw.Heal(0)
	want("healed", true, true)
	nw.CutFrom(0)
	want("CutFrom", true, false)
	nw.CutTo(0)
	want("CutFrom and CutTo", false, false)
	nw.Heal(0)
	want("healed again", true, true)
}
