package targeturl

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// cpPolicy is the control plane's default policy, as controlplane wires it.
var cpPolicy = Policy{
	OwnHosts:         []string{"sho.rt", "go.example.org"},
	OwnAddrs:         []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8::7/128")},
	RefusePrivate:    true,
	ShortenerDomains: DefaultShortenerDomains,
	RefuseLookalike:  true,
}

// checkTable runs p.Check over tests: errHas "" means accepted as want.
func checkTable(t *testing.T, p Policy, tests []struct{ in, want, errHas string }) {
	t.Helper()
	runTable(t, p.Check, tests)
}

// runTable runs check over tests.
func runTable(t *testing.T, check func(string) (string, error), tests []struct{ in, want, errHas string }) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := check(tt.in)
			if tt.errHas == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Check(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Check(%q) = %q, %v; want ErrInvalid containing %q", tt.in, got, err, tt.errHas)
			}
		})
	}
}

// TestCheckLoops: the shortener itself, under every address notation.
func TestCheckLoops(t *testing.T) {
	allowPrivate := cpPolicy
	allowPrivate.RefusePrivate = false
	tests := []struct{ in, want, errHas string }{
		{in: "http://127.0.0.1:8080/x", errHas: "loop"},
		{in: "http://[::1]:8080/x", errHas: "loop"},
		{in: "http://0.0.0.0:8080/x", errHas: "loop"},
		{in: "http://[::]:8080/x", errHas: "loop"},
		{in: "http://127.1:8080/x", errHas: "loop"},
		{in: "http://127.0.0.1./x", errHas: "loop"},
		{in: "http://2130706433/x", errHas: "loop"},
		{in: "http://0177.0.0.1/x", errHas: "loop"},
		{in: "http://0x7f.1/x", errHas: "loop"},
		{in: "http://0x7F000001/x", errHas: "loop"},
		{in: "http://127.255.255.254/x", errHas: "loop"},
		{in: "http://0/x", errHas: "loop"},
		{in: "http://[::ffff:127.0.0.1]/x", errHas: "loop"},
		{in: "http://[::ffff:7f00:1]/x", errHas: "loop"},
		{in: "http://[64:ff9b::7f00:1]/x", errHas: "loop"},
		{in: "http://localhost/x", errHas: "loop"},
		{in: "http://LOCALHOST./x", errHas: "loop"},
		{in: "http://app.localhost:3000/x", errHas: "loop"},
		{in: "http://203.0.113.7/x", errHas: "address of this shortener"},
		{in: "http://3405803783/x", errHas: "address of this shortener"},
		{in: "http://[2001:db8::7]/x", errHas: "address of this shortener"},
		{in: "http://[::ffff:203.0.113.7]/x", errHas: "address of this shortener"},
		{in: "https://sho.rt/abc", errHas: "this shortener"},
		{in: "https://go.example.org./abc", errHas: "this shortener"},
		{in: "http://203.0.113.8/x", want: "http://203.0.113.8/x"},
	}
	checkTable(t, cpPolicy, tests)
	// Loops stay refused when private targets are allowed.
	checkTable(t, allowPrivate, tests)
}

