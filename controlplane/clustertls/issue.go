package clustertls

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/pki"
)

// Validity defaults of what NewCA and Issue make.
const (
	// DefaultCAValidity is how long a new cluster CA is valid: long, as
	// replacing it means re-issuing every node certificate.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultCertValidity is how long a node certificate is valid.
	DefaultCertValidity = 2 * 365 * 24 * time.Hour
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

// Authority is a cluster CA that can issue node certificates. The keys
// and certificates are made by internal/pki; this type adds the cluster's
// rules (names, usages, validity defaults, file layout).
type Authority struct {
	ca *pki.Authority
	// CertPEM is the CA certificate, what every node's cluster_ca names.
	CertPEM []byte
}

// subject is the subject of the cluster's certificates named name.
func subject(name string) pkix.Name {
	return pkix.Name{CommonName: name, Organization: []string{"Shortify cluster"}}
}

// NewCA makes a new self-signed cluster CA named name, valid for validity
// (0: DefaultCAValidity).
func NewCA(name string, validity time.Duration) (*Authority, error) {
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	ca, err := pki.NewCA(subject(name), validity)
	if err != nil {
		return nil, fmt.Errorf("cluster %w", err)
	}
	return &Authority{ca: ca, CertPEM: ca.CertPEM}, nil
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
	crt, key, err := a.ca.Issue(pki.Leaf{
		Subject:  subject(name),
		Hosts:    hosts,
		Usages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		Validity: validity,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("node %w", err)
	}
	return crt, key, nil
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
	keyPEM, err := a.ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := pki.WriteNew(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return pki.WriteNew(filepath.Join(dir, CACertFile), a.CertPEM, 0o644)
}

// WriteCACert writes (or replaces) only the CA's certificate into dir as
// CACertFile: what nodes need, without the key.
func (a *Authority) WriteCACert(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return pki.WriteFile(filepath.Join(dir, CACertFile), a.CertPEM, 0o644)
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
	if err := pki.WriteFile(filepath.Join(dir, KeyFile(name)), key, 0o600); err != nil {
		return err
	}
	return pki.WriteFile(filepath.Join(dir, CertFile(name)), crt, 0o644)
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
	ca, err := pki.ParseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s and %s in %s: %w", CACertFile, CAKeyFile, dir, err)
	}
	return &Authority{ca: ca, CertPEM: ca.CertPEM}, nil
}
