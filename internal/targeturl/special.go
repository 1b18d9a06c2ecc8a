package targeturl

import (
	"net/netip"

	"github.com/shortify/shortify/internal/ipclass"
)

// specialAddr says why a is not a public unicast address ("" when it is);
// ipclass holds the definition, shared with the connect-time check of
// outbound requests.
func specialAddr(a netip.Addr) string { return ipclass.Special(a) }

// embeddedIPv4 returns the IPv4 address a carries, or a itself.
func embeddedIPv4(a netip.Addr) netip.Addr { return ipclass.EmbeddedIPv4(a) }

// ownAddr reports whether a (or the IPv4 address it carries) is one the
// shortener answers on: in own, a loopback address or unspecified (which
// a client's connect() takes for this host).
func ownAddr(a netip.Addr, own []netip.Prefix) bool {
	a = embeddedIPv4(a)
	if a.IsLoopback() || a.IsUnspecified() || netip.MustParsePrefix("0.0.0.0/8").Contains(a) {
		return true
	}
	for _, p := range own {
		if p.Contains(a) || p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
