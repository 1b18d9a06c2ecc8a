package pgstore

import (
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// searchWorkspace holds every link of BenchmarkSearchMillion: the worst
// case, one workspace of a million links.
const searchWorkspace = 7

// BenchmarkSearchMillion measures List with a search (q), a tag filter and
// both, on a million links of one workspace, newest first, a page of 100:
// the figures of issue 17's "a search over a million links answers in
// well under 100 ms". Run it alone (the seed takes a minute or two):
//
//	go test -run '^$' -bench SearchMillion -benchtime 20x ./internal/linkstore/pgstore/
func BenchmarkSearchMillion(b *testing.B) {
	s := seedSearch(b, 1_000_000)
	cases := []struct {
		name string
		q    linkstore.ListQuery
	}{
		{"rare term (1 link)", linkstore.ListQuery{Query: "product 123457"}},
		{"term of 2% of links", linkstore.ListQuery{Query: "team-7"}},
		{"host of 0.1% of links", linkstore.ListQuery{Query: "shop123.example"}},
		{"common term (1 in 6)", linkstore.ListQuery{Query: "sale"}},
		{"absent term", linkstore.ListQuery{Query: "zzzqqq"}},
		{"tag (1 in 6)", linkstore.ListQuery{Tags: []string{"launch"}}},
		{"rare tag (1 in 50)", linkstore.ListQuery{Tags: []string{"team-7"}}},
		{"tag and term (no link has both)", linkstore.ListQuery{Tags: []string{"team-7"}, Query: "spring"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.q.WorkspaceID = searchWorkspace
			n := 0
			for b.Loop() {
				links, err := s.List(b.Context(), c.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(links)
			}
			b.ReportMetric(float64(n), "links/page")
		})
	}
}

// seedSearch opens a store in a new schema and fills it with n links of
// searchWorkspace, server-side (INSERT ... SELECT generate_series, which
// costs less than sending the rows): a title of a product number and a
// season or sale word, two tags (the word, and one of 50 teams) and a
// URL on one of 1,000 shop hosts. The table is then vacuumed and analysed.
func seedSearch(tb testing.TB, n int) *Store {
	tb.Helper()
	ctx := tb.Context()
	s := open(tb, linkstore.Config{DSN: testenv.Schema(tb), Migrate: true})
	begin := time.Now()
	_, err := s.Primary().Exec(ctx, `
INSERT INTO links (code, id, url, host, created_at, workspace_id, title, tags)
SELECT 'c' || i, i,
	'https://shop' || (i % 1000) || '.example.com/products/' || i, 'shop' || (i % 1000) || '.example.com',
	$1::timestamptz, $3,
	'Product ' || i || ' ' || w,
	ARRAY[w, 'team-' || (i % 50)]
FROM generate_series(1, $2::int) i,
	LATERAL (SELECT (ARRAY['spring', 'summer', 'autumn', 'winter', 'sale', 'launch'])[i % 6 + 1] AS w) words`,
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), n, searchWorkspace)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Primary().Exec(ctx, "VACUUM ANALYZE links"); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("seeded %d links in %v", n, time.Since(begin).Round(time.Second))
	return s
}
