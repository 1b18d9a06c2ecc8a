package smartlink

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// Real headers for the device, os and browser conditions.
const (
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
	uaCrOS    = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaIPad    = "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1"
	uaBot     = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func mustCompile(t testing.TB, url string, o Options) Compiled {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatalf("options do not validate: %v", err)
	}
	c, err := Compile(url, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	home = "https://example.com/"
	hit  = "https://hit.example/"
)

// TestConditions tests each condition alone: a link with one rule, which
// the visitor either matches (hit) or not (home).
func TestConditions(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		name string
		when Conditions
		v    Visitor
		want bool
	}{
		{"device mobile", Conditions{Device: []string{"mobile"}}, Visitor{UserAgent: uaIPhone}, true},
		{"device tablet", Conditions{Device: []string{"tablet"}}, Visitor{UserAgent: uaIPad}, true},
		{"device desktop not mobile", Conditions{Device: []string{"mobile"}}, Visitor{UserAgent: uaFirefox}, false},
		{"device one of", Conditions{Device: []string{"tablet", "Desktop"}}, Visitor{UserAgent: uaFirefox}, true},
		{"device bot", Conditions{Device: []string{"bot"}}, Visitor{UserAgent: uaBot}, true},
		{"device empty header", Conditions{Device: []string{"desktop"}}, Visitor{}, false},
		{"os ios", Conditions{OS: []string{"ios"}}, Visitor{UserAgent: uaIPhone}, true},
		{"os ipad is ios", Conditions{OS: []string{"ios"}}, Visitor{UserAgent: uaIPad}, true},
		{"os android", Conditions{OS: []string{"android"}}, Visitor{UserAgent: uaAndroid}, true},
		{"os chromeos", Conditions{OS: []string{"chromeos"}}, Visitor{UserAgent: uaCrOS}, true},
		{"os windows not linux", Conditions{OS: []string{"linux"}}, Visitor{UserAgent: uaFirefox}, false},
		{"browser samsunginternet", Conditions{Browser: []string{"samsunginternet"}}, Visitor{UserAgent: uaAndroid}, true},
		{"browser samsung is not chrome", Conditions{Browser: []string{"chrome"}}, Visitor{UserAgent: uaAndroid}, false},
		{"browser firefox", Conditions{Browser: []string{"Firefox"}}, Visitor{UserAgent: uaFirefox}, true},
		{"browser safari", Conditions{Browser: []string{"safari"}}, Visitor{UserAgent: uaIPhone}, true},
		{"country", Conditions{Country: []string{"AT", "DE"}}, Visitor{Country: "DE"}, true},
		{"country any case", Conditions{Country: []string{"de"}}, Visitor{Country: "De"}, true},
		{"country other", Conditions{Country: []string{"DE"}}, Visitor{Country: "FR"}, false},
		{"country unknown", Conditions{Country: []string{"DE"}}, Visitor{}, false},
		{"language exact", Conditions{Language: []string{"de"}}, Visitor{AcceptLanguage: "de"}, true},
		{"language region of bare", Conditions{Language: []string{"de"}}, Visitor{AcceptLanguage: "de-AT,en;q=0.5"}, true},
		{"language not a prefix of a subtag", Conditions{Language: []string{"de"}}, Visitor{AcceptLanguage: "dev"}, false},
		{"language region exact", Conditions{Language: []string{"pt-BR"}}, Visitor{AcceptLanguage: "pt-br"}, true},
		{"language region vs bare", Conditions{Language: []string{"pt-BR"}}, Visitor{AcceptLanguage: "pt"}, false},
		{"language region vs other region", Conditions{Language: []string{"pt-BR"}}, Visitor{AcceptLanguage: "pt-PT"}, false},
		{"language by q", Conditions{Language: []string{"fr"}}, Visitor{AcceptLanguage: "en;q=0.5, fr;q=0.9, de;q=0.7"}, true},
		{"language not most preferred", Conditions{Language: []string{"de"}}, Visitor{AcceptLanguage: "en;q=0.5, fr;q=0.9, de;q=0.7"}, false},
		{"language first of equals", Conditions{Language: []string{"en"}}, Visitor{AcceptLanguage: "en, fr"}, true},
		{"language q=0 excluded", Conditions{Language: []string{"de"}}, Visitor{AcceptLanguage: "de;q=0, en;q=0.1"}, false},
		{"language q=0 only", Conditions{Language: []string{"de"}}, Visitor{AcceptLanguage: "de;q=0.000"}, false},
		{"language star skipped", Conditions{Language: []string{"it"}}, Visitor{AcceptLanguage: "*, it;q=0.8"}, true},
		{"language malformed q skipped", Conditions{Language: []string{"it"}}, Visitor{AcceptLanguage: "de;q=2, it;q=0.8"}, true},
		{"language missing header", Conditions{Language: []string{"de"}}, Visitor{}, false},
		{"query", Conditions{Query: map[string]string{"ref": "mail"}}, Visitor{RawQuery: "x=1&ref=mail"}, true},
		{"query decoded", Conditions{Query: map[string]string{"q s": "a&b"}}, Visitor{RawQuery: "q+s=a%26b"}, true},
		{"query all must hold", Conditions{Query: map[string]string{"a": "1", "b": "2"}}, Visitor{RawQuery: "a=1&b=3"}, false},
		{"query all hold", Conditions{Query: map[string]string{"a": "1", "b": "2"}}, Visitor{RawQuery: "b=2&a=1"}, true},
		{"query first occurrence", Conditions{Query: map[string]string{"a": "2"}}, Visitor{RawQuery: "a=1&a=2"}, false},
		{"query empty value", Conditions{Query: map[string]string{"a": ""}}, Visitor{RawQuery: "a"}, true},
		{"query absent", Conditions{Query: map[string]string{"a": "1"}}, Visitor{RawQuery: "b=1"}, false},
		{"query bad escape skipped", Conditions{Query: map[string]string{"a": "1"}}, Visitor{RawQuery: "a=%zz&a=1"}, true},
		{"query bad escape", Conditions{Query: map[string]string{"a": "%zz"}}, Visitor{RawQuery: "a=%zz"}, false},
		{"after: at the instant", Conditions{After: now}, Visitor{Now: now}, true},
		{"after: a nanosecond early", Conditions{After: now}, Visitor{Now: now.Add(-1)}, false},
		{"before: at the instant", Conditions{Before: now}, Visitor{Now: now}, false},
		{"before: a nanosecond early", Conditions{Before: now}, Visitor{Now: now.Add(-1)}, true},
		{"window", Conditions{After: at("2026-01-01T00:00:00Z"), Before: at("2027-01-01T00:00:00Z")}, Visitor{Now: now}, true},
		{"window over", Conditions{After: at("2025-01-01T00:00:00Z"), Before: at("2026-01-01T00:00:00Z")}, Visitor{Now: now}, false},
		{"window other zone", Conditions{After: at("2026-06-01T13:00:00+01:00")}, Visitor{Now: now}, true},
		{"before pre-1970", Conditions{Before: at("1960-01-01T00:00:00Z")}, Visitor{Now: now}, false},
		{"all conditions", Conditions{Device: []string{"mobile"}, OS: []string{"ios"}, Browser: []string{"safari"},
			Country: []string{"CH"}, Language: []string{"fr"}, Query: map[string]string{"c": "1"}, After: now.Add(-time.Hour), Before: now.Add(time.Hour)},
			Visitor{UserAgent: uaIPhone, Country: "CH", AcceptLanguage: "fr-CH, de;q=0.9", RawQuery: "c=1", Now: now}, true},
		{"all conditions but one", Conditions{Device: []string{"mobile"}, OS: []string{"ios"}, Browser: []string{"safari"},
			Country: []string{"CH"}, Language: []string{"fr"}, Query: map[string]string{"c": "1"}, After: now.Add(-time.Hour), Before: now.Add(time.Hour)},
			Visitor{UserAgent: uaIPhone, Country: "AT", AcceptLanguage: "fr-CH, de;q=0.9", RawQuery: "c=1", Now: now}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, home, Options{Rules: []Rule{{When: tc.when, URL: hit}}})
			v := tc.v
			if v.Now.IsZero() {
				v.Now = now
			}
			got, choice := c.Choose(&v)
			want, wantChoice := home, ChoiceURL
			if tc.want {
				want, wantChoice = hit, RuleChoice(0)
			}
			if got != want || choice != wantChoice {
				t.Errorf("Choose = %q, %v; want %q, %v", got, choice, want, wantChoice)
			}
		})
	}
}

