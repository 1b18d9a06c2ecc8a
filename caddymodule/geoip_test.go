package caddymodule

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/shortify/shortify/internal/geoip/geoiptest"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// geoNetworks is the test GeoIP database: 192.0.2.0/24 and most of the
// documentation ranges are in no country.
var geoNetworks = map[string]string{
	"81.2.69.0/24":  "GB",
	"2001:db8::/32": "DE",
	"10.0.0.0/8":    "US", // the proxies' own network: must never be the answer behind them
}

// TestClickCountry: the country of a click event comes from the database
// by the client IP (behind trusted proxies, the forwarded one), else from
// country_header when the peer is a trusted proxy, else it is unknown.
func TestClickCountry(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	db := geoiptest.Write(t, t.TempDir(), geoiptest.GeoLite2City, geoNetworks)
	configs := map[string]func() *Handler{
		"geoip": func() *Handler {
			return &Handler{GeoIPDatabase: db, CountryHeader: "CF-IPCountry", TrustedProxies: []string{"10.0.0.0/8"}}
		},
		"header only": func() *Handler {
			return &Handler{CountryHeader: "CF-IPCountry", TrustedProxies: []string{"10.0.0.0/8"}}
		},
		"neither": func() *Handler { return &Handler{TrustedProxies: []string{"10.0.0.0/8"}} },
	}
	tests := []struct {
		config, name   string
		peer, xff, hdr string
		want           string
	}{
		{"geoip", "direct client in the database", "81.2.69.142", "", "", "GB"},
		{"geoip", "the database before the header", "10.0.0.1", "81.2.69.142", "FR", "GB"},
		{"geoip", "client behind a trusted proxy", "10.0.0.1", "81.2.69.142", "", "GB"},
		{"geoip", "IPv6 client behind a trusted proxy", "10.0.0.1", "2001:db8::5", "", "DE"},
		{"geoip", "not in the database: header from a trusted proxy", "10.0.0.1", "192.0.2.9", "fr", "FR"},
		{"geoip", "not in the database: header from anyone else ignored", "192.0.2.9", "", "FR", ""},
		{"geoip", "forged forwarding header from an untrusted peer", "192.0.2.9", "81.2.69.142", "FR", ""},
		{"geoip", "nothing known", "192.0.2.9", "", "", ""},
		{"header only", "header from a trusted proxy", "10.0.0.1", "192.0.2.9", "FR", "FR"},
		{"header only", "header from anyone else ignored", "81.2.69.142", "", "FR", ""},
		{"header only", "invalid header value", "10.0.0.1", "", "France", ""},
		{"neither", "header not configured", "10.0.0.1", "", "FR", ""},
	}
	var links []linkstore.Link
	codes := make([]string, len(tests))
	for i := range tests {
		codes[i] = newCode(t, "geo")
		links = append(links, linkstore.Link{Code: codes[i], URL: "https://example.com/" + codes[i]})
	}
	dsn := seededDSN(t, links...)
	handlers := make(map[string]*Handler)
	for name, config := range configs {
		h := config()
		h.Database = dsn
		h.keySalt = t.Name() + name
		handlers[name] = provision(t, eventsHandler(h, k))
	}
	for i, tt := range tests {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/"+codes[i], nil)
		r.RemoteAddr = tt.peer + ":40000"
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.hdr != "" {
			r.Header.Set("CF-IPCountry", tt.hdr)
		}
		if err := handlers[tt.config].ServeHTTP(w, r, new(nextHandler)); err != nil || w.Code != 302 {
			t.Fatalf("%s/%s: %d %v", tt.config, tt.name, w.Code, err)
		}
	}
	got := make(map[string]string)
	for _, e := range readClicks(t, k, len(tests)) {
		got[e.Code] = e.Country
	}
	for i, tt := range tests {
		if c, ok := got[codes[i]]; !ok || c != tt.want {
			t.Errorf("%s/%s: country %q (event seen: %v), want %q", tt.config, tt.name, c, ok, tt.want)
		}
	}
}

