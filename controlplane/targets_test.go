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
	if _, err := p.Check("http://127.1:8080/"); err == nil {
		t.Error("a loop was accepted with private targets allowed")
	}
}