func TestRuleOrder(t *testing.T) {
	t.Parallel()
	c := mustCompile(t, home, Options{
		Rules: []Rule{
			{When: Conditions{Country: []string{"DE"}, Device: []string{"mobile"}}, URL: "https://de-mobile.example/"},
			{When: Conditions{Country: []string{"DE"}}, URL: "https://de.example/"},
			{When: Conditions{Device: []string{"mobile"}}, URL: "https://mobile.example/"},
		},
		Targets: []Target{{URL: "https://a.example/", Weight: 50}, {URL: "https://b.example/", Weight: 50}},
	})
	for _, tc := range []struct {
		v      Visitor
		url    string
		choice Choice
	}{
		{Visitor{Country: "DE", UserAgent: uaIPhone}, "https://de-mobile.example/", RuleChoice(0)},
		{Visitor{Country: "DE", UserAgent: uaFirefox}, "https://de.example/", RuleChoice(1)},
		{Visitor{Country: "FR", UserAgent: uaIPhone}, "https://mobile.example/", RuleChoice(2)},
		{Visitor{Country: "FR", UserAgent: uaFirefox, Hash: 1}, "", TargetChoice(0)},
	} {
		v := tc.v
		v.Now = now
		got, choice := c.Choose(&v)
		if choice >= TargetChoice(0) && tc.choice >= TargetChoice(0) {
			continue // the split; TestSplit covers which variant
		}
		if got != tc.url || choice != tc.choice {
			t.Errorf("%+v: Choose = %q, %v; want %q, %v", tc.v, got, choice, tc.url, tc.choice)
		}
	}
}

