package caddymodule

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestPasswordCaddyfile: the password subdirectives set their fields.
func TestPasswordCaddyfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input string
		want        Handler
	}{
		{"link_cookie_key", "shortify_edge {\n link_cookie_key {env.SHORTIFY_LINK_COOKIE_KEY}\n}",
			Handler{LinkCookieKey: "{env.SHORTIFY_LINK_COOKIE_KEY}"}},
		{"password_cookie_lifetime", "shortify_edge {\n password_cookie_lifetime 7d\n}",
			Handler{PasswordCookieLifetime: caddy.Duration(7 * 24 * time.Hour)}},
		{"password_attempts", "shortify_edge {\n password_attempts 10/1h burst 3\n}",
			Handler{PasswordAttempts: &RateLimit{Requests: 10, Window: caddy.Duration(time.Hour), Burst: 3}}},
		{"password_attempts bare unit", "shortify_edge {\n password_attempts 5/m\n}",
			Handler{PasswordAttempts: &RateLimit{Requests: 5, Window: caddy.Duration(time.Minute)}}},
		{"empty values mean defaults", "shortify_edge {\n link_cookie_key \"\"\n password_cookie_lifetime \"\"\n password_attempts \"\"\n}", Handler{}},
	}
	for _, tt := range tests {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(h, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, h, tt.want)
		}
	}

	errs := []struct{ name, input, want string }{
		{"two keys", "shortify_edge {\n link_cookie_key a b\n}", "link_cookie_key takes one value, got 2"},
		{"bad lifetime", "shortify_edge {\n password_cookie_lifetime soon\n}", `password_cookie_lifetime "soon"`},
		{"zero lifetime", "shortify_edge {\n password_cookie_lifetime 0s\n}", "must be positive"},
		{"attempts without window", "shortify_edge {\n password_attempts 5\n}", `password_attempts "5": want <requests>/<window>`},
		{"duplicate", "shortify_edge {\n password_attempts 5/m\n password_attempts 6/m\n}", "password_attempts: specified more than once"},
	}
	for _, tt := range errs {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestPasswordValidate: the settings Validate refuses.
func TestPasswordValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(h *Handler)
		want string // "" for valid
	}{
		{"defaults", func(h *Handler) {}, ""},
		{"strong key", func(h *Handler) { h.LinkCookieKey = "Zq8vT2mN4xK7pR1wYc3bL9s" }, ""},
		{"placeholder key (checked at provision)", func(h *Handler) { h.LinkCookieKey = "{env.X}" }, ""},
		{"weak key", func(h *Handler) { h.LinkCookieKey = "short" }, "link_cookie_key is 5 characters"},
		{"shipped key", func(h *Handler) { h.LinkCookieKey = "change-me-change-me-change-me" }, "link_cookie_key looks like a shipped placeholder"},
		{"sub-second lifetime", func(h *Handler) { h.PasswordCookieLifetime = caddy.Duration(time.Millisecond) }, "password_cookie_lifetime 1ms"},
		{"lifetime past 400 days", func(h *Handler) { h.PasswordCookieLifetime = caddy.Duration(401 * 24 * time.Hour) }, "password_cookie_lifetime"},
		{"attempts off", func(h *Handler) { h.PasswordAttempts = &RateLimit{Off: true} }, "password_attempts: cannot be off"},
		{"attempts shared", func(h *Handler) {
			h.PasswordAttempts = &RateLimit{Requests: 5, Window: caddy.Duration(time.Minute), Shared: true}
		}, "password_attempts: shared is implied"},
		{"attempts without window", func(h *Handler) { h.PasswordAttempts = &RateLimit{Requests: 5} }, "password_attempts: window"},
	}
	for _, tt := range tests {
		h := Handler{Database: "sqlite:///tmp/x.db"}
		tt.edit(&h)
		err := h.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want valid", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// TestPasswordKeys: where the cookie key comes from, and who shares it.
func TestPasswordKeys(t *testing.T) {
	strong := "Zq8vT2mN4xK7pR1wYc3bL9s"
	t.Setenv("SHORTIFY_TEST_LINK_COOKIE_KEY", strong)

	withKey := provision(t, &Handler{Database: sqliteDSN(t), LinkCookieKey: "{env.SHORTIFY_TEST_LINK_COOKIE_KEY}"})
	if withKey.LinkCookieKey != strong || string(withKey.pw.key) != string(linkCookieKey([]byte(strong))) {
		t.Errorf("link_cookie_key from the environment: %q, key %x", withKey.LinkCookieKey, withKey.pw.key)
	}
	if withKey.PasswordCookieLifetime != caddy.Duration(DefaultPasswordCookieLifetime) || withKey.pw.limit.Burst != 5 || withKey.pw.limit.Name != "password" {
		t.Errorf("defaults: lifetime %v, limit %+v", withKey.PasswordCookieLifetime, withKey.pw.limit)
	}

	visitorA := provision(t, &Handler{Database: sqliteDSN(t), VisitorKey: strong, keySalt: t.Name() + "/a"})
	visitorB := provision(t, &Handler{Database: sqliteDSN(t), VisitorKey: strong, keySalt: t.Name() + "/b"})
	if string(visitorA.pw.key) != string(visitorB.pw.key) || string(visitorA.pw.key) == strong {
		t.Errorf("edges sharing visitor_key: keys %x and %x, want the same, derived", visitorA.pw.key, visitorB.pw.key)
	}

	core, logs := observer.New(zap.WarnLevel)
	random := &Handler{Database: sqliteDSN(t), logger: zap.New(core)}
	provision(t, random)
	if logs.FilterMessageSnippet("link_cookie_key").Len() != 1 {
		t.Errorf("no key at all: warnings %v, want one naming link_cookie_key", logs.All())
	}
	if string(random.pw.key) == string(visitorA.pw.key) || len(random.pw.key) != 32 {
		t.Errorf("random key %x", random.pw.key)
	}

	t.Setenv("SHORTIFY_TEST_WEAK_KEY", "weak")
	bad := &Handler{Database: sqliteDSN(t), LinkCookieKey: "{env.SHORTIFY_TEST_WEAK_KEY}", keySalt: t.Name() + "/weak"}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := bad.Provision(ctx); err == nil || !strings.Contains(err.Error(), "link_cookie_key") {
		t.Errorf("weak key from the environment: Provision %v, want a refusal naming link_cookie_key", err)
	}
	_ = bad.Cleanup()
}
