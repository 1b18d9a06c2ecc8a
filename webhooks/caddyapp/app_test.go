package caddyapp_test

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
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/testkit/webhooktest"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/caddyapp"
	"github.com/shortify/shortify/webhooks/deliver"
	"github.com/shortify/shortify/webhooks/store"
)

func TestCaddyfile(t *testing.T) {
	t.Parallel()
	const cf = `{
	shortify_webhooks {
		brokers 10.0.0.1:9092 10.0.0.2:9092
		clicks_topic -
		link_events_topic le
		group wh-a
		database postgres://db/links
		public_url https://sho.rt
		outbound_allow_private on
		concurrency 4
		timeout 5s
		session_timeout 6s
		retention 48h
		database
		kafka_tls_ca /etc/kafka/ca.pem
		kafka_sasl_mechanism SCRAM-SHA-512
		kafka_sasl_user controlplane
		kafka_sasl_password {env.SHORTIFY_KAFKA_SASL_PASSWORD}
	}
}
:0 {
	respond ok
}`
	raw := caddytest.AppJSON(t, cf, "shortify_webhooks")
	var got caddyapp.App
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	allow := true
	want := caddyapp.App{Brokers: []string{"10.0.0.1:9092", "10.0.0.2:9092"}, ClicksTopic: "-", LinkEventsTopic: "le",
		Group: "wh-a", Database: "postgres://db/links", PublicURL: "https://sho.rt", OutboundAllowPrivate: &allow,
		Concurrency: 4, Timeout: caddy.Duration(5 * time.Second), SessionTimeout: caddy.Duration(6 * time.Second),
		Retention: caddy.Duration(48 * time.Hour),
		KafkaSecurity: kafkasec.Config{CAFile: "/etc/kafka/ca.pem", SASLMechanism: "SCRAM-SHA-512", User: "controlplane",
			Password: "{env.SHORTIFY_KAFKA_SASL_PASSWORD}"}}
	gotJSON, _ := json.Marshal(&got)
	wantJSON, _ := json.Marshal(&want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("adapted to %s\nwant %s", gotJSON, wantJSON)
	}
	// Unset (an empty variable): the default, the shortify app's.
	raw = caddytest.AppJSON(t, "{\n\tshortify_webhooks {\n\t\toutbound_allow_private {$NOT_SET_ANYWHERE}\n\t}\n}\n:0 {\n\trespond ok\n}", "shortify_webhooks")
	if strings.Contains(string(raw), "outbound_allow_private") {
		t.Errorf("an empty outbound_allow_private adapted to %s", raw)
	}

	for _, bad := range []string{
		"shortify_webhooks {\n\tnope 1\n}",
		"shortify_webhooks {\n\toutbound_allow_private maybe\n}",
		"shortify_webhooks {\n\tgroup a b\n}",
		"shortify_webhooks {\n\tconcurrency many\n}",
		"shortify_webhooks {\n\ttimeout soon\n}",
		"shortify_webhooks {\n\tretention forever\n}",
		"shortify_webhooks {\n\tkafka_sasl_user a b\n}",
		"shortify_webhooks extra",
	} {
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("{\n"+bad+"\n}\n:0 {\n\trespond ok\n}"), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	provisioned := func(set func(*caddyapp.App)) *caddyapp.App {
		a := &caddyapp.App{Brokers: []string{"b:1"}, Database: "sqlite://x.db"}
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
	a := provisioned(nil)
	if err := a.Validate(); err != nil || a.Group != deliver.DefaultGroup || a.ClicksTopic != clickevents.DefaultTopic ||
		a.LinkEventsTopic != linkevents.DefaultTopic || a.Concurrency != 16 || a.Timeout != caddy.Duration(10*time.Second) ||
		a.OutboundAllowPrivate != nil {
		t.Errorf("defaults: %v; %+v", err, a)
	}
	for name, a := range map[string]*caddyapp.App{
		"no brokers":        provisioned(func(a *caddyapp.App) { a.Brokers = nil }),
		"no database":       provisioned(func(a *caddyapp.App) { a.Database = "" }),
		"no topic":          provisioned(func(a *caddyapp.App) { a.ClicksTopic, a.LinkEventsTopic = "-", "-" }),
		"concurrency":       provisioned(func(a *caddyapp.App) { a.Concurrency = 5000 }),
		"timeout":           provisioned(func(a *caddyapp.App) { a.Timeout = caddy.Duration(time.Hour) }),
		"session too short": provisioned(func(a *caddyapp.App) { a.SessionTimeout = caddy.Duration(time.Second) }),
		"retention":         provisioned(func(a *caddyapp.App) { a.Retention = caddy.Duration(time.Minute) }),
		"kafka security":    provisioned(func(a *caddyapp.App) { a.KafkaSecurity.User = "u" }),
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "shortify_webhooks") {
			t.Errorf("%s: error %q does not name the app", name, err)
		}
	}
}

// TestAppDelivers runs the app in this process on the embedded default's
// database (SQLite) against a broker that speaks only TLS and
// SCRAM-SHA-512, as deploy/'s control-plane user, whose ACLs let it read
// the two topics in its group: a link event reaches the receiver, and
// Stop returns.
func TestAppDelivers(t *testing.T) {
	t.Parallel()
	pki := kafkatest.NewPKI(t)
	const cpPass, adminPass = "cp-Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa", "ad-Hm9Wk3Jy7Fd5Sg1Pc0XaZq8Lr2Vn6Tb4"
	acl := func(typ kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: typ, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	topics := []string{clickevents.DefaultTopic, linkevents.DefaultTopic}
	addr := kafkatest.StartTLSBroker(t, pki, false, 2, topics,
		kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(kafkasec.ScramSHA512, "admin", adminPass),
		kfake.User(kafkasec.ScramSHA512, "controlplane", cpPass,
			acl(kmsg.ACLResourceTypeTopic, linkevents.DefaultTopic, kmsg.ACLOperationWrite),
			acl(kmsg.ACLResourceTypeTopic, linkevents.DefaultTopic, kmsg.ACLOperationRead),
			acl(kmsg.ACLResourceTypeTopic, clickevents.DefaultTopic, kmsg.ACLOperationRead),
			acl(kmsg.ACLResourceTypeGroup, deliver.DefaultGroup, kmsg.ACLOperationRead)))

	dsn := "sqlite://" + filepath.Join(t.TempDir(), "links.db")
	links := teststore.SQLiteFile(t, strings.TrimPrefix(dsn, "sqlite://"))
	whs, err := store.Open(t.Context(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(whs.Close)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	if _, err := whs.CreateEndpoint(t.Context(), webhooks.Endpoint{Workspace: 1, URL: recv.URL(), Events: webhooks.Events, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	l := linkstore.Link{ID: 77, Code: "app001", URL: "https://app.example/", WorkspaceID: 1, CreatedAt: time.Now().UTC()}
	if err := links.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}

	allow := true
	a := &caddyapp.App{Brokers: []string{addr}, Database: dsn, OutboundAllowPrivate: &allow,
		KafkaSecurity: kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "controlplane", Password: cpPass}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	caddytest.StartApp(t, ctx, a)
	defer a.Stop()

	admin, err := kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: "admin", Password: adminPass}.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(admin, kgo.SeedBrokers(addr))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), eventRecord(t, linkevents.NewCreated(l, time.Now()))).FirstErr(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the created event", 30*time.Second, func() bool { return len(recv.Messages()) == 1 })
	if m := recv.Messages()[0]; m.Type != webhooks.LinkCreated || m.Link.Code != l.Code {
		t.Errorf("got %s", m.Body)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
}
