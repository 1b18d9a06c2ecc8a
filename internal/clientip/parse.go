package clientip

import (
	"net/netip"
	"strings"
)

// hopKind says what one element of a forwarding chain holds.
type hopKind uint8

const (
	hopEmpty     hopKind = iota // an empty list element, which lists may have
	hopAddr                     // an address
	hopUnknown                  // a hop the proxy did not give an address for
	hopMalformed                // anything that does not parse
)

// chain walks the elements of a forwarding header from the right, one
// field line at a time from the last: lazily, because everything to the
// left of the answer may have been written by the client, and a client must
// not be able to make a header unusable by sending junk there.
type chain struct {
	lines     []string
	line      string // the unread part of the current line
	forwarded bool   // Forwarded, not X-Forwarded-For
}

// next returns the next element from the right, and false when there is
// none left.
func (c *chain) next() (netip.Addr, hopKind, bool) {
	for c.line == "" {
		if len(c.lines) == 0 {
			return netip.Addr{}, 0, false
		}
		c.line = c.lines[len(c.lines)-1]
		c.lines = c.lines[:len(c.lines)-1]
	}
	var elem string
	if c.forwarded {
		c.line, elem = cutLastForwarded(c.line)
	} else if i := strings.LastIndexByte(c.line, ','); i >= 0 {
		c.line, elem = c.line[:i], c.line[i+1:]
	} else {
		c.line, elem = "", c.line
	}
	elem = trimOWS(elem)
	if elem == "" {
		return netip.Addr{}, hopEmpty, true
	}
	if c.forwarded {
		a, kind := parseForwardedElement(elem)
		return a, kind, true
	}
	a, kind := parseNode(elem)
	return a, kind, true
}

// cutLastForwarded splits s before its last forwarded-element: at the last
// comma outside a quoted-string. Scanning from the right is sound because
// the end of a field line is outside any quoted-string; a quote preceded by
// an odd number of backslashes is a quoted-pair, not a delimiter.
func cutLastForwarded(s string) (rest, elem string) {
	inQuote := false
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '"':
			k := 0
			for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
				k++
			}
			if k%2 == 0 {
				inQuote = !inQuote
			}
		case ',':
			if !inQuote {
				return s[:i], s[i+1:]
			}
		}
	}
	return "", s
}

// parseForwardedElement parses one RFC 7239 forwarded-element (section 4):
//
//	forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
//	forwarded-pair    = token "=" value
//	value             = token / quoted-string
//
// Parameters other than for= are checked for syntax only; an element
// without for= is a hop of unknown address. A parameter given twice (which
// section 4 forbids) makes the element malformed, and so does a quoted-pair
// in the for= value: no address needs one, and refusing it keeps every
// address the resolver returns a substring of the header.
func parseForwardedElement(elem string) (netip.Addr, hopKind) {
	p := fwdParser{s: elem}
	a, kind := p.element()
	if kind != hopMalformed && !p.done() {
		return netip.Addr{}, hopMalformed
	}
	return a, kind
}

// fwdParser reads one forwarded-element.
type fwdParser struct {
	s string
	i int
}

func (p *fwdParser) done() bool { return p.i >= len(p.s) }
func (p *fwdParser) peek() byte { return p.s[p.i] }

