package smartlink

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// full is a link using every option, for the round trips.
func full() Options {
	return Options{
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		MaxClicks:    100,
		ExpiredURL:   "https://example.com/expired",
		Rules: []Rule{
			{When: Conditions{Device: []string{"mobile"}, OS: []string{"iOS"}}, URL: "https://apps.apple.com/x"},
			{When: Conditions{Country: []string{"de", "AT"}, Language: []string{"de"}}, URL: "https://example.de/"},
			{When: Conditions{
				Browser: []string{"firefox"},
				Query:   map[string]string{"ref": "mail", "b": "2"},
				After:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				Before:  time.Date(2027, 1, 1, 0, 0, 0, 5, time.UTC),
			}, URL: "https://example.com/ff"},
		},
		Targets:       []Target{{URL: "https://a.example/", Weight: 70}, {URL: "https://b.example/", Weight: 30}},
		ForwardQuery:  true,
		QueryOverride: true,
		Preview:       &Preview{Title: "Title ✓", Description: "A description", Image: "https://example.com/i.png"},
	}
}

func TestCompileRoundTrip(t *testing.T) {
	t.Parallel()
	withCache := Options{CacheMaxAge: 3600, ExpiredURL: "https://x.example/"}
	for _, tc := range []struct {
		name string
		o    Options
		has  Has
	}{
		{"plain", Options{}, 0},
		{"password", Options{PasswordHash: full().PasswordHash}, HasPassword},
		{"max_clicks", Options{MaxClicks: MaxClicksLimit}, HasMaxClicks},
		{"expired_url", Options{ExpiredURL: "https://e.example/"}, HasExpiredURL},
		{"cache_max_age", withCache, HasCacheMaxAge | HasExpiredURL},
		{"preview", Options{Preview: &Preview{Image: "https://i.example/a.png"}}, HasPreview},
		{"forward_query", Options{ForwardQuery: true}, HasForwardQuery},
		{"rules", Options{Rules: full().Rules}, HasRules},
		{"targets", Options{Targets: full().Targets}, HasTargets},
		{"all", full(), HasPassword | HasMaxClicks | HasExpiredURL | HasRules | HasTargets | HasForwardQuery | HasPreview},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "https://example.com/" + tc.name
			c, err := Compile(url, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Has(); got != tc.has {
				t.Errorf("Has = %b, want %b", got, tc.has)
			}
			if c.URL() != url {
				t.Errorf("URL = %q", c.URL())
			}
			if c.PasswordHash() != tc.o.PasswordHash {
				t.Errorf("PasswordHash = %q", c.PasswordHash())
			}
			if c.MaxClicks() != tc.o.MaxClicks {
				t.Errorf("MaxClicks = %d", c.MaxClicks())
			}
			if c.ExpiredURL() != tc.o.ExpiredURL {
				t.Errorf("ExpiredURL = %q", c.ExpiredURL())
			}
			if c.CacheMaxAge() != tc.o.CacheMaxAge {
				t.Errorf("CacheMaxAge = %d", c.CacheMaxAge())
			}
			p, ok := c.Preview()
			if ok != (tc.o.Preview != nil) || ok && p != *tc.o.Preview {
				t.Errorf("Preview = %+v, %v", p, ok)
			}
			if c.QueryOverride() != tc.o.QueryOverride {
				t.Errorf("QueryOverride = %v", c.QueryOverride())
			}
			// Every prefix is malformed and decodes to zero values.
			for n := range len(c) {
				if p := c[:n]; p.Has() != 0 || p.URL() != "" || p.MaxClicks() != 0 {
					t.Fatalf("prefix of %d bytes decodes", n)
				}
			}
		})
	}
}

func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	long := "https://example.com/" + strings.Repeat("a", 1<<16)
	for name, o := range map[string]Options{
		"long url in rule": {Rules: []Rule{{When: Conditions{Country: []string{"DE"}}, URL: long}}},
		"unknown device":   {Rules: []Rule{{When: Conditions{Device: []string{"fridge"}}, URL: "https://x.example/"}}},
		"weight":           {Targets: []Target{{URL: "https://a.example/", Weight: 0}, {URL: "https://b.example/", Weight: 100}}},
	} {
		if _, err := Compile("https://example.com/", o); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
	if _, err := Compile(long, Options{}); err == nil {
		t.Error("long url: compiled")
	}
}

