// Package pki is the one place in Shortify that makes private keys and
// X.509 certificates: a self-signed CA (NewCA) and the leaf certificates
// it signs (Authority.Issue), all ECDSA P-256 with random 128-bit serial
// numbers, in PEM. The control plane's cluster CA
// (controlplane/clustertls), the Kafka development and test PKI
// (internal/kafkasec DevPKI, kafkatest.PKI) and the per-test CAs of
// internal/testkit/testenv all stand on it, so a change to how certificates are
// made (key type, backdating, usages) is made once.
//
// It holds no policy: what a certificate is for (its subject, host names,
// usages and validity) is the caller's; the rules that hold for any
// certificate live here (a leaf never outlives its CA, a CA signs only
// leaves, validity starts a little in the past for clocks behind the
// issuer's).
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// Backdate is how far in the past a new certificate's validity starts:
// it covers clocks a little behind the issuer's.
const Backdate = 5 * time.Minute

// PEM block types of what this package writes.
const (
	CertificateBlock = "CERTIFICATE"
	ECKeyBlock       = "EC PRIVATE KEY"
)

// Authority is a CA that can issue certificates.
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertPEM is the CA certificate, the file that clients and servers
	// trust.
	CertPEM []byte
}

// NewCA makes a self-signed CA with subject, valid for validity from now
// (validity must be positive). It may sign leaves only (path length 0).
func NewCA(subject pkix.Name, validity time.Duration) (*Authority, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("CA %q: validity %s (want positive)", subject.CommonName, validity)
	}
	key, serial, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("CA %q: %w", subject.CommonName, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("CA %q certificate: %w", subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("CA %q certificate: %w", subject.CommonName, err)
	}
	return &Authority{cert: cert, key: key, CertPEM: Encode(CertificateBlock, der)}, nil
}

// ParseCA reads a CA from its certificate and its key in PEM (as
// Authority.KeyPEM writes it). It refuses a certificate that is not a CA's
// or does not belong to the key.
func ParseCA(certPEM, keyPEM []byte) (*Authority, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("the CA certificate or key is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !cert.IsCA || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the certificate is not a CA certificate of the key")
	}
	return &Authority{cert: cert, key: key, CertPEM: certPEM}, nil
}

// KeyPEM returns the CA's private key in PEM: keep it 0600.
func (a *Authority) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(a.key)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	return Encode(ECKeyBlock, der), nil
}

// NotAfter is when the CA certificate expires.
func (a *Authority) NotAfter() time.Time { return a.cert.NotAfter }

// Leaf describes a certificate for Issue.
type Leaf struct {
	// Subject names the certificate's holder.
	Subject pkix.Name
	// Hosts are the DNS names and IP addresses it is valid for (blank
	// entries are skipped); none for a client-only certificate.
	Hosts []string
	// Usages are its extended key usages: x509.ExtKeyUsageServerAuth,
	// x509.ExtKeyUsageClientAuth or both.
	Usages []x509.ExtKeyUsage
	// Validity is how long it is valid from now (positive), cut to the
	// CA's own expiry: a chain is only as valid as its CA.
	Validity time.Duration
}

// Issue makes a new key and a certificate of it for l, signed by the CA,
// and returns both in PEM.
func (a *Authority) Issue(l Leaf) (certPEM, keyPEM []byte, err error) {
	if l.Validity <= 0 {
		return nil, nil, fmt.Errorf("certificate %q: validity %s (want positive)", l.Subject.CommonName, l.Validity)
	}
	key, serial, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %q: %w", l.Subject.CommonName, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      l.Subject,
		NotBefore:    now.Add(-Backdate),
		NotAfter:     now.Add(l.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  l.Usages,
	}
	if tmpl.NotAfter.After(a.cert.NotAfter) {
		tmpl.NotAfter = a.cert.NotAfter
	}
	for _, h := range l.Hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %q: %w", l.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %q: key: %w", l.Subject.CommonName, err)
	}
	return Encode(CertificateBlock, der), Encode(ECKeyBlock, keyDER), nil
}

// Encode returns der as one PEM block of type typ.
func Encode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// newKey makes a P-256 key and a random 128-bit serial number for a new
// certificate.
func newKey() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("serial number: %w", err)
	}
	return key, serial, nil
}
