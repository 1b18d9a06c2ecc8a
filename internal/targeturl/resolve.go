package targeturl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultResolveTimeout bounds the lookups of one CheckContext when
// Policy.ResolveTimeout is zero: a create waits at most this long for DNS.
const DefaultResolveTimeout = 2 * time.Second

// Resolver looks up the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NewResolver returns a Resolver that asks the DNS server at addr
// (host:port), or the system's resolver when addr is empty, and keeps
// answers for CacheTTL: every create looks the own host names up again,
// and they rarely change.
func NewResolver(addr string) Resolver {
	return &cachingResolver{next: DNSResolver(addr), now: time.Now, entries: map[string]cacheEntry{}}
}

// DNSResolver returns a *net.Resolver that asks only the DNS server at
// addr (host:port), or the system's resolver when addr is empty; it keeps
// nothing. Other lookups that must be configurable the same way (the
// custom domains' TXT challenge) use it too.
func DNSResolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// CacheTTL is how long NewResolver's resolvers keep an answer.
const CacheTTL = 30 * time.Second

// maxCacheEntries bounds a cachingResolver; when full it starts afresh.
const maxCacheEntries = 4096

type cacheEntry struct {
	addrs   []netip.Addr
	err     error // a name that does not exist (NXDOMAIN), kept as well
	expires time.Time
}

// cachingResolver keeps answers for CacheTTL: addresses, and that a name
// does not exist (negative caching, as DNS caches do: RFC 2308). Other
// failures (a timeout, a server failure) are not kept: the next create
// asks again. Without the negative entries every create of a link to an
// unresolvable name asked the server, and a lost UDP answer held that
// create for the whole ResolveTimeout (2 s in make loadtest's creates).
type cachingResolver struct {
	next    Resolver
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]cacheEntry
}

// LookupNetIP implements Resolver.
func (c *cachingResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	key := network + " " + host
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.addrs, e.err
	}
	addrs, err := c.next.LookupNetIP(ctx, network, host)
	if dnsErr, nx := errors.AsType[*net.DNSError](err); err != nil && !(nx && dnsErr.IsNotFound) {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCacheEntries {
		clear(c.entries)
	}
	c.entries[key] = cacheEntry{addrs: addrs, err: err, expires: now.Add(CacheTTL)}
	c.mu.Unlock()
	return addrs, err
}

// CheckContext is Check followed by the checks that need DNS: when the
// target's host is a name, it is resolved (within ResolveTimeout) and
// refused if any address it resolves to is one the policy refuses (the
// shortener's own, or private and special ones when RefusePrivate); and a
// target at an address the shortener's own host names resolve to is a
// loop, whether written as that address or as another name for it. A name
// that does not resolve, or whose lookup fails or times out, is accepted:
// it leads nowhere now, and a check at create time is no guarantee anyway,
// since DNS answers can change after it; the edge never resolves. Without
// a Resolver it is Check.
func (p Policy) CheckContext(ctx context.Context, raw string) (string, error) {
	target, err := p.Check(raw)
	if err != nil || p.Resolver == nil {
		return target, err
	}
	loops := len(p.OwnHosts) > 0 || len(p.OwnAddrs) > 0
	if !loops && !p.RefusePrivate {
		return target, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	host := u.Hostname()
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(p.ResolveTimeout, DefaultResolveTimeout))
	defer cancel()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a} // Check has judged it, bar the own hosts' addresses
	} else if addrs, err = p.Resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return target, nil // see above: unresolvable names are accepted
	}
	var own []netip.Addr
	loops = p.ownPort(EffectivePort(u.Scheme, u.Port()))
	if loops {
		own = p.ownHostAddrs(ctx)
	}
	for _, a := range addrs {
		says := host + " resolves to " + a.String() + ","
		if a.String() == host {
			says = host + " is"
		}
		if loops && (ownAddr(a, p.OwnAddrs) || slices.Contains(own, embeddedIPv4(a))) {
			return "", fmt.Errorf("%w: %s an address of this shortener; links to it would loop", ErrInvalid, says)
		}
		if why := specialAddr(a); why != "" && p.RefusePrivate {
			return "", fmt.Errorf("%w: %s %s; links to private and special addresses are not allowed", ErrInvalid, says, why)
		}
	}
	return target, nil
}

// ownHostAddrs resolves the own host names (IPv4-mapped forms unmapped);
// a name that does not resolve adds nothing.
func (p Policy) ownHostAddrs(ctx context.Context) []netip.Addr {
	var out []netip.Addr
	for _, h := range p.OwnHosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if name, _, err := net.SplitHostPort(h); err == nil {
			h = name
		}
		h = strings.Trim(h, "[]")
		if a, err := netip.ParseAddr(h); err == nil {
			out = append(out, embeddedIPv4(a))
			continue
		}
		if h == "" || h == "localhost" {
			continue // loopback is refused anyway
		}
		addrs, _ := p.Resolver.LookupNetIP(ctx, "ip", h)
		for _, a := range addrs {
			out = append(out, embeddedIPv4(a))
		}
	}
	return out
}

// LocalAddrs returns the addresses of this machine's network interfaces as
// single-address prefixes: a listener on a wildcard address answers on
// every one of them, so they all belong in Policy.OwnAddrs.
func LocalAddrs() ([]netip.Prefix, error) {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	var out []netip.Prefix
	for _, ia := range ifaddrs {
		s := ia.String()
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i]
		}
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out, nil
}

// ForBatch returns a copy of p for checking many targets in one request
// (a bulk create): each host name is looked up once, and once a lookup
// has failed for want of an answer (a timeout, an unreachable server),
// the rest are not tried, so that a bulk create waits for DNS at most
// about one ResolveTimeout more than for a single link.
func (p Policy) ForBatch() Policy {
	if p.Resolver != nil {
		p.Resolver = &batchResolver{next: p.Resolver, seen: map[string]batchAnswer{}}
	}
	return p
}

type batchAnswer struct {
	addrs []netip.Addr
	err   error
}

// batchResolver memoises lookups for one batch; it is used by one
// goroutine.
type batchResolver struct {
	next Resolver
	seen map[string]batchAnswer
	down error // set once the resolver failed to answer
}

// LookupNetIP implements Resolver.
func (b *batchResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if b.down != nil {
		return nil, b.down
	}
	key := network + " " + host
	if a, ok := b.seen[key]; ok {
		return a.addrs, a.err
	}
	addrs, err := b.next.LookupNetIP(ctx, network, host)
	var dnsErr *net.DNSError
	if err != nil && (ctx.Err() != nil || errors.As(err, &dnsErr) && (dnsErr.IsTimeout || dnsErr.IsTemporary) && !dnsErr.IsNotFound) {
		b.down = err
	}
	b.seen[key] = batchAnswer{addrs, err}
	return addrs, err
}
