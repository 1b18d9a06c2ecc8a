package controlplane

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/targeturl"
)

// TestTargetPolicy: the defaults refuse private addresses, other
// shorteners and look-alikes, with this machine's addresses as loops; each
// switch turns its refusal off.
func TestTargetPolicy(t *testing.T) {
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt", logger: slog.Default()}
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	p := a.targetPolicy()
	if !p.RefusePrivate || !p.RefuseLookalike || !slices.Equal(p.ShortenerDomains, targeturl.DefaultShortenerDomains) ||
		len(p.OwnAddrs) == 0 || p.Resolver == nil || p.ResolveTimeout != 2*time.Second {
		t.Fatalf("default policy %+v", p)
	}
	for _, raw := range []string{"http://10.0.0.1/", "https://bit.ly/x", "https://pаypal.com/", "http://127.1:8080/"} {
		if _, err := p.Check(raw); err == nil {
			t.Errorf("default policy accepted %s", raw)
		}
	}
	a.AllowPrivateTargets, a.AllowShortenerTargets, a.LookalikeHosts = true, true, "allow"
	p = a.targetPolicy()
	for _, raw := range []string{"http://10.0.0.1/", "https://bit.ly/x", "https://pаypal.com/"} {
		if _, err := p.Check(raw); err != nil {
			t.Errorf("with every switch on, %s: %v", raw, err)
		}
	}
	if _, err := p.Check("https://127.1/"); err == nil {
		t.Error("a loop was accepted with private targets allowed")
	}
	// Another port of this machine is another service.
	if _, err := p.Check("http://127.1:8080/"); err != nil {
		t.Errorf("with private targets allowed, another local port: %v", err)
	}
}

// TestOwnPorts: public_url's port (or its scheme's) and own_domains'.
func TestOwnPorts(t *testing.T) {
	for _, tt := range []struct {
		public string
		own    []string
		want   []int
	}{
		{"https://sho.rt", nil, []int{443}},
		{"http://localhost:8080", []string{"s.example", "127.0.0.1:9000", "[::1]:9001"}, []int{8080, 9000, 9001}},
	} {
		if got := ownPorts(tt.public, tt.own); !slices.Equal(got, tt.want) {
			t.Errorf("ownPorts(%q, %q) = %v, want %v", tt.public, tt.own, got, tt.want)
		}
	}
}
