package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shortify/shortify/cli"
	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/apitest"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
)

func TestStats(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	l := decode[client.Link](t, s.ok("links", "create", "https://example.com/counted", "--alias", "counted", "--json"))
	srv.Click(t, workspace.DefaultID, "counted", l.ID, 42)
	srv.ClickDim(t, workspace.DefaultID, "counted", l.ID, "country", "DE", 30)
	srv.ClickDim(t, workspace.DefaultID, "counted", l.ID, "country", "FR", 12)

	out := s.ok("stats", "counted", "--from", "2026-11-01", "--to", "2026-11-30")
	for _, want := range []string{"counted (link " + l.ID + "), 2026-11-01 00:00 to 2026-12-01 00:00 UTC, by day", "Clicks:   42",
		"2026-11-20  42", "(29 of 30 buckets without clicks not shown)", "Top country", "DE     30", "FR     12", "Top referrer\n(none)"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lacks %q:\n%s", want, out)
		}
	}
	type report struct {
		Stats client.LinkStats       `json:"stats"`
		Top   map[string]*client.Top `json:"top"`
	}
	r := decode[report](t, s.ok("stats", "counted", "--dimension", "country", "--limit", "1", "--traffic", "human", "--json"))
	if r.Stats.Totals.Clicks != 42 || len(r.Top) != 1 || len(r.Top["country"].Items) != 1 || r.Top["country"].Items[0].Value != "DE" {
		t.Fatalf("stats --json: %+v", r)
	}
	s.fails(cli.ExitRefused, "(field dimension) [HTTP 404]", "stats", "counted", "--dimension", "planet")
	// A link nobody clicked has no statistics yet: zero, no error; an
	// unknown code is still a 404.
	s.ok("links", "create", "https://example.com/quiet", "--alias", "quiet")
	if out := s.ok("stats", "quiet"); !strings.Contains(out, "quiet (link ") || !strings.Contains(out, "no clicks recorded yet") {
		t.Fatalf("stats of a quiet link:\n%s", out)
	}
	if r := decode[report](t, s.ok("stats", "quiet", "--json")); r.Stats.Code != "quiet" || r.Stats.Totals.Clicks != 0 {
		t.Fatalf("stats --json of a quiet link: %+v", r)
	}
	s.fails(cli.ExitRefused, "[HTTP 404]", "stats", "nosuchcode")
	s.fails(cli.ExitRefused, "(field granularity) [HTTP 400]", "stats", "counted", "--granularity", "week")
}

func TestKeys(t *testing.T) {
	srv := serveSQLite(t)
	s := newSession(t, srv.URL, srv.Admin)
	k := decode[client.NewKey](t, s.ok("keys", "create", "--name", "ci bot", "--role", "viewer", "--json"))
	if !strings.HasPrefix(k.Key, "sk_") || k.Role != "viewer" || k.Name != "ci bot" {
		t.Fatalf("created %+v", k)
	}
	human := s.run("keys", "create", "--name", "other", "--role", "creator")
	if human.code != 0 || !strings.Contains(human.out, "Key:") || !strings.Contains(human.out, "sk_") || !strings.Contains(human.errOut, "shown this once") {
		t.Fatalf("keys create: %+v", human)
	}
	if list := s.ok("keys", "list"); !strings.Contains(list, k.ID) || !strings.Contains(list, "ci bot") || !strings.Contains(list, "viewer") {
		t.Fatalf("keys list:\n%s", list)
	}

	// The viewer key reads but cannot create: the refusal says why.
	viewer := newSession(t, srv.URL, k.Key)
	viewer.ok("links", "list")
	viewer.fails(cli.ExitRefused, "[HTTP 403]; the key's role or workspace does not allow this", "links", "create", "https://example.com/")

	if out := s.ok("keys", "revoke", k.ID); out != "revoked "+k.ID+"\n" {
		t.Fatalf("revoke said %q", out)
	}
	keys := decode[[]client.KeyInfo](t, s.ok("keys", "list", "--json"))
	if i := slices.IndexFunc(keys, func(x client.KeyInfo) bool { return x.ID == k.ID }); i < 0 || !keys[i].Revoked {
		t.Fatalf("after revoke: %+v", keys)
	}
	viewer.fails(cli.ExitRefused, "[HTTP 401]", "links", "list")
	s.fails(cli.ExitRefused, "(field role) [HTTP 400]", "keys", "create", "--name", "x", "--role", "boss")
}

