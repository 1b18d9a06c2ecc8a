package caddymodule

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// testPassword is a random password that secret.Check accepts.
func testPassword(t *testing.T) string {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// topicACL allows user op on topic.
func topicACL(topic string, op kmsg.ACLOperation) kfake.ACL {
	return kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: topic, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
}

// TestKafkaTLSAndSCRAM: the edge's two Kafka clients (click events and
// the link-events consumer) work against a broker that speaks only TLS
// (a test CA) and SCRAM-SHA-512 with ACLs, as the edge user of deploy/
// (write clicks, read link events); the control plane's producer, as its
// own user, publishes the event the edge applies. A wrong password gets
// the edge nowhere, nor does an untrusted broker certificate: no click
// event is produced and the consumer never connects.
func TestKafkaTLSAndSCRAM(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	edgePass, cpPass := testPassword(t), testPassword(t)
	addr := kafkatest.StartTLSBroker(t, pki, false, 2, []string{testClicksTopic, testLinksTopic},
		kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.User(kafkasec.ScramSHA512, "edge", edgePass,
			topicACL(testClicksTopic, kmsg.ACLOperationWrite), topicACL(testLinksTopic, kmsg.ACLOperationRead)),
		kfake.User(kafkasec.ScramSHA512, "controlplane", cpPass, topicACL(testLinksTopic, kmsg.ACLOperationWrite)))

	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	code := newCode(t, "tls")
	create(t, seed, linkstore.Link{ID: 99, Code: code, URL: "https://example.com/tls"})
	edge := func(pass string) *Handler {
		return &Handler{Database: dsn, KafkaBrokers: []string{addr}, ClicksTopic: testClicksTopic,
			LinkEventsTopic: testLinksTopic, VisitorKey: "test visitor key",
			KafkaSecurity: kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "edge", Password: pass}}
	}

	h := provision(t, edge(edgePass))
	if st, _ := answer(t, h, code); st != 302 {
		t.Fatalf("GET: %d", st)
	}
	em := h.events.emitter
	testenv.WaitFor(t, "the click event produced over TLS and SCRAM", eventWait, func() bool { return em.Stats().Produced == 1 })
	waitConsuming(t, h)

	p, err := producer.New(producer.Config{Brokers: []string{addr}, Topic: testLinksTopic,
		Security: kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "controlplane", Password: cpPass}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	gone, err := seed.Delete(t.Context(), "", code)
	if err != nil {
		t.Fatal(err)
	}
	p.Publish(linkevents.NewDeleted(linkstore.Link{Code: code, ID: gone.ID}, linkevents.ReasonAPI, time.Now()))
	testenv.WaitFor(t, "the deleted event applied over TLS and SCRAM", eventWait, func() bool {
		st, _ := answer(t, h, code)
		return st == 404
	})

	// A wrong password, and a broker certificate from a CA the edge does
	// not trust: further edges (their own clients, side by side) get
	// nowhere.
	badPass := edge(testPassword(t))
	untrusted := edge(edgePass)
	untrusted.KafkaSecurity.CAFile = pki.OtherCAFile
	for name, bad := range map[string]*Handler{"wrong password": badPass, "untrusted CA": untrusted} {
		bad.keySalt = t.Name() + "/" + name
		bad.Database = sqliteDSN(t)
		create(t, seeder(t, bad.Database), linkstore.Link{ID: 100, Code: code, URL: "https://example.com/tls"})
		provision(t, bad)
		if st, _ := answer(t, bad, code); st != 302 {
			t.Fatalf("%s: GET: %d", name, st)
		}
	}
	for name, bad := range map[string]*Handler{"wrong password": badPass, "untrusted CA": untrusted} {
		em := bad.events.emitter
		testenv.WaitFor(t, name+": the click event to fail", eventWait, func() bool { return em.Stats().Failed == 1 })
		if s := em.Stats(); s.Produced != 0 {
			t.Errorf("%s: %d click events produced", name, s.Produced)
		}
		if bad.inval.consumer.Stats().Connected {
			t.Errorf("%s: the link-events consumer connected", name)
		}
	}
}
