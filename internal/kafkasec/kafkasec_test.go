package kafkasec_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

// Password returns a random password that secret.Check accepts.
func password(t *testing.T) string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// produce produces one record to topic at addr as cfg says.
func produce(t *testing.T, addr string, cfg kafkasec.Config, topic string) error {
	t.Helper()
	return kafkatest.TryProduce(t, addr, cfg, topic)
}

// TestTLSAndSCRAM (issue 12, finding 3): a client connects to a broker
// over TLS (a test CA) with SCRAM-SHA-256 and -512, and mutual TLS; a
// wrong password, a broker certificate from a CA the client does not
// trust, and a missing or foreign client certificate fail with an error
// that says so.
func TestTLSAndSCRAM(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	pass := password(t)
	const topic = "t"
	users := []kfake.Opt{kfake.EnableSASL(),
		kfake.Superuser(kafkasec.ScramSHA256, "edge", pass), kfake.Superuser(kafkasec.ScramSHA512, "edge", pass)}
	addr := kafkatest.StartTLSBroker(t, pki, false, 1, []string{topic}, users...)
	mtls := kafkatest.StartTLSBroker(t, pki, true, 1, []string{topic}, users...)

	good := kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "edge", Password: pass}
	for _, mech := range []string{kafkasec.ScramSHA256, kafkasec.ScramSHA512} {
		c := good
		c.SASLMechanism = mech
		if err := produce(t, addr, c, topic); err != nil {
			t.Errorf("TLS + %s: %v", mech, err)
		}
	}
	withCert := good
	withCert.CertFile, withCert.KeyFile = pki.ClientCert, pki.ClientKey
	if err := produce(t, mtls, withCert, topic); err != nil {
		t.Errorf("mutual TLS: %v", err)
	}

	wrongPass := good
	wrongPass.Password = password(t)
	// Kafka answers SASL_AUTHENTICATION_FAILED; kfake closes the
	// connection (EOF). Either way nothing is produced.
	if err := produce(t, addr, wrongPass, topic); err == nil ||
		!errors.Is(err, kerr.SaslAuthenticationFailed) && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("wrong password: %v, want SASL_AUTHENTICATION_FAILED or a closed connection", err)
	}
	untrusted := good
	untrusted.CAFile = pki.OtherCAFile
	if err := produce(t, addr, untrusted, topic); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted broker certificate: %v, want a certificate error", err)
	}
	plaintext := kafkasec.Config{SASLMechanism: kafkasec.ScramSHA512, User: "edge", Password: pass}
	if err := produce(t, addr, plaintext, topic); err == nil {
		t.Error("a plaintext client got through to a TLS broker")
	}
	if err := produce(t, mtls, good, topic); err == nil {
		t.Error("a client without a certificate got through mutual TLS")
	}
	foreign := good
	foreign.CertFile, foreign.KeyFile = pki.ForeignCert, pki.ForeignKey
	if err := produce(t, mtls, foreign, topic); err == nil {
		t.Error("a client certificate of another CA got through mutual TLS")
	}
}

// TestValidate: settings that cannot work, or would leak the password,
// are refused with a message naming the option.
func TestValidate(t *testing.T) {
	t.Setenv("KAFKASEC_TEST_PASSWORD", "lT3x9Qv7Zr2Kp8Wm4Ys6Nb1Hc5Jd0Fg")
	for _, tc := range []struct {
		c    kafkasec.Config
		want string // "" for valid
	}{
		{kafkasec.Config{}, ""},
		{kafkasec.Config{CAFile: "/ca.pem"}, ""},
		{kafkasec.Config{SASLMechanism: "scram-sha-512", User: "u", Password: "{env.KAFKASEC_TEST_PASSWORD}"}, ""},
		{kafkasec.Config{SASLMechanism: "{env.KAFKASEC_UNSET}", User: "{env.KAFKASEC_UNSET}", Password: "{env.KAFKASEC_UNSET}"}, ""},
		{kafkasec.Config{CertFile: "/c.pem"}, "kafka_tls_cert and kafka_tls_key"},
		{kafkasec.Config{SASLMechanism: "GSSAPI", User: "u", Password: "{env.KAFKASEC_TEST_PASSWORD}"}, "not one of"},
		{kafkasec.Config{SASLMechanism: kafkasec.Plain, User: "u", Password: "{env.KAFKASEC_TEST_PASSWORD}"}, "in clear"},
		{kafkasec.Config{SASLMechanism: kafkasec.ScramSHA512, User: "u"}, "needs kafka_sasl_user and kafka_sasl_password"},
		{kafkasec.Config{User: "u", Password: "p"}, "without kafka_sasl_mechanism"},
		{kafkasec.Config{SASLMechanism: kafkasec.ScramSHA512, User: "u", Password: "kafka-password-change-me"}, "shipped placeholder"},
		{kafkasec.Config{SASLMechanism: kafkasec.ScramSHA512, User: "u", Password: "short"}, "characters"},
	} {
		err := tc.c.Validate("test")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error containing %q", tc.c, err, tc.want)
		}
	}
	if _, err := (kafkasec.Config{CAFile: "/does/not/exist.pem"}).Opts(); err == nil || !strings.Contains(err.Error(), "kafka_tls_ca") {
		t.Errorf("missing CA file: %v", err)
	}
}

// TestKey: a rotated password (behind the same placeholder) changes the
// pool key; the zero Config has none.
func TestKey(t *testing.T) {
	c := kafkasec.Config{SASLMechanism: kafkasec.ScramSHA512, User: "u", Password: "{env.KAFKASEC_TEST_PASSWORD}"}
	t.Setenv("KAFKASEC_TEST_PASSWORD", "a")
	k1 := c.Key()
	t.Setenv("KAFKASEC_TEST_PASSWORD", "b")
	if k2 := c.Key(); k1 == k2 || strings.Contains(k2, "b") && len(k2) < 3 {
		t.Errorf("keys %q, %q", k1, k2)
	}
	if k := (kafkasec.Config{}).Key(); k != "" {
		t.Errorf("zero Config key %q", k)
	}
}

// TestSet: every documented option sets its field, others are not taken.
func TestSet(t *testing.T) {
	var c kafkasec.Config
	for i, name := range kafkasec.Options {
		if !c.Set(name, strings.Repeat("x", i+1)) {
			t.Errorf("%s not taken", name)
		}
	}
	want := kafkasec.Config{CAFile: "x", CertFile: "xx", KeyFile: "xxx", ServerName: "xxxx", SASLMechanism: "xxxxx", User: "xxxxxx", Password: "xxxxxxx"}
	if c != want {
		t.Errorf("got %+v", c)
	}
	if c.Set("kafka_brokers", "x") {
		t.Error("kafka_brokers taken")
	}
}
