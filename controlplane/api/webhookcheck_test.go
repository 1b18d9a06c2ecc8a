package api

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/safedial"
)

// FuzzWebhookURL: checkWebhookURL never panics, and every URL it accepts
// (without outbound_allow_private) is absolute http(s), without user
// info, within the bound, on no localhost or literal non-public address.
// With the switch, it accepts a superset. Seeds: testdata/fuzz.
func FuzzWebhookURL(f *testing.F) {
	f.Add("https://hooks.example.com/in")
	f.Fuzz(func(t *testing.T, raw string) {
		strict, lax := checkWebhookURL(raw, false), checkWebhookURL(raw, true)
		if strict == "" && lax != "" {
			t.Fatalf("%q: accepted strictly, refused with outbound_allow_private: %s", raw, lax)
		}
		if lax != "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Hostname() == "" || len(raw) > MaxWebhookURLLength {
			t.Fatalf("accepted %q", raw)
		}
		if strict != "" {
			return
		}
		h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if ip, err := netip.ParseAddr(u.Hostname()); (err == nil && !safedial.Public(ip)) || h == "localhost" || strings.HasSuffix(h, ".localhost") {
			t.Fatalf("accepted %q", raw)
		}
	})
}

func TestCheckWebhookURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://hooks.example.com/in?x=1": true,
		"http://93.184.215.14:8080/":       true,
		"http://[2606:4700::1]/":           true,
		"https://hooks.example.com./":      true,
		"http://127.0.0.1/":                false,
		"http://[::ffff:10.0.0.1]/":        false,
		"http://[fe80::1%25eth0]/":         false,
		"http://[2002:a00:1::]/":           false, // 6to4 of 10.0.0.1
		"http://192.0.2.1/":                false, // documentation
		"http://LOCALHOST./":               false,
		"http://x.localhost/":              false,
		"https://user@hooks.example.com/":  false,
		"javascript:alert(1)":              false,
		"//hooks.example.com/":             false,
		"https:hooks.example.com":          false,
		"https://hooks.example.com:99999/": false,
	} {
		if got := checkWebhookURL(raw, false); (got == "") != ok {
			t.Errorf("%q: %q, want accepted %v", raw, got, ok)
		}
	}
}

func TestCheckWebhookEvents(t *testing.T) {
	for _, c := range []struct {
		evs []string
		ok  bool
	}{
		{[]string{"link.created", "link.clicked"}, true},
		{[]string{"link.updated", "link.deleted", "link.created", "link.clicked"}, true},
		{nil, false},
		{[]string{}, false},
		{[]string{"link.created", "link.created"}, false},
		{[]string{"Link.Created"}, false},
		{[]string{""}, false},
	} {
		if got := checkWebhookEvents(c.evs); (got == "") != c.ok {
			t.Errorf("%q: %q, want accepted %v", c.evs, got, c.ok)
		}
	}
}
