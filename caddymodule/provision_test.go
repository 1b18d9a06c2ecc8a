package caddymodule

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/linkstore"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Handler{Database: "sqlite:///tmp/x.db"}
	tests := []struct {
		name string
		edit func(h *Handler)
		want string // "" for valid
	}{
		{"minimal sqlite", func(h *Handler) {}, ""},
		{"postgres with replicas", func(h *Handler) {
			h.Database = "postgres://u:secret@db/s"
			h.ReadReplicas = []string{"postgresql://u@r1/s"}
		}, ""},
		{"redis URL", func(h *Handler) { h.Redis = "rediss://:pw@cache:6380/1" }, ""},
		{"no database", func(h *Handler) { h.Database = "" }, "database: required"},
		{"unknown scheme", func(h *Handler) { h.Database = "mysql://u:secret@db/s" }, "database: want postgres"},
		{"bad sqlite", func(h *Handler) { h.Database = "sqlite::memory:" }, "database:"},
		{"replicas with sqlite", func(h *Handler) { h.ReadReplicas = []string{"postgres://r/s"} }, "only for PostgreSQL"},
		{"replica not postgres", func(h *Handler) {
			h.Database = "postgres://db/s"
			h.ReadReplicas = []string{"sqlite:///x"}
		}, "read_replicas[0]"},
		{"bad redis URL", func(h *Handler) { h.Redis = "redis://cache/notadb" }, "redis:"},
		{"negative cache_size", func(h *Handler) { h.CacheSize = -1 }, "cache_size -1"},
		{"negative ttl", func(h *Handler) { h.CacheTTL = caddy.Duration(-time.Second) }, "cache_ttl -1s"},
		{"sub-second max-age", func(h *Handler) { h.PermanentMaxAge = caddy.Duration(time.Millisecond) }, "permanent_max_age 1ms"},
		{"status 303", func(h *Handler) { h.DefaultStatus = 303 }, "default_status 303"},
		{"not_found 410", func(h *Handler) { h.NotFound = "410" }, `not_found "410"`},
		{"rate limit", func(h *Handler) {
			h.RateLimit = &RateLimit{Requests: 10, Window: caddy.Duration(time.Second)}
			h.MissLimit = &RateLimit{Requests: 1, Window: caddy.Duration(time.Minute), Burst: 5}
			h.TrustedProxies = []string{"private_ranges", "192.0.2.0/24"}
		}, ""},
		{"rate limit without window", func(h *Handler) { h.RateLimit = &RateLimit{Requests: 10} }, "rate_limit: window 0s"},
		{"rate limit too fast", func(h *Handler) {
			h.RateLimit = &RateLimit{Requests: 10, Window: caddy.Duration(time.Nanosecond)}
		}, "rate_limit: ratelimit: rate"},
		{"shared without redis", func(h *Handler) {
			h.RateLimit = &RateLimit{Requests: 10, Window: caddy.Duration(time.Second), Shared: true}
		}, "rate_limit: shared needs redis"},
		{"sync without shared", func(h *Handler) {
			h.RateLimit = &RateLimit{Requests: 10, Window: caddy.Duration(time.Second), SyncInterval: caddy.Duration(time.Second)}
		}, "rate_limit: sync needs shared"},
		{"sync too long", func(h *Handler) {
			h.Redis = "127.0.0.1:1"
			h.RateLimit = &RateLimit{Requests: 10, Window: caddy.Duration(time.Second), Shared: true, SyncInterval: caddy.Duration(time.Minute)}
		}, "rate_limit: sync 1m0s: want from 1ms to 10s"},
		{"shared miss limit", func(h *Handler) {
			h.Redis = "127.0.0.1:6379"
			h.MissLimit = &RateLimit{Requests: 10, Window: caddy.Duration(time.Second), Shared: true}
		}, "miss_limit: shared is not supported"},
		{"max_ttl below cache_ttl", func(h *Handler) { h.MaxTTL = caddy.Duration(30 * time.Second) }, "max_ttl 30s: must be at least cache_ttl"},
		{"max_ttl", func(h *Handler) { h.CacheTTL, h.MaxTTL = caddy.Duration(time.Minute), caddy.Duration(time.Hour) }, ""},
		{"bad trusted proxy", func(h *Handler) { h.TrustedProxies = []string{"10.0.0.0/33"} }, "trusted proxy"},
		{"bad client_ip_header", func(h *Handler) { h.ClientIPHeader = "X-Real-IP" }, "X-Real-IP"},
	}
	for _, tt := range tests {
		h := ok
		tt.edit(&h)
		err := h.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows a password: %v", tt.name, err)
		}
	}
}

