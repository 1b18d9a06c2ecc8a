// Package kafkasec is the client side of Kafka security for every Shortify
// Kafka client (the edge's click emitter and link-events consumer, the
// control plane's link-events producer, the stats ingest): TLS (with an
// optional client certificate, for brokers that require mutual TLS) and
// SASL (SCRAM-SHA-256, SCRAM-SHA-512, or PLAIN over TLS). One Config, one
// set of option names (Caddyfile: kafka_tls_ca, kafka_tls_cert,
// kafka_tls_key, kafka_tls_server_name, kafka_sasl_mechanism,
// kafka_sasl_user, kafka_sasl_password; see UnmarshalOption), one way to
// turn it into franz-go options (Opts).
//
// Every field may hold Caddy placeholders ({env.SHORTIFY_KAFKA_TLS_CA},
// {file./run/secrets/kafka}), expanded when Opts or Validate runs, so that
// the adapted config and Caddy's /config/ endpoint hold the placeholder,
// never the password. A field that expands to nothing is unset, so one
// Caddyfile serves a secured deployment (the variables set) and the
// embedded `make run` (plaintext on loopback, nothing set).
package kafkasec

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/shortify/shortify/internal/secret"
)

// The SASL mechanisms a Config may name.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	Plain       = "PLAIN"
)

// Config is how a client authenticates to Kafka and encrypts its
// connections. The zero Config is plaintext without authentication (fit
// for a broker on loopback only).
type Config struct {
	// CAFile is a PEM file of the CAs that sign the brokers'
	// certificates. Setting it (or any TLS field) turns TLS on; without
	// it the system's roots verify the brokers.
	CAFile string `json:"tls_ca,omitempty"`
	// CertFile and KeyFile are this client's certificate and key (PEM),
	// for brokers that require mutual TLS. Both or neither.
	CertFile string `json:"tls_cert,omitempty"`
	KeyFile  string `json:"tls_key,omitempty"`
	// ServerName is the name the brokers' certificates must carry, when
	// it is not the host of the address dialled. Setting it turns TLS on.
	ServerName string `json:"tls_server_name,omitempty"`
	// SASLMechanism is SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (PLAIN only
	// with TLS: it sends the password itself). Empty: no SASL.
	SASLMechanism string `json:"sasl_mechanism,omitempty"`
	// User and Password are the SASL credentials, required with a
	// mechanism. Give the password as a placeholder ({env.X} or
	// {file.PATH}); it must not be a shipped default or easy to guess
	// (secret.Check).
	User     string `json:"sasl_user,omitempty"`
	Password string `json:"sasl_password,omitempty"`
}

// resolved is c with its placeholders expanded.
func (c Config) resolved() Config {
	return Config{
		CAFile:        secret.Resolve(c.CAFile),
		CertFile:      secret.Resolve(c.CertFile),
		KeyFile:       secret.Resolve(c.KeyFile),
		ServerName:    secret.Resolve(c.ServerName),
		SASLMechanism: strings.ToUpper(secret.Resolve(c.SASLMechanism)),
		User:          secret.Resolve(c.User),
		Password:      secret.Resolve(c.Password),
	}
}

// TLS reports whether c turns TLS on (after expansion).
func (c Config) TLS() bool {
	r := c.resolved()
	return r.CAFile != "" || r.CertFile != "" || r.KeyFile != "" || r.ServerName != ""
}

// Validate checks c after expanding its placeholders; what it names
// (module) starts every message, with the option names of the Caddyfile.
func (c Config) Validate(module string) error {
	r := c.resolved()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", module, fmt.Sprintf(format, args...))
	}
	if (r.CertFile == "") != (r.KeyFile == "") {
		return bad("kafka_tls_cert and kafka_tls_key go together: set both for mutual TLS, or neither")
	}
	switch r.SASLMechanism {
	case "":
		if r.User != "" || r.Password != "" {
			return bad("kafka_sasl_user or kafka_sasl_password is set without kafka_sasl_mechanism: set it to SCRAM-SHA-512 (or SCRAM-SHA-256)")
		}
		return nil
	case ScramSHA256, ScramSHA512:
	case Plain:
		if !r.TLS() {
			return bad("kafka_sasl_mechanism PLAIN sends the password in clear: set kafka_tls_ca (TLS) or use SCRAM-SHA-512")
		}
	default:
		return bad("kafka_sasl_mechanism %q is not one of SCRAM-SHA-256, SCRAM-SHA-512, PLAIN", r.SASLMechanism)
	}
	if r.User == "" || r.Password == "" {
		return bad("kafka_sasl_mechanism %s needs kafka_sasl_user and kafka_sasl_password (give the password as {env.SHORTIFY_KAFKA_SASL_PASSWORD})", r.SASLMechanism)
	}
	if err := secret.Check("kafka_sasl_password", r.Password); err != nil {
		return bad("%v", err)
	}
	return nil
}

// Opts returns the franz-go options that dial TLS and authenticate as c
// says (none for the zero Config). It reads the certificate files, so
// call it when the client is made; an unreadable or invalid file is an
// error that names it.
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate("kafka"); err != nil {
		return nil, err
	}
	r := c.resolved()
	var opts []kgo.Opt
	if r.TLS() {
		tc, err := r.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := r.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// tlsConfig builds the client's TLS configuration from resolved fields.
func (r Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: r.ServerName}
	if r.CAFile != "" {
		pool, err := LoadCertPool(r.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka_tls_ca: %w", err)
		}
		tc.RootCAs = pool
	}
	if r.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(r.CertFile, r.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka_tls_cert %s, kafka_tls_key %s: %w", r.CertFile, r.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// mechanism is the SASL mechanism of resolved fields, nil without one.
func (r Config) mechanism() sasl.Mechanism {
	switch r.SASLMechanism {
	case ScramSHA256:
		return scram.Auth{User: r.User, Pass: r.Password}.AsSha256Mechanism()
	case ScramSHA512:
		return scram.Auth{User: r.User, Pass: r.Password}.AsSha512Mechanism()
	case Plain:
		return plain.Auth{User: r.User, Pass: r.Password}.AsMechanism()
	}
	return nil
}

// Key identifies what c resolves to (the password only as a hash), for
// the keys of pooled clients: a changed setting, a rotated password or a
// changed environment variable makes a new client on the next reload.
func (c Config) Key() string {
	r := c.resolved()
	if r == (Config{}) {
		return ""
	}
	h := sha256.Sum256([]byte(strings.Join([]string{r.CAFile, r.CertFile, r.KeyFile, r.ServerName,
		r.SASLMechanism, r.User, r.Password}, "\x00")))
	return hex.EncodeToString(h[:12])
}

// LoadCertPool reads a PEM file of CA certificates.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
