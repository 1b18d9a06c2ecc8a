package caddyapp

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/kafkabroker"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, c := range []struct {
		name, input string
		want        App
	}{
		{"no block", "shortify_kafka", App{}},
		{"everything", `shortify_kafka {
			listen 127.0.0.1:19092
			data_dir ./data/kafka
			topics clicks
			topics shortify.link-events extra
			partitions 8
			enabled on
		}`, App{Listen: "127.0.0.1:19092", DataDir: "./data/kafka",
			Topics: []string{"clicks", "shortify.link-events", "extra"}, Partitions: 8}},
		{"off", "shortify_kafka off", App{Disabled: true}},
		{"enabled off", "shortify_kafka {\n enabled off\n}", App{Disabled: true}},
		// An env placeholder that expands to nothing keeps the default.
		{"empty values", "shortify_kafka {\n listen\n data_dir \"\"\n}", App{}},
	} {
		var got App
		if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.input)); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	for _, bad := range []string{
		"shortify_kafka on",
		"shortify_kafka off extra",
		"shortify_kafka {\n listen a b\n}",
		"shortify_kafka {\n partitions zero\n}",
		"shortify_kafka {\n partitions 0\n}",
		"shortify_kafka {\n enabled maybe\n}",
		"shortify_kafka {\n unknown x\n}",
	} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestCaddyfileToJSON: the global option becomes the shortify_kafka app.
func TestCaddyfileToJSON(t *testing.T) {
	in := "{\n\tshortify_kafka {\n\t\tlisten 127.0.0.1:9092\n\t\tdata_dir ./data/kafka\n\t}\n}\n"
	if got, want := string(caddytest.AppJSON(t, in, "shortify_kafka")), `{"listen":"127.0.0.1:9092","data_dir":"./data/kafka"}`; got != want {
		t.Fatalf("app JSON %s, want %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	for name, a := range map[string]App{
		"listen":     {Listen: "nowhere", Partitions: 1},
		"partitions": {Listen: "127.0.0.1:1", Partitions: 0},
		"topic":      {Listen: "127.0.0.1:1", Partitions: 1, Topics: []string{""}},
	} {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// loadCaddy runs a Caddy config (process-wide, admin API off) with the
// app at addr and dir.
func loadCaddy(t *testing.T, app map[string]any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"admin": map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"apps":  map[string]any{"shortify_kafka": app},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(b, true); err != nil {
		t.Fatalf("caddy.Load: %v", err)
	}
}

// TestCaddyApp runs the app in a real Caddy: produce, reload with another
// topic list (the running broker is taken over, not started twice on the
// same address), stop Caddy (the address is free again), run it again on
// the same data directory: the records are still there.
func TestCaddyApp(t *testing.T) {
	addr, dir := testenv.FreeAddr(t), filepath.Join(t.TempDir(), "kafka")
	loadCaddy(t, map[string]any{"listen": addr, "data_dir": dir})
	t.Cleanup(func() { _ = caddy.Stop() })
	kafkatest.Produce(t, addr, "clicks", &kgo.Record{Value: []byte("v1")}, &kgo.Record{Value: []byte("v2")})

	loadCaddy(t, map[string]any{"listen": addr, "data_dir": dir, "topics": []string{"clicks", "shortify.link-events", "more"}})
	if got := kafkatest.Partitions(t, addr); got["more"] != kafkabroker.DefaultPartitions || got["clicks"] != kafkabroker.DefaultPartitions {
		t.Fatalf("topics after reload: %v", got)
	}
	kafkatest.Consume(t, addr, "clicks", 2)

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the broker's address is still taken after Stop: %v", err)
	}
	ln.Close()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("data dir: %v", err)
	}

	loadCaddy(t, map[string]any{"listen": addr, "data_dir": dir})
	if got := kafkatest.Consume(t, addr, "clicks", 2); string(got[0].Value)+string(got[1].Value) != "v1v2" {
		t.Fatalf("records after restart: %q, %q", got[0].Value, got[1].Value)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestCaddyAppDisabled: a disabled app listens on nothing.
func TestCaddyAppDisabled(t *testing.T) {
	addr := testenv.FreeAddr(t)
	loadCaddy(t, map[string]any{"listen": addr, "disabled": true})
	t.Cleanup(func() { _ = caddy.Stop() })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("a disabled broker listens: %v", err)
	}
	ln.Close()
}