func TestProvisionDefaults(t *testing.T) {
	t.Parallel()
	h := provision(t, &Handler{Database: sqliteDSN(t)})
	want := Handler{
		RedisPrefix: DefaultRedisPrefix, RedisTTL: caddy.Duration(DefaultRedisTTL),
		CacheSize: DefaultCacheSize, CacheTTL: caddy.Duration(DefaultCacheTTL),
		NegativeTTL: caddy.Duration(DefaultNegativeTTL), DefaultStatus: 302, NotFound: "404",
		PermanentMaxAge: caddy.Duration(time.Hour), MaxTTL: caddy.Duration(16 * DefaultCacheTTL),
	}
	if h.MaxTTL != want.MaxTTL {
		t.Errorf("max_ttl %v, want 16 x cache_ttl", time.Duration(h.MaxTTL))
	}
	if h.RedisPrefix != want.RedisPrefix || h.RedisTTL != want.RedisTTL || h.CacheSize != want.CacheSize ||
		h.CacheTTL != want.CacheTTL || h.NegativeTTL != want.NegativeTTL || h.DefaultStatus != want.DefaultStatus ||
		h.NotFound != want.NotFound || h.PermanentMaxAge != want.PermanentMaxAge {
		t.Errorf("defaults: %+v", h)
	}
	if h.l2 != nil || h.res.redis != nil {
		t.Error("Redis configured without an address")
	}
	if got := h.permanentCC[0]; got != "public, max-age=3600" {
		t.Errorf("permanent Cache-Control %q", got)
	}
	if got := h.l1.Capacity(); got != DefaultCacheSize {
		t.Errorf("L1 capacity %d", got)
	}
}

// TestProvisionDoesNotTouchTheNetwork: nothing listens at either address,
// and Provision neither fails nor waits.
func TestProvisionDoesNotTouchTheNetwork(t *testing.T) {
	t.Parallel()
	start := time.Now()
	h := provision(t, &Handler{
		Database: "postgres://postgres@127.0.0.1:1/x?sslmode=disable",
		Redis:    "127.0.0.1:1",
	})
	if d := time.Since(start); d > 2*time.Second { // a dial would wait far longer
		t.Errorf("Provision took %v", d)
	}
	if h.res.store.ready.Load() != nil {
		t.Error("the store was opened in Provision")
	}
}

func TestProvisionExpandsPlaceholders(t *testing.T) {
	dsn := sqliteDSN(t)
	t.Setenv("SHORTIFY_TEST_DSN", dsn)
	h := provision(t, &Handler{Database: "{env.SHORTIFY_TEST_DSN}", Redis: "{env.SHORTIFY_TEST_UNSET_REDIS}"})
	if h.Database != dsn {
		t.Errorf("database %q, want %q", h.Database, dsn)
	}
	if h.Redis != "" || h.l2 != nil {
		t.Errorf("redis %q: an empty placeholder must mean no Redis", h.Redis)
	}
}

// TestResourcesSurviveReload plays a config reload: the new handler is
// provisioned before the old one is cleaned up, and takes over the old
// one's store, Redis client and warm L1. The last Cleanup closes them.
func TestResourcesSurviveReload(t *testing.T) {
	t.Parallel()
	c := newCode(t, "warm")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/w"})
	open, count := counting()
	cfg := func() *Handler { return &Handler{Database: dsn, openStore: open, keySalt: t.Name()} }

	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	old := cfg()
	if err := old.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if w, _ := serve(old, "GET", "/"+c, nil); w.Code != 302 {
		t.Fatalf("old config: %d", w.Code)
	}

	// Reload with the same settings: everything is shared.
	cur := cfg()
	if err := cur.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if cur.res.store != old.res.store || cur.l1 != old.l1 {
		t.Fatal("a reload with the same settings built new resources")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if w, _ := serve(cur, "GET", "/"+c, nil); w.Code != 302 || lookups(count) != 1 {
		t.Fatalf("after the reload: %d after %d lookups; want a warm L1 hit", w.Code, lookups(count))
	}

	// Reload with another cache_ttl: a new L1, the same store.
	next := cfg()
	next.CacheTTL = caddy.Duration(2 * time.Minute)
	if err := next.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if next.res.store != cur.res.store || next.l1 == cur.l1 {
		t.Fatal("cache_ttl changed: want a new L1 and the same store")
	}
	store := cur.res.store
	if err := cur.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if store.isClosed() {
		t.Fatal("the store was closed while a handler still used it")
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if !store.isClosed() {
		t.Fatal("the store is still open after the last Cleanup")
	}
	for _, k := range append(append([]string{}, old.keys...), next.keys...) {
		if _, ok := pool.References(k); ok {
			t.Errorf("pool still holds %s", k)
		}
	}
	// Cleanup twice is harmless.
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
}

// TestCleanupAfterFailedProvision: a Provision that fails half-way (here
// the Redis client cannot be built after the store was taken from the
// pool) leaves nothing behind once Cleanup has run, as Caddy runs it.
func TestCleanupAfterFailedProvision(t *testing.T) {
	t.Parallel()
	// Invalid settings stop Provision before it takes anything.
	bad := &Handler{Database: sqliteDSN(t), DefaultStatus: 303}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := bad.Provision(ctx); err == nil {
		t.Fatal("Provision accepted status 303")
	}
	if err := bad.Cleanup(); err != nil || len(bad.keys) != 0 {
		t.Fatalf("Cleanup after a failed Provision: %v, keys %v", err, bad.keys)
	}

	// A failure after the store was acquired: acquire directly, since
	// Validate would refuse this Redis URL first.
	h := &Handler{Database: sqliteDSN(t), Redis: "redis://cache/notadb", keySalt: t.Name()}
	if _, err := h.acquire(); err == nil {
		t.Fatal("acquire accepted a bad Redis URL")
	}
	if len(h.keys) != 1 {
		t.Fatalf("held keys after the failure: %v; want the store's", h.keys)
	}
	held := h.keys[0]
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := pool.References(held); ok {
		t.Errorf("pool still holds %s after Cleanup", held)
	}
}
