package backend

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestPostgresVerifyFull runs the link store's PostgreSQL hop over TLS
// (issue 12, finding 5) against a real server with ssl = on and a
// certificate for "localhost" from a test CA: a DSN with
// sslmode=verify-full and that CA as sslrootcert connects the primary and
// a read replica pool over TLS; another CA, or a host name the
// certificate does not name, is refused with an error that says why.
func TestPostgresVerifyFull(t *testing.T) {
	pg := testenv.StartPostgresTLS(t)
	addr, ca := pg.Addr, pg.CA
	dsn := func(host, rootCert, app string) string {
		return pg.DSN(host, rootCert, url.Values{"application_name": {app}})
	}

	s, err := Open(t.Context(), linkstore.Config{
		DSN:      dsn("localhost", ca.CertFile, "tls-primary"),
		ReadDSNs: []string{dsn("localhost", ca.CertFile, "tls-replica")},
		Migrate:  true,
	})
	if err != nil {
		t.Fatalf("Open with verify-full and the server's CA: %v", err)
	}
	defer s.Close()
	l := linkstore.Link{Code: "tls1", ID: 1, URL: "https://example.com/", Status: 302, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	if err := s.Create(t.Context(), l); err != nil {
		t.Fatalf("Create over TLS: %v", err)
	}
	var ssl bool
	if err := s.(*pgstore.Store).Primary().QueryRow(t.Context(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Fatalf("the primary pool's session: ssl %v, %v", ssl, err)
	}
	// The replica pool (its health checks connect at once) is on TLS
	// too: its DSN's sslrootcert reached pgx, or verify-full would fail.
	admin, err := pgx.Connect(t.Context(), "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	testenv.WaitFor(t, "the replica pool's sessions", 10*time.Second, func() bool {
		var n int
		admin.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tls-replica'").Scan(&n)
		return n > 0
	})
	var plain int
	if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
		WHERE a.application_name IN ('tls-primary', 'tls-replica') AND NOT s.ssl`).Scan(&plain); err != nil || plain != 0 {
		t.Errorf("%d of the store's sessions without TLS (%v)", plain, err)
	}

	other := testenv.NewCA(t, "another CA")
	for _, tc := range []struct {
		name, dsn string
		is        func(error) bool
	}{
		{"another CA", dsn("localhost", other.CertFile, "tls-bad"), func(err error) bool {
			_, ok := errors.AsType[x509.UnknownAuthorityError](err)
			return ok
		}},
		{"a name the certificate lacks", dsn("127.0.0.1", ca.CertFile, "tls-bad"), func(err error) bool {
			_, ok := errors.AsType[x509.HostnameError](err)
			return ok
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), linkstore.Config{DSN: tc.dsn})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !tc.is(err) || !strings.Contains(err.Error(), "tls: failed to verify certificate") {
				t.Errorf("error %q, want a certificate verification failure that says so", err)
			}
		})
	}
}
