package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// PKI is a test CA with a broker certificate (for 127.0.0.1 and
// localhost) and a client certificate, written as PEM files into the
// test's temporary directory, and a second CA that signed nothing of
// them, for "untrusted certificate" tests.
type PKI struct {
	CAFile                  string // the CA that signed both certificates
	OtherCAFile             string // a CA that signed neither
	ServerCert, ServerKey   string // the broker's
	ClientCert, ClientKey   string // a client's, for mutual TLS
	ForeignCert, ForeignKey string // a client certificate of OtherCA
}

// NewPKI makes a PKI in tb.TempDir().
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	dir := tb.TempDir()
	p := &PKI{
		CAFile: filepath.Join(dir, "ca.pem"), OtherCAFile: filepath.Join(dir, "other-ca.pem"),
		ServerCert: filepath.Join(dir, "broker.pem"), ServerKey: filepath.Join(dir, "broker-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
		ForeignCert: filepath.Join(dir, "foreign.pem"), ForeignKey: filepath.Join(dir, "foreign-key.pem"),
	}
	ca, caKey := newCA(tb, "shortify test Kafka CA", p.CAFile)
	other, otherKey := newCA(tb, "some other CA", p.OtherCAFile)
	leaf(tb, ca, caKey, "broker", true, p.ServerCert, p.ServerKey)
	leaf(tb, ca, caKey, "client", false, p.ClientCert, p.ClientKey)
	leaf(tb, other, otherKey, "foreign", false, p.ForeignCert, p.ForeignKey)
	return p
}

// ServerTLS is the broker's TLS configuration; with clientCA, clients
// must present a certificate of the PKI's CA (mutual TLS).
func (p *PKI) ServerTLS(tb testing.TB, clientCA bool) *tls.Config {
	tb.Helper()
	cert, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		tb.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			tb.Fatal(err)
		}
		tc.ClientCAs = x509.NewCertPool()
		tc.ClientCAs.AppendCertsFromPEM(pem)
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc
}

// StartTLSBroker starts a one-broker kfake on 127.0.0.1 that speaks only
// TLS (p's broker certificate; with clientCA, mutual TLS), with the
// topics seeded and opts added (kfake.EnableSASL, kfake.User,
// kfake.EnableACLs, ...). It is stopped when the test ends.
func StartTLSBroker(tb testing.TB, p *PKI, clientCA bool, partitions int32, topics []string, opts ...kfake.Opt) string {
	tb.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.TLS(p.ServerTLS(tb, clientCA)),
		kfake.SeedTopics(partitions, topics...)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		tb.Fatalf("start kfake with TLS: %v", err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func newCA(tb testing.TB, name, certFile string) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, certFile, "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

func leaf(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool, certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, certFile, "CERTIFICATE", der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	writePEM(tb, keyFile, "EC PRIVATE KEY", kder)
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}
