package seqfloor

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestMeasure runs on both link stores: links created after the backup
// with generated codes (two runs with a gap), an alias that decodes far
// out and one that decodes to nothing, and an old link whose code would
// decode past the backup's sequence but is older than the backup.
func TestMeasure(t *testing.T) {
	codec, err := codegen.New(bytes.Repeat([]byte{3}, codegen.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	takenAt := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	for name, open := range map[string]func(t *testing.T) (linkstore.Store, string){
		"sqlite": func(t *testing.T) (linkstore.Store, string) {
			path := filepath.Join(t.TempDir(), "links.db")
			return teststore.SQLiteFile(t, path), "sqlite://" + path
		},
		"postgres": func(t *testing.T) (linkstore.Store, string) {
			dsn := testenv.Schema(t)
			return teststore.Postgres(t, dsn), dsn
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, dsn := open(t)
			ctx := context.Background()
			id := snowflake.IDAt(takenAt.Add(time.Second))
			add := func(code string, at int64) {
				t.Helper()
				if err := s.Create(ctx, linkstore.Link{ID: at, Code: code, URL: "https://example.com/" + code, CreatedAt: time.Now().UTC()}); err != nil {
					t.Fatalf("create %s: %v", code, err)
				}
			}
			code := func(n uint64) string {
				c, err := codec.Code(n)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			var seqs []uint64
			for n := uint64(100); n < 200; n++ {
				seqs = append(seqs, n)
			}
			for n := uint64(300); n <= 350; n++ {
				seqs = append(seqs, n)
			}
			for _, n := range seqs {
				id++
				add(code(n), id)
			}
			id++
			add("zzzzzz", id) // an alias: some number far out
			id++
			add("my-link", id) // an alias no codec makes
			add(code(5000), snowflake.IDAt(takenAt.Add(-2*time.Hour)))

			l, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			idMs := id >> (snowflake.WorkerBits + snowflake.SequenceBits)
			f, err := l.Measure(ctx, codec, 100, takenAt)
			if err != nil {
				t.Fatal(err)
			}
			want := Floor{Seq: 351, IDMs: idMs, Scanned: len(seqs) + 2, Decoded: len(seqs) + 1, Kept: len(seqs)}
			if f != want {
				t.Errorf("Measure without a mark = %+v, want %+v", f, want)
			}

			// With a mark, the mark alone decides, exactly: the scan
			// would have stopped at 351, and the alias is not counted.
			for _, high := range []uint64{9_999, 20_000, 15_000} {
				if err := l.RecordBlock(ctx, high); err != nil {
					t.Fatal(err)
				}
			}
			f, err = l.Measure(ctx, codec, 100, takenAt)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Floor{Seq: 20_001, Marked: true, Mark: 20_000, IDMs: idMs}); f != want {
				t.Errorf("Measure with a mark = %+v, want %+v", f, want)
			}
			// A backup ahead of the mark keeps its sequence.
			if f, err = l.Measure(ctx, codec, 30_000, takenAt); err != nil || f.Seq != 30_000 {
				t.Errorf("Measure of a backup past the mark = %+v, %v", f, err)
			}
		})
	}
}

// TestRevocations records, forgets and lists revocations on both stores;
// the first record of a key stays, and bad input is refused.
func TestRevocations(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "links.db") },
		"postgres": func(t *testing.T) string { return testenv.Schema(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l, err := Open(ctx, dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, r := range []struct {
				id string
				ms int64
			}{{"k1", 10}, {"k2", 20}, {"k1", 30}, {"k3", 40}} {
				if err := l.RecordRevocation(ctx, r.id, r.ms); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.ForgetRevocation(ctx, "k3"); err != nil {
				t.Fatal(err)
			}
			if err := l.RecordRevocation(ctx, "k4", 0); err == nil {
				t.Error("a revocation at time 0 was recorded")
			}
			got, err := l.Revocations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int64{"k1": 10, "k2": 20}; !maps.Equal(got, want) {
				t.Errorf("Revocations = %v, want %v", got, want)
			}
		})
	}
}

// TestScanUsesIndexSQLite checks that the fallback scan reads a range of
// links_id_idx on the embedded store too (TestMeasureAtScale, build tag
// faults, checks PostgreSQL at a million links).
func TestScanUsesIndexSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "links.db")
	teststore.SQLiteFile(t, path)
	l, err := Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rows, err := l.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+ScanQuery, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "links_id_idx") {
		t.Errorf("the fallback scan's plan: %q, want a search of links_id_idx", got)
	}
}