// TestParseOnce: the user agent is parsed once per Visitor, and not at
// all when no rule tests it.
func TestParseOnce(t *testing.T) {
	t.Parallel()
	c := mustCompile(t, home, Options{Rules: []Rule{
		{When: Conditions{Country: []string{"DE"}}, URL: hit},
	}})
	v := &Visitor{UserAgent: uaIPhone, Country: "FR", Now: now}
	c.Choose(v)
	if v.parsed {
		t.Error("parsed the user agent for a country rule")
	}
	c = mustCompile(t, home, Options{Rules: []Rule{
		{When: Conditions{OS: []string{"android"}}, URL: hit},
		{When: Conditions{Device: []string{"mobile"}}, URL: "https://m.example/"},
	}})
	c.Choose(v)
	if !v.parsed {
		t.Fatal("did not parse")
	}
	v.UserAgent = uaAndroid // the memo wins: a Visitor serves one request
	if got, _ := c.Choose(v); got != "https://m.example/" {
		t.Errorf("reparsed: %q", got)
	}
}

func split(t testing.TB, url string, weights ...int) Compiled {
	var ts []Target
	for i, w := range weights {
		ts = append(ts, Target{URL: fmt.Sprintf("https://v%d.example/", i), Weight: w})
	}
	return mustCompile(t, url, Options{Targets: ts})
}

func TestSplit(t *testing.T) {
	t.Parallel()
	const n = 10000
	for _, weights := range [][]int{{70, 30}, {50, 50}, {1, 99}, {10, 20, 30, 40}, {10, 10, 10, 10, 10, 10, 10, 10, 10, 10}} {
		c := split(t, home, weights...)
		counts := make([]int, len(weights))
		for h := range uint64(n) {
			v := &Visitor{Hash: h + 1, Now: now}
			url, choice := c.Choose(v)
			i := int(choice - TargetChoice(0))
			if i < 0 || i >= len(weights) || url != fmt.Sprintf("https://v%d.example/", i) {
				t.Fatalf("hash %d: %q, %v", h, url, choice)
			}
			counts[i]++
			if again, _ := c.Choose(&Visitor{Hash: h + 1, Now: now.Add(time.Hour)}); again != url {
				t.Fatalf("hash %d not sticky: %q then %q", h, url, again)
			}
		}
		for i, w := range weights {
			if got := float64(counts[i]) / n * 100; math.Abs(got-float64(w)) > 2 {
				t.Errorf("weights %v: variant %d got %.1f%%", weights, i, got)
			}
		}
	}
}

// TestSplitLinksDoNotCorrelate: the same visitors over two 50/50 links
// land in the four combinations about equally.
func TestSplitLinksDoNotCorrelate(t *testing.T) {
	t.Parallel()
	a, b := split(t, "https://a.example/", 50, 50), split(t, "https://b.example/", 50, 50)
	const n = 10000
	var both [2][2]int
	for h := range uint64(n) {
		_, ca := a.Choose(&Visitor{Hash: h + 1})
		_, cb := b.Choose(&Visitor{Hash: h + 1})
		both[ca-TargetChoice(0)][cb-TargetChoice(0)]++
	}
	for i := range 2 {
		for j := range 2 {
			if got := float64(both[i][j]) / n * 100; math.Abs(got-25) > 2 {
				t.Errorf("variants %d and %d together: %.1f%%, want about 25%%", i, j, got)
			}
		}
	}
}

