package targeturl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/targeturl/targeturltest"
)

// dnsServer is targeturltest.DNSServer as a Resolver.
func dnsServer(t *testing.T, zone map[string][]string) Resolver {
	return targeturltest.DNSServer(t, zone)
}

// TestCheckContextResolves: names are judged by the addresses they
// resolve to at create time, through a real DNS server.
func TestCheckContextResolves(t *testing.T) {
	r := dnsServer(t, map[string][]string{
		"public.example.net":   {"93.184.216.14", "2606:2800:220:1::1"},
		"metadata.example.net": {"169.254.169.254"},
		"mixed.example.net":    {"93.184.216.14", "10.0.0.5"},
		"v6local.example.net":  {"fd00::5"},
		"mapped.example.net":   {"::ffff:127.0.0.1"},
		"self.example.net":     {"203.0.113.7"},
		"loop.example.net":     {"127.0.0.1"},
		"sho.rt":               {"198.51.100.9"}, // an own host, behind a load balancer
		"alias.example.net":    {"198.51.100.9"},
	})
	p := cpPolicy
	p.Resolver = r
	p.ResolveTimeout = 500 * time.Millisecond
	tests := []struct{ in, want, errHas string }{
		{in: "https://public.example.net/a", want: "https://public.example.net/a"},
		{in: "https://metadata.example.net/", errHas: "resolves to 169.254.169.254, a link-local address"},
		{in: "https://mixed.example.net/", errHas: "resolves to 10.0.0.5, a private address"},
		{in: "https://v6local.example.net/", errHas: "unique-local"},
		{in: "https://mapped.example.net/", errHas: "loop"},
		{in: "https://self.example.net/", errHas: "address of this shortener"},
		{in: "https://loop.example.net/", errHas: "loop"},
		{in: "http://198.51.100.9/x", errHas: "198.51.100.9 is an address of this shortener"},
		{in: "http://3325256713/x", errHas: "198.51.100.9 is an address of this shortener"},
		{in: "http://[::ffff:198.51.100.9]/x", errHas: "an address of this shortener"},
		{in: "https://alias.example.net/", errHas: "resolves to 198.51.100.9, an address of this shortener"},
		{in: "http://198.51.100.10/x", want: "http://198.51.100.10/x"},
		// Decided: a name that does not resolve, or whose lookup times
		// out, is accepted (see CheckContext).
		{in: "https://nowhere.example.net/", want: "https://nowhere.example.net/"},
		{in: "https://x.slow/", want: "https://x.slow/"},
		// Syntax and address checks still come first.
		{in: "http://127.1/", errHas: "loop"},
		{in: "javascript:alert(1)", errHas: "scheme"},
	}
	runTable(t, func(raw string) (string, error) { return p.CheckContext(context.Background(), raw) }, tests)

	// Private names pass when private targets are allowed, loops do not.
	allow := p
	allow.RefusePrivate = false
	if _, err := allow.CheckContext(context.Background(), "https://metadata.example.net/"); err != nil {
		t.Fatalf("with private targets allowed: %v", err)
	}
	if _, err := allow.CheckContext(context.Background(), "https://loop.example.net/"); err == nil {
		t.Fatal("a name resolving to loopback was accepted with private targets allowed")
	}
}

// TestCheckContextTimeout: a resolver that never answers costs at most
// ResolveTimeout.
func TestCheckContextTimeout(t *testing.T) {
	p := cpPolicy
	p.Resolver = dnsServer(t, nil)
	p.ResolveTimeout = 200 * time.Millisecond
	start := time.Now()
	if _, err := p.CheckContext(context.Background(), "https://a.slow/"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the check took %v with a 200ms resolve timeout", d)
	}
}

// TestLocalAddrs: the machine's own addresses include loopback.
func TestLocalAddrs(t *testing.T) {
	own, err := LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range own {
		found = found || p.Contains(netip.MustParseAddr("127.0.0.1"))
	}
	if !found {
		t.Fatalf("LocalAddrs() = %v, no 127.0.0.1", own)
	}
}

