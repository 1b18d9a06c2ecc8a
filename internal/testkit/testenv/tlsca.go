package testenv

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/pki"
)

// caValidity is how long a test CA and its certificates are valid.
const caValidity = 24 * time.Hour

// CA is a certificate authority made for one test, for servers that
// speak TLS on loopback (PostgreSQL with ssl = on, redis-server with a
// tls-port, Caddy): its certificate and the certificates it issues are
// PEM files in a directory of their own, removed when the test ends. Its
// keys and certificates are made by internal/pki, as the cluster CA's
// and the Kafka PKI's are; each certificate serves both ends of a
// connection.
type CA struct {
	// CertFile is the CA certificate, the file a client trusts.
	CertFile string

	dir string
	ca  *pki.Authority
	n   int
}

// NewCA makes a CA named name. Its directory is readable by every user:
// a server that runs as another user, as PostgreSQL does when the tests
// run as root, reads its certificate there.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	a, err := pki.NewCA(pkix.Name{CommonName: name}, caValidity)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	ca := &CA{dir: PublicTempDir(tb, "shortify-ca-"), ca: a}
	ca.CertFile = filepath.Join(ca.dir, "ca.crt")
	write(tb, ca.CertFile, a.CertPEM, 0o644)
	return ca
}

// Issue makes a certificate for hosts (DNS names or IP addresses),
// signed by the CA and good for servers and clients, and returns its
// certificate and key files. The key file is 0600: a server that runs as
// another user needs its own copy.
func (ca *CA) Issue(tb testing.TB, hosts ...string) (certFile, keyFile string) {
	tb.Helper()
	ca.n++
	cert, key, err := ca.ca.Issue(pki.Leaf{
		Subject:  pkix.Name{CommonName: hosts[0]},
		Hosts:    hosts,
		Usages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		Validity: caValidity,
	})
	if err != nil {
		tb.Fatalf("testenv: certificate for %v: %v", hosts, err)
	}
	base := filepath.Join(ca.dir, "cert"+strconv.Itoa(ca.n))
	certFile, keyFile = base+".crt", base+".key"
	write(tb, certFile, cert, 0o644)
	write(tb, keyFile, key, 0o600)
	return certFile, keyFile
}

func write(tb testing.TB, path string, data []byte, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		tb.Fatal(err)
	}
}
