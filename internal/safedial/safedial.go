// Package safedial makes outbound HTTP requests to addresses that users
// chose (link targets whose titles are fetched, webhook endpoints)
// without letting them reach into the shortener's own network. The check
// runs at connect time, on the address actually dialled after DNS
// resolution, so a name that resolves to a public address when a link is
// created and to 127.0.0.1 when it is fetched (DNS rebinding) is still
// refused; every redirect hop is dialled through the same check.
package safedial

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/shortify/shortify/internal/ipclass"
)

// Defaults of Options.
const (
	DefaultTimeout      = 3 * time.Second
	DefaultMaxRedirects = 3
)

// ErrForbiddenAddress is the error a dial to a refused address fails
// with. It is wrapped in the dial error, so errors.Is finds it through
// *net.OpError and *url.Error, as http.Client returns them.
var ErrForbiddenAddress = errors.New("safedial: address not allowed")

// ErrTooManyRedirects is the error a request fails with when it is
// redirected more than Options.MaxRedirects times.
var ErrTooManyRedirects = errors.New("safedial: too many redirects")

// Options configure Dialer and Client.
type Options struct {
	// AllowPrivate lets requests reach private and special unicast
	// addresses (loopback, RFC 1918, link-local, ULA…), for tests and
	// private installations: the `outbound_allow_private` option. The
	// unspecified, multicast and broadcast addresses and the cloud
	// metadata endpoints stay refused.
	AllowPrivate bool
	// Deny lists prefixes refused even with AllowPrivate, such as the
	// instance's own listeners.
	Deny []netip.Prefix
	// Timeout bounds a whole request, redirects and reading the body
	// included (default 3s).
	Timeout time.Duration
	// MaxRedirects is how many redirects a request follows (default 3;
	// negative: none).
	MaxRedirects int
}

// strictPrefixes are refused on top of ipclass.Special: ranges that lead
// to no web server a user could mean (documentation, relay and protocol
// assignments), which a link may name but an outbound request has no
// business dialling.
var strictPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments: Teredo, benchmarking, ORCHID
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs
}

// sixToFour is 6to4 (RFC 3056): bits 16–47 are the IPv4 address of the
// site the packet is relayed to.
var sixToFour = netip.MustParsePrefix("2002::/16")

// alwaysDenied is refused even with AllowPrivate: addresses no TCP
// connection should go to, and the cloud instance metadata endpoints,
// which hand out credentials to whoever asks from the host.
var alwaysDenied = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("ff00::/8"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure, OpenStack…
	netip.MustParsePrefix("169.254.170.2/32"),   // AWS ECS task metadata
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS IMDS over IPv6
}

// Public reports whether ip is a public unicast address: the policy a
// dial is checked against without AllowPrivate. IPv4-mapped, -compatible,
// -translated, NAT64 and 6to4 addresses are judged by the IPv4 address
// they carry.
func Public(ip netip.Addr) bool {
	if ipclass.Special(ip) != "" {
		return false
	}
	a := ipclass.EmbeddedIPv4(ip)
	for _, p := range strictPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	if v4, ok := via6to4(a); ok {
		return Public(v4)
	}
	return true
}

// via6to4 returns the IPv4 address a 6to4 address carries.
func via6to4(a netip.Addr) (netip.Addr, bool) {
	if !sixToFour.Contains(a) {
		return netip.Addr{}, false
	}
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
}

// refused says why a dial to ip is refused under o ("" when it is not).
func (o Options) refused(ip netip.Addr) string {
	a := ipclass.EmbeddedIPv4(ip)
	v4, _ := via6to4(a) // the zero Addr, which no prefix contains, when none
	for _, p := range o.Deny {
		if p.Contains(a) || p.Contains(ip.WithZone("")) || p.Contains(v4) {
			return "denied"
		}
	}
	for _, p := range alwaysDenied {
		if p.Contains(a) || p.Contains(v4) {
			return "never dialled"
		}
	}
	if !o.AllowPrivate && !Public(ip) {
		if why := ipclass.Special(ip); why != "" {
			return why
		}
		return "not a public address"
	}
	return ""
}

// control is the dialer's Control func: it runs after resolution, with
// the address about to be connected to.
func (o Options) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrForbiddenAddress, network, address, err)
	}
	if why := o.refused(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s (%s)", ErrForbiddenAddress, ap.Addr(), why)
	}
	return nil
}

// timeout is o.Timeout or its default.
func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Dialer returns a dialer that refuses, at connect time, every address
// o does not allow; its connect timeout is o.Timeout.
func Dialer(o Options) *net.Dialer {
	return &net.Dialer{
		Timeout: o.timeout(),
		Control: o.control,
	}
}

// Client returns an HTTP client that dials through Dialer(o), ignores
// proxy settings from the environment (a proxy would dial for it,
// unchecked), follows at most o.MaxRedirects redirects and gives up
// after o.Timeout.
func Client(o Options) *http.Client {
	maxRedirects := o.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = DefaultMaxRedirects
	}
	d := Dialer(o)
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    o.timeout(),
		ResponseHeaderTimeout:  o.timeout(),
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: t,
		Timeout:   o.timeout(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w (at most %d)", ErrTooManyRedirects, max(maxRedirects, 0))
			}
			return nil
		},
	}
}
