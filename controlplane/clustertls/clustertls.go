// Package clustertls is the mutual TLS that control-plane nodes prove
// their membership with: a cluster CA, one certificate per node (or one
// shared by nodes whose names it covers) signed by it, and the tls.Configs
// built from them for the Raft transport, the internal listener of
// node-to-node calls and the calls themselves. A peer is a member when its
// certificate chains to the cluster CA; nothing else is accepted.
//
// It also makes a CA and node certificates (ECDSA P-256, client and server
// use), for development, `make stack` and the documented recipes; the
// keys and certificates themselves are made by internal/pki, the one
// certificate maker that the Kafka PKI and the tests' CAs share:
//
//	ca, _ := clustertls.NewCA("shortify cluster CA", 0)
//	crt, key, _ := ca.Issue("node1", []string{"node1", "127.0.0.1"}, 0)
package clustertls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// MinVersion is the TLS version every cluster connection uses: members are
// all the same release, so there is nothing older to talk to.
const MinVersion = tls.VersionTLS13

// Files names the PEM files of a node's cluster TLS: the settings
// cluster_ca, cluster_cert and cluster_key.
type Files struct {
	// CA is the cluster CA's certificate (one or more PEM certificates:
	// list the old and the new CA together while rotating it).
	CA string
	// Cert is this node's certificate (followed by intermediates, if any).
	Cert string
	// Key is the private key of Cert.
	Key string
}

// Set reports whether any file is named.
func (f Files) Set() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// Check reports a partly set Files: all three are needed.
func (f Files) Check() error {
	if !f.Set() {
		return nil
	}
	var missing []string
	for _, s := range []struct{ name, v string }{{"cluster_ca", f.CA}, {"cluster_cert", f.Cert}, {"cluster_key", f.Key}} {
		if s.v == "" {
			missing = append(missing, s.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cluster TLS needs cluster_ca, cluster_cert and cluster_key together; %v missing (make them with `shortify cluster-ca` and `shortify cluster-cert`)", missing)
	}
	return nil
}

// Config is a node's loaded cluster TLS material. It is immutable and safe
// for concurrent use.
type Config struct {
	roots *x509.CertPool
	cert  tls.Certificate
	leaf  *x509.Certificate
}

// Load reads and checks the files (see New).
func Load(f Files) (*Config, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	if !f.Set() {
		return nil, errors.New("cluster TLS: no files given")
	}
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("cluster_ca: %w", err)
	}
	crt, err := os.ReadFile(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("cluster_cert: %w", err)
	}
	key, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, fmt.Errorf("cluster_key: %w", err)
	}
	return New(ca, crt, key)
}

// New builds a Config from PEM: the CA certificates, the node certificate
// and its key. It refuses a certificate that does not chain to the CA,
// has expired, or lacks client or server use, so that a node fails at
// start rather than at its first connection.
func New(caPEM, certPEM, keyPEM []byte) (*Config, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("cluster_ca holds no PEM certificate")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster_cert and cluster_key: %w", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cluster_cert: %w", err)
		}
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
			return nil, fmt.Errorf("cluster_cert %q is not a node certificate of cluster_ca (it must chain to the CA, be valid now and allow client and server use): %w", leaf.Subject.CommonName, err)
		}
	}
	return &Config{roots: roots, cert: cert, leaf: leaf}, nil
}

// Names lists the host names and IP addresses the node certificate covers.
func (c *Config) Names() []string {
	out := slices.Clone(c.leaf.DNSNames)
	for _, ip := range c.leaf.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// NotAfter is when the node certificate expires.
func (c *Config) NotAfter() time.Time { return c.leaf.NotAfter }

// Server is the tls.Config of a listener that only members may use: it
// presents the node certificate and requires one from the cluster CA.
func (c *Config) Server() *tls.Config {
	return &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{c.cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.roots,
	}
}

// Client is the tls.Config of a connection to another member: it trusts
// only the cluster CA and presents the node certificate. serverName is
// checked against the peer's certificate; empty: taken from the address
// dialled (net/http does so).
func (c *Config) Client(serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:   MinVersion,
		Certificates: []tls.Certificate{c.cert},
		RootCAs:      c.roots,
		ServerName:   serverName,
	}
}
