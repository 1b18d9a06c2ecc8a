package caddymodule

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestForgedLinkEventDoesNotRetarget (issue 12, finding 3): anyone who can
// produce to the link-events topic forges "updated" events for a cached
// code, pointing it at javascript:alert(1) and at another site. The edge
// applies them (it evicts the code), and still redirects to the target the
// store holds: an event carries no authority over where a code goes.
func TestForgedLinkEventDoesNotRetarget(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	code := newCode(t, "forged")
	const stored = "https://example.com/stored"
	create(t, seed, linkstore.Link{ID: 4242, Code: code, URL: stored})
	h := provision(t, eventsHandler(&Handler{Database: dsn}, k))
	if st, loc := answer(t, h, code); st != 302 || loc != stored {
		t.Fatalf("warm-up: %d %q", st, loc)
	}
	waitConsuming(t, h)

	forged := []string{"javascript:alert(1)", "https://evil.example/phish"}
	for _, target := range forged {
		// Produced straight to the topic, as the attacker would, not
		// through the control plane's producer.
		v := `{"v":1,"type":"updated","code":"` + code + `","link_id":"4242","at":"` +
			time.Now().UTC().Format(time.RFC3339Nano) + `","link":{"url":"` + target + `","redirect_status":301,"disabled":false}}`
		kafkatest.Produce(t, k.Addr(), testLinksTopic, &kgo.Record{Key: []byte(code), Value: []byte(v)})
	}
	c := h.inval.consumer
	testenv.WaitFor(t, "the forged events applied", eventWait, func() bool { return c.Stats().Applied == uint64(len(forged)) })

	for range 3 {
		if st, loc := answer(t, h, code); st != 302 || loc != stored {
			t.Fatalf("after forged events: %d %q; want 302 to the stored %s", st, loc, stored)
		}
	}
	if _, _, ok := h.l1.Peek(code); !ok {
		t.Fatal("the code was not reloaded into L1")
	}
}

// TestPoisonedTargetNeverBecomesLocation: a Redis L2 entry and a store
// row that someone wrote behind the control plane's back, with targets
// the control plane would refuse, answer 410 (like a disabled link) and
// are counted; a good link beside them still redirects, and the refusal
// is decided at the load, so an L1 hit does not check again.
func TestPoisonedTargetNeverBecomesLocation(t *testing.T) {
	dsn := postgresDSN(t)
	seed := seeder(t, dsn)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	ctx := context.Background()

	bad := []string{
		"javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"https://example.com/\r\nSet-Cookie: a=b",
		"//evil.example/no-scheme",
		"https:///no-host",
	}
	good := newCode(t, "good")
	create(t, seed, linkstore.Link{Code: good, URL: "https://example.com/good"})

	// Store rows, written with SQL as an attacker with database access
	// would (the store's Create is the control plane's and may check).
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close(ctx) })
	var storeCodes []string
	for i, u := range bad {
		c := newCode(t, "row")
		create(t, seed, linkstore.Link{Code: c, URL: "https://example.com/placeholder"})
		if _, err := db.Exec(ctx, `UPDATE links SET url = $1 WHERE code = $2`, u, c); err != nil {
			t.Fatalf("poison row %d: %v", i, err)
		}
		storeCodes = append(storeCodes, c)
	}

	// L2 entries, written into Redis directly.
	l2 := controlPlaneL2(t, redisAddr, prefix)
	var l2Codes []string
	for i, u := range bad {
		c := newCode(t, "l2")
		if _, err := l2.Fill(ctx, linkstore.Link{ID: int64(1000 + i), Code: c, URL: u}); err != nil {
			t.Fatalf("poison L2 %d: %v", i, err)
		}
		l2Codes = append(l2Codes, c)
	}

	h := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix})
	for range 2 { // the second round is answered from L1
		for i, c := range append(storeCodes, l2Codes...) {
			w, err := serve(h, "GET", "/"+c, nil)
			if err != nil {
				t.Fatal(err)
			}
			// 410 from the gate; the L2 codec already refuses a value with
			// a control character as corrupt, and the store has no such
			// code: 404.
			want := 410
			if i >= len(bad) && strings.ContainsAny(bad[i%len(bad)], "\r\n") {
				want = 404
			}
			if w.Code != want || w.Header().Get("Location") != "" {
				t.Fatalf("poisoned target %q: %d, Location %q; want %d and none", bad[i%len(bad)], w.Code, w.Header().Get("Location"), want)
			}
		}
		if st, loc := answer(t, h, good); st != 302 || loc != "https://example.com/good" {
			t.Fatalf("good link: %d %q", st, loc)
		}
	}
	if got := h.stats.refusedStore.Load(); got != uint64(len(bad)) {
		t.Errorf("refused from the store: %d, want %d (once per load, not per hit)", got, len(bad))
	}
	if got := h.stats.refusedL2.Load(); got != uint64(len(bad)-1) {
		t.Errorf("refused from L2: %d, want %d (all but the one the codec refuses)", got, len(bad)-1)
	}
}

