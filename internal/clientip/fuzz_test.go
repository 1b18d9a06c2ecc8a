package clientip

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP checks, for any peer address and forwarding headers, that
// ClientIP never panics and answers either the peer or an address that is
// written in the header it reads; that it reads the header only when the
// peer is trusted; and that what it returns is unmapped and has no zone.
// The seed corpus is in testdata/fuzz/FuzzClientIP.
func FuzzClientIP(f *testing.F) {
	f.Add("10.1.2.3:5", "1.1.1.1, 198.51.100.1", "10.0.0.7", `for="[2001:db8::1]:80";proto=https`, false)
	f.Add("10.1.2.3:5", "", "", `for=1.1.1.1, for="[2001:db8:cafe::17]:4711", for=10.0.0.7`, true)
	f.Add("[::ffff:10.1.2.3]:5", "::ffff:198.51.100.1", "", `for=_hidden;by=unknown`, true)
	f.Add("203.0.113.9:1234", "198.51.100.1", "", "for=198.51.100.1", true)
	f.Add("10.1.2.3", "garbage, [2001:db8::1]:443", "", `for="1.1.1.1;x="a\",b", for=198.51.100.1`, true)
	rs := map[bool]*Resolver{}
	for _, fwd := range []bool{false, true} {
		h := "X-Forwarded-For"
		if fwd {
			h = "Forwarded"
		}
		r, err := NewResolver([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"}, 64, h)
		if err != nil {
			f.Fatal(err)
		}
		rs[fwd] = r
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2, fwd string, useForwarded bool) {
		r := rs[useForwarded]
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				req.Header.Add("X-Forwarded-For", v)
			}
		}
		if fwd != "" {
			req.Header.Add("Forwarded", fwd)
		}
		got, err := r.ClientIP(req)

		peer, peerOK := oraclePeer(remote)
		if !peerOK {
			if err == nil {
				t.Fatalf("RemoteAddr %q is no address, but ClientIP = %v", remote, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("ClientIP: %v", err)
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: not a plain address", got)
		}
		if got == peer {
			return
		}
		if !r.trusted(peer) {
			t.Fatalf("peer %v is not trusted, but ClientIP = %v", peer, got)
		}
		read := xff1 + "," + xff2
		if useForwarded {
			read = fwd
		}
		if !appearsIn(got, read) {
			t.Fatalf("ClientIP = %v, which is neither the peer %v nor in %q", got, peer, read)
		}
	})
}

// oraclePeer parses RemoteAddr independently of the code under test.
func oraclePeer(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// appearsIn reports whether a is written in s: as a token between
// delimiters, possibly followed by ":port", possibly IPv4-mapped.
func appearsIn(a netip.Addr, s string) bool {
	toks := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(",;\"= \t[]", r) })
	for _, tok := range toks {
		cands := []string{tok}
		if i := strings.LastIndexByte(tok, ':'); i >= 0 {
			cands = append(cands, tok[:i])
		}
		for _, c := range cands {
			if b, err := netip.ParseAddr(c); err == nil && b.Zone() == "" && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}
