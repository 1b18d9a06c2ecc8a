package controlplane

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        *App
	}{
		{"empty block", "shortify {\n}", &App{}},
		{"no block", "shortify", &App{}},
		{"everything", `shortify {
			data_dir /var/lib/shortify
			node_id cp-1
			raft_bind 0.0.0.0:8300
			raft_advertise 10.0.0.5:8300
			database postgres://db/shortify
			redis 127.0.0.1:6379
			redis_prefix edge:
			redis_ttl 12h
			public_url https://sho.rt
			own_domains sho.rt www.sho.rt
			own_domains s.example
			blocked_domains bad.example
			max_url_length 4096
		}`, &App{
			DataDir: "/var/lib/shortify", NodeID: "cp-1", RaftBind: "0.0.0.0:8300", RaftAdvertise: "10.0.0.5:8300",
			Database: "postgres://db/shortify", Redis: "127.0.0.1:6379", RedisPrefix: "edge:",
			RedisTTL: caddy.Duration(12 * time.Hour), PublicURL: "https://sho.rt",
			OwnDomains: []string{"sho.rt", "www.sho.rt", "s.example"}, BlockedDomains: []string{"bad.example"},
			MaxURLLength: 4096,
		}},
		{"cluster", `shortify {
			api_addr https://10.0.0.5:8301
			join https://10.0.0.6:8301 https://10.0.0.7:8301
			bootstrap false
			cluster_ca {env.SHORTIFY_CLUSTER_CA}
			cluster_cert /etc/shortify/cluster/node.crt
			cluster_key /etc/shortify/cluster/node.key
			cluster_listen 10.0.0.5:8301
			anonymous_create on
			initial_api_key sk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB
		}`, &App{
			APIAddr: "https://10.0.0.5:8301", Join: []string{"https://10.0.0.6:8301", "https://10.0.0.7:8301"},
			Bootstrap: new(bool), ClusterCA: "{env.SHORTIFY_CLUSTER_CA}", ClusterCert: "/etc/shortify/cluster/node.crt",
			ClusterKey: "/etc/shortify/cluster/node.key", ClusterListen: "10.0.0.5:8301", AnonymousCreate: true,
			InitialAPIKey: "sk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
		}},
		{"targets", `shortify {
			allow_private_targets on
			shortener_domains bit.ly t.co
			allow_shortener_targets on
			lookalike_hosts allow
			target_resolver 127.0.0.1:53
			target_resolve_timeout 500ms
		}`, &App{
			AllowPrivateTargets: true, ShortenerDomains: []string{"bit.ly", "t.co"}, AllowShortenerTargets: true,
			LookalikeHosts: "allow", TargetResolver: "127.0.0.1:53", TargetResolveTimeout: caddy.Duration(500 * time.Millisecond),
		}},
		{"threat feeds", `shortify {
			lookalike_hosts flag
			threat_feed urlhaus urlhaus https://urlhaus.abuse.ch/downloads/text_online/
			threat_feed mine plain /etc/shortify/blocked.txt
			threat_feed_refresh 1h
			blocklist_refresh 5s
		}`, &App{
			LookalikeHosts: "flag",
			ThreatFeeds: []ThreatFeed{
				{Name: "urlhaus", Format: "urlhaus", Location: "https://urlhaus.abuse.ch/downloads/text_online/"},
				{Name: "mine", Format: "plain", Location: "/etc/shortify/blocked.txt"},
			},
			ThreatFeedRefresh: caddy.Duration(time.Hour), BlocklistRefresh: caddy.Duration(5 * time.Second),
		}},
		{"workspaces", `shortify {
			domain_resolver 127.0.0.1:5353
			workspace_max_links 100000
			workspace_creates_per_minute 600
			workspace_max_domains 0
		}`, &App{DomainResolver: "127.0.0.1:5353", WorkspaceMaxLinks: 100000, WorkspaceCreatesPerMinute: 600}},
		// An env placeholder that expands to nothing leaves the default.
		{"empty values keep defaults", "shortify {\n redis\n public_url \"\"\n database\n}", &App{}},
	}
	for i := range tests {
		tt := &tests[i]
		t.Run(tt.name, func(t *testing.T) {
			got := new(App)
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatal(err)
			}
			if g, w := caddyconfig.JSON(got, nil), caddyconfig.JSON(tt.want, nil); !bytes.Equal(g, w) {
				t.Fatalf("got  %s\nwant %s", g, w)
			}
		})
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	tests := []struct{ name, input, errHas string }{
		{"argument", "shortify foo", "wrong argument count"},
		{"unknown option", "shortify {\n colour red\n}", `unknown shortify option "colour"`},
		{"two values", "shortify {\n node_id a b\n}", "takes one value"},
		{"bad ttl", "shortify {\n redis_ttl soon\n}", "redis_ttl"},
		{"negative ttl", "shortify {\n redis_ttl -1s\n}", "must be positive"},
		{"bad length", "shortify {\n max_url_length long\n}", "max_url_length"},
		{"bad bootstrap", "shortify {\n bootstrap maybe\n}", "bootstrap"},
		{"bad anonymous_create", "shortify {\n anonymous_create sometimes\n}", "anonymous_create"},
		{"threat_feed arguments", "shortify {\n threat_feed a plain\n}", "threat_feed takes a name, a format and a file or https URL"},
		{"negative workspace limit", "shortify {\n workspace_max_domains -1\n}", "want 0 (no limit) or more"},
		{"bad workspace limit", "shortify {\n workspace_max_links many\n}", "workspace_max_links"},
		{"cluster_secret", "shortify {\n cluster_secret 9f8e7d6c5b4a39281706f5e4d3c2b1a0\n}", "cluster_secret was removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want one containing %q", err, tt.errHas)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt"}
	if err := ok.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, a := range map[string]*App{
		"tiny max_url_length": {MaxURLLength: 10},
		"relative public_url": {PublicURL: "sho.rt"},
		"ftp public_url":      {PublicURL: "ftp://sho.rt"},
		"months ahead":        {PartitionMonthsAhead: 99},
		"retention mode":      {PartitionRetentionMode: "archive"},
		"no public_url":       {PublicURL: "-"},
		"cors origin path":    {CORSOrigins: []string{"https://app.example/x"}},
		"cors origin scheme":  {CORSOrigins: []string{"app.example"}},
		"placeholder key":     {InitialAPIKey: "{SHORTIFY_INITIAL_API_KEY}"},
		"malformed key":       {InitialAPIKey: "sk_nope"},
		"hand-made key":       {InitialAPIKey: "sk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"},
		"lookalike_hosts":     {LookalikeHosts: "warn"},
		"feed format":         {ThreatFeeds: []ThreatFeed{{Name: "f", Format: "csv", Location: "/f"}}},
		"feed over http":      {ThreatFeeds: []ThreatFeed{{Name: "f", Format: "plain", Location: "http://feeds.example/f"}}},
		"feed twice":          {ThreatFeeds: []ThreatFeed{{Name: "f", Format: "plain", Location: "/a"}, {Name: "f", Format: "plain", Location: "/b"}}},
		"feed reserved name":  {ThreatFeeds: []ThreatFeed{{Name: "admin blocklist", Format: "plain", Location: "/a"}}},
		"feed refresh":        {ThreatFeedRefresh: caddy.Duration(time.Second)},
		"blocklist_refresh":   {BlocklistRefresh: caddy.Duration(2 * time.Minute)},
		"target_resolver":     {TargetResolver: "127.0.0.1"},
		"domain_resolver":     {DomainResolver: "127.0.0.1"},
		"workspace limit":     {WorkspaceMaxDomains: -1},
	} {
		// Each case is wrong in one way only.
		switch a.PublicURL {
		case "":
			a.PublicURL = "https://sho.rt"
		case "-":
			a.PublicURL = ""
		}
		wantInvalid(t, name, a)
	}
}

func TestAPIHandlerCaddyfile(t *testing.T) {
	var h APIHandler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify_api")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"shortify_api foo", "shortify_api {\n x\n}"} {
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
