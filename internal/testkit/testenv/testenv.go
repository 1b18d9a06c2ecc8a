// Package testenv gives tests the real services they run against: a fresh
// PostgreSQL database for each test package and the Redis server. It never
// skips: a missing service fails the test loudly, because `make test` starts
// the services first (scripts/test-services.sh).
//
// A package that uses Database calls Main from its TestMain so that its
// database is dropped when the package's tests end:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// DefaultPostgres is the admin DSN used when SHORTIFY_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DefaultRedis is the Redis address used when SHORTIFY_TEST_REDIS is unset.
const DefaultRedis = "127.0.0.1:6379"

var (
	dbOnce sync.Once
	dbDSN  string
	dbName string
	dbErr  error
)

// AdminDSN is the DSN of the PostgreSQL server's maintenance database.
func AdminDSN() string {
	if v := os.Getenv("SHORTIFY_TEST_POSTGRES"); v != "" {
		return v
	}
	return DefaultPostgres
}

// RedisAddr returns the address of the test Redis server after checking
// that it answers; it fails the test otherwise.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	addr := DefaultRedis
	if v := os.Getenv("SHORTIFY_TEST_REDIS"); v != "" {
		addr = v
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		tb.Fatalf("testenv: Redis at %s is not reachable (run the tests with `make test`, which starts it): %v", addr, err)
	}
	conn.Close()
	return addr
}

// UniquePrefix returns a key prefix no other test uses, so that tests can
// share one Redis server without seeing each other's keys.
func UniquePrefix(tb testing.TB) string {
	tb.Helper()
	return "shortify-test:" + randomHex(tb, 6) + ":"
}

// Database returns the DSN of this test package's own database, creating
// it on first use. Every test in the package shares it, so tests must not
// assume an empty database (use unique codes).
func Database(tb testing.TB) string {
	tb.Helper()
	dbOnce.Do(func() { dbDSN, dbName, dbErr = createDatabase() })
	if dbErr != nil {
		tb.Fatalf("testenv: %v", dbErr)
	}
	return dbDSN
}

// Main runs the package's tests, then drops the package's database and
// removes the binary Shortify built.
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	removeBinary()
	if dbName != "" {
		if err := dropDatabase(dbName); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		}
	}
	os.Exit(code)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

func createDatabase() (dsn, name string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := AdminDSN()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", "", fmt.Errorf("PostgreSQL at %s is not reachable (run the tests with `make test`, which starts it): %w", redact(admin), err)
	}
	defer conn.Close(ctx)

	wd, _ := os.Getwd()
	pkg := unsafeChars.ReplaceAllString(strings.ToLower(filepath.Base(wd)), "_")
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	name = fmt.Sprintf("shortify_test_%s_%s", pkg, hex.EncodeToString(b[:]))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create test database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", "", fmt.Errorf("parse %s: %w", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String(), name, nil
}

func dropDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	return nil
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("testenv: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago
// (procs.FreePort: below the ephemeral range), for servers a test starts
// in another process or that need the address before they listen.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	port, err := procs.FreePort("127.0.0.1")
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// Schema creates a schema of the test's own in the package's database and
// returns a DSN whose search_path is that schema, so that tests that run
// DDL (migrations, partitions) are isolated from each other. The schema is
// dropped when the test ends.
func Schema(tb testing.TB) string {
	tb.Helper()
	base := Database(tb)
	name := "t_" + randomHex(tb, 6)
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec(tb.Context(), "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("testenv: create schema %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("testenv: drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("testenv: parse %s: %v", redact(base), err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
