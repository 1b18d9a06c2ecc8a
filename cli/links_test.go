package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/client"
)

// TestLinksLifecycle runs create, get, list, update and delete against
// the API on PostgreSQL, as a user types them.
func TestLinksLifecycle(t *testing.T) {
	srv := servePostgres(t)
	s := newSession(t, srv.URL, srv.Admin)

	l := decode[client.Link](t, s.ok("links", "create", "https://example.com/launch", "--alias", "launch",
		"--title", "Launch", "--tag", "news", "--tag", "2026", "--notes", "for the newsletter",
		"--expires", "30d", "--status", "301", "--json"))
	if l.Code != "launch" || l.ShortURL != "http://sho.test/launch" || l.Title != "Launch" || strings.Join(l.Tags, ",") != "news,2026" ||
		l.Notes != "for the newsletter" || l.RedirectStatus != 301 || l.ExpiresAt == nil || !l.ExpiresAt.Equal(now.Add(30*24*time.Hour)) {
		t.Fatalf("created %+v", l)
	}
	s.ok("links", "create", "https://example.com/other", "--tag", "misc")

	got := s.ok("links", "get", "launch")
	for _, want := range []string{"Short URL:", "http://sho.test/launch", "Target:", "https://example.com/launch", "Tags:", "news, 2026", "Redirect:", "301", "Clicks:", "0 (0 humans"} {
		if !strings.Contains(got, want) {
			t.Errorf("links get lacks %q:\n%s", want, got)
		}
	}

	table := s.ok("links", "list")
	if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "CODE") {
		t.Fatalf("links list:\n%s", table)
	}
	tagged := decode[[]client.Link](t, s.ok("links", "list", "--tag", "news", "--json"))
	if len(tagged) != 1 || tagged[0].Code != "launch" {
		t.Fatalf("list --tag news: %+v", tagged)
	}
	if found := decode[[]client.Link](t, s.ok("links", "list", "--q", "launch", "--json")); len(found) != 1 {
		t.Fatalf("list --q launch: %+v", found)
	}
	if one := decode[[]client.Link](t, s.ok("links", "list", "--limit", "1", "--json")); len(one) != 1 {
		t.Fatalf("list --limit 1: %+v", one)
	}
	if sorted := decode[[]client.Link](t, s.ok("links", "list", "--sort", "clicks", "--json")); len(sorted) != 2 {
		t.Fatalf("list --sort clicks: %+v", sorted)
	}
	s.fails(cli.ExitRefused, "(field sort) [HTTP 400]", "links", "list", "--sort", "popularity")
	if none := decode[[]client.Link](t, s.ok("links", "list", "--tag", "nothing", "--json")); len(none) != 0 {
		t.Fatalf("list --tag nothing: %+v", none)
	}

	// Only what the flags set changes: the notes and tags stay.
	up := decode[client.Link](t, s.ok("links", "update", "launch", "--url", "https://example.com/v2", "--title", "Launch v2", "--disable", "--json"))
	if up.URL != "https://example.com/v2" || up.Title != "Launch v2" || !up.Disabled || up.Notes != "for the newsletter" || len(up.Tags) != 2 || up.RedirectStatus != 301 {
		t.Fatalf("updated %+v", up)
	}
	up = decode[client.Link](t, s.ok("links", "update", "launch", "--expires", "never", "--clear-tags", "--enable", "--json"))
	if up.ExpiresAt != nil || len(up.Tags) != 0 || up.Disabled || up.Title != "Launch v2" {
		t.Fatalf("cleared %+v", up)
	}

	if out := s.ok("links", "delete", "launch", "--yes"); !strings.Contains(out, "deleted launch") {
		t.Fatalf("delete said %q", out)
	}
	s.fails(cli.ExitRefused, "[HTTP 404]", "links", "get", "launch")
}

// TestCreateRefused: a URL the API refuses prints the problem, naming
// the field, exits ExitRefused, and creates nothing.
func TestCreateRefused(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	r := s.fails(cli.ExitRefused, "(field url) [HTTP 400]", "links", "create", "ftp://example.com/file")
	if r.out != "" || strings.Count(r.errOut, "\n") != 1 || !strings.HasPrefix(r.errOut, "shortify: ") {
		t.Fatalf("refusal printed stdout %q, stderr %q", r.out, r.errOut)
	}
	if links := decode[[]client.Link](t, s.ok("links", "list", "--json")); len(links) != 0 {
		t.Fatalf("a refused create left %+v", links)
	}
	// A wrong key: 401 with what to check.
	bad := newSession(t, srv.URL, "sk_nope_nope")
	bad.fails(cli.ExitRefused, "check --key or SHORTIFY_API_KEY", "links", "list")
	// Nobody listening: the server cannot be reached.
	gone := newSession(t, "http://127.0.0.1:1", srv.Admin)
	gone.fails(cli.ExitUnavailable, "cannot reach http://127.0.0.1:1", "links", "list")
}

// TestPasswordPrompt: --password - reads the password from stdin (a
// terminal would be asked without echo) rather than the command line.
func TestPasswordPrompt(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	s.stdin = "s3cret-pass\n"
	l := decode[client.Link](t, s.ok("links", "create", "https://example.com/private", "--password", "-", "--json"))
	if !l.PasswordProtected {
		t.Fatalf("not protected: %+v", l)
	}
	s.stdin = ""
	s.fails(cli.ExitUsage, "no password on stdin", "links", "create", "https://example.com/private2", "--password", "-")
	up := decode[client.Link](t, s.ok("links", "update", l.Code, "--no-password", "--json"))
	if up.PasswordProtected {
		t.Fatalf("still protected: %+v", up)
	}
}

// TestDeleteAsks: on a terminal, delete asks, and "no" keeps the link.
func TestDeleteAsks(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	s.ok("links", "create", "https://example.com/keep", "--alias", "keep")
	s.interactive = true
	s.stdin = "n\n"
	r := s.fails(cli.ExitFailure, "not deleted", "links", "delete", "keep")
	if !strings.Contains(r.errOut, "Delete http://sho.test/keep (→ https://example.com/keep)? [y/N]") {
		t.Fatalf("question: %q", r.errOut)
	}
	s.ok("links", "get", "keep")
	s.stdin = "y\n"
	s.ok("links", "delete", "keep", "--purge-stats")
	s.fails(cli.ExitRefused, "[HTTP 404]", "links", "get", "keep")
}
