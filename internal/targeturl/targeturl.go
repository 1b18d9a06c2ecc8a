// Package targeturl validates the long URLs that short links point to. It is
// the gate that keeps a shortener from becoming an open redirector for
// anything a browser might execute: only absolute http and https URLs to a
// valid host, of bounded length, never to the shortener itself.
//
// Check is cheap (no I/O): the edge runs it on every link it loads, with
// a Policy that knows nothing of the shortener, and the control plane runs
// it with the full policy (own hosts and addresses, private addresses,
// other shorteners, look-alike hosts). CheckContext adds what needs the
// network: the addresses a host name resolves to at create time.
package targeturl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DefaultMaxLength bounds a target URL when Policy.MaxLength is zero. 2,048
// bytes is what every current browser and most link-preview crawlers accept.
const DefaultMaxLength = 2048

// ErrInvalid is wrapped by every error Check returns.
var ErrInvalid = errors.New("invalid target URL")

// Policy says which targets are acceptable.
type Policy struct {
	// MaxLength is the longest URL accepted, in bytes (0: DefaultMaxLength).
	MaxLength int
	// OwnHosts are the shortener's own host names: targets on them, or on
	// their subdomains, are refused, because a short link to a short link
	// makes redirect loops and hides the final target.
	OwnHosts []string
	// BlockedDomains are refused together with their subdomains.
	BlockedDomains []string
	// OwnAddrs are the addresses the shortener answers on (its listeners,
	// its machine's interfaces). When the policy has own hosts or own
	// addresses, targets at them, at loopback or at the unspecified
	// address, in any notation, are refused even when private addresses
	// are allowed: they are loops.
	OwnAddrs []netip.Prefix
	// OwnPorts are the ports the shortener answers on. When set, an own
	// address (or localhost) on another port is not a loop: it is another
	// service on the same machine, a private target like any other. Empty:
	// every port is the shortener's.
	OwnPorts []int
	// RefusePrivate refuses targets at private and special addresses
	// (loopback, link-local, private, unique-local, multicast,
	// unspecified, reserved), IPv4-mapped forms included, and with
	// CheckContext host names that resolve to one.
	RefusePrivate bool
	// ShortenerDomains are other URL shorteners: targets on them (and
	// their subdomains) are refused, so that a chain of short links ends
	// after one hop and never hides where it goes.
	ShortenerDomains []string
	// RefuseLookalike refuses IDN hosts that mix scripts or read as a
	// Latin name they are not (see lookalike).
	RefuseLookalike bool
	// Resolver looks host names up for CheckContext (nil: no lookups).
	Resolver Resolver
	// ResolveTimeout bounds CheckContext's lookups (0:
	// DefaultResolveTimeout).
	ResolveTimeout time.Duration
}

// DefaultShortenerDomains are well-known public URL shorteners, the
// default of shortener_domains.
var DefaultShortenerDomains = []string{
	"bit.ly", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly",
	"rebrand.ly", "cutt.ly", "s.id", "t.ly", "rb.gy", "shorturl.at", "tiny.cc",
}

// Check validates raw and returns it normalised (scheme and host in lower
// case, IDN hosts in their ASCII form) or an error wrapping ErrInvalid that
// says what is wrong in words a user can act on.
func (p Policy) Check(raw string) (string, error) {
	maxLen := p.MaxLength
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	switch {
	case raw == "":
		return "", fmt.Errorf("%w: the URL is empty", ErrInvalid)
	case len(raw) > maxLen:
		return "", fmt.Errorf("%w: the URL is %d bytes long, the limit is %d", ErrInvalid, len(raw), maxLen)
	}
	if !utf8.ValidString(raw) {
		return "", fmt.Errorf("%w: the URL is not valid UTF-8", ErrInvalid)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return "", fmt.Errorf("%w: the URL contains a space or control character at byte %d (percent-encode it)", ErrInvalid, i+1)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, strings.TrimPrefix(err.Error(), "parse "+strconv.Quote(raw)+": "))
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		if u.Scheme == "" {
			return "", fmt.Errorf("%w: the URL must be absolute and start with http:// or https://", ErrInvalid)
		}
		return "", fmt.Errorf("%w: scheme %q is not allowed, only http and https", ErrInvalid, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("%w: the URL has no host", ErrInvalid)
	}
	if u.User != nil {
		// user:pass@host is the classic way to disguise a target's real host.
		return "", fmt.Errorf("%w: credentials (user@host) are not allowed in the URL", ErrInvalid)
	}
	host, addr, err := parseHost(u.Hostname())
	if err != nil {
		return "", err
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: port %q is not a number from 1 to 65535", ErrInvalid, port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%w: the port after ':' is empty", ErrInvalid)
	}
	for _, own := range p.OwnHosts {
		if matchesDomain(host, own) {
			return "", fmt.Errorf("%w: links to this shortener (%s) are not allowed", ErrInvalid, host)
		}
	}
	for _, d := range p.BlockedDomains {
		if matchesDomain(host, d) {
			return "", fmt.Errorf("%w: the domain %s is blocked", ErrInvalid, host)
		}
	}
	if err := p.checkHost(host, addr, EffectivePort(scheme, u.Port())); err != nil {
		return "", err
	}
	port := u.Port()
	u.Scheme = scheme
	u.Host = host
	if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	}
	if port != "" {
		u.Host += ":" + port
	}
	return u.String(), nil
}

