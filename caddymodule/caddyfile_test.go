package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"    // the caddyfile adapter
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver" // file_server, for the goldens
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/rewrite"    // handle_path, for the goldens

	"github.com/shortify/shortify/internal/kafkasec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestUnmarshalCaddyfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  Handler
	}{
		{"inline database", `shortify_edge sqlite:///var/lib/shortify/links.db`,
			Handler{Database: "sqlite:///var/lib/shortify/links.db"}},
		{"database", "shortify_edge {\n database postgres://db/shortify\n}",
			Handler{Database: "postgres://db/shortify"}},
		{"read_replicas", "shortify_edge {\n read_replicas postgres://r1/s postgres://r2/s\n read_replicas postgres://r3/s\n}",
			Handler{ReadReplicas: []string{"postgres://r1/s", "postgres://r2/s", "postgres://r3/s"}}},
		{"redis", "shortify_edge {\n redis 10.0.0.1:6379\n}", Handler{Redis: "10.0.0.1:6379"}},
		{"redis URL", "shortify_edge {\n redis rediss://:pw@cache:6380/2\n}", Handler{Redis: "rediss://:pw@cache:6380/2"}},
		{"redis without argument is off", "shortify_edge {\n redis\n}", Handler{}},
		{"redis empty string is off", "shortify_edge {\n redis \"\"\n}", Handler{}},
		{"redis_prefix", "shortify_edge {\n redis_prefix edge:\n}", Handler{RedisPrefix: "edge:"}},
		{"redis_ttl", "shortify_edge {\n redis_ttl 12h\n}", Handler{RedisTTL: caddy.Duration(12 * time.Hour)}},
		{"cache_size", "shortify_edge {\n cache_size 5000\n}", Handler{CacheSize: 5000}},
		{"cache_ttl", "shortify_edge {\n cache_ttl 30s\n}", Handler{CacheTTL: caddy.Duration(30 * time.Second)}},
		{"cache_ttl in days", "shortify_edge {\n cache_ttl 1d\n}", Handler{CacheTTL: caddy.Duration(24 * time.Hour)}},
		{"cache_admission off", "shortify_edge {\n cache_admission off\n}", Handler{CacheAdmissionOff: true}},
		{"cache_admission on", "shortify_edge {\n cache_admission on\n}", Handler{}},
		{"max_ttl", "shortify_edge {\n max_ttl 30m\n}", Handler{MaxTTL: caddy.Duration(30 * time.Minute)}},
		{"negative_ttl", "shortify_edge {\n negative_ttl 2s\n}", Handler{NegativeTTL: caddy.Duration(2 * time.Second)}},
		{"default_status", "shortify_edge {\n default_status 307\n}", Handler{DefaultStatus: 307}},
		{"not_found next", "shortify_edge {\n not_found next\n}", Handler{NotFound: "next"}},
		{"not_found 404", "shortify_edge {\n not_found 404\n}", Handler{NotFound: "404"}},
		{"permanent_max_age", "shortify_edge {\n permanent_max_age 10m\n}", Handler{PermanentMaxAge: caddy.Duration(10 * time.Minute)}},
		{"empty values mean defaults", "shortify_edge {\n cache_ttl \"\"\n default_status \"\"\n read_replicas \"\"\n}", Handler{}},
		{"empty block", "shortify_edge {\n}", Handler{}},
		{"rate_limit", "shortify_edge {\n rate_limit 100/s\n}",
			Handler{RateLimit: &RateLimit{Requests: 100, Window: caddy.Duration(time.Second)}}},
		{"rate_limit with options", "shortify_edge {\n rate_limit 600/1m burst 50 name edge max_clients 2000 shared\n}",
			Handler{RateLimit: &RateLimit{Requests: 600, Window: caddy.Duration(time.Minute), Burst: 50, Name: "edge", MaxClients: 2000, Shared: true}}},
		{"rate_limit shared with sync", "shortify_edge {\n rate_limit 100/s burst 200 shared sync 50ms\n}",
			Handler{RateLimit: &RateLimit{Requests: 100, Window: caddy.Duration(time.Second), Burst: 200, Shared: true, SyncInterval: caddy.Duration(50 * time.Millisecond)}}},
		{"rate_limit empty is off", "shortify_edge {\n rate_limit \"\"\n}", Handler{}},
		{"miss_limit", "shortify_edge {\n miss_limit 20/h burst 40\n}",
			Handler{MissLimit: &RateLimit{Requests: 20, Window: caddy.Duration(time.Hour), Burst: 40}}},
		{"root_redirect", "shortify_edge {\n root_redirect https://example.com/about\n}", Handler{RootRedirect: "https://example.com/about"}},
		{"blocklist_refresh", "shortify_edge {\n blocklist_refresh 5s\n}", Handler{BlocklistRefresh: caddy.Duration(5 * time.Second)}},
		{"hosts", "shortify_edge {\n hosts s.example.com sho.rt\n hosts localhost\n}", Handler{Hosts: []string{"s.example.com", "sho.rt", "localhost"}}},
		{"domain_refresh", "shortify_edge {\n domain_refresh 500ms\n}", Handler{DomainRefresh: caddy.Duration(500 * time.Millisecond)}},
		{"events", "shortify_edge {\n kafka_brokers a:9092 \"\" b:9092,c:9092\n clicks_topic c\n link_events_topic l\n click_queue 10\n country_header CF-IPCountry\n visitor_key k\n kafka_sasl_user u\n}",
			Handler{KafkaBrokers: []string{"a:9092", "b:9092,c:9092"}, ClicksTopic: "c", LinkEventsTopic: "l", ClickQueue: 10,
				CountryHeader: "CF-IPCountry", VisitorKey: "k", KafkaSecurity: kafkasec.Config{User: "u"}}},
		{"client address", "shortify_edge {\n trusted_proxies 10.0.0.0/8 private_ranges\n trusted_proxies 2001:db8::/32\n client_ip_header Forwarded\n ipv6_prefix 56\n}",
			Handler{TrustedProxies: []string{"10.0.0.0/8", "private_ranges", "2001:db8::/32"}, ClientIPHeader: "Forwarded", IPv6Prefix: 56}},
	}
	for _, tt := range tests {
		var got Handler
		if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input, want string }{
		{"unknown subdirective", "shortify_edge {\n cache_bytes 10\n}", `unknown shortify_edge option "cache_bytes"`},
		{"two inline args", "shortify_edge a b", "wrong argument count"},
		{"two redis args", "shortify_edge {\n redis a b\n}", "redis takes one value, got 2"},
		{"duplicate", "shortify_edge {\n redis a\n redis b\n}", "redis: specified more than once"},
		{"bad duration", "shortify_edge {\n cache_ttl soon\n}", `cache_ttl "soon": time: invalid duration`},
		{"negative duration", "shortify_edge {\n negative_ttl -5s\n}", `negative_ttl "-5s": must be positive`},
		{"zero duration", "shortify_edge {\n redis_ttl 0s\n}", `redis_ttl "0s": must be positive`},
		{"bad size", "shortify_edge {\n cache_size many\n}", `cache_size "many"`},
		{"bad cache_admission", "shortify_edge {\n cache_admission sometimes\n}", `cache_admission "sometimes": want on or off`},
		{"zero size", "shortify_edge {\n cache_size 0\n}", `cache_size "0"`},
		{"bad status", "shortify_edge {\n default_status 303\n}", `default_status "303": want 301, 302, 307 or 308`},
		{"bad not_found", "shortify_edge {\n not_found 410\n}", `not_found "410": want 404 or next`},
		{"block on a subdirective", "shortify_edge {\n redis {\n  a\n }\n}", "redis: takes no block"},
		{"rate without window", "shortify_edge {\n rate_limit 100\n}", `rate_limit "100": want <requests>/<window>`},
		{"rate of zero", "shortify_edge {\n rate_limit 0/s\n}", `rate_limit "0/s": want <requests>/<window>`},
		{"bad window", "shortify_edge {\n rate_limit 5/soon\n}", `the window "soon" is not a positive duration`},
		{"bad burst", "shortify_edge {\n rate_limit 5/s burst x\n}", `rate_limit: burst "x": want a positive number`},
		{"burst without value", "shortify_edge {\n miss_limit 5/s burst\n}", "miss_limit: burst needs a value"},
		{"bad sync", "shortify_edge {\n rate_limit 5/s shared sync soon\n}", `rate_limit: sync "soon": want a positive duration`},
		{"sync without value", "shortify_edge {\n rate_limit 5/s shared sync\n}", "rate_limit: sync needs a value"},
		{"unknown rate option", "shortify_edge {\n rate_limit 5/s per ip\n}", `rate_limit: unknown option "per"`},
		{"bad ipv6_prefix", "shortify_edge {\n ipv6_prefix 129\n}", `ipv6_prefix "129": want a prefix length from 1 to 128`},
		{"zero click_queue", "shortify_edge {\n click_queue 0\n}", `click_queue "0" is not a positive number of events`},
		{"bad country_header", "shortify_edge {\n country_header a:b\n}", `country_header "a:b": not a header name`},
		{"duplicate kafka_brokers", "shortify_edge {\n kafka_brokers a:1\n kafka_brokers b:1\n}", "kafka_brokers: specified more than once"},
		{"block on a list", "shortify_edge {\n read_replicas postgres://r/s {\n  x\n }\n}", "read_replicas: takes no block"},
		{"two root_redirects", "shortify_edge {\n root_redirect https://a https://b\n}", "root_redirect takes one value, got 2"},
	}
	for _, tt := range tests {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestCaddyfileEnvPlaceholders checks what the doc comment of
// UnmarshalCaddyfile promises about {$VAR}, through the real adapter (the
// Caddyfile replaces {$VAR} before it splits tokens).
func TestCaddyfileEnvPlaceholders(t *testing.T) {
	t.Setenv("SHORTIFY_TEST_EMPTY", "")
	t.Setenv("SHORTIFY_TEST_REDIS", "10.1.1.1:6379")
	tests := []struct{ name, redisLine, want string }{
		{"set", "redis {$SHORTIFY_TEST_REDIS}", "10.1.1.1:6379"},
		{"unset", "redis {$SHORTIFY_TEST_UNSET_VAR}", ""},
		{"empty", "redis {$SHORTIFY_TEST_EMPTY}", ""},
		{"quoted empty", `redis "{$SHORTIFY_TEST_EMPTY}"`, ""},
		{"default used when unset", "redis {$SHORTIFY_TEST_UNSET_VAR:cache:6379}", "cache:6379"},
		{"default not used when empty", "redis {$SHORTIFY_TEST_EMPTY:cache:6379}", ""},
		{"runtime placeholder kept", "redis {env.SHORTIFY_REDIS}", "{env.SHORTIFY_REDIS}"},
	}
	for _, tt := range tests {
		input := ":8080 {\n\tshortify_edge sqlite:///tmp/x.db {\n\t\t" + tt.redisLine + "\n\t\tcache_size 10\n\t}\n}\n"
		h := adaptHandler(t, input)
		if h.Redis != tt.want || h.CacheSize != 10 {
			t.Errorf("%s: redis %q cache_size %d; want redis %q and the next line intact", tt.name, h.Redis, h.CacheSize, tt.want)
		}
	}
}

// adaptHandler adapts a Caddyfile and returns its one shortify_edge handler.
func adaptHandler(t *testing.T, input string) Handler {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	var cfg any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	raw, ok := findHandler(cfg, "shortify_edge")
	if !ok {
		t.Fatalf("no shortify_edge handler in %s", out)
	}
	b, _ := json.Marshal(raw)
	var h Handler
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// findHandler walks a decoded JSON config for the object of a handler.
func findHandler(v any, name string) (map[string]any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if v["handler"] == name {
			return v, true
		}
		for _, e := range v {
			if h, ok := findHandler(e, name); ok {
				return h, true
			}
		}
	case []any:
		for _, e := range v {
			if h, ok := findHandler(e, name); ok {
				return h, true
			}
		}
	}
	return nil, false
}

// TestCaddyfileAdapt compares each testdata/*.caddyfile, adapted to JSON,
// with the .json file beside it. Run with -update to rewrite them.
func TestCaddyfileAdapt(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.caddyfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden Caddyfiles: %v", err)
	}
	for _, file := range files {
		input, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(input, map[string]any{"filename": file})
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		for _, w := range warnings {
			t.Errorf("%s: warning: %s", file, w.String())
		}
		var got bytes.Buffer
		if err := json.Indent(&got, out, "", "\t"); err != nil {
			t.Fatal(err)
		}
		got.WriteByte('\n')
		golden := strings.TrimSuffix(file, ".caddyfile") + ".json"
		if *update {
			if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s (run with -update to create it): %v", golden, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s adapts to:\n%s\nwant (%s):\n%s", file, got.Bytes(), golden, want)
		}
	}
}
