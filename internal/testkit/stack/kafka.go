package stack

import (
	"crypto/rand"
	"encoding/base64"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/kafkasec"
)

// kafkaSecurity is what the stack's broker and its clients share: a
// development CA with the broker's certificate, and a SCRAM password per
// user of kafka.Caddyfile (controlplane, edge, stats, and the stack's
// own stackadmin).
type kafkaSecurity struct {
	pki       *kafkasec.DevPKI
	passwords map[string]string
}

// kafkaUsers are the broker's users; each role logs in as its own.
var kafkaUsers = []string{"controlplane", "edge", "stats", "stackadmin"}

// newKafkaSecurity makes the CA and certificates in dir and a random
// password per user.
func newKafkaSecurity(dir, host string) (*kafkaSecurity, error) {
	pki, err := kafkasec.NewDevPKI(filepath.Join(dir, "tls"), host)
	if err != nil {
		return nil, err
	}
	ks := &kafkaSecurity{pki: pki, passwords: make(map[string]string)}
	for _, u := range kafkaUsers {
		b := make([]byte, 24)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		ks.passwords[u] = base64.RawURLEncoding.EncodeToString(b)
	}
	return ks, nil
}

// brokerEnv is the broker process's share: its certificate and every
// user's password.
func (ks *kafkaSecurity) brokerEnv() []string {
	return []string{
		"SHORTIFY_KAFKA_TLS_CERT=" + ks.pki.ServerCert,
		"SHORTIFY_KAFKA_TLS_KEY=" + ks.pki.ServerKey,
		"SHORTIFY_KAFKA_CONTROLPLANE_PASSWORD=" + ks.passwords["controlplane"],
		"SHORTIFY_KAFKA_EDGE_PASSWORD=" + ks.passwords["edge"],
		"SHORTIFY_KAFKA_STATS_PASSWORD=" + ks.passwords["stats"],
		"SHORTIFY_KAFKA_ADMIN_PASSWORD=" + ks.passwords["stackadmin"],
	}
}

// roleEnv is a role's share (the role Caddyfiles' SHORTIFY_KAFKA_*): the
// CA and its user's credentials.
func (ks *kafkaSecurity) roleEnv(user string) []string {
	return []string{
		"SHORTIFY_KAFKA_TLS_CA=" + ks.pki.CAFile,
		"SHORTIFY_KAFKA_SASL_MECHANISM=" + kafkasec.ScramSHA512,
		"SHORTIFY_KAFKA_SASL_USER=" + user,
		"SHORTIFY_KAFKA_SASL_PASSWORD=" + ks.passwords[user],
	}
}

// adminOpts are the client options of the stack's own Kafka client.
func (ks *kafkaSecurity) adminOpts() ([]kgo.Opt, error) {
	return kafkasec.Config{CAFile: ks.pki.CAFile, SASLMechanism: kafkasec.ScramSHA512,
		User: "stackadmin", Password: ks.passwords["stackadmin"]}.Opts()
}
