package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestMigrationBackfillsHost applies migration 0002 to links stored
// before it (storetest.HostURLs) and compares the hosts it derives with
// Go's (linkstore.HostOf).
func TestMigrationBackfillsHost(t *testing.T) {
	ctx := t.Context()
	ms := storetest.BackfillMigrations(t, migrationFS)
	conn, err := pgx.Connect(ctx, testenv.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, ms[0].SQL); err != nil {
		t.Fatalf("migration 1: %v", err)
	}
	for i, tt := range storetest.HostURLs {
		_, err := conn.Exec(ctx, `INSERT INTO links (code, id, url, created_at) VALUES ($1, $2, $3, now())`,
			"c"+string(rune('a'+i)), i, tt.URL)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, ms[1].SQL); err != nil {
		t.Fatalf("migration 2: %v", err)
	}
	type row struct{ URL, Host string }
	got := queryStructs[row](t, conn, `SELECT url, coalesce(host, '') FROM links ORDER BY id`)
	if len(got) != len(storetest.HostURLs) {
		t.Fatalf("%d rows after the migration, want %d", len(got), len(storetest.HostURLs))
	}
	for _, r := range got {
		if want := linkstore.HostOf(r.URL); r.Host != want {
			t.Errorf("backfilled host of %q = %q; Go derives %q", r.URL, r.Host, want)
		}
	}
}

// TestListIsNeverPrepared: List's queries run as unnamed statements, so
// every execution is planned for its values (see List). A named
// statement would switch to a generic plan after five executions.
func TestListIsNeverPrepared(t *testing.T) {
	s := open(t, linkstore.Config{MaxConns: 1, Migrate: true})
	for range 8 {
		for _, q := range []linkstore.ListQuery{{Limit: 1}, {Host: "example.com", Limit: 1}, {Prefix: "ab", Limit: 1}} {
			if _, err := s.List(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}
	}
	var n int
	err := s.Primary().QueryRow(t.Context(),
		`SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1`,
		"SELECT "+listColumns+" FROM %").Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d List statements are prepared on the connection, want none", n)
	}
}

// TestListPlansUseIndexes checks the plans of List's queries on 50,000
// links: no sequential scan; newest-first listings read the indexes in ID
// order, without sorting; a rare host is read from the host index in both
// branches, a rare prefix from a key on code (codeKey).
func TestListPlansUseIndexes(t *testing.T) {
	ctx := t.Context()
	s := open(t, linkstore.Config{DSN: testenv.Schema(t), Migrate: true})
	_, err := s.Primary().Exec(ctx, `
INSERT INTO links (code, id, url, created_at, host, workspace_id)
SELECT c, 1000000 + i, 'https://' || h || '/' || c, now(), h, CASE WHEN i % 500 = 7 THEN 7 ELSE 1 END
FROM generate_series(1, 50000) i,
	LATERAL (SELECT md5(i::text) AS c,
		CASE WHEN i % 1000 = 0 THEN 'rare.example'
		     WHEN i % 1000 = 1 THEN 'www.rare.example'
		     ELSE 'common' || i % 10 || '.example' END AS h) x;
ANALYZE links`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		q       linkstore.ListQuery
		indexes []string // index name suffixes that the plan must use
		noSort  bool
	}{
		{"newest", linkstore.ListQuery{}, []string{"_id_idx"}, true},
		{"page", linkstore.ListQuery{Before: 1020000, MinID: 1000000}, []string{"_id_idx"}, true},
		{"rare host", linkstore.ListQuery{Host: "rare.example"}, []string{"_reverse_id_idx"}, false},
		{"rare prefix", linkstore.ListQuery{Prefix: "abcd"}, []string{codeKey}, false},
		{"small workspace", linkstore.ListQuery{WorkspaceID: 7}, []string{"_workspace_id_id_idx"}, true},
		{"small workspace page", linkstore.ListQuery{WorkspaceID: 7, Before: 1020000}, []string{"_workspace_id_id_idx"}, true},
		{"small workspace by clicks", linkstore.ListQuery{WorkspaceID: 7, Sort: linkstore.SortClicks}, []string{"_workspace_id_clicks_id_idx"}, true},
		{"small workspace by clicks, page", linkstore.ListQuery{WorkspaceID: 7, Sort: linkstore.SortClicks, Before: 1020000, BeforeClicks: 3},
			[]string{"_workspace_id_clicks_id_idx"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.q.Bounds()
			if err != nil {
				t.Fatal(err)
			}
			query, args := listQuery(b)
			var plan []struct{ Plan explainNode }
			err = s.Primary().QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+query,
				append([]any{pgx.QueryExecModeExec}, args...)...).Scan(&plan)
			if err != nil {
				t.Fatal(err)
			}
			var nodes []explainNode
			plan[0].Plan.walk(func(n explainNode) { nodes = append(nodes, n) })
			used := map[string]bool{}
			for _, n := range nodes {
				switch {
				case n.Type == "Seq Scan":
					t.Errorf("sequential scan of %s", n.Relation)
				case n.Type == "Sort" && tt.noSort:
					t.Errorf("the plan sorts")
				}
				for _, suffix := range tt.indexes {
					if indexIs(n.Index, suffix) {
						used[suffix] = true
					}
				}
			}
			for _, suffix := range tt.indexes {
				if !used[suffix] {
					js, _ := json.MarshalIndent(plan, "", " ")
					t.Errorf("no scan of an index *%s:\n%s", suffix, js)
				}
			}
		})
	}
	// The counts of a small workspace (CountLive, and CountLiveUpTo with
	// a limit above what it holds) read its range of a workspace index
	// of live links: by ID, or by clicks (migration 0011), which serves
	// as well.
	for _, c := range []struct {
		name, query string
		args        []any
	}{
		{"count of a workspace", sqlCountLive, []any{int64(7)}},
		{"count of a workspace up to a limit", sqlCountLiveUpTo, []any{int64(7), int64(1000)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var plan []struct{ Plan explainNode }
			err := s.Primary().QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+c.query, append([]any{pgx.QueryExecModeExec}, c.args...)...).Scan(&plan)
			if err != nil {
				t.Fatal(err)
			}
			scans := 0
			plan[0].Plan.walk(func(n explainNode) {
				switch {
				case n.Type == "Seq Scan":
					t.Errorf("the count scans %s sequentially", n.Relation)
				case strings.HasSuffix(n.Index, "_workspace_id_id_idx"), strings.HasSuffix(n.Index, "_workspace_id_clicks_id_idx"):
					scans++
				}
			})
			if scans == 0 {
				js, _ := json.MarshalIndent(plan, "", " ")
				t.Errorf("the count reads no workspace index of live links:\n%s", js)
			}
		})
	}
}