// TestGeoIPReload: the database is pooled across config reloads (the new
// handler gets the same one, which outlives the old handler's Cleanup)
// and picks up a replaced file; a corrupt replacement keeps the old data.
func TestGeoIPReload(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	path := geoiptest.Write(t, t.TempDir(), geoiptest.GeoLite2Country, geoNetworks)
	dsn := sqliteDSN(t)
	config := func() *Handler {
		return eventsHandler(&Handler{Database: dsn, GeoIPDatabase: path, keySalt: t.Name(),
			geoipInterval: 5 * time.Millisecond}, k)
	}
	client := netip.MustParseAddr("81.2.69.142")

	old := provision(t, config())
	geoiptest.Replace(t, path, geoiptest.Build(t, geoiptest.DBIPCountry, map[string]string{"81.2.69.0/24": "IE"}))
	testenv.WaitFor(t, "the replaced database", 5*time.Second, func() bool { return old.visitors.geo.Country(client) == "IE" })

	// A config reload: the new handler is provisioned, then the old one
	// cleaned up.
	cur := provision(t, config())
	if cur.visitors.geo != old.visitors.geo {
		t.Fatal("the reload opened the database again instead of keeping the pooled one")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	geoiptest.Replace(t, path, []byte("corrupt"))
	geoiptest.Replace(t, path, geoiptest.Build(t, geoiptest.GeoLite2City, map[string]string{"81.2.69.0/24": "NL"}))
	testenv.WaitFor(t, "the database replaced after the reload", 5*time.Second, func() bool {
		return cur.visitors.geo.Country(client) == "NL"
	})
	geoiptest.Replace(t, path, []byte("corrupt"))
	if cur.visitors.geo.Check(); cur.visitors.geo.Country(client) != "NL" {
		t.Fatal("a corrupt file replaced the database")
	}
}

// TestGeoIPProvisionErrors: a database that does not open fails the
// config, naming the option; none configured leaves the country unknown.
func TestGeoIPProvisionErrors(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t)
	dir := t.TempDir()
	bad := geoiptest.Write(t, dir, geoiptest.GeoLite2Country, geoNetworks)
	geoiptest.Replace(t, bad, []byte("not a database"))
	for _, path := range []string{bad, dir + "/missing.mmdb"} {
		h := eventsHandler(&Handler{Database: dsn, GeoIPDatabase: path, keySalt: t.Name()}, k)
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err := h.Provision(ctx)
		_ = h.Cleanup()
		cancel()
		if err == nil || !strings.Contains(err.Error(), "geoip_database") {
			t.Errorf("%s: Provision: %v, want a geoip_database error", path, err)
		}
	}
	h := provision(t, eventsHandler(&Handler{Database: dsn}, k))
	if h.visitors.geo != nil || h.visitors.geo.Country(netip.MustParseAddr("81.2.69.142")) != "" {
		t.Error("a database without geoip_database")
	}
}

// TestGeoIPCaddyfile parses geoip_database.
func TestGeoIPCaddyfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"shortify_edge {\n geoip_database /var/lib/GeoIP/GeoLite2-Country.mmdb\n}", "/var/lib/GeoIP/GeoLite2-Country.mmdb", true},
		{"shortify_edge {\n geoip_database {env.GEOIP_DB}\n}", "{env.GEOIP_DB}", true},
		{"shortify_edge {\n geoip_database a b\n}", "", false},
		{"shortify_edge {\n geoip_database a\n geoip_database b\n}", "", false},
	}
	for _, tt := range tests {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.in))
		if (err == nil) != tt.ok || h.GeoIPDatabase != tt.want && tt.ok {
			t.Errorf("%q: %q, %v", tt.in, h.GeoIPDatabase, err)
		}
	}
}