// TestSplitUnknownVisitor: Hash 0 picks by the time's nanoseconds.
func TestSplitUnknownVisitor(t *testing.T) {
	t.Parallel()
	c := split(t, home, 70, 30)
	counts := [2]int{}
	for i := range 10000 {
		_, choice := c.Choose(&Visitor{Now: now.Add(time.Duration(i) * 7919)})
		counts[choice-TargetChoice(0)]++
	}
	if got := float64(counts[0]) / 100; math.Abs(got-70) > 3 {
		t.Errorf("unknown visitors: %.1f%% on the 70%% variant", got)
	}
}

func TestForwardQuery(t *testing.T) {
	t.Parallel()
	fwd := mustCompile(t, home, Options{ForwardQuery: true})
	over := mustCompile(t, home, Options{ForwardQuery: true, QueryOverride: true})
	off := mustCompile(t, home, Options{MaxClicks: 5})
	for _, tc := range []struct {
		c             Compiled
		target, query string
		want          string
	}{
		{fwd, "https://t.example/p", "a=1", "https://t.example/p?a=1"},
		{fwd, "https://t.example/p?x=1", "a=1&b=2", "https://t.example/p?x=1&a=1&b=2"},
		{fwd, "https://t.example/p?a=link", "a=visitor&b=2", "https://t.example/p?a=link&b=2"},
		{fwd, "https://t.example/p?a%20b=link", "a+b=visitor", "https://t.example/p?a%20b=link"},
		{over, "https://t.example/p?a=link&x=1", "a=visitor&b=2", "https://t.example/p?x=1&a=visitor&b=2"},
		{fwd, "https://t.example/p?x=1#frag", "a=1", "https://t.example/p?x=1&a=1#frag"},
		{fwd, "https://t.example/p#frag", "a=1", "https://t.example/p?a=1#frag"},
		{fwd, "https://t.example/p?", "a=1", "https://t.example/p?a=1"},
		{fwd, "https://t.example/p", "&&a=1&", "https://t.example/p?a=1"},
		{fwd, "https://t.example/p", "a=#x y\r\n", "https://t.example/p?a=%23x%20y%0D%0A"},
		{fwd, "https://t.example/p", "a=é", "https://t.example/p?a=%C3%A9"},
		{fwd, "https://t.example/p?x=1", "", "https://t.example/p?x=1"},
		{off, "https://t.example/p?x=1", "a=1", "https://t.example/p?x=1"},
		{Compiled("junk"), "https://t.example/p", "a=1", "https://t.example/p"},
	} {
		if got := tc.c.ForwardQuery(tc.target, tc.query); got != tc.want {
			t.Errorf("ForwardQuery(%q, %q) = %q, want %q", tc.target, tc.query, got, tc.want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	c := benchLink(t)
	fwd := mustCompile(t, home, Options{ForwardQuery: true})
	v := Visitor{UserAgent: uaAndroid, Country: "FR", AcceptLanguage: "fr-FR,fr;q=0.9,en;q=0.8", RawQuery: "utm_source=x&ref=web", Now: now, Hash: 42}
	if n := testing.AllocsPerRun(200, func() {
		w := v
		c.Choose(&w)
		c.URL()
		c.MaxClicks()
		c.Preview()
		fwd.ForwardQuery(home, "")
		c.ForwardQuery(home, "a=1")
		_ = RuleChoice(3).String()
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// benchLink is the benchmark shape: three rules and a split, the
// visitor matching none of the rules.
func benchLink(t testing.TB) Compiled {
	return mustCompile(t, home, Options{
		Rules: []Rule{
			{When: Conditions{Device: []string{"mobile"}, OS: []string{"ios"}}, URL: "https://apps.apple.com/app/x"},
			{When: Conditions{Country: []string{"DE", "AT", "CH"}, Language: []string{"de"}}, URL: "https://example.de/"},
			{When: Conditions{Query: map[string]string{"ref": "mail"}, After: now.Add(-time.Hour)}, URL: "https://example.com/mail"},
		},
		Targets: []Target{{URL: "https://a.example/", Weight: 70}, {URL: "https://b.example/", Weight: 30}},
	})
}

func BenchmarkChoose(b *testing.B) {
	c := benchLink(b)
	v := Visitor{UserAgent: uaAndroid, Country: "FR", AcceptLanguage: "fr-FR,fr;q=0.9,en;q=0.8", RawQuery: "utm_source=x&ref=web", Now: now}
	b.ReportAllocs()
	var h uint64
	for b.Loop() {
		h++
		w := v
		w.Hash = h
		c.Choose(&w)
	}
}
