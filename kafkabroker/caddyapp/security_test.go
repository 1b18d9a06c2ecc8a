package caddyapp

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestSecurityCaddyfile(t *testing.T) {
	var got App
	err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`shortify_kafka {
		tls_cert /tls/broker.pem
		tls_key /tls/broker-key.pem
		tls_client_ca /tls/ca.pem
		sasl_user controlplane {env.CP} write:shortify.link-events
		sasl_user edge {env.EDGE} write:clicks read:shortify.link-events
		sasl_user stats {env.STATS} read:clicks read:shortify.link-events group:shortify-stats
		sasl_user admin {env.ADMIN} superuser
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := App{TLSCert: "/tls/broker.pem", TLSKey: "/tls/broker-key.pem", TLSClientCA: "/tls/ca.pem", Users: []User{
		{Name: "controlplane", Password: "{env.CP}", Write: []string{"shortify.link-events"}},
		{Name: "edge", Password: "{env.EDGE}", Write: []string{"clicks"}, Read: []string{"shortify.link-events"}},
		{Name: "stats", Password: "{env.STATS}", Read: []string{"clicks", "shortify.link-events"}, Groups: []string{"shortify-stats"}},
		{Name: "admin", Password: "{env.ADMIN}", Superuser: true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{
		"shortify_kafka {\n sasl_user edge\n}",
		"shortify_kafka {\n sasl_user edge pw delete:clicks\n}",
		"shortify_kafka {\n sasl_user edge pw read:\n}",
		"shortify_kafka {\n tls_cert a b\n}",
	} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// provisionApp provisions a (in a fresh Caddy context) and validates it.
func provisionApp(t *testing.T, a *App) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := a.Provision(ctx); err != nil {
		return err
	}
	return a.Validate()
}

// TestSecurityRefused: a user whose password placeholder is unset, weak
// or a shipped default, and TLS settings that cannot work, stop the
// config with a message that says what to set.
func TestSecurityRefused(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	t.Setenv("SHORTIFY_TEST_WEAK", "kafka-password-change-me")
	for name, c := range map[string]struct {
		a    App
		want string
	}{
		"unset password":  {App{Users: []User{{Name: "edge", Password: "{env.SHORTIFY_TEST_UNSET}"}}}, "has no password"},
		"shipped default": {App{Users: []User{{Name: "edge", Password: "{env.SHORTIFY_TEST_WEAK}"}}}, "shipped placeholder"},
		"short":           {App{Users: []User{{Name: "edge", Password: "edge"}}}, "characters"},
		"key alone":       {App{TLSKey: pki.ServerKey}, "go together"},
		"client CA alone": {App{TLSClientCA: pki.CAFile}, "needs tls_cert"},
		"bad cert":        {App{TLSCert: pki.CAFile, TLSKey: pki.ServerKey}, "tls_cert"},
	} {
		c.a.Listen, c.a.DataDir = "127.0.0.1:0", t.TempDir()
		err := provisionApp(t, &c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
}

// TestCaddyAppSecured runs the app in Caddy with mutual TLS and users
// whose passwords come from the environment: the edge's user logs in
// with its certificate and password and may not write link events; a
// client without a certificate does not get in.
func TestCaddyAppSecured(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	const edgePass, cpPass = "ed-Hm9Wk3Jy7Fd5Sg1Pc0XaZq8Lr2Vn6Tb4", "cp-Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa"
	t.Setenv("SHORTIFY_TEST_EDGE_PASSWORD", edgePass)
	t.Setenv("SHORTIFY_TEST_CP_PASSWORD", cpPass)
	addr, dir := testenv.FreeAddr(t), filepath.Join(t.TempDir(), "kafka")
	loadCaddy(t, map[string]any{"listen": addr, "data_dir": dir,
		"tls_cert": pki.ServerCert, "tls_key": pki.ServerKey, "tls_client_ca": pki.CAFile,
		"users": []map[string]any{
			{"name": "edge", "password": "{env.SHORTIFY_TEST_EDGE_PASSWORD}", "write": []string{"clicks"}, "read": []string{"shortify.link-events"}},
			{"name": "controlplane", "password": "{env.SHORTIFY_TEST_CP_PASSWORD}", "write": []string{"shortify.link-events"}},
		}})
	t.Cleanup(func() { _ = caddy.Stop() })

	produce := func(c kafkasec.Config, topic string) error { return kafkatest.TryProduce(t, addr, c, topic) }
	edge := kafkasec.Config{CAFile: pki.CAFile, CertFile: pki.ClientCert, KeyFile: pki.ClientKey,
		SASLMechanism: kafkasec.ScramSHA256, User: "edge", Password: "{env.SHORTIFY_TEST_EDGE_PASSWORD}"}
	if err := produce(edge, "clicks"); err != nil {
		t.Errorf("the edge writing clicks: %v", err)
	}
	if err := produce(edge, "shortify.link-events"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("the edge writing link events: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	cp := edge
	cp.User, cp.Password = "controlplane", cpPass
	if err := produce(cp, "shortify.link-events"); err != nil {
		t.Errorf("the control plane writing link events: %v", err)
	}
	noCert := edge
	noCert.CertFile, noCert.KeyFile = "", ""
	if err := produce(noCert, "clicks"); err == nil {
		t.Error("a client without a certificate got through mutual TLS")
	}
	// The adapted config holds the placeholders, never the passwords.
	cfg, err := caddy.ActiveContext().App("shortify_kafka")
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.(*App); a.Users[0].Password != "{env.SHORTIFY_TEST_EDGE_PASSWORD}" {
		t.Errorf("the app's config holds %q", a.Users[0].Password)
	}
}
