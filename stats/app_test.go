package stats

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the Caddyfile adapter
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/stats/ingest"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

func TestCaddyfile(t *testing.T) {
	t.Parallel()
	const cf = `{
	shortify_ingest {
		brokers 10.0.0.1:9092 10.0.0.2:9092
		topic c
		link_events_topic -
		group stats-a
		database sqlite:///tmp/s.db
		max_poll_records 5000
		max_batch_events 100000
		linger 1500ms
		raw_clicks on
		keep_deleted off
		session_timeout 6s
		rebalance_timeout 2m
		database
		kafka_tls_ca /etc/kafka/ca.pem
		kafka_sasl_mechanism SCRAM-SHA-512
		kafka_sasl_user stats
		kafka_sasl_password {env.SHORTIFY_KAFKA_SASL_PASSWORD}
	}
}
:0 {
	respond ok
}`
	raw := caddytest.AppJSON(t, cf, "shortify_ingest")
	var got App
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	want := App{Brokers: []string{"10.0.0.1:9092", "10.0.0.2:9092"}, Topic: "c", LinkEventsTopic: "-", Group: "stats-a",
		Database: "sqlite:///tmp/s.db", MaxPollRecords: 5000,
		MaxBatchEvents: 100_000, Linger: caddy.Duration(1500 * time.Millisecond), RawClicks: true,
		SessionTimeout: caddy.Duration(6 * time.Second), RebalanceTimeout: caddy.Duration(2 * time.Minute),
		KafkaSecurity: kafkasec.Config{CAFile: "/etc/kafka/ca.pem", SASLMechanism: "SCRAM-SHA-512", User: "stats",
			Password: "{env.SHORTIFY_KAFKA_SASL_PASSWORD}"}}
	gotJSON, _ := json.Marshal(&got)
	wantJSON, _ := json.Marshal(&want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("adapted to %s\nwant %s", gotJSON, wantJSON)
	}

	for _, bad := range []string{
		"shortify_ingest {\n\tnope 1\n}",
		"shortify_ingest {\n\traw_clicks maybe\n}",
		"shortify_ingest {\n\ttopic a b\n}",
		"shortify_ingest {\n\tmax_poll_records many\n}",
		"shortify_ingest {\n\tmax_batch_events many\n}",
		"shortify_ingest {\n\tlinger soon\n}",
		"shortify_ingest {\n\tsession_timeout soon\n}",
		"shortify_ingest {\n\tsession_timeout 6s 7s\n}",
		"shortify_ingest {\n\trebalance_timeout later\n}",
		"shortify_ingest {\n\tkafka_sasl_user a b\n}",
		"shortify_ingest extra",
	} {
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("{\n"+bad+"\n}\n:0 {\n\trespond ok\n}"), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	// provisioned is an app with every default filled in, changed by set.
	provisioned := func(set func(*App)) *App {
		a := &App{Brokers: []string{"b:1"}, Database: "sqlite://x.db"}
		if set != nil {
			set(a)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := provisioned(nil); a.Validate() != nil ||
		a.SessionTimeout != caddy.Duration(10*time.Second) || a.RebalanceTimeout != caddy.Duration(time.Minute) {
		t.Errorf("defaults: %v; session %v, rebalance %v", a.Validate(), a.SessionTimeout, a.RebalanceTimeout)
	}
	if err := provisioned(func(a *App) { a.SessionTimeout = caddy.Duration(6 * time.Second) }).Validate(); err != nil {
		t.Errorf("session_timeout 6s: %v", err)
	}
	for name, a := range map[string]*App{
		"no brokers":        {Database: "sqlite://x.db", MaxPollRecords: 1},
		"no database":       {Brokers: []string{"b:1"}, MaxPollRecords: 1},
		"poll range":        {Brokers: []string{"b:1"}, Database: "sqlite://x.db", MaxPollRecords: 2_000_000},
		"session too short": provisioned(func(a *App) { a.SessionTimeout = caddy.Duration(time.Second) }),
		"session negative":  provisioned(func(a *App) { a.SessionTimeout = caddy.Duration(-time.Second) }),
		"session too long":  provisioned(func(a *App) { a.SessionTimeout = caddy.Duration(time.Hour) }),
		"rebalance short":   provisioned(func(a *App) { a.RebalanceTimeout = caddy.Duration(time.Second) }),
		"rebalance < linger": provisioned(func(a *App) {
			a.Linger, a.RebalanceTimeout = caddy.Duration(10*time.Second), caddy.Duration(15*time.Second)
		}),
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(name, "session") && !strings.Contains(err.Error(), "session_timeout") {
			t.Errorf("%s: error %q does not name session_timeout", name, err)
		}
	}
}

// TestAppConsumes runs the app against an in-process Kafka and a SQLite
// file: a click produced to the topic is counted, and Stop returns.
// TestAppConsumes: the app counts a click from a broker that speaks only
// TLS (a test CA) and SCRAM-SHA-512, as deploy/'s stats user, whose ACLs
// let it read the topic with its group and nothing more.
func TestAppConsumes(t *testing.T) {
	t.Parallel()
	pki := kafkatest.NewPKI(t)
	const statsPass, adminPass = "st-Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa", "ad-Hm9Wk3Jy7Fd5Sg1Pc0XaZq8Lr2Vn6Tb4"
	read := func(typ kmsg.ACLResourceType, name string) kfake.ACL {
		return kfake.ACL{Resource: typ, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationRead, Allow: true}
	}
	addr := kafkatest.StartTLSBroker(t, pki, false, 2, []string{"clicks"},
		kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(kafkasec.ScramSHA512, "admin", adminPass),
		kfake.User(kafkasec.ScramSHA512, "stats", statsPass,
			read(kmsg.ACLResourceTypeTopic, "clicks"), read(kmsg.ACLResourceTypeGroup, ingest.DefaultGroup)))
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	a := &App{Brokers: []string{addr}, Database: dsn, LinkEventsTopic: "-",
		KafkaSecurity: kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "stats", Password: statsPass}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	caddytest.StartApp(t, ctx, a)
	defer a.Stop()

	ev := clickevents.Event{Time: time.Now().UTC(), Code: "abc123", LinkID: 7, Status: 302, Visitor: 5}
	v, err := ev.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "admin", Password: adminPass}.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(admin, kgo.SeedBrokers(addr))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "clicks", Key: []byte(ev.Code), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if n, err := statsdbtest.TryCount(dsn, "clicks_hourly"); err == nil && n == 3 { // the link's row, the roll-up over all links and its workspace's
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the click was not counted within 30 s")
		}
		<-tick.C
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
}