// FuzzCheckPolicy: with the control plane's policy, nothing accepted
// leads to a special address or back to the shortener, whatever the
// notation.
func FuzzCheckPolicy(f *testing.F) {
	for _, s := range []string{"http://127.1/", "http://0x7f.1/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "http://0177.0.0.1./", "https://pаypal.com/", "http://10.0.0.1/", "https://bit.ly/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := cpPolicy.Check(raw)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q as %q, which does not parse: %v", raw, got, err)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			if why := specialAddr(a); why != "" || ownAddr(a, cpPolicy.OwnAddrs) {
				t.Fatalf("accepted %q as %q: %s", raw, got, why)
			}
		} else if endsInNumber(u.Hostname()) {
			t.Fatalf("accepted %q as %q, whose host a browser reads as an address", raw, got)
		}
		if again, err := cpPolicy.Check(got); err != nil || again != got {
			t.Fatalf("normalised %q to %q, which checks as %q, %v", raw, got, again, err)
		}
	})
}

// TestForBatch: in a batch, each name is looked up once, and a resolver
// that stopped answering is not asked again.
func TestForBatch(t *testing.T) {
	p := cpPolicy
	p.Resolver = dnsServer(t, map[string][]string{"metadata.example.net": {"169.254.169.254"}})
	p.ResolveTimeout = 200 * time.Millisecond
	b := p.ForBatch()
	for range 3 {
		if _, err := b.CheckContext(context.Background(), "https://metadata.example.net/"); err == nil {
			t.Fatal("a name resolving to a link-local address was accepted in a batch")
		}
	}
	start := time.Now()
	for i := range 20 {
		if _, err := b.CheckContext(context.Background(), "https://h"+strconv.Itoa(i)+".slow/"); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("20 names with a silent DNS server took %v in a batch", d)
	}
}

// countingResolver counts the lookups that reach it.
type countingResolver struct {
	Resolver
	n int
}

func (c *countingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	c.n++
	return c.Resolver.LookupNetIP(ctx, network, host)
}

// TestCachingResolver: answers are kept for CacheTTL, and so is a name
// that does not exist (NXDOMAIN); a lookup that times out is not kept.
func TestCachingResolver(t *testing.T) {
	next := &countingResolver{Resolver: dnsServer(t, map[string][]string{"a.example.net": {"93.184.216.14"}})}
	now := time.Now()
	c := &cachingResolver{next: next, now: func() time.Time { return now }, entries: map[string]cacheEntry{}}
	for range 3 {
		if addrs, err := c.LookupNetIP(context.Background(), "ip", "a.example.net"); err != nil || len(addrs) != 1 {
			t.Fatalf("lookup: %v %v", addrs, err)
		}
		_, err := c.LookupNetIP(context.Background(), "ip", "nx.example.net")
		if dnsErr, ok := errors.AsType[*net.DNSError](err); !ok || !dnsErr.IsNotFound {
			t.Fatalf("a name without addresses: %v, want a not-found DNS error", err)
		}
	}
	if next.n != 2 {
		t.Fatalf("%d lookups reached the server, want 2 (an answer and a not-found, each kept)", next.n)
	}
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := c.LookupNetIP(ctx, "ip", "x.slow")
		cancel()
		if err == nil {
			t.Fatal("a name the server never answers resolved")
		}
	}
	if next.n != 4 {
		t.Fatalf("%d lookups reached the server, want 4: a timed-out lookup is not kept", next.n)
	}
	now = now.Add(CacheTTL)
	if _, err := c.LookupNetIP(context.Background(), "ip", "a.example.net"); err != nil || next.n != 5 {
		t.Fatalf("after CacheTTL: %v, %d lookups", err, next.n)
	}
	if _, err := c.LookupNetIP(context.Background(), "ip", "nx.example.net"); err == nil || next.n != 6 {
		t.Fatalf("not-found after CacheTTL: %v, %d lookups", err, next.n)
	}
}
