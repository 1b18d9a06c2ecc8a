package sqlitestore

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/migrations"
)

// searchCodes lists the codes that List finds for q (newest first).
func searchCodes(t testing.TB, s *Store, q linkstore.ListQuery) []string {
	t.Helper()
	links, err := s.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	codes := make([]string, len(links))
	for i, l := range links {
		codes[i] = l.Code
	}
	return codes
}

// ftsIntegrity fails t unless links_fts holds exactly what links does.
func ftsIntegrity(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO links_fts (links_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
		t.Errorf("links_fts integrity-check: %v", err)
	}
}

// TestUpgradeIndexesSearch makes a file with the migrations before 0012,
// stores links with titles and tags, and opens the store on it: 0012
// fills links_fts, the search finds the old links, and the triggers keep
// the index in step with updates and deletes.
func TestUpgradeIndexesSearch(t *testing.T) {
	ctx := t.Context()
	dsn := tempDSN(t)
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var before []migrations.Migration
	for _, m := range ms {
		if m.Version < 12 {
			before = append(before, m)
		}
	}
	db := migratedFile(t, dsn, before)
	rows := []struct{ code, url, title, tags string }{
		{"alpha", "https://a.example/Quarterly-Report", "Budget 2026", "finance\nq3"},
		{"beta", "https://b.example/x", "", "Marketing"},
		{"gamma", "https://c.example/y", "Say \"hello\"", ""},
	}
	for i, r := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO links (code, id, url, created_at, host, title, tags)
VALUES (?, ?, ?, 0, ?, ?, ?)`, r.code, 100+i, r.url, linkstore.HostOf(r.url), nullText(r.title), nullText(r.tags)); err != nil {
			t.Fatalf("insert with the old schema: %v", err)
		}
	}
	db.Close()
	s := open(t, dsn)
	ftsIntegrity(t, s.w)
	for q, want := range map[string]string{"QUARTERLY": "alpha", "get 20": "alpha", "nce\nq3": "alpha", "keting": "beta", `"hello"`: "gamma", "lph": "alpha"} {
		if got := searchCodes(t, s, linkstore.ListQuery{Query: q}); len(got) != 1 || got[0] != want {
			t.Errorf("q %q after the upgrade: %v, want [%s]", q, got, want)
		}
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE links SET title = 'Forecast' WHERE code = 'alpha'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM links WHERE code = 'beta'`); err != nil {
		t.Fatal(err)
	}
	ftsIntegrity(t, s.w)
	for q, n := range map[string]int{"budget": 0, "forecast": 1, "keting": 0} {
		if got := searchCodes(t, s, linkstore.ListQuery{Query: q}); len(got) != n {
			t.Errorf("q %q after an update and a delete: %v, want %d", q, got, n)
		}
	}
}

