// Package caddytest runs Shortify's Caddy apps in tests the way Caddy
// does: a Caddyfile adapted to the JSON config Caddy would load, and an
// app taken through provisioning, validation and start.
package caddytest

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the Caddyfile adapter
)

// App is a Caddy app with the optional steps Shortify's apps all have.
type App interface {
	caddy.App
	caddy.Provisioner
	caddy.Validator
}

// StartApp provisions a in ctx, validates and starts it, failing the test
// at the first error. Stopping it is the caller's: tests of reloads stop
// it at a chosen moment.
func StartApp(tb testing.TB, ctx caddy.Context, a App) {
	tb.Helper()
	if err := a.Provision(ctx); err != nil {
		tb.Fatalf("provision: %v", err)
	}
	if err := a.Validate(); err != nil {
		tb.Fatalf("validate: %v", err)
	}
	if err := a.Start(); err != nil {
		tb.Fatalf("start: %v", err)
	}
}

// AppJSON adapts caddyfile and returns the JSON of the app named name in
// the resulting config, failing the test when the app is missing.
func AppJSON(tb testing.TB, caddyfile, name string) json.RawMessage {
	tb.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		tb.Fatalf("adapt: %v", err)
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		tb.Fatal(err)
	}
	app, ok := cfg.Apps[name]
	if !ok {
		tb.Fatalf("no %s app in %s", name, out)
	}
	return app
}
