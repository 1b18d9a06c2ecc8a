package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/pki"
)

// TestIssue checks that a leaf chains to its CA for the usages and hosts
// asked, for those only, and never outlives the CA.
func TestIssue(t *testing.T) {
	ca, err := pki.NewCA(pkix.Name{CommonName: "test CA"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.Issue(pki.Leaf{Subject: pkix.Name{CommonName: "server"},
		Hosts: []string{"svc.local", " 127.0.0.1 ", ""}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatalf("certificate and key do not match: %v", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	for _, host := range []string{"svc.local", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("not valid for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a server-only certificate verified for client use")
	}
	if leaf.NotAfter.After(ca.NotAfter()) {
		t.Errorf("leaf valid until %s, after its CA (%s)", leaf.NotAfter, ca.NotAfter())
	}
	if _, _, err := ca.Issue(pki.Leaf{Subject: pkix.Name{CommonName: "x"}}); err == nil {
		t.Error("Issue took a zero validity")
	}
}

// TestParseCA checks that a CA read back from its PEM issues
// certificates that chain to the original, and that a leaf is not taken
// for a CA.
func TestParseCA(t *testing.T) {
	ca, err := pki.NewCA(pkix.Name{CommonName: "test CA"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := pki.ParseCA(ca.CertPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := back.Issue(pki.Leaf{Subject: pkix.Name{CommonName: "client"},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(crt)
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("certificate of the parsed CA does not chain to it: %v", err)
	}
	if _, err := pki.ParseCA(crt, key); err == nil {
		t.Fatal("ParseCA took a leaf certificate")
	}
}

// TestWriteFiles checks the modes, that WriteNew refuses an existing file
// and that WriteFile replaces one.
func TestWriteFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	if err := pki.WriteNew(path, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteNew(path, []byte("b"), 0o600); err == nil {
		t.Fatal("WriteNew overwrote a file")
	}
	if err := pki.WriteFile(path, []byte("c"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "c" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("after WriteFile: %q, mode %v", b, fi.Mode().Perm())
	}
}
