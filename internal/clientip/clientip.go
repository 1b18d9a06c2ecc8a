// Package clientip finds the address of the client behind an HTTP request,
// for rate limiting and for the client field of click events.
//
// The address is the peer's (http.Request.RemoteAddr) unless the peer is a
// configured trusted proxy. Only then does the package read the forwarding
// header the proxies write (X-Forwarded-For or RFC 7239 Forwarded) and take
// the right-most address that is not itself a trusted proxy: every element
// to its right was appended by a proxy we trust, while everything to its left
// was written by the client or by proxies we know nothing about, so a client
// can put any address it likes there. Taking the left-most address, as naive
// code does, lets every client pick its own rate-limit bucket.
//
// The header is read from the right, one element at a time, and only as
// far as the answer: what lies to its left may be anything the client sent,
// and junk there must not change the answer. An element that does not
// parse before the answer is found makes the resolver fall back to the
// peer. It never panics (FuzzClientIP checks that, and that the answer is
// the peer or an address written in the header).
package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultIPv6Prefix is the prefix length that groups IPv6 clients when
// Resolver.IPv6Prefix is 0. An ISP gives a subscriber a /64 at least (often
// a /56 or a /48), and the subscriber can use any of its 2^64 addresses, so
// a limit per IPv6 address limits nothing.
const DefaultIPv6Prefix = 64

// Header names the forwarding header that the trusted proxies write.
type Header int

const (
	// XForwardedFor is the de facto X-Forwarded-For header: a comma-separated
	// list of addresses, the client's first. It is the zero Header.
	XForwardedFor Header = iota
	// Forwarded is the RFC 7239 Forwarded header; the resolver reads its
	// for= parameters.
	Forwarded
)

// String returns the header's canonical name.
func (h Header) String() string {
	switch h {
	case XForwardedFor:
		return "X-Forwarded-For"
	case Forwarded:
		return "Forwarded"
	}
	return fmt.Sprintf("Header(%d)", int(h))
}

// ParseHeader returns the Header that s names, case-insensitively:
// "X-Forwarded-For" (or "" for the default) or "Forwarded".
func ParseHeader(s string) (Header, error) {
	switch {
	case s == "" || strings.EqualFold(s, "X-Forwarded-For"):
		return XForwardedFor, nil
	case strings.EqualFold(s, "Forwarded"):
		return Forwarded, nil
	}
	return 0, fmt.Errorf("clientip: unknown forwarding header %q (want X-Forwarded-For or Forwarded)", s)
}

// ErrNoPeer is returned by ClientIP when the request's RemoteAddr is not an
// IP address (a Unix socket, or a request not built by net/http's server).
var ErrNoPeer = errors.New("clientip: the request's RemoteAddr is not an IP address")

// Resolver finds the client address of requests. The zero Resolver trusts
// no proxy (every request's client is its peer) and groups IPv6 clients by
// DefaultIPv6Prefix. A Resolver must not be changed once in use; it is then
// safe for concurrent use.
type Resolver struct {
	// TrustedProxies are the networks of the proxies whose forwarding
	// header is believed. Addresses must be unmapped (IPv4 as IPv4):
	// NewResolver takes care of that.
	TrustedProxies []netip.Prefix
	// IPv6Prefix is the prefix length, 1 to 128, under which IPv6 clients
	// count as one (Key); 0 means DefaultIPv6Prefix.
	IPv6Prefix int
	// Header is the forwarding header the trusted proxies write. Only that
	// one is read: if both were, a client could send the other one, which
	// the proxies pass on untouched, and choose its address.
	Header Header
}

// privateRanges is what the "private_ranges" shorthand of NewResolver
// stands for (as in Caddy's trusted_proxies): loopback, RFC 1918 and IPv6
// unique local addresses.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
}

// NewResolver builds a Resolver. trustedProxies holds CIDR prefixes
// ("10.0.0.0/8", "2001:db8::/32"), single addresses ("192.0.2.1", a /32 or
// /128), or the shorthand "private_ranges"; a prefix with host bits set is
// masked. ipv6Prefix is Resolver.IPv6Prefix (0 for the default) and header
// is a name that ParseHeader accepts.
func NewResolver(trustedProxies []string, ipv6Prefix int, header string) (*Resolver, error) {
	r := &Resolver{IPv6Prefix: ipv6Prefix}
	if ipv6Prefix < 0 || ipv6Prefix > 128 {
		return nil, fmt.Errorf("clientip: IPv6 prefix length %d is out of range (1 to 128, or 0 for %d)", ipv6Prefix, DefaultIPv6Prefix)
	}
	h, err := ParseHeader(header)
	if err != nil {
		return nil, err
	}
	r.Header = h
	for _, s := range trustedProxies {
		s = strings.TrimSpace(s)
		if s == "private_ranges" {
			r.TrustedProxies = append(r.TrustedProxies, privateRanges...)
			continue
		}
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		r.TrustedProxies = append(r.TrustedProxies, p)
	}
	return r, nil
}