// TestCheckPrivate: private and special addresses in every notation.
func TestCheckPrivate(t *testing.T) {
	tests := []struct{ in, want, errHas string }{
		{in: "http://10.0.0.1/", errHas: "private address"},
		{in: "http://10.1/", errHas: "private address"},
		{in: "http://167772161/", errHas: "private address"},
		{in: "http://012.0.0.1/", errHas: "private address"},
		{in: "http://0xa.0.0.1/", errHas: "private address"},
		{in: "http://172.16.5.4/", errHas: "private address"},
		{in: "http://192.168.1.1/", errHas: "private address"},
		{in: "http://192.168.257/", errHas: "private address"},
		{in: "http://169.254.169.254/latest/meta-data/", errHas: "link-local"},
		{in: "http://0xA9FEA9FE/", errHas: "link-local"},
		{in: "http://169.254.43518/", errHas: "link-local"},
		{in: "http://[fe80::1]/", errHas: "link-local"},
		{in: "http://[fd00::1]/", errHas: "unique-local"},
		{in: "http://[fc12:3456::1]/", errHas: "unique-local"},
		{in: "http://[::ffff:10.0.0.1]/", errHas: "private address"},
		{in: "http://[::ffff:169.254.169.254]/", errHas: "link-local"},
		{in: "http://[::10.0.0.1]/", errHas: "private address"},
		{in: "http://224.0.0.1/", errHas: "multicast"},
		{in: "http://[ff02::1]/", errHas: "multicast"},
		{in: "http://255.255.255.255/", errHas: "broadcast"},
		{in: "http://100.64.0.1/", errHas: "carrier-grade"},
		{in: "http://198.18.0.1/", errHas: "benchmarking"},
		{in: "http://240.0.0.1/", errHas: "reserved"},
		{in: "http://192.168.1.1./", errHas: "private address"},
		{in: "http://93.184.215.14/", want: "http://93.184.215.14/"},
		{in: "http://1572395022/", want: "http://93.184.216.14/"},
		{in: "http://[2606:4700::1111]/", want: "http://[2606:4700::1111]/"},
		{in: "http://[::ffff:8.8.8.8]/", want: "http://[::ffff:8.8.8.8]/"},
		{in: "http://1.2.3.4.5/", errHas: "not a valid IPv4"},
		{in: "http://example.123/", errHas: "not a valid IPv4"},
		{in: "http://256.0.0.1/", errHas: "not a valid IPv4"},
		{in: "http://08.0.0.1/", errHas: "not a valid IPv4"},
		{in: "http://4294967296/", errHas: "not a valid IPv4"},
		// Full-width digits and ideographic full stops map to ASCII
		// before a browser reads the host as a number.
		{in: "http://１０.０.０.１/", errHas: "private address"},
		{in: "http://０ｘ７ｆ.１/", errHas: "127.0.0.1 is an address of this shortener"},
		{in: "http://１２７.１/", errHas: "127.0.0.1 is an address of this shortener"},
		{in: "http://０１７７.０.０.１/", errHas: "127.0.0.1 is an address of this shortener"},
		{in: "http://169。254。169。254/", errHas: "link-local"},
		{in: "http://１.２.３.４.５/", errHas: "not a valid IPv4"},
		{in: "http://９３.１８４.２１５.１４/", want: "http://93.184.215.14/"},
		// IPv6 beyond the mapped and NAT64 forms: IPv4-translated,
		// local-use NAT64, and the reserved space outside 2000::/3.
		{in: "http://[::ffff:0:a00:1]/", errHas: "private address"},
		{in: "http://[::ffff:0:7f00:1]/", errHas: "an address of this shortener"},
		{in: "http://[64:ff9b:1::a00:1]/", errHas: "local-use NAT64"},
		{in: "http://[::2]/", errHas: "reserved IPv6"},
		{in: "http://[4000::1]/", errHas: "reserved IPv6"},
		{in: "http://[2001:db8::1]/", want: "http://[2001:db8::1]/"},
	}
	checkTable(t, cpPolicy, tests)
	// With private targets allowed, private addresses pass and are
	// normalised to the dotted form browsers would use.
	allow := cpPolicy
	allow.RefusePrivate = false
	checkTable(t, allow, []struct{ in, want, errHas string }{
		{in: "http://10.1/wiki", want: "http://10.0.0.1/wiki"},
		{in: "http://0xA9FEA9FE/", want: "http://169.254.169.254/"},
		{in: "http://[fd00::1]:8080/", want: "http://[fd00::1]:8080/"},
	})
}

// TestCheckShorteners: other shorteners are refused unless the list is
// empty (allow_shortener_targets on).
func TestCheckShorteners(t *testing.T) {
	checkTable(t, cpPolicy, []struct{ in, want, errHas string }{
		{in: "https://bit.ly/abc", errHas: "URL shortener"},
		{in: "https://T.CO/abc", errHas: "URL shortener"},
		{in: "https://www.tinyurl.com/abc", errHas: "URL shortener"},
		{in: "https://notbit.ly/abc", want: "https://notbit.ly/abc"},
	})
	allow := cpPolicy
	allow.ShortenerDomains = nil
	checkTable(t, allow, []struct{ in, want, errHas string }{
		{in: "https://bit.ly/abc", want: "https://bit.ly/abc"},
	})
}

