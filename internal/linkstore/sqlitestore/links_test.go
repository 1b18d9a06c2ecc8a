package sqlitestore

import (
	"database/sql"
	"fmt"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
)

// TestMigrationBackfillsHost applies migration 0002 to a file with links
// stored before it.
func TestMigrationBackfillsHost(t *testing.T) {
	ctx := t.Context()
	ms := storetest.BackfillMigrations(t, migrationFS)
	path, _ := ParseDSN(tempDSN(t))
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, ms[0].SQL); err != nil {
		t.Fatalf("migration 1: %v", err)
	}
	urls := []string{"https://Example.COM:8443/x", "http://u@[::1]/", "mailto:x@example.com"}
	for i, u := range urls {
		if _, err := db.ExecContext(ctx,
			"INSERT INTO links (code, id, url, created_at) VALUES (?, ?, ?, 0)", fmt.Sprint("c", i), i, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, ms[1].SQL); err != nil {
		t.Fatalf("migration 2: %v", err)
	}
	for i, u := range urls {
		var host sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT host FROM links WHERE id = ?", i).Scan(&host); err != nil {
			t.Fatal(err)
		}
		if want := linkstore.HostOf(u); host.String != want || host.Valid != (want != "") {
			t.Errorf("backfilled host of %q = %v, want %q", u, host, want)
		}
	}
}

// TestListPlansUseIndexes: List's queries read the index that fits each
// filter, never the whole table, with or without statistics.
func TestListPlansUseIndexes(t *testing.T) {
	s := seeded20k(t, `INSERT INTO links (code, id, url, created_at, host, workspace_id)
SELECT hex(randomblob(6)) || i, 1000000 + i, 'https://x.example/', 0,
	CASE i % 1000 WHEN 0 THEN 'rare.example' WHEN 1 THEN 'www.rare.example'
	ELSE 'common' || (i % 10) || '.example' END,
	CASE WHEN i % 500 = 7 THEN 7 ELSE 1 END`)
	withAndWithoutStats(t, s, func(t *testing.T) { checkListPlans(t, s) })
}

func checkListPlans(t *testing.T, s *Store) {
	tests := []struct {
		name string
		q    linkstore.ListQuery
		want []string // each must be in the plan
		not  []string // none may be
	}{
		{"newest", linkstore.ListQuery{Before: 1005000},
			[]string{"USING INDEX links_id_idx"}, []string{"TEMP B-TREE", "SCAN links"}},
		{"host", linkstore.ListQuery{Host: "rare.example"},
			[]string{"USING INDEX links_host_id_idx (<expr>=? AND id>? AND id<?)", "USING INDEX links_host_id_idx (<expr>>? AND <expr><?)"},
			[]string{"links_id_idx", "SCAN links"}},
		{"host and prefix", linkstore.ListQuery{Host: "rare.example", Prefix: "ABC"},
			[]string{"USING INDEX links_host_id_idx (<expr>=? AND id>? AND id<?)", "USING INDEX links_host_id_idx (<expr>>? AND <expr><?)"},
			[]string{"links_id_idx", "SCAN links"}},
		{"prefix", linkstore.ListQuery{Prefix: "ABC"},
			[]string{"USING PRIMARY KEY (code>? AND code<?)"}, []string{"links_id_idx", "SCAN links"}},
		{"workspace", linkstore.ListQuery{WorkspaceID: 7, Before: 1015000},
			[]string{"USING INDEX links_workspace_id_idx (workspace_id=? AND id>? AND id<?)"},
			[]string{"TEMP B-TREE", "SCAN links", "links_id_idx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.q.Bounds()
			if err != nil {
				t.Fatal(err)
			}
			query, args := listQuery(b)
			checkPlan(t, queryPlan(t, s.r, query, args...), tt.want, tt.not)
		})
	}
}
