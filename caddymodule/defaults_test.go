package caddymodule

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/shortify/shortify/internal/linkstore"
)

// TestMissLimitOnByDefault (issue 12, finding 10): a handler configured
// with nothing but its database limits a client guessing codes: of 1,000
// unknown codes sent at once from one address, the default burst (40)
// reaches the store and the rest are answered 429 from memory, with no
// lookup each; a real link from another client still redirects. With
// miss_limit off every guess costs a lookup, as before.
func TestMissLimitOnByDefault(t *testing.T) {
	good := newCode(t, "good")
	dsn := seededDSN(t, linkstore.Link{Code: good, URL: "https://example.com/good"})
	const guesses = 1000

	run := func(h *Handler, looked func() int64) (notFound, limited int, lookups int64) {
		clock := newFakeClock() // stands still: no refill during the run
		h.clock = clock
		provision(t, h)
		for i := range guesses {
			switch w := serveFrom(t, h, "/"+newCode(t, "guess")+string(rune('a'+i%26)), "198.51.100.7:1234", ""); w.Code {
			case 404:
				notFound++
			case 429:
				limited++
			default:
				t.Fatalf("guess %d: %d", i, w.Code)
			}
		}
		if w := serveFrom(t, h, "/"+good, "198.51.100.8:1234", ""); w.Code != 302 {
			t.Fatalf("a real link from another client: %d", w.Code)
		}
		return notFound, limited, looked()
	}

	open, p := counting()
	nf, lim, looked := run(&Handler{Database: dsn, openStore: open, keySalt: t.Name() + "/default"}, func() int64 { return lookups(p) })
	want := DefaultMissLimit.Burst
	if nf != want || lim != guesses-want {
		t.Errorf("default: %d answered 404, %d answered 429; want %d and %d", nf, lim, want, guesses-want)
	}
	if looked > int64(want)+1 { // the guesses that got a 404, and the real link
		t.Errorf("default: %d store lookups for %d guesses, want at most %d", looked, guesses, want+1)
	}

	open, p = counting()
	nf, lim, looked = run(&Handler{Database: dsn, openStore: open, keySalt: t.Name() + "/off", MissLimit: &RateLimit{Off: true}},
		func() int64 { return lookups(p) })
	if nf != guesses || lim != 0 || looked != guesses+1 {
		t.Errorf("miss_limit off: %d 404, %d 429, %d lookups; want %d, 0, %d", nf, lim, looked, guesses, guesses+1)
	}
}

// TestMissLimitCaddyfile: `miss_limit off` turns the default off; an
// empty value keeps the default; off takes nothing else.
func TestMissLimitCaddyfile(t *testing.T) {
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify sqlite://x.db {\n miss_limit off\n rate_limit off\n}")); err != nil {
		t.Fatal(err)
	}
	if h.MissLimit == nil || !h.MissLimit.Off || h.missLimit() != nil || h.RateLimit == nil || !h.RateLimit.Off {
		t.Fatalf("miss_limit off parsed to %+v, rate_limit off to %+v", h.MissLimit, h.RateLimit)
	}
	h = Handler{}
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify sqlite://x.db {\n miss_limit \"\"\n}")); err != nil {
		t.Fatal(err)
	}
	if got := h.missLimit(); got == nil || *got != DefaultMissLimit {
		t.Fatalf("empty miss_limit: %+v, want the default", got)
	}
	if err := new(Handler).UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n miss_limit off burst 3\n}")); err == nil {
		t.Error("miss_limit off burst 3 accepted")
	}
	bad := Handler{Database: "sqlite://x.db", MissLimit: &RateLimit{Off: true, Requests: 3}}
	if err := bad.Validate(); err == nil {
		t.Error(`{"off": true, "requests": 3} accepted`)
	}
}
