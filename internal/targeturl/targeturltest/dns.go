// Package targeturltest runs a real DNS server on loopback for tests of
// target checks that resolve host names.
package targeturltest

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// DNSServer starts a DNS server on loopback UDP that answers A and AAAA
// queries from zone (a name without its trailing dot → its addresses);
// other names get NXDOMAIN, and names under "slow." are never answered,
// so that the client times out. It returns a resolver that asks only it;
// the server stops when the test ends.
func DNSServer(t testing.TB, zone map[string][]string) *net.Resolver {
	t.Helper()
	addr := DNSServerAddr(t, zone, nil)
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// DNSServerAddr is DNSServer that also answers TXT queries from txt (a
// name → its TXT strings, one record each), and returns the server's
// address (host:port) for code that takes a resolver address, such as
// targeturl.DNSResolver.
func DNSServerAddr(t testing.TB, zone, txt map[string][]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if m := answer(q, zone, txt); m != nil {
			_ = w.WriteMsg(m)
		}
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// answer builds the reply to q, or nil to stay silent.
func answer(q *dns.Msg, zone, txt map[string][]string) *dns.Msg {
	if len(q.Question) != 1 {
		return nil
	}
	question := q.Question[0]
	name := strings.TrimSuffix(strings.ToLower(question.Name), ".")
	if name == "slow" || strings.HasSuffix(name, ".slow") {
		return nil
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true // an empty answer is NODATA, not a lame referral
	addrs, ok := zone[name]
	texts, hasTXT := txt[name]
	if !ok && !hasTXT {
		m.Rcode = dns.RcodeNameError
	}
	hdr := func(rrtype uint16) dns.RR_Header {
		return dns.RR_Header{Name: question.Name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: 60}
	}
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		switch {
		case a.Is4() && question.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: a.AsSlice()})
		case a.Is6() && question.Qtype == dns.TypeAAAA:
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	if question.Qtype == dns.TypeTXT {
		for _, s := range texts {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{s}})
		}
	}
	return m
}
