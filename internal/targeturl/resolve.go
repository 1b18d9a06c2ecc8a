package targeturl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
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
// (host:port), or the system's resolver when addr is empty.
func NewResolver(addr string) Resolver {
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

// CheckContext is Check followed by the checks that need DNS: when the
// target's host is a name, it is resolved (within ResolveTimeout) and
// refused if any address it resolves to is one the policy refuses (the
// shortener's own, or private and special ones when RefusePrivate). A
// name that does not resolve, or whose lookup fails or times out, is
// accepted: it leads nowhere now, and a check at create time is no
// guarantee anyway, since DNS answers can change after it; the edge never
// resolves. Without a Resolver it is Check.
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
	if _, err := netip.ParseAddr(host); err == nil {
		return target, nil // an address: Check has judged it
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(p.ResolveTimeout, DefaultResolveTimeout))
	defer cancel()
	addrs, err := p.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return target, nil // see above: unresolvable names are accepted
	}
	for _, a := range addrs {
		if loops && ownAddr(a, p.OwnAddrs) {
			return "", fmt.Errorf("%w: %s resolves to %s, an address of this shortener; links to it would loop", ErrInvalid, host, a)
		}
		if why := specialAddr(a); why != "" && p.RefusePrivate {
			return "", fmt.Errorf("%w: %s resolves to %s, %s; links to private and special addresses are not allowed", ErrInvalid, host, a, why)
		}
	}
	return target, nil
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
