package caddymodule

import (
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// counterCase is one place the click counter lives, with the settings
// that put it there; both edges of a test share it.
type counterCase struct {
	name  string
	edges func(t *testing.T, links ...linkstore.Link) (*Handler, *Handler)
}

var counterCases = []counterCase{
	{"redis", func(t *testing.T, links ...linkstore.Link) (*Handler, *Handler) {
		dsn := seededDSN(t, links...)
		addr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
		return provision(t, &Handler{Database: dsn, Redis: addr, RedisPrefix: prefix}),
			provision(t, &Handler{Database: dsn, Redis: addr, RedisPrefix: prefix, keySalt: t.Name() + "/edge2"})
	}},
	{"postgres", func(t *testing.T, links ...linkstore.Link) (*Handler, *Handler) {
		dsn := postgresDSN(t)
		create(t, seeder(t, dsn), links...)
		return provision(t, &Handler{Database: dsn}), provision(t, &Handler{Database: dsn, keySalt: t.Name() + "/edge2"})
	}},
	{"sqlite", func(t *testing.T, links ...linkstore.Link) (*Handler, *Handler) {
		dsn := seededDSN(t, links...)
		return provision(t, &Handler{Database: dsn}), provision(t, &Handler{Database: dsn, keySalt: t.Name() + "/edge2"})
	}},
}

// TestClickLimitExact: two edges sharing a counter, with many clients at
// once, redirect a link with max_clicks exactly that many times; every
// other click gets the exhausted answer (expired_url here, 410 without).
// HEAD claims nothing.
func TestClickLimitExact(t *testing.T) {
	t.Parallel()
	for _, cc := range counterCases {
		t.Run(cc.name, func(t *testing.T) {
			t.Parallel()
			const max, clients, each = 25, 16, 5 // 80 clicks for 25
			cOver, cGone := newCode(t, "limit"), newCode(t, "limit410")
			edge1, edge2 := cc.edges(t,
				linkstore.Link{Code: cOver, URL: "https://example.com/once", Smart: smartlink.Options{MaxClicks: max, ExpiredURL: "https://example.com/sold-out"}},
				linkstore.Link{Code: cGone, URL: "https://example.com/twice", Smart: smartlink.Options{MaxClicks: 2}},
			)
			for range 3 {
				if w := ask(edge1, "HEAD", "/"+cOver); w.Code != 302 || w.Header().Get("Location") != "https://example.com/once" {
					t.Fatalf("HEAD before any click: %d %q", w.Code, w.Header().Get("Location"))
				}
			}

			var redirects, soldOut, other atomic.Int64
			var wg sync.WaitGroup
			for i := range clients {
				edge := edge1
				if i%2 == 1 {
					edge = edge2
				}
				wg.Go(func() {
					for range each {
						w := ask(edge, "GET", "/"+cOver)
						switch loc := w.Header().Get("Location"); {
						case w.Code == 302 && loc == "https://example.com/once":
							redirects.Add(1)
						case w.Code == 302 && loc == "https://example.com/sold-out":
							soldOut.Add(1)
						default:
							other.Add(1)
							t.Errorf("click: %d %q %s", w.Code, loc, w.Body.String())
						}
					}
				})
			}
			wg.Wait()
			if redirects.Load() != max || soldOut.Load() != clients*each-max || other.Load() != 0 {
				t.Errorf("%d redirects, %d sold out, %d other; want %d, %d, 0", redirects.Load(), soldOut.Load(), other.Load(), max, clients*each-max)
			}
			if got := edge1.stats.claimed.Load() + edge2.stats.claimed.Load(); got != max {
				t.Errorf("click_limit_total{outcome=claimed} %d, want %d", got, max)
			}
			if got := edge1.stats.exhausted.Load() + edge2.stats.exhausted.Load(); got != clients*each-max {
				t.Errorf("click_limit_total{outcome=exhausted} %d, want %d", got, clients*each-max)
			}
			if w := ask(edge2, "HEAD", "/"+cOver); w.Code != 302 || w.Header().Get("Location") != "https://example.com/sold-out" {
				t.Errorf("HEAD after the limit: %d %q", w.Code, w.Header().Get("Location"))
			}

			for i, want := range []int{302, 302, 410, 410} {
				edge := []*Handler{edge1, edge2}[i%2]
				if w := ask(edge, "GET", "/"+cGone); w.Code != want {
					t.Errorf("click %d of a link with max_clicks 2 and no expired_url: %d, want %d", i+1, w.Code, want)
				}
			}
		})
	}
}

// TestClickLimitCounterDown: when the counter cannot be reached, a
// limited link answers 503 and never redirects uncounted; plain links are
// not affected (Redis is only their cache).
func TestClickLimitCounterDown(t *testing.T) {
	t.Parallel()
	cLimited, cPlain := newCode(t, "limdown"), newCode(t, "plaindown")
	dsn := seededDSN(t,
		linkstore.Link{Code: cLimited, URL: "https://example.com/limited", Smart: smartlink.Options{MaxClicks: 100}},
		linkstore.Link{Code: cPlain, URL: "https://example.com/plain"},
	)
	srv := testenv.StartRedis(t)
	h := provision(t, &Handler{Database: dsn, Redis: srv.Addr, RedisPrefix: testenv.UniquePrefix(t)})
	if w := ask(h, "GET", "/"+cLimited); w.Code != 302 {
		t.Fatalf("with Redis: %d", w.Code)
	}
	srv.Stop()
	for _, m := range []string{"GET", "HEAD"} {
		if w := ask(h, m, "/"+cLimited); w.Code != 503 || w.Header().Get("Location") != "" {
			t.Errorf("%s with Redis down: %d %q, want 503", m, w.Code, w.Header().Get("Location"))
		}
	}
	if w := ask(h, "GET", "/"+cPlain); w.Code != 302 {
		t.Errorf("plain link with Redis down: %d", w.Code)
	}
	if h.stats.claimErrors.Load() != 2 {
		t.Errorf("click_limit_total{outcome=error} %d, want 2", h.stats.claimErrors.Load())
	}
}

// TestSmartClickEventChoice: a smart link's click event says which target
// the click went to.
func TestSmartClickEventChoice(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	cRules, cSplit := newCode(t, "choicer"), newCode(t, "choices")
	dsn := seededDSN(t,
		linkstore.Link{Code: cRules, URL: "https://example.com/", Smart: smartlink.Options{Rules: []smartlink.Rule{
			{When: smartlink.Conditions{Query: map[string]string{"v": "1"}}, URL: "https://example.com/one"},
			{When: smartlink.Conditions{Query: map[string]string{"v": "2"}}, URL: "https://example.com/two"},
		}}},
		linkstore.Link{Code: cSplit, URL: "https://example.com/", Smart: smartlink.Options{Targets: []smartlink.Target{
			{URL: "https://a.example/", Weight: 50}, {URL: "https://b.example/", Weight: 50},
		}}},
	)
	h := provision(t, eventsHandler(&Handler{Database: dsn}, k))
	want := map[string]smartlink.Choice{}
	for _, q := range []string{"", "?v=1", "?v=2"} {
		w := ask(h, "GET", "/"+cRules+q)
		want[w.Header().Get("Location")] = map[string]smartlink.Choice{"": smartlink.ChoiceURL, "?v=1": smartlink.RuleChoice(0), "?v=2": smartlink.RuleChoice(1)}[q]
	}
	w := ask(h, "GET", "/"+cSplit)
	loc := w.Header().Get("Location")
	want[loc] = map[string]smartlink.Choice{"https://a.example/": smartlink.TargetChoice(0), "https://b.example/": smartlink.TargetChoice(1)}[loc]

	got := readClicks(t, k, 4)
	byCode := map[string][]clickevents.Event{}
	for _, e := range got {
		byCode[e.Code] = append(byCode[e.Code], e)
	}
	wantRules := []smartlink.Choice{smartlink.ChoiceURL, smartlink.RuleChoice(0), smartlink.RuleChoice(1)}
	if len(byCode[cRules]) != 3 {
		t.Fatalf("rules link: %d events", len(byCode[cRules]))
	}
	for i, e := range byCode[cRules] { // one partition per code: in order
		if smartlink.Choice(e.Choice) != wantRules[i] {
			t.Errorf("rules click %d: choice %d, want %d", i, e.Choice, wantRules[i])
		}
	}
	if len(byCode[cSplit]) != 1 || smartlink.Choice(byCode[cSplit][0].Choice) != want[loc] {
		t.Errorf("split click to %s: %+v, want choice %d", loc, byCode[cSplit], want[loc])
	}
}

// BenchmarkSmartHit is BenchmarkServeHTTP_L1Hit for a link with three
// rules (device, country, language) and a split, as issue 16's bench-edge
// case: the visitor matches no rule, so every rule is tested and the
// split decides.
func BenchmarkSmartHit(b *testing.B) {
	dsn := sqliteDSN(b)
	c := newCode(b, "bench")
	create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Smart: smartlink.Options{
		Rules: []smartlink.Rule{
			{When: smartlink.Conditions{Device: []string{"mobile"}, OS: []string{"ios"}}, URL: "https://example.com/ios"},
			{When: smartlink.Conditions{Country: []string{"DE", "AT", "CH"}}, URL: "https://example.de/"},
			{When: smartlink.Conditions{Language: []string{"fr"}}, URL: "https://example.fr/"},
		},
		Targets: []smartlink.Target{{URL: "https://a.example/landing", Weight: 50}, {URL: "https://b.example/landing", Weight: 50}},
	}})
	h := provision(b, &Handler{Database: dsn})
	r := httptest.NewRequest("GET", "/"+c, nil)
	r.Header.Set("User-Agent", uaDesktop)
	r.Header.Set("Accept-Language", "en-US,en;q=0.9")
	benchHits(b, h, r)
}
