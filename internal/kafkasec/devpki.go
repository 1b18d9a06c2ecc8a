package kafkasec

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shortify/shortify/internal/pki"
)

// DevPKI is a throw-away CA with one broker and one client certificate,
// as PEM files, for tests and the local stack (`make stack`): never for
// production, where the operator's own CA signs the brokers'
// certificates.
type DevPKI struct {
	// CAFile is the CA certificate: kafka_tls_ca of the clients and
	// tls_client_ca of the broker.
	CAFile string
	// ServerCert and ServerKey are the broker's (tls_cert, tls_key).
	ServerCert, ServerKey string
	// ClientCert and ClientKey are a client's, for mutual TLS
	// (kafka_tls_cert, kafka_tls_key).
	ClientCert, ClientKey string
}

// devValidity is how long the certificates of a DevPKI are valid.
const devValidity = 30 * 24 * time.Hour

// NewDevPKI makes a DevPKI in dir (created if needed; keys 0600): the
// broker certificate is valid for hosts (names or IP addresses) and for
// localhost, 127.0.0.1 and ::1. The keys and certificates are made by
// internal/pki, as the control plane's cluster CA's are.
func NewDevPKI(dir string, hosts ...string) (*DevPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kafkasec: dev PKI: %w", err)
	}
	p := &DevPKI{
		CAFile:     filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "broker.pem"), ServerKey: filepath.Join(dir, "broker-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
	}
	ca, err := pki.NewCA(pkix.Name{CommonName: "Shortify development Kafka CA"}, devValidity)
	if err != nil {
		return nil, fmt.Errorf("kafkasec: dev PKI: %w", err)
	}
	if err := pki.WriteFile(p.CAFile, ca.CertPEM, 0o600); err != nil {
		return nil, fmt.Errorf("kafkasec: dev PKI: %w", err)
	}
	leaves := []struct {
		leaf              pki.Leaf
		certFile, keyFile string
	}{
		{pki.Leaf{Subject: pkix.Name{CommonName: "kafka broker"},
			Hosts:  append([]string{"localhost", "127.0.0.1", "::1"}, hosts...),
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, p.ServerCert, p.ServerKey},
		{pki.Leaf{Subject: pkix.Name{CommonName: "kafka client"},
			Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, p.ClientCert, p.ClientKey},
	}
	for _, l := range leaves {
		l.leaf.Validity = devValidity
		crt, key, err := ca.Issue(l.leaf)
		if err != nil {
			return nil, fmt.Errorf("kafkasec: dev PKI: %w", err)
		}
		if err := pki.WriteFile(l.certFile, crt, 0o600); err != nil {
			return nil, fmt.Errorf("kafkasec: dev PKI: %w", err)
		}
		if err := pki.WriteFile(l.keyFile, key, 0o600); err != nil {
			return nil, fmt.Errorf("kafkasec: dev PKI: %w", err)
		}
	}
	return p, nil
}
