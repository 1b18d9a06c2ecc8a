package clientip

import (
	"net/http"
	"net/netip"
	"testing"
)

func benchmarkClientIP(b *testing.B, header, remote string, h http.Header) {
	r, err := NewResolver([]string{"10.0.0.0/8", "2001:db8:ffff::/48"}, 64, header)
	if err != nil {
		b.Fatal(err)
	}
	req := request(remote, h)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ClientIP(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientIPDirect: an untrusted peer, the common case without a
// proxy in front; headers are not read.
func BenchmarkClientIPDirect(b *testing.B) {
	benchmarkClientIP(b, "", "203.0.113.9:4711", http.Header{"X-Forwarded-For": {"198.51.100.1"}})
}

// BenchmarkClientIPXForwardedFor: behind two trusted proxies.
func BenchmarkClientIPXForwardedFor(b *testing.B) {
	benchmarkClientIP(b, "", "10.1.2.3:4711", http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.1, 10.0.0.7"}})
}

// BenchmarkClientIPForwarded: the same chain in RFC 7239 form.
func BenchmarkClientIPForwarded(b *testing.B) {
	benchmarkClientIP(b, "Forwarded", "10.1.2.3:4711", http.Header{"Forwarded": {`for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.7`}})
}

// BenchmarkKey: the rate-limit key of an IPv6 client (one allocation: the
// string itself).
func BenchmarkKey(b *testing.B) {
	r := &Resolver{}
	a := netip.MustParseAddr("2001:db8:1:2:3:4:5:6")
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Key(a)
	}
}