func TestChoiceString(t *testing.T) {
	t.Parallel()
	for c, want := range map[Choice]string{
		ChoiceURL: "url", RuleChoice(0): "rules[0]", RuleChoice(19): "rules[19]",
		TargetChoice(0): "targets[0]", TargetChoice(9): "targets[9]",
		RuleChoice(20): "unknown", TargetChoice(10): "unknown", 255: "unknown",
	} {
		if got := c.String(); got != want {
			t.Errorf("Choice(%d) = %q, want %q", c, got, want)
		}
	}
}

// FuzzCompiled feeds arbitrary bytes to every decoder: none may panic,
// and a Compiled that Has() refuses reads as zero values.
func FuzzCompiled(f *testing.F) {
	for _, o := range []Options{{}, full(), {MaxClicks: 3, ForwardQuery: true}} {
		c, err := Compile("https://example.com/", o)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(c), "a=1&b=%zz", "de-AT,de;q=0.9", "Mozilla/5.0 (iPhone) Mobile", uint64(7))
	}
	forwarding, err := Compile("https://example.com/", Options{ForwardQuery: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s, query, lang, ua string, hash uint64) {
		c := Compiled(s)
		has := c.Has()
		url := c.URL()
		v := &Visitor{UserAgent: ua, AcceptLanguage: lang, RawQuery: query, Country: "DE", Now: time.Unix(1e9, 0), Hash: hash}
		target, choice := c.Choose(v)
		forwarded := c.ForwardQuery("https://t.example/?x=1#f", query)
		_, hasPreview := c.Preview()
		_ = c.CacheMaxAge()
		if has == 0 && (c.PasswordHash() != "" || c.MaxClicks() != 0 || c.ExpiredURL() != "" || hasPreview ||
			c.QueryOverride() || target != url || choice != ChoiceURL || forwarded != "https://t.example/?x=1#f") {
			t.Fatalf("a Compiled with no options (or malformed) decodes to options")
		}
		// Whatever the visitor sends, the merged URL keeps the target's
		// fragment last and holds nothing that ends a query or a header.
		out := forwarding.ForwardQuery("https://t.example/?x=1#f", query)
		if strings.IndexByte(out, '#') != len(out)-2 || strings.ContainsFunc(out, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("ForwardQuery(%q) = %q", query, out)
		}
		if choice.String() == "unknown" {
			t.Fatalf("Choose made choice %d", choice)
		}
	})
}

// TestCompileDeterministic: the query map's order does not show, so every
// edge compiles a link to the same bytes.
func TestCompileDeterministic(t *testing.T) {
	t.Parallel()
	o := Options{Rules: []Rule{{When: Conditions{Query: map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}}, URL: "https://x.example/"}}}
	first, err := Compile("https://example.com/", o)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if c, _ := Compile("https://example.com/", o); c != first {
			t.Fatal("two compilations differ")
		}
	}
}

// TestCompileLargest: a link at every limit compiles and reads back.
func TestCompileLargest(t *testing.T) {
	t.Parallel()
	long := "https://example.com/" + strings.Repeat("a", MaxURL-20)
	var o Options
	for i := range MaxRules {
		c := Conditions{Device: Devices, OS: Systems, Browser: Browsers, Query: map[string]string{}}
		for j := range MaxValues {
			c.Country = append(c.Country, fmt.Sprintf("%c%c", 'A'+j%26, 'A'+j/26))
			c.Language = append(c.Language, []string{"de", "de-AT", "de-AT-1234567", "pt-BR"}[j%4])
		}
		for j := range MaxQuery {
			c.Query[fmt.Sprintf("%d%s", j, strings.Repeat("k", 250))] = strings.Repeat("v", 1024)
		}
		o.Rules = append(o.Rules, Rule{When: c, URL: long[:len(long)-i]})
	}
	for i := range MaxTargets {
		o.Targets = append(o.Targets, Target{URL: long[:len(long)-i], Weight: TotalWeight / MaxTargets})
	}
	c := mustCompile(t, long, o)
	v := &Visitor{Country: "ZZ", Now: now, Hash: 1}
	if got, choice := c.Choose(v); choice < TargetChoice(0) || !strings.HasPrefix(got, "https://example.com/") {
		t.Errorf("Choose = %.40q, %v", got, choice)
	}
	v = &Visitor{Country: "AA", UserAgent: uaIPhone, AcceptLanguage: "de", RawQuery: "x=1", Now: now}
	for j := range MaxQuery {
		v.RawQuery += fmt.Sprintf("&%d%s=%s", j, strings.Repeat("k", 250), strings.Repeat("v", 1024))
	}
	if got, choice := c.Choose(v); choice != RuleChoice(0) || got != long {
		t.Errorf("Choose = %.40q, %v", got, choice)
	}
}