func (p *fwdParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// element parses one forwarded-element, stopping before the ',' that ends
// it (or at the end of the input).
func (p *fwdParser) element() (netip.Addr, hopKind) {
	var (
		addr  netip.Addr
		kind  = hopUnknown // until a for= says otherwise
		seen  [4]string    // parameter names, to refuse repeats (best effort past four)
		nSeen int
		isFor bool // a for= was seen: always refused twice
	)
	for {
		p.skipOWS()
		if p.done() || p.peek() == ',' {
			return addr, kind
		}
		if p.peek() == ';' { // an empty pair
			p.i++
			continue
		}
		name := p.token()
		if name == "" || p.done() || p.peek() != '=' {
			return netip.Addr{}, hopMalformed
		}
		p.i++
		value, escaped, ok := p.value()
		if !ok {
			return netip.Addr{}, hopMalformed
		}
		for _, n := range seen[:nSeen] {
			if strings.EqualFold(n, name) {
				return netip.Addr{}, hopMalformed
			}
		}
		if nSeen < len(seen) {
			seen[nSeen] = name
			nSeen++
		}
		if strings.EqualFold(name, "for") {
			if escaped || isFor {
				return netip.Addr{}, hopMalformed
			}
			if addr, kind = parseNode(value); kind == hopMalformed {
				return netip.Addr{}, hopMalformed
			}
			isFor = true
		}
		p.skipOWS()
		if p.done() || p.peek() == ',' {
			return addr, kind
		}
		if p.peek() != ';' {
			return netip.Addr{}, hopMalformed
		}
		p.i++
	}
}

// token reads an RFC 9110 token.
func (p *fwdParser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// value reads a token or a quoted-string. escaped reports a quoted-pair in
// the string. A token is read leniently, up to a delimiter, so that an
// IPv6 address a proxy forgot to quote (for=[2001:db8::1]) still parses.
func (p *fwdParser) value() (v string, escaped, ok bool) {
	if p.done() {
		return "", false, false
	}
	if p.peek() != '"' {
		start := p.i
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == ';' || c == ',' || c == ' ' || c == '\t' || c == '"' || c < 0x20 || c == 0x7f {
				break
			}
			p.i++
		}
		return p.s[start:p.i], false, p.i > start
	}
	p.i++ // the opening quote
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			v = p.s[start:p.i]
			p.i++
			return v, escaped, true
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20 && c != '\t', c == 0x7f:
			return "", false, false
		default:
			p.i++
		}
	}
	return "", false, false // no closing quote
}

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func trimOWS(s string) string { return strings.Trim(s, " \t") }

// parseNode parses a node (RFC 7239, section 6) or an X-Forwarded-For
// element: an IPv4 address, an IPv6 address (in brackets, or bare), either
// with an optional port; or "unknown" or an obfuscated identifier ("_x"),
// which are hops of unknown address. Anything else is malformed, including
// an address with a zone. Addresses are returned unmapped.
func parseNode(s string) (netip.Addr, hopKind) {
	switch {
	case s == "":
		return netip.Addr{}, hopMalformed
	case strings.EqualFold(s, "unknown"):
		return netip.Addr{}, hopUnknown
	case s[0] == '_':
		if isObfuscated(s) {
			return netip.Addr{}, hopUnknown
		}
		return netip.Addr{}, hopMalformed
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, hopMalformed
		}
		if port := s[end+1:]; port != "" && (port[0] != ':' || !isPort(port[1:])) {
			return netip.Addr{}, hopMalformed
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, hopMalformed
		}
		return a.Unmap(), hopAddr
	}
	if a, err := netip.ParseAddr(s); err == nil {
		// A bare address: IPv4, or IPv6 as X-Forwarded-For usually has it.
		if a.Zone() != "" {
			return netip.Addr{}, hopMalformed
		}
		return a.Unmap(), hopAddr
	}
	// IPv4 with a port: exactly one colon. (An IPv6 address with a port
	// must be in brackets: "2001:db8::1:80" is an address.)
	host, port, ok := strings.Cut(s, ":")
	if !ok || strings.IndexByte(port, ':') >= 0 || !isPort(port) {
		return netip.Addr{}, hopMalformed
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() {
		return netip.Addr{}, hopMalformed
	}
	return a, hopAddr
}

// isPort reports whether s is a node-port: 1 to 5 digits, or an
// obfuscated port ("_x").
func isPort(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '_' {
		return isObfuscated(s)
	}
	if len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isObfuscated reports whether s is an obfnode or obfport: "_" followed by
// ALPHA, DIGIT, ".", "_" or "-".
func isObfuscated(s string) bool {
	if len(s) < 2 || s[0] != '_' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
