package clustertls

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
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Validity defaults of what NewCA and Issue make.
const (
	// DefaultCAValidity is how long a new cluster CA is valid: long, as
	// replacing it means re-issuing every node certificate.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultCertValidity is how long a node certificate is valid.
	DefaultCertValidity = 2 * 365 * 24 * time.Hour
	// backdate covers clocks a little behind the issuer's.
	backdate = 5 * time.Minute
)

// File names that WriteCA, WriteCert and LoadCA use in a directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// CertFile and KeyFile are the file names of node name's certificate and
// key in a directory.
func CertFile(name string) string { return name + ".crt" }

// KeyFile: see CertFile.
func KeyFile(name string) string { return name + ".key" }

// Authority is a cluster CA that can issue node certificates.
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertPEM is the CA certificate, what every node's cluster_ca names.
	CertPEM []byte
}

// NewCA makes a new self-signed cluster CA named name, valid for validity
// (0: DefaultCAValidity).
func NewCA(name string, validity time.Duration) (*Authority, error) {
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	key, serial, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Shortify cluster"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{cert: cert, key: key, CertPEM: pemBlock("CERTIFICATE", der)}, nil
}

// Issue makes a node certificate for name, valid for the host names and
// IP addresses in hosts (at least one) and for validity (0:
// DefaultCertValidity), usable as client and as server. It returns the
// certificate and key in PEM.
func (a *Authority) Issue(name string, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if name == "" {
		return nil, nil, errors.New("a node certificate needs a name")
	}
	if len(hosts) == 0 {
		return nil, nil, errors.New("a node certificate needs at least one host name or IP address (the names other nodes dial it by)")
	}
	if validity <= 0 {
		validity = DefaultCertValidity
	}
	key, serial, err := newKey()
	if err != nil {
		return nil, nil, fmt.Errorf("node certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Shortify cluster"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(a.cert.NotAfter) {
		tmpl.NotAfter = a.cert.NotAfter // a chain is only as valid as its CA
	}
	for _, h := range hosts {
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
		return nil, nil, fmt.Errorf("node certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER), nil
}

// Config issues a certificate for name and hosts and returns it loaded as
// a node's Config: for tests and the local stack, which keep nothing on
// disk.
func (a *Authority) Config(name string, hosts ...string) (*Config, error) {
	crt, key, err := a.Issue(name, hosts, 0)
	if err != nil {
		return nil, err
	}
	return New(a.CertPEM, crt, key)
}

// WriteCA writes the CA's certificate (0644) and key (0600) into dir as
// CACertFile and CAKeyFile, refusing to overwrite an existing CA.
func (a *Authority) WriteCA(dir string) error {
	keyDER, err := x509.MarshalECPrivateKey(a.key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writeNew(filepath.Join(dir, CAKeyFile), pemBlock("EC PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, CACertFile), a.CertPEM, 0o644)
}

// WriteCACert writes (or replaces) only the CA's certificate into dir as
// CACertFile: what nodes need, without the key.
func (a *Authority) WriteCACert(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return writeFile(filepath.Join(dir, CACertFile), a.CertPEM, 0o644)
}

// WriteCert issues a certificate for name and hosts (see Issue) and
// writes it (0644) and its key (0600) into dir as CertFile(name) and
// KeyFile(name), replacing earlier ones (to renew them).
func (a *Authority) WriteCert(dir, name string, hosts []string, validity time.Duration) error {
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("node name %q cannot be a file name", name)
	}
	crt, key, err := a.Issue(name, hosts, validity)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := writeFile(filepath.Join(dir, KeyFile(name)), key, 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, CertFile(name)), crt, 0o644)
}

// LoadCA reads the CA that WriteCA wrote into dir.
func LoadCA(dir string) (*Authority, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("read the cluster CA (make one with `shortify cluster-ca --dir %s`): %w", dir, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read the cluster CA key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("%s or %s in %s is not PEM", CACertFile, CAKeyFile, dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cluster CA key: %w", err)
	}
	if !cert.IsCA || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s in %s is not a CA certificate of %s", CACertFile, dir, CAKeyFile)
	}
	return &Authority{cert: cert, key: key, CertPEM: certPEM}, nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// writeFile replaces path with data through a temporary file, so that a
// node reading it never sees half a key, and a key never exists with
// looser permissions than perm.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func pemBlock(typ string, der []byte) []byte {
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
