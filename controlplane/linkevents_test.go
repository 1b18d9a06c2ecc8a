package controlplane

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestEventOptionsCaddyfile(t *testing.T) {
	a := new(App)
	err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`shortify {
		kafka_brokers 10.0.0.1:9092 10.0.0.2:9092
		kafka_brokers 10.0.0.3:9092
		link_events_topic prod.link-events
		cleanup_batch_size 1000
		cleanup_interval 30s
		cleanup_rate 0.5
		kafka_brokers
		kafka_tls_ca /etc/kafka/ca.pem
		kafka_sasl_mechanism SCRAM-SHA-512
		kafka_sasl_user controlplane
		kafka_sasl_password {env.SHORTIFY_KAFKA_SASL_PASSWORD}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.KafkaBrokers, " ") != "10.0.0.1:9092 10.0.0.2:9092 10.0.0.3:9092" || a.LinkEventsTopic != "prod.link-events" ||
		a.CleanupBatchSize != 1000 || a.CleanupInterval != caddy.Duration(30*time.Second) || a.CleanupRate != 0.5 ||
		a.KafkaSecurity != (kafkasec.Config{CAFile: "/etc/kafka/ca.pem", SASLMechanism: "SCRAM-SHA-512", User: "controlplane", Password: "{env.SHORTIFY_KAFKA_SASL_PASSWORD}"}) {
		t.Fatalf("parsed %+v", a)
	}
	for _, bad := range []string{
		"cleanup_batch_size many", "cleanup_batch_size -1", "cleanup_batch_size 1 2",
		"cleanup_interval soon", "cleanup_interval -1s", "cleanup_rate fast", "cleanup_rate 0", "cleanup_rate NaN",
		"link_events_topic a b", "kafka_sasl_user a b",
	} {
		if err := new(App).UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n" + bad + "\n}")); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEventOptionsValidate(t *testing.T) {
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt"}
	wantValid(t, a)
	es := a.eventSettings()
	if es.KafkaBrokers != "" || es.Topic != linkevents.DefaultTopic || es.CleanupBatchSize != 500 ||
		es.CleanupInterval != time.Minute || es.CleanupRate != 2 {
		t.Fatalf("defaults: %+v", es)
	}
	for name, a := range map[string]*App{
		"broker without port": {KafkaBrokers: []string{"kafka.internal"}},
		"topic":               {LinkEventsTopic: "links/events"},
		"long topic":          {LinkEventsTopic: strings.Repeat("t", 250)},
		"batch size":          {CleanupBatchSize: 20000},
		"rate":                {CleanupRate: 5000},
		"interval":            {CleanupInterval: caddy.Duration(-time.Second)},
		"weak kafka password": {KafkaBrokers: []string{"k:9092"}, KafkaSecurity: kafkasec.Config{SASLMechanism: "SCRAM-SHA-512", User: "cp", Password: "kafka-change-me"}},
		"kafka mechanism":     {KafkaBrokers: []string{"k:9092"}, KafkaSecurity: kafkasec.Config{SASLMechanism: "GSSAPI", User: "cp", Password: "Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa"}},
	} {
		wantInvalid(t, name, a)
	}
}

// TestServiceLinkEvents: a one-node control plane with kafka_brokers hands
// the API its producer, and its leader deletes an expired link and
// publishes the deletion; Destruct stops it all. The broker speaks only
// TLS (a test CA) and SCRAM-SHA-512, as deploy/'s do (issue 12).
func TestServiceLinkEvents(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	pass := "cP-Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa"
	addr := kafkatest.StartTLSBroker(t, pki, false, 2, []string{linkevents.DefaultTopic},
		kfake.EnableSASL(), kfake.Superuser(kafkasec.ScramSHA512, "controlplane", pass))
	sec := kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "controlplane", Password: pass}
	key := newKey(t)
	a := &App{
		DataDir:         t.TempDir(),
		RaftBind:        testenv.FreeAddr(t),
		InitialAPIKey:   key.Secret,
		KafkaBrokers:    []string{addr},
		KafkaSecurity:   sec,
		CleanupInterval: caddy.Duration(20 * time.Millisecond),
		PublicURL:       "https://sho.rt",
	}
	wantValid(t, a)
	svc := openTestService(t, a)
	destructed := false
	defer func() {
		if !destructed {
			_ = svc.Destruct()
		}
	}()
	if svc.deps().Events == nil {
		t.Fatal("the API has no link-events publisher")
	}

	l := storetest.NewLink()
	l.ExpiresAt = time.Now().Add(-time.Minute)
	if err := svc.store.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	secOpts, err := sec.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(secOpts, kgo.SeedBrokers(addr), kgo.ConsumeTopics(linkevents.DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var got *linkevents.Event
	for got == nil {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no deletion event from the cleanup")
		}
		for _, r := range fs.Records() {
			e, err := linkevents.DecodeRecord(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if e.Code == l.Code {
				got = &e
			}
		}
	}
	if got.Type != linkevents.Deleted || got.Reason != linkevents.ReasonExpired || got.LinkID != l.ID {
		t.Fatalf("event %+v, want the expired link's deletion", got)
	}
	destructed = true
	if err := svc.Destruct(); err != nil {
		t.Fatal(err)
	}
}
