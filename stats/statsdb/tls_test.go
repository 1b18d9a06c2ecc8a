package statsdb

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/api"
)

// TestPostgresVerifyFull: the stats database's DSN reaches pgx whole, so
// sslmode=verify-full with a private CA works for the ingest's pool, its
// partitions pool and the stats API's read-only pool alike, and another
// CA is refused (issue 12, finding 5).
func TestPostgresVerifyFull(t *testing.T) {
	pg := testenv.StartPostgresTLS(t)
	ca := pg.CA
	dsn := func(rootCert string) string { return pg.DSN("localhost", rootCert, nil) }
	db, err := Open(t.Context(), Config{DSN: dsn(ca.CertFile), Migrate: true})
	if err != nil {
		t.Fatalf("statsdb.Open with verify-full and the server's CA: %v", err)
	}
	db.Close()
	st, err := api.Open(t.Context(), dsn(ca.CertFile))
	if err != nil {
		t.Fatalf("the stats API's store with verify-full and the server's CA: %v", err)
	}
	st.Close()

	other := testenv.NewCA(t, "another CA")
	if db, err := Open(t.Context(), Config{DSN: dsn(other.CertFile), Migrate: true}); err == nil {
		db.Close()
		t.Error("statsdb.Open trusted a certificate from another CA")
	} else if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Errorf("statsdb.Open with another CA: %v; want a certificate verification error", err)
	}
	if st, err := api.Open(t.Context(), dsn(other.CertFile)); err == nil {
		st.Close()
		t.Error("the stats API's store trusted a certificate from another CA")
	} else if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Errorf("the stats API's store with another CA: %v; want a certificate verification error", err)
	}
}