// TestSearchKeepsScanSemantics: the index finds what the scan found and
// nothing more: ASCII case only is folded, FTS5 syntax in the term is
// text, and a term with a newline spans fields as in the joined text.
func TestSearchKeepsScanSemantics(t *testing.T) {
	s := open(t, tempDSN(t))
	ctx := t.Context()
	rows := []struct{ code, url, title string }{
		{"uni", "https://u.example/", "Élan vital"},
		{"syn", "https://s.example/", "a AND b OR c* NEAR(d)"},
		{"span", "https://span.example/", ""},
	}
	for i, r := range rows {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO links (code, id, url, created_at, host, title)
VALUES (?, ?, ?, 0, ?, ?)`, r.code, 100+i, r.url, linkstore.HostOf(r.url), nullText(r.title)); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string][]string{
		"élan":          nil, // lower() folds ASCII only, as PostgreSQL's search here does
		"Élan":          {"uni"},
		"LAN VITAL":     {"uni"},
		"and b or c*":   {"syn"},
		"near(d)":       {"syn"},
		"an\nhttps://s": {"span"},
		"xyz":           nil,
	} {
		got := searchCodes(t, s, linkstore.ListQuery{Query: q})
		if fmt.Sprint(got) != fmt.Sprint(append([]string{}, want...)) {
			t.Errorf("q %q: %v, want %v", q, got, want)
		}
	}
}

// TestSearchMatchesScan lists the same links through the index as
// through the scan, for terms common and rare, with every other filter,
// both orders and cursor paging.
func TestSearchMatchesScan(t *testing.T) {
	s := seeded20k(t, `INSERT INTO links (code, id, url, created_at, host, workspace_id, title, tags, clicks, retired_at)
SELECT 'c' || i, i, 'https://' || CASE i % 3 WHEN 0 THEN 'shop.' ELSE '' END || 'x' || (i % 7) || '.example/p/' || i, 0,
	CASE i % 3 WHEN 0 THEN 'shop.' ELSE '' END || 'x' || (i % 7) || '.example', 1 + i % 2,
	CASE WHEN i % 100 = 0 THEN 'Rare Gem ' || i WHEN i % 5 = 0 THEN 'Weekly "digest"' ELSE NULL END,
	CASE WHEN i % 4 = 0 THEN 'news' || char(10) || 'Q' || (i % 3) ELSE NULL END,
	i % 13, CASE WHEN i % 11 = 0 THEN 1 ELSE NULL END`)
	var queries []linkstore.ListQuery
	for _, term := range []string{"rare gem", "WEEKLY", `"digest"`, "x3.exa", "c1234", "ws\nq2", "nothing here"} {
		for _, q := range []linkstore.ListQuery{
			{}, {WorkspaceID: 2}, {Host: "x3.example"}, {Host: "shop.x3.example", WorkspaceID: 1}, {Prefix: "c12"},
			{Tags: []string{"q1"}}, {Sort: linkstore.SortClicks}, {Sort: linkstore.SortClicks, WorkspaceID: 1},
			{Before: 15000, Limit: 7}, {Sort: linkstore.SortClicks, Before: 15000, BeforeClicks: 6, Limit: 7},
		} {
			q.Query = term
			if q.Limit == 0 {
				q.Limit = 100
			}
			queries = append(queries, q)
		}
	}
	for _, q := range queries {
		b, err := q.Bounds()
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		var got [2][]string
		for i, useIndex := range []bool{true, false} {
			query, args := buildListQuery(b, useIndex)
			rows, err := s.r.QueryContext(t.Context(), query, args...)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			links, err := scanRows(rows, 100)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			for _, l := range links {
				got[i] = append(got[i], l.Code)
			}
		}
		if fmt.Sprint(got[0]) != fmt.Sprint(got[1]) {
			t.Errorf("%+v:\nindex %v\nscan  %v", q, got[0], got[1])
		}
	}
}

// TestSearchPlanReadsIndex: a search reads links_fts, not every link;
// without a host, the index's matches drive the query (newest first, in
// the index's order, with no sort).
func TestSearchPlanReadsIndex(t *testing.T) {
	s := seeded20k(t, `INSERT INTO links (code, id, url, created_at, host, workspace_id, title)
SELECT 'c' || i, i, 'https://x.example/' || i, 0, 'x.example', 1 + i % 2, 'title ' || i`)
	tests := []struct {
		q         linkstore.ListQuery
		want, not []string
	}{
		{linkstore.ListQuery{Query: "title 123"}, []string{"SCAN links_fts VIRTUAL TABLE", "links_id_idx (id=?)"}, []string{"TEMP B-TREE", "LIST SUBQUERY"}},
		{linkstore.ListQuery{Query: "title 123", WorkspaceID: 2, Before: 15000}, []string{"SCAN links_fts VIRTUAL TABLE", "(workspace_id=? AND id=?)"}, []string{"TEMP B-TREE", "LIST SUBQUERY"}},
		{linkstore.ListQuery{Query: "title 123", Prefix: "c12"}, []string{"SCAN links_fts VIRTUAL TABLE", "links_id_idx (id=?"}, []string{"TEMP B-TREE", "LIST SUBQUERY"}},
		// By clicks, the index's matches are sorted; with a host, the
		// host index's rows are tested against the index's list.
		{linkstore.ListQuery{Query: "title 123", WorkspaceID: 2, Sort: linkstore.SortClicks}, []string{"SCAN links_fts VIRTUAL TABLE", "(workspace_id=? AND id=?)"}, []string{"LIST SUBQUERY"}},
		{linkstore.ListQuery{Query: "title 123", Host: "x.example"}, []string{"LIST SUBQUERY", "links_fts VIRTUAL TABLE", "links_host_id_idx"}, nil},
	}
	for _, tt := range tests {
		b, err := tt.q.Bounds()
		if err != nil {
			t.Fatal(err)
		}
		query, args := listQuery(b)
		plan := queryPlan(t, s.r, query, args...)
		checkPlan(t, plan, tt.want, tt.not)
		if strings.Contains(strings.ReplaceAll(plan, "SCAN links_fts", ""), "SCAN links") {
			t.Errorf("%+v reads every link:\n%s", tt.q, plan)
		}
	}
}

// BenchmarkSearch lists the newest 50 links of a workspace that hold a
// term, among 100,000 links in two workspaces, through the index (fts)
// and through the scan that it replaced (scan): a rare term (in 10
// links) and a common one (in every tenth), newest first and by clicks.
func BenchmarkSearch(b *testing.B) {
	s := open(b, tempDSN(b))
	if _, err := s.w.ExecContext(b.Context(), `
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO links (code, id, url, created_at, host, workspace_id, title, tags, clicks)
SELECT 'c' || i, i, 'https://x' || (i % 97) || '.example/page/' || hex(randomblob(4)), 0, 'x.example', 1 + i % 2,
	CASE WHEN i % 10000 = 0 THEN 'Zebra report ' || i WHEN i % 10 = 0 THEN 'Weekly digest ' || i ELSE 'Page ' || i END,
	'tag' || (i % 50), (i * 7919) % 1000
FROM n`); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, term, sort string }{
		{"zebra", "zebra", ""}, {"weekly", "weekly", ""},
		{"zebra_by_clicks", "zebra", linkstore.SortClicks}, {"weekly_by_clicks", "weekly", linkstore.SortClicks},
	} {
		bounds, err := linkstore.ListQuery{Query: c.term, WorkspaceID: 1, Limit: 50, Sort: c.sort}.Bounds()
		if err != nil {
			b.Fatal(err)
		}
		for _, useIndex := range []bool{false, true} {
			query, args := buildListQuery(bounds, useIndex)
			name := map[bool]string{false: "scan", true: "fts"}[useIndex]
			b.Run(c.name+"/"+name, func(b *testing.B) {
				for b.Loop() {
					rows, err := s.r.QueryContext(b.Context(), query, args...)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := scanRows(rows, 50); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
