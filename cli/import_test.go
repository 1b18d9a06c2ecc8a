package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/apitest"
)

// importReport is `shortify import --json`'s answer.
type importReport struct {
	Read     int64         `json:"read"`
	Created  int64         `json:"created"`
	Existing int64         `json:"already_imported"`
	Skipped  int64         `json:"skipped_expired"`
	Renamed  []cli.Rename  `json:"renamed"`
	Failed   []cli.Failure `json:"failed"`
	Stopped  string        `json:"stopped"`
}

// writeFile writes a file of the test's and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// apiClient is a client of srv with key, for checking what an import did.
func apiClient(t *testing.T, srv *apitest.Server, key string) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL, client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// allLinks lists every link the key sees.
func allLinks(t *testing.T, c *client.Client) []client.Link {
	t.Helper()
	var out []client.Link
	for l, err := range c.Links(t.Context(), client.ListLinksQuery{Limit: 1000}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// byExternalID indexes links by external ID, failing on a repeat.
func byExternalID(t *testing.T, links []client.Link) map[string]client.Link {
	t.Helper()
	m := map[string]client.Link{}
	for _, l := range links {
		if l.ExternalID == "" {
			continue
		}
		if _, dup := m[l.ExternalID]; dup {
			t.Errorf("two links with external ID %q", l.ExternalID)
		}
		m[l.ExternalID] = l
	}
	return m
}

const plainCSV = `url,alias,title,tags,expires_at,domain
https://example.com/docs,docs-home,Documentation,docs|help,,
https://example.com/api-guide,api,API guide,docs,,
https://example.com/launch,launch-2026,"Launch, the big one",marketing,2030-01-01T00:00:00Z,
https://example.com/no-alias,,No alias here,,,
not a url,bad,,,,
https://example.com/old,old-promo,Old promo,,2020-01-01T00:00:00Z,
`

// TestImportPlainCSV imports a plain CSV into the API on PostgreSQL:
// aliases kept, a reserved one renamed and listed, a bad line reported
// with its number (exit non-zero), an expired link skipped; then the same
// file again creates nothing and says so.
func TestImportPlainCSV(t *testing.T) {
	srv := servePostgres(t)
	s := newSession(t, srv.URL, srv.Admin)
	file := writeFile(t, "links.csv", plainCSV)

	r := s.run("import", "--from", "csv", file, "--tag", "imported")
	if r.code != cli.ExitFailure {
		t.Fatalf("exit %d, want %d (a bad line)\n%s\n%s", r.code, cli.ExitFailure, r.out, r.errOut)
	}
	for _, want := range []string{
		"6 records read", "created                          4", "already imported                 0",
		"skipped (expired in the source)  1", "renamed                          1", "failed                           1",
		"Renamed (original code → new code):", `line 3  api → `, `"api" is a reserved word`,
		"Not imported:", `line 6  the URL "not a url" is not an http(s) URL`,
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.errOut, "1 of 6 records were not imported") || !strings.Contains(r.errOut, "import: finished, 6 records read") {
		t.Errorf("stderr:\n%s", r.errOut)
	}

	links := byExternalID(t, allLinks(t, apiClient(t, srv, srv.Admin)))
	if len(links) != 4 {
		t.Fatalf("%d links: %+v", len(links), links)
	}
	docs := links["csv:/docs-home"]
	if docs.Code != "docs-home" || docs.URL != "https://example.com/docs" || docs.Title != "Documentation" ||
		strings.Join(docs.Tags, ",") != "docs,help,imported" {
		t.Errorf("docs-home: %+v", docs)
	}
	if l := links["csv:/api"]; l.Code == "" || l.Code == "api" || l.URL != "https://example.com/api-guide" {
		t.Errorf("the reserved alias api: %+v", l)
	}
	if l := links["csv:/launch-2026"]; l.ExpiresAt == nil || !l.ExpiresAt.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("launch-2026: %+v", l)
	}
	if l := links["csv:https://example.com/no-alias"]; l.Code == "" || l.Title != "No alias here" {
		t.Errorf("the link without an alias: %+v", l)
	}

	// The second run: nothing new.
	again := decode[importReport](t, s.run("import", "--from", "csv", file, "--json").out)
	if again.Created != 0 || again.Existing != 4 || len(again.Renamed) != 0 || len(again.Failed) != 1 || again.Skipped != 1 {
		t.Fatalf("second run: %+v", again)
	}
	r = s.run("import", "--from", "csv", file)
	if !strings.Contains(r.out, "4 already imported: nothing new to create.") {
		t.Errorf("third run's summary:\n%s", r.out)
	}
	if n := len(allLinks(t, apiClient(t, srv, srv.Admin))); n != 4 {
		t.Errorf("%d links after three runs, want 4", n)
	}
}

// TestImportAliasTaken: a code another link has is created with a
// generated code and reported; the link that had it is left alone.
func TestImportAliasTaken(t *testing.T) {
	srv := servePostgres(t)
	c := apiClient(t, srv, srv.Admin)
	if _, err := c.CreateLink(t.Context(), client.CreateLinkRequest{URL: "https://example.com/mine", Alias: "spring"}); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, srv.URL, srv.Admin)
	file := writeFile(t, "bitly.json", `{"links": [
		{"link": "https://bit.ly/spring", "long_url": "https://acme.example/spring", "title": "Spring", "tags": ["sale"]},
		{"link": "https://bit.ly/summer", "long_url": "https://acme.example/summer"}
	]}`)
	rep := decode[importReport](t, s.ok("import", "--from", "bitly", file, "--json"))
	if rep.Created != 2 || len(rep.Renamed) != 1 || len(rep.Failed) != 0 {
		t.Fatalf("report: %+v", rep)
	}
	n := rep.Renamed[0]
	if n.Line != 2 || n.From != "spring" || n.To == "spring" || n.To == "" || n.Key != "bitly:bit.ly/spring" || !strings.HasPrefix(n.Why, "taken: ") {
		t.Errorf("rename: %+v", n)
	}
	got, err := c.GetLink(t.Context(), n.To, "")
	if err != nil || got.URL != "https://acme.example/spring" || got.ExternalID != "bitly:bit.ly/spring" {
		t.Errorf("the renamed link %s: %+v, %v", n.To, got, err)
	}
	if mine, err := c.GetLink(t.Context(), "spring", ""); err != nil || mine.URL != "https://example.com/mine" {
		t.Errorf("the link that had the code: %+v, %v", mine, err)
	}
	// Again: the renamed link is found by its external ID, not made twice.
	again := decode[importReport](t, s.ok("import", "--from", "bitly", file, "--json"))
	if again.Created != 0 || again.Existing != 2 || len(again.Renamed) != 0 {
		t.Fatalf("second run: %+v", again)
	}
}

