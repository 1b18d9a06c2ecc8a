package sqlitestore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/migrations"
)

func open(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), linkstore.Config{DSN: dsn})
	if err != nil {
		tb.Fatalf("Open(%q): %v", dsn, err)
	}
	tb.Cleanup(s.Close)
	return s
}

func tempDSN(tb testing.TB) string {
	return "sqlite://" + filepath.Join(tb.TempDir(), "links.db")
}

// seeded20k opens a store in a new file and runs insert, an INSERT ...
// SELECT whose rows come from n(i), i from 1 to 20,000.
func seeded20k(t *testing.T, insert string) *Store {
	t.Helper()
	s := open(t, tempDSN(t))
	_, err := s.w.ExecContext(t.Context(), `
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
`+insert+`
FROM n`)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withAndWithoutStats runs check as a subtest before and again after
// ANALYZE: a plan must hold whether or not SQLite has statistics.
func withAndWithoutStats(t *testing.T, s *Store, check func(t *testing.T)) {
	t.Helper()
	for _, analyze := range []bool{false, true} {
		if analyze {
			if _, err := s.w.ExecContext(t.Context(), "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		t.Run(fmt.Sprintf("analyzed=%t", analyze), check)
	}
}

// queryPlan returns SQLite's EXPLAIN QUERY PLAN for query with args, the
// detail column of each step, a line each.
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}

// checkPlan reports each of want that plan lacks and each of not that it
// has.
func checkPlan(t *testing.T, plan string, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(plan, w) {
			t.Errorf("plan lacks %q:\n%s", w, plan)
		}
	}
	for _, n := range not {
		if strings.Contains(plan, n) {
			t.Errorf("plan has %q:\n%s", n, plan)
		}
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) linkstore.Store { return open(t, tempDSN(t)) })
}

// TestConformanceSharedFile runs the suite with all subtests on one file,
// each through a Store of its own, as the control plane and the edge do.
func TestConformanceSharedFile(t *testing.T) {
	dsn := tempDSN(t)
	storetest.Run(t, func(t *testing.T) linkstore.Store { return open(t, dsn) })
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, path string
		ok        bool
	}{
		{"sqlite://data/links.db", "data/links.db", true},
		{"sqlite:data/links.db", "data/links.db", true},
		{"sqlite:///var/lib/shortify/links.db", "/var/lib/shortify/links.db", true},
		{"sqlite:/var/lib/shortify/links.db", "/var/lib/shortify/links.db", true},
		{"sqlite://links.db", "links.db", true},
		{"sqlite://", "", false},
		{"sqlite:", "", false},
		{"sqlite://:memory:", "", false},
		{"sqlite:file:links.db", "", false},
		{"sqlite://links.db?_pragma=foo", "", false},
		{"postgres://localhost/db", "", false},
		{"links.db", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		path, err := ParseDSN(tt.dsn)
		if (err == nil) != tt.ok || path != tt.path {
			t.Errorf("ParseDSN(%q) = %q, %v; want %q, ok=%t", tt.dsn, path, err, tt.path, tt.ok)
		}
	}
}

func TestOpenCreatesDirectoryAndRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := open(t, "sqlite:nested/deeper/links.db")
	if err := s.Create(t.Context(), storetest.NewLink()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nested", "deeper", "links.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestOpenRejectsReadDSNs(t *testing.T) {
	s, err := Open(t.Context(), linkstore.Config{DSN: tempDSN(t), ReadDSNs: []string{"postgres://x/y"}})
	if err == nil {
		s.Close()
		t.Fatal("Open with read DSNs succeeded")
	}
}

func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	dsn := tempDSN(t)
	writer, reader := open(t, dsn), open(t, dsn)
	l := storetest.NewLink()
	if err := writer.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, err := reader.Lookup(ctx, "", l.Code)
	if err != nil {
		t.Fatalf("Lookup through the other store: %v", err)
	}
	storetest.CheckLink(t, "Lookup", got, l)
	if err := reader.Create(ctx, l); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Errorf("Create of the same code through the other store: %v, want ErrCodeTaken", err)
	}
	if _, err := writer.Delete(ctx, "", l.Code); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Get(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Get after the other store's Delete: %v, want ErrNotFound", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	dsn := tempDSN(t)
	s, err := Open(ctx, linkstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	l := storetest.NewLink()
	l.Status = 308
	l.ExpiresAt = l.CreatedAt.Add(48 * 3600e9)
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // twice is fine

	s = open(t, dsn)
	got, err := s.Get(ctx, "", l.Code)
	if err != nil {
		t.Fatalf("Get after reopening: %v", err)
	}
	storetest.CheckLink(t, "Get after reopening", got, l)

	var applied int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(ms) {
		t.Errorf("schema_migrations has %d rows after two opens, want %d", applied, len(ms))
	}
}

// TestStoredFormat pins what is on disk: WAL journal, times as integer
// microseconds, NULL for no expiry.
func TestStoredFormat(t *testing.T) {
	ctx := t.Context()
	s := open(t, tempDSN(t))
	l := storetest.NewLink()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	var mode, createdType string
	var created int64
	var expiresNull bool
	if err := s.r.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	err := s.r.QueryRowContext(ctx,
		"SELECT typeof(created_at), created_at, expires_at IS NULL FROM links WHERE code = ?", l.Code,
	).Scan(&createdType, &created, &expiresNull)
	if err != nil {
		t.Fatal(err)
	}
	if createdType != "integer" || created != l.CreatedAt.UnixMicro() || !expiresNull {
		t.Errorf("stored created_at %s %d, expires_at NULL %t; want integer %d, true",
			createdType, created, expiresNull, l.CreatedAt.UnixMicro())
	}
	if _, err := s.r.ExecContext(ctx, "DELETE FROM links"); err == nil {
		t.Errorf("a read connection could write")
	}
}

// TestConcurrentWritersTwoStores: two Stores on one file (the control plane
// and the edge in one process) write at the same time without SQLITE_BUSY.
func TestConcurrentWritersTwoStores(t *testing.T) {
	ctx := t.Context()
	dsn := tempDSN(t)
	stores := []*Store{open(t, dsn), open(t, dsn), open(t, dsn)}
	const workers, each = 12, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	codes := make([][]string, workers)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for range each {
				l := storetest.NewLink()
				if err := s.Create(ctx, l); err != nil {
					errs <- err
					continue
				}
				codes[w] = append(codes[w], l.Code)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Create: %v", err)
	}
	for w, cs := range codes {
		for _, code := range cs {
			if _, err := stores[(w+1)%len(stores)].Lookup(ctx, "", code); err != nil {
				t.Errorf("Lookup %q: %v", code, err)
			}
		}
	}
}

const (
	helperEnvDSN    = "SHORTIFY_SQLITESTORE_HELPER_DSN"
	helperEnvPrefix = "SHORTIFY_SQLITESTORE_HELPER_PREFIX"
	helperEnvCount  = "SHORTIFY_SQLITESTORE_HELPER_COUNT"
)

// TestHelperProcessWriter is not a test: TestTwoProcesses runs the test
// binary again with it, as a second process writing to the same file. It
// prints "ready" once its first link is written.
func TestHelperProcessWriter(t *testing.T) {
	dsn := os.Getenv(helperEnvDSN)
	if dsn == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv(helperEnvCount))
	s := open(t, dsn)
	prefix := os.Getenv(helperEnvPrefix)
	writeLinks(t, s, prefix, 0, 1)
	fmt.Println("ready")
	writeLinks(t, s, prefix, 1, n)
}

// writeLinks creates links with the codes prefix0000, prefix0001, ... for
// the numbers in [from, to).
func writeLinks(t *testing.T, s *Store, prefix string, from, to int) {
	for i := from; i < to; i++ {
		l := storetest.NewLink()
		l.Code = fmt.Sprintf("%s%04d", prefix, i)
		if err := s.Create(context.Background(), l); err != nil {
			t.Errorf("Create %q: %v", l.Code, err)
		}
	}
}

// TestTwoProcesses: this process and a child write to one file at once.
func TestTwoProcesses(t *testing.T) {
	dsn := tempDSN(t)
	s := open(t, dsn)
	const n = 300
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnvDSN+"="+dsn, helperEnvPrefix+"=child", helperEnvCount+"="+strconv.Itoa(n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var childOut strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "ready" {
		childOut.WriteString(sc.Text() + "\n")
	}
	writeLinks(t, s, "parent", 0, n) // while the child writes its own
	for sc.Scan() {
		childOut.WriteString(sc.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v\n%s%s", err, childOut.String(), stderr.String())
	}
	for _, prefix := range []string{"parent", "child"} {
		for i := range n {
			code := fmt.Sprintf("%s%04d", prefix, i)
			if _, err := s.Lookup(t.Context(), "", code); err != nil {
				t.Fatalf("Lookup %q: %v", code, err)
			}
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	storetest.BenchLookup(b, open(b, tempDSN(b)))
}

func BenchmarkCreate(b *testing.B) {
	storetest.BenchCreate(b, open(b, tempDSN(b)))
}

func BenchmarkCreateMany(b *testing.B) {
	storetest.BenchCreateMany(b, open(b, tempDSN(b)))
}
