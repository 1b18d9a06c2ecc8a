package ipclass

import (
	"net/netip"
	"testing"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestSpecial(t *testing.T) {
	for ip, want := range map[string]string{
		"8.8.8.8":            "",
		"2606:4700::1":       "",
		"192.0.2.1":          "", // documentation: reaches nothing, not special here
		"127.0.0.1":          "a loopback address",
		"::ffff:10.0.0.1":    "a private address",
		"64:ff9b::a9fe:a9fe": "a link-local address",
		"::127.0.0.1":        "a loopback address",
		"fd00::1":            "a unique-local address",
		"100.64.0.1":         "a carrier-grade NAT (shared) address",
		"4000::1":            "a reserved IPv6 address",
		"255.255.255.255":    "the broadcast address",
	} {
		if got := Special(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Special(%s) = %q, want %q", ip, got, want)
		}
	}
	if Special(netip.Addr{}) == "" {
		t.Error("Special(zero Addr) = \"\"")
	}
}

func TestEmbeddedIPv4(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:1.2.3.4":   "1.2.3.4",
		"::1.2.3.4":        "1.2.3.4",
		"::ffff:0:102:304": "1.2.3.4",
		"64:ff9b::102:304": "1.2.3.4",
		"::1":              "::1",
		"fe80::1%eth0":     "fe80::1",
		"1.2.3.4":          "1.2.3.4",
	} {
		if got := EmbeddedIPv4(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("EmbeddedIPv4(%s) = %s, want %s", in, got, want)
		}
	}
}
