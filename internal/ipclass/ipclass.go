// Package ipclass classifies IP addresses: whether one leads to a public
// host on the Internet, and why not when it does not. It is the one
// definition shared by the create-time target check (internal/targeturl)
// and the connect-time check of outbound requests (internal/safedial).
package ipclass

import (
	"net/netip"
)

// specialPrefixes are the ranges, beyond what netip.Addr's predicates
// name, that do not lead to a public host on the Internet: a connection
// there either reaches into the network the shortener (or the clicker)
// sits in, or nowhere. Documentation ranges (192.0.2.0/24,
// 2001:db8::/32) are not among them: they reach nothing, so a link to
// them harms nobody (safedial refuses them on top).
var specialPrefixes = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
}

// globalUnicast6 is the only IPv6 range allocated for global unicast;
// the rest of the IPv6 space is reserved and leads nowhere public.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// nat64 is the well-known NAT64 prefix, and siit the IPv4-translated
// prefix of stateless translation (::ffff:0:a.b.c.d, RFC 2765): the last
// 32 bits are an IPv4 address, which is what a connection really reaches.
var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	siit  = netip.MustParsePrefix("::ffff:0:0:0/96")
)

// broadcast is the IPv4 limited broadcast address.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// Special says why a is not a public unicast address ("" when it is).
// IPv4-mapped, IPv4-compatible, IPv4-translated and NAT64 IPv6 addresses
// are judged by the IPv4 address they carry.
func Special(a netip.Addr) string {
	a = EmbeddedIPv4(a)
	switch {
	case !a.IsValid():
		return "not an IP address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsPrivate():
		if a.Is6() {
			return "a unique-local address"
		}
		return "a private address"
	case a.IsMulticast():
		return "a multicast address"
	case a == broadcast:
		return "the broadcast address"
	}
	for _, s := range specialPrefixes {
		if s.prefix.Contains(a) {
			return s.what
		}
	}
	if a.Is6() && !globalUnicast6.Contains(a) {
		return "a reserved IPv6 address"
	}
	return ""
}

// EmbeddedIPv4 returns the IPv4 address an IPv4-mapped (::ffff:a.b.c.d),
// IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d) or
// NAT64 (64:ff9b::a.b.c.d) address carries, or a itself (without a zone).
func EmbeddedIPv4(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if !a.Is6() {
		return a
	}
	b := a.As16()
	compat := b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7]|b[8]|b[9]|b[10]|b[11] == 0 && (b[12]|b[13]) != 0
	if compat || nat64.Contains(a) || siit.Contains(a) {
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	return a
}
