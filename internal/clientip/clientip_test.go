package clientip

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// testTrusted are the trusted proxies of the table tests: a private IPv4
// network, an IPv6 network, and one single address.
var testTrusted = []string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"}

func newTestResolver(t *testing.T, header string) *Resolver {
	t.Helper()
	r, err := NewResolver(testTrusted, 64, header)
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	return r
}

func request(remote string, h http.Header) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/abc", nil)
	req.RemoteAddr = remote
	for k, vs := range h {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

// wantClientIP checks that r resolves req to the address want.
func wantClientIP(t *testing.T, r *Resolver, req *http.Request, want string) {
	t.Helper()
	got, err := r.ClientIP(req)
	if err != nil {
		t.Fatalf("ClientIP: %v", err)
	}
	if got != netip.MustParseAddr(want) {
		t.Fatalf("ClientIP = %v, want %s", got, want)
	}
}

func TestClientIPXForwardedFor(t *testing.T) {
	t.Parallel()
	r := newTestResolver(t, "")
	const proxy = "10.1.2.3:40000"
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"untrusted peer, no header", "203.0.113.9:1234", nil, "203.0.113.9"},
		{"untrusted peer's header is ignored", "203.0.113.9:1234", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer, no header", proxy, nil, "10.1.2.3"},
		{"trusted peer, empty header", proxy, []string{""}, "10.1.2.3"},
		{"one address", proxy, []string{"198.51.100.1"}, "198.51.100.1"},
		{"right-most untrusted wins over a spoofed left", proxy, []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped", proxy, []string{"198.51.100.1, 10.0.0.7, 10.9.9.9"}, "198.51.100.1"},
		{"single trusted address is skipped", proxy, []string{"198.51.100.1, 192.0.2.1"}, "198.51.100.1"},
		{"neighbour of a single trusted address is not", proxy, []string{"198.51.100.1, 192.0.2.2"}, "192.0.2.2"},
		{"all hops trusted: the left-most", proxy, []string{"10.0.0.5, 10.0.0.6"}, "10.0.0.5"},
		{"several field lines form one list", proxy, []string{"1.1.1.1", "198.51.100.1, 10.0.0.7"}, "198.51.100.1"},
		{"answer in an earlier line", proxy, []string{"198.51.100.1", "10.0.0.7"}, "198.51.100.1"},
		{"empty elements are skipped", proxy, []string{" , 198.51.100.1 ,, ", ""}, "198.51.100.1"},
		{"spaces and tabs", proxy, []string{"\t198.51.100.1 \t"}, "198.51.100.1"},
		{"IPv4 with a port", proxy, []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"bare IPv6", proxy, []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"IPv6 in brackets", proxy, []string{"[2001:db8:1::5]"}, "2001:db8:1::5"},
		{"IPv6 in brackets with a port", proxy, []string{"[2001:db8:1::5]:443"}, "2001:db8:1::5"},
		{"IPv6 that looks like it has a port is an address", proxy, []string{"2001:db8:1::5:80"}, "2001:db8:1::5:80"},
		{"trusted IPv6 hop skipped", proxy, []string{"2001:db8:1::5, 2001:db8:ffff::1"}, "2001:db8:1::5"},
		{"IPv4-mapped IPv6 is unmapped", proxy, []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped trusted hop is trusted", proxy, []string{"198.51.100.1, ::ffff:10.0.0.7"}, "198.51.100.1"},
		{"IPv4-mapped peer is unmapped and trusted", "[::ffff:10.1.2.3]:5", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv6 peer trusted", "[2001:db8:ffff::9]:5", []string{"198.51.100.1"}, "198.51.100.1"},
		{"IPv6 peer untrusted", "[2001:db8:1::9]:5", []string{"198.51.100.1"}, "2001:db8:1::9"},
		{"peer without a port", "10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"peer with a zone loses it", "[fe80::1%eth0]:5", nil, "fe80::1"},
		{"unknown hop: the peer", proxy, []string{"198.51.100.1, unknown"}, "10.1.2.3"},
		{"unknown left of the answer does not matter", proxy, []string{"unknown, 198.51.100.1"}, "198.51.100.1"},
		{"garbage right-most: the peer", proxy, []string{"198.51.100.1, garbage"}, "10.1.2.3"},
		{"garbage behind a trusted hop: the peer", proxy, []string{"198.51.100.1, garbage, 10.0.0.7"}, "10.1.2.3"},
		{"garbage left of the answer does not matter", proxy, []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"garbage in an earlier line does not matter", proxy, []string{"\"x;y", "198.51.100.1"}, "198.51.100.1"},
		{"a zone is malformed", proxy, []string{"fe80::1%eth0"}, "10.1.2.3"},
		{"a hostname is malformed", proxy, []string{"example.com"}, "10.1.2.3"},
		{"bad port", proxy, []string{"198.51.100.1:http"}, "10.1.2.3"},
		{"port too long", proxy, []string{"198.51.100.1:123456"}, "10.1.2.3"},
		{"IPv4 in brackets", proxy, []string{"[198.51.100.1]"}, "10.1.2.3"},
		{"unclosed bracket", proxy, []string{"[2001:db8::1"}, "10.1.2.3"},
		{"junk after bracket", proxy, []string{"[2001:db8::1]x"}, "10.1.2.3"},
		{"quoted address is malformed in X-Forwarded-For", proxy, []string{"\"198.51.100.1\""}, "10.1.2.3"},
		{"Forwarded is not read", proxy, nil, "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Forwarded is never read in this mode.
			h := http.Header{"X-Forwarded-For": tc.xff, "Forwarded": {"for=198.51.100.200"}}
			wantClientIP(t, r, request(tc.remote, h), tc.want)
		})
	}
}

func TestClientIPForwarded(t *testing.T) {
	t.Parallel()
	r := newTestResolver(t, "Forwarded")
	const proxy = "10.1.2.3:40000"
	for _, tc := range []struct {
		name string
		fwd  []string
		want string
	}{
		{"no header", nil, "10.1.2.3"},
		{"token", []string{"for=198.51.100.1"}, "198.51.100.1"},
		{"quoted", []string{`for="198.51.100.1"`}, "198.51.100.1"},
		{"parameter names are case-insensitive", []string{"For=198.51.100.1"}, "198.51.100.1"},
		{"IPv4 with port", []string{`for="198.51.100.1:8080"`}, "198.51.100.1"},
		{"IPv6 in brackets, quoted", []string{`for="[2001:db8:cafe::17]"`}, "2001:db8:cafe::17"},
		{"IPv6 with port", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"IPv6 with obfuscated port", []string{`for="[2001:db8:cafe::17]:_p1"`}, "2001:db8:cafe::17"},
		{"IPv6 unquoted, leniently", []string{`for=[2001:db8:cafe::17]`}, "2001:db8:cafe::17"},
		{"other parameters", []string{`for=198.51.100.1;proto=https;by=10.1.2.3;host="example.com"`}, "198.51.100.1"},
		{"parameters in any order", []string{`proto=https; for=198.51.100.1 ;by=_lb`}, "198.51.100.1"},
		{"quoted comma in another parameter", []string{`for=1.1.1.1;host="a,b", for=198.51.100.1;host="x,y"`}, "198.51.100.1"},
		{"quoted escaped quote in another parameter", []string{`for=198.51.100.1;ext="a\",b"`}, "198.51.100.1"},
		{"right-most untrusted", []string{"for=1.1.1.1, for=198.51.100.1, for=10.0.0.7"}, "198.51.100.1"},
		{"several field lines", []string{"for=1.1.1.1", "for=198.51.100.1", "for=10.0.0.7"}, "198.51.100.1"},
		{"all trusted: the left-most", []string{"for=10.0.0.5, for=10.0.0.6"}, "10.0.0.5"},
		{"empty elements", []string{" , for=198.51.100.1 , ,"}, "198.51.100.1"},
		{"empty pairs", []string{";for=198.51.100.1;;"}, "198.51.100.1"},
		{"IPv4-mapped", []string{`for="[::ffff:198.51.100.1]"`}, "198.51.100.1"},
		{"obfuscated: the peer", []string{"for=198.51.100.1, for=_hidden"}, "10.1.2.3"},
		{"unknown: the peer", []string{"for=198.51.100.1, for=unknown"}, "10.1.2.3"},
		{"no for=: the peer", []string{"for=198.51.100.1, proto=https"}, "10.1.2.3"},
		{"obfuscated left of the answer does not matter", []string{"for=_x, for=198.51.100.1"}, "198.51.100.1"},
		{"unterminated quote left of the answer does not matter", []string{`for="1.1.1.1, for=198.51.100.1`}, "198.51.100.1"},
		{"garbage left of the answer does not matter", []string{`;;==,, for=198.51.100.1`}, "198.51.100.1"},
		{"duplicate for=", []string{"for=198.51.100.1;for=198.51.100.2"}, "10.1.2.3"},
		{"duplicate other parameter", []string{"for=198.51.100.1;proto=http;proto=https"}, "10.1.2.3"},
		{"quoted-pair in for=", []string{`for="198.51.100\.1"`}, "10.1.2.3"},
		{"unterminated quote", []string{`for="198.51.100.1`}, "10.1.2.3"},
		{"missing value", []string{"for="}, "10.1.2.3"},
		{"empty quoted value", []string{`for=""`}, "10.1.2.3"},
		{"missing equals", []string{"for"}, "10.1.2.3"},
		{"junk after value", []string{`for="198.51.100.1"x`}, "10.1.2.3"},
		{"space inside value", []string{"for=198.51.100.1 x"}, "10.1.2.3"},
		{"bad obfuscated identifier", []string{"for=_a!b"}, "10.1.2.3"},
		{"hostname", []string{"for=example.com"}, "10.1.2.3"},
		{"IPv6 bare in quotes, leniently", []string{`for="2001:db8::1"`}, "2001:db8::1"},
		{"zone", []string{`for="[fe80::1%25eth0]"`}, "10.1.2.3"},
		{"X-Forwarded-For is not read", nil, "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// X-Forwarded-For is never read in this mode.
			h := http.Header{"Forwarded": tc.fwd, "X-Forwarded-For": {"198.51.100.200"}}
			wantClientIP(t, r, request(proxy, h), tc.want)
		})
	}
}

func TestClientIPNoPeer(t *testing.T) {
	t.Parallel()
	r := newTestResolver(t, "")
	for _, remote := range []string{"", "@", "/run/caddy.sock", "example.com:80", "[::1"} {
		_, err := r.ClientIP(request(remote, http.Header{"X-Forwarded-For": {"198.51.100.1"}}))
		if !errors.Is(err, ErrNoPeer) {
			t.Errorf("RemoteAddr %q: err = %v, want ErrNoPeer", remote, err)
		}
	}
}

func TestZeroResolverTrustsNobody(t *testing.T) {
	t.Parallel()
	var r Resolver
	got, err := r.ClientIP(request("10.1.2.3:5", http.Header{"X-Forwarded-For": {"198.51.100.1"}}))
	if err != nil || got != netip.MustParseAddr("10.1.2.3") {
		t.Fatalf("ClientIP = %v, %v; want the peer", got, err)
	}
	if k := r.Key(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); k != "2001:db8:1:2::/64" {
		t.Fatalf("Key = %q, want the default /64", k)
	}
}

func TestClientIPDoesNotAllocateMuch(t *testing.T) {
	r := newTestResolver(t, "Forwarded")
	req := request("10.1.2.3:5", http.Header{"Forwarded": {`for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.7`}})
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.ClientIP(req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("ClientIP allocates %v times per call, want 0", allocs)
	}
}

func TestNewResolver(t *testing.T) {
	t.Parallel()
	r, err := NewResolver([]string{" 10.1.2.3/8 ", "192.0.2.1", "2001:db8::1", "::ffff:172.16.0.0/108", "private_ranges"}, 0, "x-forwarded-for")
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::1/128", "172.16.0.0/12",
		"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"}
	if len(r.TrustedProxies) != len(want) {
		t.Fatalf("TrustedProxies = %v, want %v", r.TrustedProxies, want)
	}
	for i, p := range r.TrustedProxies {
		if p.String() != want[i] {
			t.Errorf("TrustedProxies[%d] = %v, want %s", i, p, want[i])
		}
	}
	if r.Header != XForwardedFor {
		t.Errorf("Header = %v", r.Header)
	}
	if r, err := NewResolver(nil, 48, "FORWARDED"); err != nil || r.Header != Forwarded || r.IPv6Prefix != 48 {
		t.Errorf("NewResolver(nil, 48, FORWARDED) = %+v, %v", r, err)
	}

	for _, tc := range []struct {
		trusted []string
		prefix  int
		header  string
		errHas  string
	}{
		{[]string{"10.0.0.0/33"}, 64, "", `"10.0.0.0/33" is not a valid CIDR prefix`},
		{[]string{"10.0.0"}, 64, "", `"10.0.0" is neither an IP address nor a CIDR prefix`},
		{[]string{""}, 64, "", `"" is neither`},
		{[]string{"fe80::1%eth0"}, 64, "", "has a zone"},
		{[]string{"::ffff:0:0/95"}, 64, "", "spans more than the IPv4-mapped range"},
		{nil, -1, "", "IPv6 prefix length -1 is out of range"},
		{nil, 129, "", "IPv6 prefix length 129 is out of range"},
		{nil, 64, "X-Real-IP", `unknown forwarding header "X-Real-IP"`},
	} {
		_, err := NewResolver(tc.trusted, tc.prefix, tc.header)
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("NewResolver(%q, %d, %q) error = %v, want one containing %q", tc.trusted, tc.prefix, tc.header, err, tc.errHas)
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix int
		addr   string
		want   string
	}{
		{64, "198.51.100.1", "198.51.100.1"},
		{64, "::ffff:198.51.100.1", "198.51.100.1"},
		{64, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{64, "2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{64, "fe80::1%eth0", "fe80::/64"},
		{56, "2001:db8:1:2ff::1", "2001:db8:1:200::/56"},
		{48, "2001:db8:1:2::1", "2001:db8:1::/48"},
		{128, "2001:db8:1:2::1", "2001:db8:1:2::1"},
		{0, "2001:db8:1:2::1", "2001:db8:1:2::/64"},
	} {
		r := &Resolver{IPv6Prefix: tc.prefix}
		if got := r.Key(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Key(%s) with /%d = %q, want %q", tc.addr, tc.prefix, got, tc.want)
		}
	}
	r := &Resolver{}
	if got := r.Key(netip.Addr{}); got != "" {
		t.Errorf("Key(zero) = %q, want empty", got)
	}
	// Two addresses in one /64 share a key; the next /64 does not.
	a, b, c := netip.MustParseAddr("2001:db8:0:1::1"), netip.MustParseAddr("2001:db8:0:1:ffff::2"), netip.MustParseAddr("2001:db8:0:2::1")
	if r.Prefix(a) != r.Prefix(b) || r.Prefix(a) == r.Prefix(c) {
		t.Errorf("Prefix: %v %v %v", r.Prefix(a), r.Prefix(b), r.Prefix(c))
	}
}

func TestHeaderString(t *testing.T) {
	t.Parallel()
	for h, want := range map[Header]string{XForwardedFor: "X-Forwarded-For", Forwarded: "Forwarded", 7: "Header(7)"} {
		if got := h.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
