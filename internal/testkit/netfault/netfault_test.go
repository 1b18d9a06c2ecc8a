package netfault

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// roundTrip sends a line and returns how long its echo took.
func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if got != line+"\n" {
		t.Fatalf("echo %q, want %q", got, line)
	}
	return time.Since(start)
}

func TestDelay(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	roundTrip(t, c, r, "warm")
	const delay = 150 * time.Millisecond
	if err := p.Set(Fault{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, r, "slow"); d < delay {
		t.Errorf("round trip under Delay %v took %v", delay, d)
	}
	// Chunks sent back to back are shifted together, not spaced by Delay.
	start := time.Now()
	for _, l := range []string{"a", "b", "c", "d"} {
		if _, err := io.WriteString(c, l+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d >= 4*delay {
		t.Errorf("four pipelined lines took %v: the delay was applied in series (%v each)", d, delay)
	}
	if err := p.Set(Fault{}); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, r, "fast")
}

func TestStall(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	roundTrip(t, c, r, "warm")
	if err := p.Set(Fault{Stall: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "held\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := r.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read during a stall: %v, want a deadline error", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if err := p.Set(Fault{}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after the stall: %q, %v; want the held line", got, err)
	}
}

func TestRefuseAndDrop(t *testing.T) {
	p := startProxy(t)
	c, r := dial(t, p)
	roundTrip(t, c, r, "warm")
	if err := p.Set(Fault{Refuse: true}); err != nil {
		t.Fatal(err)
	}
	if c2, err := net.Dial("tcp", p.Addr()); err == nil {
		c2.Close()
		t.Fatal("a new connection was accepted while refusing")
	}
	roundTrip(t, c, r, "open connections stay") // Refuse leaves them
	if n := p.Drop(); n != 1 {
		t.Errorf("Drop cut %d connections, want 1", n)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a dropped connection still reads")
	}
	testenv.WaitFor(t, "the dropped connection to be forgotten", 5*time.Second, func() bool { return p.Conns() == 0 })
	if err := p.Set(Fault{}); err != nil {
		t.Fatal(err)
	}
	c3, r3 := dial(t, p)
	roundTrip(t, c3, r3, "listening again on the same address")
}