type explainNode struct {
	Type     string        `json:"Node Type"`
	Relation string        `json:"Relation Name"`
	Index    string        `json:"Index Name"`
	Plans    []explainNode `json:"Plans"`
}

func (n explainNode) walk(f func(explainNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

// codeKey names, for indexIs, the unique indexes that begin with code:
// links_code_domain_key (code, domain), whose partitions' indexes end in
// _code_domain_idx, and on a schema before migration 0007 links_pkey
// (code). Both serve code = $1 and a range of codes at the same cost, and
// the planner takes either.
const codeKey = "_pkey|_code_domain_idx"

// indexIs reports whether the index name ends in one of the |-separated
// suffixes.
func indexIs(index, suffixes string) bool {
	for s := range strings.SplitSeq(suffixes, "|") {
		if strings.HasSuffix(index, s) {
			return true
		}
	}
	return false
}

// insertManyValues is the alternative to sqlInsertMany that
// BenchmarkInsertManyStatement measures: a multi-row VALUES list, one
// statement text (and prepared statement) per batch size.
func insertManyValues(s *Store, ctx context.Context, b batch) (map[linkstore.Key]bool, error) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host, workspace_id, domain) VALUES ")
	args := make([]any, 0, 10*len(b.codes))
	for i := range b.codes {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10)
		args = append(args, b.codes[i], b.ids[i], b.urls[i], b.statuses[i], b.created[i], b.expires[i], b.disabled[i], b.hosts[i],
			b.wsIDs[i], b.domains[i])
	}
	sb.WriteString(" ON CONFLICT DO NOTHING RETURNING code, domain")
	rows, err := s.primary.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, err
	}
	return scanKeys(rows, len(b.codes))
}

// BenchmarkInsertManyStatement compares the two ways of inserting a batch
// in one statement: column arrays through unnest (what CreateMany sends)
// and a multi-row VALUES list. Both run as prepared statements, which at
// a fixed size favours VALUES: a batcher's sizes vary, and each new size
// of VALUES costs one more round trip to prepare it.
func BenchmarkInsertManyStatement(b *testing.B) {
	s := open(b, linkstore.Config{Migrate: true})
	ctx := context.Background()
	next := time.Now().UnixNano()
	fill := func(size int) batch {
		bt := batch{}
		for range size {
			next++
			code := storetest.NewCode()
			bt.codes = append(bt.codes, code)
			bt.ids = append(bt.ids, next)
			bt.urls = append(bt.urls, "https://h.bench.example/"+code)
			bt.statuses = append(bt.statuses, 0)
			bt.created = append(bt.created, time.Now())
			bt.expires = append(bt.expires, pgtype.Timestamptz{})
			bt.disabled = append(bt.disabled, false)
			bt.hosts = append(bt.hosts, pgtype.Text{String: "h.bench.example", Valid: true})
			bt.wsIDs = append(bt.wsIDs, 1)
			bt.domains = append(bt.domains, "")
		}
		return bt
	}
	for _, variant := range []struct {
		name string
		run  func(*Store, context.Context, batch) (map[linkstore.Key]bool, error)
	}{
		{"unnest", func(s *Store, ctx context.Context, b batch) (map[linkstore.Key]bool, error) {
			return insertMany(ctx, s.primary, b)
		}},
		{"values", insertManyValues},
	} {
		for _, size := range []int{16, 128, 512} {
			b.Run(fmt.Sprintf("%s/size=%d", variant.name, size), func(b *testing.B) {
				b.ReportAllocs()
				var n int
				for b.Loop() {
					b.StopTimer()
					bt := fill(size)
					b.StartTimer()
					got, err := variant.run(s, ctx, bt)
					if err != nil || len(got) != size {
						b.Fatalf("inserted %d of %d: %v", len(got), size, err)
					}
					n += size
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "links/s")
			})
		}
	}
}
