package producer

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

// TestSecurity: the control plane's producer publishes to a broker that
// speaks only TLS and SCRAM-SHA-512; with a wrong password or a broker
// certificate it does not trust, nothing is published and Close counts
// the event failed; a weak password is refused by New.
func TestSecurity(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	const pass = "cp-Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa"
	addr := kafkatest.StartTLSBroker(t, pki, false, 2, []string{topic},
		kfake.EnableSASL(), kfake.Superuser(kafkasec.ScramSHA512, "controlplane", pass))
	good := kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "controlplane", Password: pass}
	start := func(sec kafkasec.Config) *Producer {
		p, err := New(Config{Brokers: []string{addr}, Topic: topic, Security: sec, Logger: quiet, CloseTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p.Publish(event("abc", 0))
		return p
	}

	p := start(good)
	waitFor(t, "the event published over TLS and SCRAM", func() bool { return p.Stats().Published == 1 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	wrongPass, untrusted := good, good
	wrongPass.Password = "cp-Hm9Wk3Jy7Fd5Sg1Pc0XaZq8Lr2Vn6Tb4"
	untrusted.CAFile = pki.OtherCAFile
	for name, sec := range map[string]kafkasec.Config{"wrong password": wrongPass, "untrusted CA": untrusted} {
		p := start(sec)
		if err := p.Close(); err == nil {
			t.Errorf("%s: Close reported no undelivered event", name)
		}
		if s := p.Stats(); s.Published != 0 || s.Failed != 1 {
			t.Errorf("%s: %+v, want nothing published and 1 failed", name, s)
		}
	}

	weak := good
	weak.Password = "controlplane-password"
	if _, err := New(Config{Brokers: []string{addr}, Security: weak}); err == nil || !strings.Contains(err.Error(), "kafka_sasl_password") {
		t.Errorf("a weak password: %v", err)
	}
}
