package kafkatest

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/kafkaprod"
	"github.com/shortify/shortify/internal/kafkasec"
)

// PKI is a test CA with a broker certificate (for 127.0.0.1 and
// localhost) and a client certificate, written as PEM files into the
// test's temporary directory, and a second CA that signed nothing of
// them, with a client certificate of its own, for "untrusted
// certificate" tests.
type PKI struct {
	kafkasec.DevPKI
	// OtherCAFile is a CA that signed neither certificate above.
	OtherCAFile string
	// ForeignCert and ForeignKey are a client certificate of OtherCA.
	ForeignCert, ForeignKey string
}

// NewPKI makes a PKI in tb.TempDir().
func NewPKI(tb testing.TB) *PKI {
	tb.Helper()
	dir := tb.TempDir()
	p, err := kafkasec.NewDevPKI(filepath.Join(dir, "ca"))
	if err != nil {
		tb.Fatal(err)
	}
	other, err := kafkasec.NewDevPKI(filepath.Join(dir, "other"))
	if err != nil {
		tb.Fatal(err)
	}
	return &PKI{DevPKI: *p, OtherCAFile: other.CAFile, ForeignCert: other.ClientCert, ForeignKey: other.ClientKey}
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
		pool, err := kafkasec.LoadCertPool(p.CAFile)
		if err != nil {
			tb.Fatal(err)
		}
		tc.ClientCAs = pool
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

// TryProduce produces one record to topic at addr as a client with sec's
// TLS and SASL settings, and returns the error (nil when the broker took
// it). Refusals (a failed login, an ACL, an untrusted certificate) come
// within a few seconds.
func TryProduce(tb testing.TB, addr string, sec kafkasec.Config, topic string) error {
	tb.Helper()
	// Shortify's own producer configuration, without retries, so that
	// a refusal is the answer and not a reason to try again.
	cl, err := kafkaprod.NewClient(kafkaprod.Config{Brokers: []string{addr}, Security: sec,
		RecordTimeout: 3 * time.Second}, kgo.RequestRetries(0))
	if err != nil {
		tb.Fatalf("kafkaprod.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("abc123"), Value: []byte("x")}).FirstErr()
}