// TestImportResumes stops a run after its third request (the context
// ends, as Ctrl-C or a lost connection would end it) and runs it again:
// the second run creates the rest, and every record has one link.
func TestImportResumes(t *testing.T) {
	srv := servePostgres(t)
	const n = 95
	var b strings.Builder
	b.WriteString("keyword,url,title,timestamp,ip,clicks\n")
	for i := range n {
		fmt.Fprintf(&b, "k%03d,https://example.com/page/%d,Page %d,2026-01-01 00:00:00,127.0.0.1,0\n", i, i, i)
	}
	file := writeFile(t, "yourls.csv", b.String())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var bulks atomic.Int32
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.ServeHTTP(w, r)
		if r.URL.Path == "/api/v1/links/bulk" && bulks.Add(1) == 3 {
			cancel() // the run ends here
		}
	}))
	defer front.Close()
	args := []string{"import", "--from", "yourls", "--source-domain", "sho.rt", "--batch", "10", "--parallel", "1", "--json", file}
	var out, errOut bytes.Buffer
	env := map[string]string{cli.EnvServer: front.URL, cli.EnvKey: srv.Admin}
	e := &cli.Env{Stdout: &out, Stderr: &errOut, Now: func() time.Time { return now }, Getenv: func(k string) string { return env[k] }}
	if code := cli.Execute(ctx, e, args); code == 0 {
		t.Fatalf("the stopped run exited 0:\n%s\n%s", out.String(), errOut.String())
	}
	first := decode[importReport](t, out.String())
	// The third answer may or may not have reached the importer before
	// its context ended: 20 or 30 links are known created.
	if first.Created < 20 || first.Created >= n || first.Stopped == "" {
		t.Fatalf("the stopped run: %+v", first)
	}

	s := newSession(t, srv.URL, srv.Admin)
	second := decode[importReport](t, s.ok(args...))
	links := byExternalID(t, allLinks(t, apiClient(t, srv, srv.Admin)))
	if len(links) != n || second.Created+second.Existing != n || second.Existing < first.Created || len(second.Failed) != 0 {
		t.Fatalf("after the second run: %d links; first %+v; second %+v", len(links), first, second)
	}
	for i := range n {
		l, ok := links[fmt.Sprintf("yourls:sho.rt/k%03d", i)]
		if !ok || l.Code != fmt.Sprintf("k%03d", i) || l.URL != fmt.Sprintf("https://example.com/page/%d", i) {
			t.Errorf("record %d: %+v", i, l)
		}
	}
}

