package testenv

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// PostgresTLS is a private PostgreSQL server that takes TLS, started by
// StartPostgresTLS for one test.
type PostgresTLS struct {
	// Addr is the server's 127.0.0.1:port.
	Addr string
	// CA issued the server's certificate, which names localhost only.
	CA *CA
}

// StartPostgresTLS starts a private PostgreSQL server (procs.InitPrimary)
// with ssl = on and a certificate for localhost from a CA of its own, for
// tests of sslmode=verify-full; it also accepts plain connections from
// 127.0.0.1 (trust), as the test primary does. It is stopped when the
// test ends.
func StartPostgresTLS(tb testing.TB) *PostgresTLS {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaStartTimeout)
	defer cancel()
	bin, err := procs.PGBinDir("")
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	ca := NewCA(tb, "PostgreSQL test CA")
	cert, key := ca.Issue(tb, "localhost")
	pg, err := procs.InitPrimary(ctx, procs.PGConfig{
		Dir:    filepath.Join(PublicTempDir(tb, "shortify-pgtls-"), "pg"),
		Addr:   FreeAddr(tb),
		BinDir: bin,
		TLS:    &procs.PGTLS{CertFile: cert, KeyFile: key},
	})
	if err != nil {
		tb.Fatalf("testenv: PostgreSQL with TLS: %v", err)
	}
	tb.Cleanup(func() { pg.Stop() })
	return &PostgresTLS{Addr: pg.Addr, CA: ca}
}

// DSN returns a DSN of the postgres database, as user postgres, at host
// on the server's port, with sslmode=verify-full, rootCert as the CA to
// trust, and the extra query parameters.
func (p *PostgresTLS) DSN(host, rootCert string, extra url.Values) string {
	_, port, _ := net.SplitHostPort(p.Addr)
	q := url.Values{"sslmode": {"verify-full"}, "sslrootcert": {rootCert}, "connect_timeout": {"5"}}
	for k, v := range extra {
		q[k] = v
	}
	return "postgres://postgres@" + net.JoinHostPort(host, port) + "/postgres?" + q.Encode()
}

// PublicTempDir makes a temporary directory that every user may enter,
// removed when the test ends. Not t.TempDir: its parents are private to
// root, and a server the tests run as another user (PostgreSQL, when they
// run as root) must reach its files.
func PublicTempDir(tb testing.TB, prefix string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}