// TestCheckLookalike: mixed-script and whole-script confusable IDN hosts.
func TestCheckLookalike(t *testing.T) {
	checkTable(t, cpPolicy, []struct{ in, want, errHas string }{
		{in: "https://pаypal.com/", errHas: "mixes the scripts Cyrillic+Latin"},        // Cyrillic а
		{in: "https://xn--pypal-4ve.com/", errHas: "mixes the scripts Cyrillic+Latin"}, // the same, in punycode
		{in: "https://аррӏе.com/", errHas: "looks like the Latin name"},                // all Cyrillic
		{in: "https://ѕсоре.com/", errHas: "looks like the Latin name"},
		{in: "https://gοοgle.com/", errHas: "mixes the scripts Greek+Latin"}, // Greek ο
		{in: "https://bücher.example/", want: "https://xn--bcher-kva.example/"},
		{in: "https://münchen.de/", want: "https://xn--mnchen-3ya.de/"},
		{in: "https://яндекс.рф/", want: "https://xn--d1acpjx3f.xn--p1ai/"},
		{in: "https://日本語.jp/", want: "https://xn--wgv71a119e.jp/"},
		{in: "https://ひらがなabc.jp/", want: "https://xn--abc-o73b4fvb9j.jp/"},
		{in: "https://한국abc.kr/", want: "https://xn--abc-lt8lk11n.kr/"},
		{in: "https://ελληνικά.gr/", want: "https://xn--hxargifdar.gr/"},
	})
	allow := cpPolicy
	allow.RefuseLookalike = false
	checkTable(t, allow, []struct{ in, want, errHas string }{
		{in: "https://pаypal.com/", want: "https://xn--pypal-4ve.com/"},
	})
}

// TestEdgePolicyUnchanged: the edge's policy (no own hosts, nothing
// refused beyond syntax) still lets private addresses and other
// shorteners through, normalised.
func TestEdgePolicyUnchanged(t *testing.T) {
	checkTable(t, Policy{MaxLength: 32 << 10}, []struct{ in, want, errHas string }{
		{in: "http://127.0.0.1:8080/x", want: "http://127.0.0.1:8080/x"},
		{in: "http://127.1/x", want: "http://127.0.0.1/x"},
		{in: "http://10.0.0.1/", want: "http://10.0.0.1/"},
		{in: "https://bit.ly/x", want: "https://bit.ly/x"},
		{in: "https://pаypal.com/", want: "https://xn--pypal-4ve.com/"},
		{in: "http://localhost/x", want: "http://localhost/x"},
	})
}

// TestCheckOwnPorts: when the policy knows the shortener's ports, its
// addresses on other ports are other services, private targets like any
// other.
func TestCheckOwnPorts(t *testing.T) {
	p := cpPolicy
	p.OwnPorts = []int{8080, 443}
	p.RefusePrivate = false
	checkTable(t, p, []struct{ in, want, errHas string }{
		{in: "http://127.0.0.1:8080/x", errHas: "loop"},
		{in: "http://127.1:8080/x", errHas: "loop"},
		{in: "http://localhost:8080/x", errHas: "loop"},
		{in: "https://[::1]/x", errHas: "loop"},
		{in: "http://203.0.113.7:443/x", errHas: "address of this shortener"},
		{in: "http://127.0.0.1:3000/x", want: "http://127.0.0.1:3000/x"},
		{in: "http://localhost:3000/x", want: "http://localhost:3000/x"},
		{in: "http://[::1]/x", want: "http://[::1]/x"},
		{in: "https://sho.rt:3000/x", errHas: "this shortener"}, // own names: every port
	})
	p.RefusePrivate = true
	checkTable(t, p, []struct{ in, want, errHas string }{
		{in: "http://127.0.0.1:3000/x", errHas: "loopback address"},
		{in: "http://localhost:3000/x", errHas: "loopback name"},
	})
}