// TestLocationEncoded (issue 12, finding 11): whatever bytes a stored
// target holds in its query, path or fragment, the Location the edge
// writes is plain ASCII with no space or line break, and means the same
// URL.
func TestLocationEncoded(t *testing.T) {
	t.Parallel()
	dsn := sqliteDSN(t)
	seed := seeder(t, dsn)
	h := provision(t, &Handler{Database: dsn})
	cases := []struct{ url, want string }{
		{"https://example.com/a?b=c&d=e#f", "https://example.com/a?b=c&d=e#f"},
		{"https://example.com/?q=café", "https://example.com/?q=caf%C3%A9"},
		{"https://example.com/?q=\"<x>\"", "https://example.com/?q=%22%3Cx%3E%22"},
		{"https://example.com/?q={a|b}^`\\", "https://example.com/?q=%7Ba%7Cb%7D%5E%60%5C"},
		{"https://example.com/straße?x=ü#frag ment", ""}, // a space: refused (410)
		{"https://example.com/straße?x=ü#frägment", "https://example.com/stra%C3%9Fe?x=%C3%BC#fr%C3%A4gment"},
		{"https://bücher.example/?a=%20b", "https://xn--bcher-kva.example/?a=%20b"},
		{"HTTPS://Example.COM/Path", "https://example.com/Path"},
	}
	for _, tc := range cases {
		c := newCode(t, "loc")
		// Created straight in the store: the control plane's own check
		// would refuse some of these, which is the point.
		create(t, seed, linkstore.Link{Code: c, URL: tc.url})
		st, loc := answer(t, h, c)
		if tc.want == "" {
			if st != 410 || loc != "" {
				t.Errorf("%q: %d %q, want 410 and no Location", tc.url, st, loc)
			}
			continue
		}
		if st != 302 || loc != tc.want {
			t.Errorf("%q: %d %q, want 302 to %q", tc.url, st, loc, tc.want)
		}
		for i := 0; i < len(loc); i++ {
			if b := loc[i]; b <= ' ' || b >= 0x7f {
				t.Errorf("%q: Location %q has byte %#x", tc.url, loc, b)
			}
		}
	}
}

// TestLocationEncodeIdempotent: encoding an encoded Location changes
// nothing, and only bytes outside RFC 3986 are touched.
func TestLocationEncodeIdempotent(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://a.example/%41?x=%zz&y=é", "https://a.example/[]@!$&'()*+,;=~"} {
		once := locationEncode(u)
		if twice := locationEncode(once); twice != once {
			t.Errorf("%q: %q then %q", u, once, twice)
		}
		if strings.ContainsAny(once, "é \"") {
			t.Errorf("%q: %q not encoded", u, once)
		}
	}
}