// TestImportWorkspaces: importing into workspace B leaves workspace A's
// links alone, external IDs are B's own (the same export imports into
// both), and a code A has is renamed in B, not taken from A.
func TestImportWorkspaces(t *testing.T) {
	srv := servePostgres(t)
	wsA, wsB := srv.Registry.MustWorkspace(t, "alpha"), srv.Registry.MustWorkspace(t, "beta")
	keyA, keyB := srv.Registry.Mint(t, apikey.Creator, wsA), srv.Registry.Mint(t, apikey.Creator, wsB)
	file := writeFile(t, "shlink.csv", `createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits
2016-08-21T20:32:53+02:00,s.test,steam,https://s.test/steam,https://store.example.com/,Steam,games,3
2019-08-11T20:32:53+02:00,s.test,custom,https://s.test/custom,https://shlink.io,,,0
`)
	a := decode[importReport](t, newSession(t, srv.URL, keyA).ok("import", "--from", "shlink", file, "--json"))
	if a.Created != 2 || len(a.Renamed) != 0 {
		t.Fatalf("import into A: %+v", a)
	}
	before := allLinks(t, apiClient(t, srv, keyA))

	b := decode[importReport](t, newSession(t, srv.URL, keyB).ok("import", "--from", "shlink", file, "--json"))
	if b.Created != 2 || b.Existing != 0 || len(b.Renamed) != 2 {
		t.Fatalf("import into B: %+v", b)
	}
	after := allLinks(t, apiClient(t, srv, keyA))
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("A's links changed:\nbefore %+v\nafter  %+v", before, after)
	}
	bLinks := byExternalID(t, allLinks(t, apiClient(t, srv, keyB)))
	if len(bLinks) != 2 || bLinks["shlink:s.test/steam"].Code == "steam" {
		t.Errorf("B's links: %+v", bLinks)
	}
	// B's key still cannot see or change A's links.
	if _, err := apiClient(t, srv, keyB).GetLink(t.Context(), "steam", ""); err == nil {
		t.Error("B's key reads A's link steam")
	}
}

// TestImportDryRun reads and checks the file and sends nothing.
func TestImportDryRun(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	r := s.run("import", "--from", "csv", "--dry-run", writeFile(t, "links.csv", plainCSV))
	if r.code != cli.ExitFailure || !strings.Contains(r.out, "Checked (dry run, nothing sent)") ||
		!strings.Contains(r.out, `line 3  api → (generated)`) || !strings.Contains(r.out, "line 6  the URL") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if n := len(allLinks(t, apiClient(t, srv, srv.Admin))); n != 0 {
		t.Errorf("a dry run created %d links", n)
	}
}

