package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzParseRateLimit feeds arbitrary arguments to rate_limit and
// miss_limit: the parser never panics, and what it accepts is a limit
// with a request count and a window, which Validate then either accepts
// or refuses with an error (never a panic, in Validate or in Provision's
// conversion to a ratelimit.Limit).
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{
		"100/s", "600/1m burst 50 name edge max_clients 2000 shared", "5/1ms", "1/d",
		"100/s burst 200 shared sync 100ms", "1/s sync 0s", "1/s shared sync -1ms", "1/s sync 1h",
		"0/s", "100", "9999999999999999999/s", "1/0s", "1/-1s", "3/s burst", "3/s name \"a b\"",
		"1/1ns", "2/h burst 1000000000", `"" ""`, "{$X}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		if strings.ContainsAny(args, "{}\n") {
			return // block structure, not arguments
		}
		for _, name := range []string{"rate_limit", "miss_limit"} {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n " + name + " " + args + "\n}"))
			if err != nil {
				continue
			}
			rl := h.RateLimit
			if name == "miss_limit" {
				rl = h.MissLimit
			}
			if rl == nil {
				continue // no arguments: off
			}
			if rl.Requests < 1 || rl.Window <= 0 || rl.Burst < 0 || rl.MaxClients < 0 || rl.SyncInterval < 0 {
				t.Fatalf("%s %q accepted as %+v", name, args, *rl)
			}
			if err := rl.validate(name); err == nil {
				if verr := rl.limit("x").Validate(); verr != nil {
					t.Fatalf("%s %q: validate passed, the limit does not: %v", name, args, verr)
				}
			}
		}
	})
}
