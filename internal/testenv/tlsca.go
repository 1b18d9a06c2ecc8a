package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority made for one test, for servers that
// speak TLS on loopback (PostgreSQL with ssl = on, redis-server with a
// tls-port, Caddy): its certificate and the certificates it issues are
// PEM files in a directory of their own, removed when the test ends.
type CA struct {
	// CertFile is the CA certificate, the file a client trusts.
	CertFile string

	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    int
}

// NewCA makes a CA named name. Its directory is readable by every user
// (not t.TempDir, whose parents are private to root): a server that runs
// as another user, as PostgreSQL does when the tests run as root, reads
// its certificate there.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	dir := publicTempDir(tb, "shortify-ca-")
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("testenv: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{dir: dir, cert: cert, key: key, CertFile: filepath.Join(dir, "ca.crt")}
	writePEM(tb, ca.CertFile, "CERTIFICATE", der, 0o644)
	return ca
}

// Issue makes a server certificate for hosts (DNS names or IP
// addresses), signed by the CA, and returns its certificate and key
// files. The key file is 0600: chown it to a server that runs as
// another user.
func (ca *CA) Issue(tb testing.TB, hosts ...string) (certFile, keyFile string) {
	tb.Helper()
	ca.n++
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(ca.n + 1)),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatalf("testenv: certificate for %v: %v", hosts, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	base := filepath.Join(ca.dir, "server"+big.NewInt(int64(ca.n)).String())
	certFile, keyFile = base+".crt", base+".key"
	writePEM(tb, certFile, "CERTIFICATE", der, 0o644)
	writePEM(tb, keyFile, "PRIVATE KEY", kder, 0o600)
	return certFile, keyFile
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func writePEM(tb testing.TB, path, typ string, der []byte, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		tb.Fatal(err)
	}
}