// TestImportSamples imports every format's sample file (cli/imports/
// testdata) into the API on SQLite: the records that are good are
// created, the bad ones reported.
func TestImportSamples(t *testing.T) {
	for _, tc := range []struct {
		format, file    string
		created, failed int
	}{
		{"bitly", "bitly.json", 3, 1},
		{"bitly", "bitly.csv", 3, 1},
		{"yourls", "yourls.sql", 6, 1},
		{"yourls", "yourls.csv", 2, 1},
		{"kutt", "kutt.json", 2, 1},
		{"kutt", "kutt.csv", 2, 0},
		{"shlink", "shlink.json", 2, 1},
		{"shlink", "shlink.csv", 2, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			srv := serveSQLite(t)
			r := newSession(t, srv.URL, srv.Admin).run("import", "--from", tc.format, "--json", filepath.Join("imports", "testdata", tc.file))
			rep := decode[importReport](t, r.out)
			if rep.Created != int64(tc.created) || len(rep.Failed) != tc.failed || (r.code == 0) != (tc.failed == 0) {
				t.Fatalf("exit %d: %+v\n%s", r.code, rep, r.errOut)
			}
		})
	}
}

// TestImportUsage: bad command lines are usage errors, nothing sent.
func TestImportUsage(t *testing.T) {
	s := newSession(t, "http://127.0.0.1:1", "sk_x")
	file := writeFile(t, "links.csv", plainCSV)
	s.fails(cli.ExitUsage, "import needs --from", "import", file)
	s.fails(cli.ExitUsage, `unknown format "tinyurl"`, "import", "--from", "tinyurl", file)
	s.fails(cli.ExitUsage, "--on-error is skip or stop", "import", "--from", "csv", "--on-error", "maybe", file)
	s.fails(cli.ExitUsage, "--batch is 1 to 1000", "import", "--from", "csv", "--batch", "5000", file)
	s.fails(cli.ExitFailure, "no such file", "import", "--from", "csv", filepath.Join(t.TempDir(), "missing.csv"))
	s.fails(cli.ExitFailure, "no url column", "import", "--from", "csv", writeFile(t, "x.csv", "link,alias\nhttps://a/,a\n"))
}

// TestImportStopOnError: with --on-error stop the run ends at the first
// bad record, after creating the ones before it; the file comes from
// stdin.
func TestImportStopOnError(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	s.stdin = plainCSV
	r := s.run("import", "--from", "csv", "--on-error", "stop", "--json", "-")
	rep := decode[importReport](t, r.out)
	if r.code == 0 || rep.Created != 4 || len(rep.Failed) != 1 || rep.Failed[0].Line != 6 || !strings.Contains(rep.Stopped, "line 6") {
		t.Fatalf("exit %d: %+v\n%s", r.code, rep, r.errOut)
	}
	if n := len(allLinks(t, apiClient(t, srv, srv.Admin))); n != 4 {
		t.Errorf("%d links, want the 4 before the bad line", n)
	}
}

// TestImportExportBack: `shortify export` imported back into the same
// workspace creates nothing: each alias is held by the workspace's own
// link to the same URL, which counts as already there (not renamed);
// an alias held by a link to another URL is still renamed.
func TestImportExportBack(t *testing.T) {
	srv := servePostgres(t)
	c := apiClient(t, srv, srv.Admin)
	for i, alias := range []string{"home", "", "spring-sale", ""} {
		if _, err := c.CreateLink(t.Context(), client.CreateLinkRequest{URL: fmt.Sprintf("https://example.com/p/%d", i), Alias: alias, Tags: []string{"t"}}); err != nil {
			t.Fatal(err)
		}
	}
	s := newSession(t, srv.URL, srv.Admin)
	file := filepath.Join(t.TempDir(), "export.csv")
	s.ok("export", "--out", file)
	rep := decode[importReport](t, s.ok("import", "--from", "csv", file, "--json"))
	if rep.Created != 0 || rep.Existing != 4 || len(rep.Renamed) != 0 || len(rep.Failed) != 0 {
		t.Fatalf("export imported back: %+v", rep)
	}
	if n := len(allLinks(t, c)); n != 4 {
		t.Errorf("%d links after the export came back, want 4", n)
	}
	moved := writeFile(t, "moved.csv", "url,alias,title,tags,expires_at,domain\nhttps://example.com/elsewhere,home,,,,\n")
	rep = decode[importReport](t, s.ok("import", "--from", "csv", moved, "--json"))
	if rep.Created != 1 || rep.Existing != 0 || len(rep.Renamed) != 1 || rep.Renamed[0].From != "home" {
		t.Errorf("an alias held by a link to another URL: %+v", rep)
	}
}