// checkHost applies the policy's rules on where a target may lead to the
// normalised host (addr is valid when the host is an address) and port.
func (p Policy) checkHost(host string, addr netip.Addr, port int) error {
	if addr.IsValid() {
		if p.ownPort(port) && ownAddr(addr, p.OwnAddrs) {
			return fmt.Errorf("%w: %s is an address of this shortener; links to it would loop", ErrInvalid, host)
		}
		if why := specialAddr(addr); why != "" && p.RefusePrivate {
			return fmt.Errorf("%w: %s is %s; links to private and special addresses are not allowed", ErrInvalid, host, why)
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		// RFC 6761: every *.localhost name is loopback, without DNS.
		if p.ownPort(port) {
			return fmt.Errorf("%w: %s is this machine (loopback); links to it would loop", ErrInvalid, host)
		}
		if p.RefusePrivate {
			return fmt.Errorf("%w: %s is a loopback name; links to private and special addresses are not allowed", ErrInvalid, host)
		}
	}
	for _, d := range p.ShortenerDomains {
		if matchesDomain(host, d) {
			return fmt.Errorf("%w: %s is a URL shortener; link to the final URL instead of another short link", ErrInvalid, host)
		}
	}
	if p.RefuseLookalike {
		if why := lookalike(host); why != "" {
			return fmt.Errorf("%w: the host %s is a look-alike: %s", ErrInvalid, host, why)
		}
	}
	return nil
}

// ownPort reports whether a target on port may be the shortener itself:
// always when the policy knows no ports, never when it knows nothing of
// the shortener (the edge's policy).
func (p Policy) ownPort(port int) bool {
	if len(p.OwnHosts) == 0 && len(p.OwnAddrs) == 0 {
		return false
	}
	return len(p.OwnPorts) == 0 || slices.Contains(p.OwnPorts, port)
}

// EffectivePort is the port a URL of scheme and port reaches (port "":
// the scheme's default).
func EffectivePort(scheme, port string) int {
	if n, err := strconv.Atoi(port); err == nil {
		return n
	}
	if scheme == "https" {
		return 443
	}
	return 80
}

// parseHost returns the host in lower-case ASCII, and its address when it
// is an IP address in any notation a browser accepts, or an error when it
// is not a valid DNS name or IP literal.
func parseHost(h string) (string, netip.Addr, error) {
	if h == "" {
		return "", netip.Addr{}, fmt.Errorf("%w: the URL has no host", ErrInvalid)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", netip.Addr{}, fmt.Errorf("%w: IPv6 zones are not allowed in the host", ErrInvalid)
		}
		return ip.String(), ip, nil
	}
	if strings.Contains(h, ":") {
		return "", netip.Addr{}, fmt.Errorf("%w: host %q is not a valid IPv6 address", ErrInvalid, h)
	}
	if endsInNumber(h) {
		ip, ok := parseLegacyIPv4(h)
		if !ok {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q ends in a number but is not a valid IPv4 address", ErrInvalid, h)
		}
		return ip.String(), ip, nil
	}
	name, err := normaliseName(h)
	if err == nil && endsInNumber(name) {
		// Browsers map the host (full-width digits, ideographic full
		// stops) before they read it as a number: "０ｘ７ｆ.１" is
		// 0x7f.1, which is 127.0.0.1.
		ip, ok := parseLegacyIPv4(name)
		if !ok {
			return "", netip.Addr{}, fmt.Errorf("%w: host %q ends in a number but is not a valid IPv4 address", ErrInvalid, h)
		}
		return ip.String(), ip, nil
	}
	return name, netip.Addr{}, err
}

// normaliseName returns the domain name h in lower-case ASCII, or an
// error when it is not a valid DNS name.
func normaliseName(h string) (string, error) {
	h = strings.TrimSuffix(h, ".")
	ascii, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", fmt.Errorf("%w: host %q is not a valid domain name", ErrInvalid, h)
	}
	ascii = strings.ToLower(ascii)
	if again, err := idna.Lookup.ToASCII(ascii); err != nil || again != ascii {
		// Some inputs map to punycode that is not itself a valid name.
		return "", fmt.Errorf("%w: host %q is not a valid domain name", ErrInvalid, h)
	}
	if len(ascii) > 253 {
		return "", fmt.Errorf("%w: host name is longer than 253 characters", ErrInvalid)
	}
	labels := strings.Split(ascii, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", fmt.Errorf("%w: host %q has an empty or over-long label", ErrInvalid, h)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%w: host %q contains %q, which a domain name cannot", ErrInvalid, h, rune(c))
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("%w: a label of host %q starts or ends with '-'", ErrInvalid, h)
		}
	}
	if len(labels) == 1 && ascii != "localhost" {
		return "", fmt.Errorf("%w: host %q is not a fully qualified domain name", ErrInvalid, h)
	}
	return ascii, nil
}

// matchesDomain reports whether host is domain or one of its subdomains.
// domain may carry a port, which is ignored.
func matchesDomain(host, domain string) bool {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if d, _, err := net.SplitHostPort(domain); err == nil {
		domain = d
	}
	domain = strings.Trim(domain, "[]")
	if domain == "" {
		return false
	}
	return host == domain || strings.HasSuffix(host, "."+domain)
}
