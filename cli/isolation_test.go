package cli_test

import (
	"strings"
	"testing"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/apikey"
)

// TestWorkspaceIsolation: with workspace B's key, the CLI can neither
// see, change, delete, rank nor export workspace A's link; A's key still
// finds it unchanged.
func TestWorkspaceIsolation(t *testing.T) {
	srv := serveSQLite(t)
	wsA := srv.Registry.MustWorkspace(t, "alpha")
	wsB := srv.Registry.MustWorkspace(t, "beta")
	a := newSession(t, srv.URL, srv.Registry.Mint(t, apikey.Admin, wsA))
	b := newSession(t, srv.URL, srv.Registry.Mint(t, apikey.Admin, wsB))

	l := decode[client.Link](t, a.ok("links", "create", "https://example.com/a-secret", "--alias", "alpha-only", "--tag", "private", "--json"))
	srv.Click(t, wsA, l.Code, l.ID, 7)
	b.ok("links", "create", "https://example.com/b", "--alias", "beta-own")

	b.fails(cli.ExitRefused, "[HTTP 404]", "links", "get", "alpha-only")
	b.fails(cli.ExitRefused, "[HTTP 404]", "links", "update", "alpha-only", "--url", "https://evil.example/")
	b.fails(cli.ExitRefused, "[HTTP 404]", "links", "delete", "alpha-only", "--yes", "--purge-stats")
	if r := b.run("stats", "alpha-only"); r.code == 0 || strings.Contains(r.out, "7") {
		t.Fatalf("B read A's statistics: exit %d\n%s", r.code, r.out)
	}
	listed := decode[[]client.Link](t, b.ok("links", "list", "--all", "--json"))
	if len(listed) != 1 || listed[0].Code != "beta-own" {
		t.Fatalf("B lists %+v", listed)
	}
	if out := b.ok("links", "list", "--tag", "private"); strings.Contains(out, "alpha-only") {
		t.Fatalf("B's tag filter shows A's link:\n%s", out)
	}
	if out := b.ok("export"); strings.Contains(out, "alpha-only") || strings.Contains(out, "a-secret") {
		t.Fatalf("B's export holds A's link:\n%s", out)
	}
	// B names A's workspace: still nothing of A's.
	b.fails(cli.ExitRefused, "", "links", "get", "alpha-only", "--workspace", "alpha")
	if r := b.run("keys", "create", "--name", "sneaky", "--role", "admin", "--workspace", "alpha"); r.code != cli.ExitRefused {
		t.Fatalf("B made a key in A: exit %d %s%s", r.code, r.out, r.errOut)
	}

	got := decode[client.Link](t, a.ok("links", "get", "alpha-only", "--json"))
	if got.URL != "https://example.com/a-secret" || got.ID != l.ID {
		t.Fatalf("A's link after B's attempts: %+v", got)
	}
	if st := a.ok("stats", "alpha-only"); !strings.Contains(st, "Clicks:   7") {
		t.Fatalf("A's stats:\n%s", st)
	}
}