// parsePrefix parses one trusted-proxy entry.
func parsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, fmt.Errorf("clientip: trusted proxy %q is not a valid CIDR prefix (like 10.0.0.0/8 or 2001:db8::/32): %w", s, err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("clientip: trusted proxy %q is neither an IP address nor a CIDR prefix (like 10.0.0.0/8): %w", s, err)
		}
		if a.Zone() != "" {
			return p, fmt.Errorf("clientip: trusted proxy %q has a zone, which a forwarded address never carries", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// Addresses are compared unmapped, so an IPv4-mapped prefix
	// (::ffff:10.0.0.0/104) would never match: turn it into IPv4.
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return p, fmt.Errorf("clientip: trusted proxy %q spans more than the IPv4-mapped range ::ffff:0:0/96; write IPv4 and IPv6 prefixes separately", s)
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ClientIP returns the address of the client that sent req: its peer, or,
// when the peer is a trusted proxy, the right-most address in the
// forwarding header that is not a trusted proxy (the left-most one if all
// are trusted). It falls back to the peer when the header is absent or
// malformed, or when the walk meets a hop whose address the proxies did not
// give ("unknown", an obfuscated identifier such as "_hidden", or an
// element without for=): elements to the left of such a hop were written by
// a party nobody vouches for. The result is unmapped (IPv4 as IPv4) and has
// no zone. The error is ErrNoPeer, for a RemoteAddr that is not an address.
func (r *Resolver) ClientIP(req *http.Request) (netip.Addr, error) {
	peer, ok := parsePeer(req.RemoteAddr)
	if !ok {
		return netip.Addr{}, ErrNoPeer
	}
	if !r.trusted(peer) {
		return peer, nil
	}
	c := chain{forwarded: r.Header == Forwarded}
	if c.forwarded {
		c.lines = req.Header.Values("Forwarded")
	} else {
		c.lines = req.Header.Values("X-Forwarded-For")
	}
	var innermost netip.Addr // the left-most trusted hop seen so far
	for {
		a, kind, ok := c.next()
		switch {
		case !ok:
			// Every hop is a trusted proxy (or there is none): the request
			// started inside the trusted network, at the first of them.
			if innermost.IsValid() {
				return innermost, nil
			}
			return peer, nil
		case kind == hopEmpty:
			continue
		case kind != hopAddr:
			return peer, nil
		case !r.trusted(a):
			return a, nil
		}
		innermost = a
	}
}

// FromTrustedProxy reports whether req's peer is one of the trusted
// proxies: only then may headers that a proxy sets about the client (a
// country, say) be believed.
func (r *Resolver) FromTrustedProxy(req *http.Request) bool {
	peer, ok := parsePeer(req.RemoteAddr)
	return ok && r.trusted(peer)
}

// trusted reports whether a is in one of the trusted networks. A linear
// scan: a deployment trusts a handful of networks.
func (r *Resolver) trusted(a netip.Addr) bool {
	for _, p := range r.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parsePeer parses RemoteAddr, which net/http sets to "ip:port"; a bare
// address is accepted for requests built by hand.
func parsePeer(s string) (netip.Addr, bool) {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(s); err != nil {
		return netip.Addr{}, false
	}
	// A zone (fe80::1%eth0) names an interface of this host: it does not
	// tell clients apart, and must not split one client into several keys.
	return a.Unmap().WithZone(""), true
}

// Prefix returns the network under which a counts as a client: the address
// itself for IPv4, its IPv6Prefix-long prefix for IPv6. It returns the zero
// Prefix for the zero Addr.
func (r *Resolver) Prefix(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	bits := r.IPv6Prefix
	if bits <= 0 || bits > 128 {
		bits = DefaultIPv6Prefix
	}
	p, _ := a.Prefix(bits) // cannot fail: a is IPv6 without a zone, bits in range
	return p
}

// Key returns the rate-limit key of a: the IPv4 address ("192.0.2.7"), or
// the IPv6 network of IPv6Prefix bits ("2001:db8:1:2::/64"; the address
// alone when IPv6Prefix is 128). Keys are text so that they read well in
// Redis and in logs. Key returns "" for the zero Addr.
func (r *Resolver) Key(a netip.Addr) string {
	p := r.Prefix(a)
	if !p.IsValid() {
		return ""
	}
	var buf [64]byte // the longest, "ffff:...:ffff/128", is 43 bytes
	if p.IsSingleIP() {
		return string(p.Addr().AppendTo(buf[:0]))
	}
	return string(p.AppendTo(buf[:0]))
}
