package seqfloor

import (
	"bytes"
	"context"
	"path/filepath"
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

			f, err := Measure(ctx, dsn, codec, 100, takenAt)
			if err != nil {
				t.Fatal(err)
			}
			want := Floor{Seq: 351, IDMs: id >> (snowflake.WorkerBits + snowflake.SequenceBits), Scanned: len(seqs) + 2,
				Decoded: len(seqs) + 1, Kept: len(seqs)}
			if f != want {
				t.Errorf("Measure = %+v, want %+v", f, want)
			}
		})
	}
}