// TestExport: every link, in batches past exportBatch, with its click
// total (the link's own, or with --live-clicks the statistics API's), as
// CSV in the import format and as JSON Lines, to stdout or to a file that
// appears whole.
func TestExport(t *testing.T) {
	store := teststore.SQLite(t)
	srv := apitest.Serve(t, store)
	s := newSession(t, srv.URL, srv.Admin)
	c, err := client.New(srv.URL, client.WithAPIKey(srv.Admin))
	if err != nil {
		t.Fatal(err)
	}
	const n = 230
	bulk := make([]client.CreateLinkRequest, n)
	for i := range bulk {
		bulk[i] = client.CreateLinkRequest{URL: fmt.Sprintf("https://example.com/page/%d", i), Alias: fmt.Sprintf("p%03d", i)}
	}
	if r, err := c.CreateLinksBulk(t.Context(), bulk); err != nil || r.Created != n {
		t.Fatalf("bulk: %+v, %v", r, err)
	}
	l := decode[client.Link](t, s.ok("links", "create", "https://example.com/a,\"quoted\"", "--alias", "tagged", "--title", "A, \"title\"",
		"--tag", "news", "--tag", "a|b", "--expires", "2027-01-02T03:04:05Z", "--json"))
	// The links' totals lag the statistics: 9 copied, 11 by now.
	id, _ := strconv.ParseInt(l.ID, 10, 64)
	if _, err := store.SetClicks(t.Context(), []linkstore.ClickTotal{{LinkID: id, Code: "tagged", Clicks: 9, Humans: 8}}); err != nil {
		t.Fatal(err)
	}
	srv.ClickOn(t, l.CreatedAt, workspace.DefaultID, "tagged", l.ID, 11)

	r := s.run("export")
	if r.code != 0 || !strings.Contains(r.errOut, `tags holding "|" import as several tags: tagged: a|b`) {
		t.Fatalf("export: %+v", r)
	}
	rows, err := csv.NewReader(strings.NewReader(r.out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], cli.ExportColumns) || strings.Join(rows[0], ",") != "url,alias,title,tags,expires_at,domain,code,created_at,clicks" {
		t.Fatalf("header %v", rows[0])
	}
	if len(rows) != n+2 {
		t.Fatalf("%d rows, want %d links", len(rows)-1, n+1)
	}
	byCode := map[string][]string{}
	for _, row := range rows[1:] {
		byCode[row[6]] = row
	}
	want := []string{l.URL, "tagged", "A, \"title\"", "news|a|b", "2027-01-02T03:04:05Z", "", "tagged", l.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"), "9"}
	if got := byCode["tagged"]; !slices.Equal(got, want) {
		t.Fatalf("tagged row %q\nwant %q", got, want)
	}
	if got := byCode["p123"]; got == nil || got[0] != "https://example.com/page/123" || got[1] != "p123" || got[8] != "0" {
		t.Fatalf("p123 row %q", got)
	}

	out := filepath.Join(t.TempDir(), "links.jsonl")
	r = s.run("export", "--format", "jsonl", "--out", out)
	if r.code != 0 || r.out != "" || !strings.Contains(r.errOut, fmt.Sprintf("exported %d links to %s", n+1, out)) {
		t.Fatalf("export --out: %+v", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n+1 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, line := range lines {
		var x map[string]any
		if err := json.Unmarshal([]byte(line), &x); err != nil || x["code"] == nil || x["short_url"] == nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if want := map[string]float64{"tagged": 9, "p001": 0}[x["code"].(string)]; x["clicks"] != want && (x["code"] == "tagged" || x["code"] == "p001") {
			t.Fatalf("line %s: clicks %v, want %v", line, x["clicks"], want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*partial")); len(left) != 0 {
		t.Fatalf("left behind %v", left)
	}
	// A failed export leaves no file.
	broken := newSession(t, "http://127.0.0.1:1", srv.Admin)
	failed := filepath.Join(filepath.Dir(out), "failed.csv")
	broken.fails(cli.ExitUnavailable, "cannot reach", "export", "--out", failed)
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Fatalf("after a failed export the directory holds %v", entries)
	}
	rows, err = csv.NewReader(strings.NewReader(s.ok("export", "--live-clicks"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		if want := map[bool]string{true: "11", false: "0"}[row[6] == "tagged"]; row[8] != want {
			t.Fatalf("--live-clicks row %q: want %s clicks", row, want)
		}
	}
}
