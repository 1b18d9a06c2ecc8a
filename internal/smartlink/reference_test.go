package smartlink

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/useragent"
)

// chooseRule is the rules' meaning written plainly over Options, with the
// standard library's parsers: Choose over the Compiled form must agree
// with it on any link and visitor.
func chooseRule(o Options, v Visitor) int {
	agent := useragent.Parse(v.UserAgent)
	q, _ := url.ParseQuery(v.RawQuery)
	lang := preferredLanguage(v.AcceptLanguage)
	for i, r := range o.Rules {
		if matchesPlain(r.When, agent, q, lang, v) {
			return i
		}
	}
	return -1
}

func matchesPlain(c Conditions, a useragent.Agent, q url.Values, lang string, v Visitor) bool {
	in := func(list []string, value string) bool {
		return value != "" && slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, value) })
	}
	if len(c.Device) > 0 && !in(c.Device, useragent.Slug(a.Device)) ||
		len(c.OS) > 0 && !in(c.OS, useragent.Slug(a.OS)) ||
		len(c.Browser) > 0 && !in(c.Browser, useragent.Slug(a.Browser)) ||
		len(c.Country) > 0 && !in(c.Country, v.Country) {
		return false
	}
	if len(c.Language) > 0 && !slices.ContainsFunc(c.Language, func(tag string) bool {
		l, t := strings.ToLower(lang), strings.ToLower(tag)
		return l == t || strings.HasPrefix(l, t+"-")
	}) {
		return false
	}
	for k, want := range c.Query {
		if got, ok := q[k]; !ok || got[0] != want {
			return false
		}
	}
	if !c.After.IsZero() && v.Now.Before(c.After) || !c.Before.IsZero() && !v.Now.Before(c.Before) {
		return false
	}
	return true
}

// TestChooseAgreesWithPlainReading draws random links and visitors.
func TestChooseAgreesWithPlainReading(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(list []string) []string {
		var out []string
		for range rng.IntN(3) {
			out = append(out, list[rng.IntN(len(list))])
		}
		return out
	}
	agents := []string{uaIPhone, uaAndroid, uaCrOS, uaFirefox, uaIPad, uaBot, ""}
	countries := []string{"DE", "AT", "FR", "us", ""}
	langs := []string{"de", "de-AT", "pt-BR", "pt", "en", "fr"}
	headers := []string{"", "de", "de-AT,en;q=0.5", "pt-br", "pt;q=0.9, pt-BR", "en;q=0, fr", "*, en;q=0.3", "fr-CA;q=0.8,de;q=0.8"}
	queries := []string{"", "a=1", "a=2&b=x", "b=x&a=1", "a=1&a=2", "a+b=c%20d", "a=%zz", "a=%zz&a=2", "a=1&a=%", "b="}
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for n := range 3000 {
		var o Options
		for range 1 + rng.IntN(4) {
			var c Conditions
			for empty(c) {
				c = Conditions{
					Device: pick(Devices), OS: pick(Systems), Browser: pick(Browsers),
					Country: pick([]string{"DE", "AT", "FR", "US"}), Language: pick(langs),
				}
				if rng.IntN(3) == 0 {
					c.Query = map[string]string{"a": fmt.Sprint(1 + rng.IntN(2))}
					if rng.IntN(2) == 0 {
						c.Query["b"] = "x"
					}
				}
				if rng.IntN(3) == 0 {
					c.After = base.Add(time.Duration(rng.IntN(48)) * time.Hour)
				}
				if rng.IntN(3) == 0 {
					c.Before = c.After.Add(time.Duration(1+rng.IntN(48)) * time.Hour)
					if c.After.IsZero() {
						c.Before = base.Add(time.Duration(rng.IntN(48)) * time.Hour)
					}
				}
			}
			o.Rules = append(o.Rules, Rule{When: c, URL: fmt.Sprintf("https://r%d.example/", len(o.Rules))})
		}
		c := mustCompile(t, home, o)
		for range 10 {
			v := Visitor{
				UserAgent: agents[rng.IntN(len(agents))], Country: countries[rng.IntN(len(countries))],
				AcceptLanguage: headers[rng.IntN(len(headers))], RawQuery: queries[rng.IntN(len(queries))],
				Now: base.Add(time.Duration(rng.IntN(72*60)) * time.Minute), Hash: rng.Uint64(),
			}
			want := chooseRule(o, v)
			got, choice := c.Choose(&v)
			wantURL, wantChoice := home, ChoiceURL
			if want >= 0 {
				wantURL, wantChoice = o.Rules[want].URL, RuleChoice(want)
			}
			if got != wantURL || choice != wantChoice {
				t.Fatalf("link %d: %+v\nvisitor %+v\nChoose = %q, %v; plain reading %q, %v", n, o.Rules, v, got, choice, wantURL, wantChoice)
			}
		}
	}
}

func empty(c Conditions) bool {
	return len(c.Device)+len(c.OS)+len(c.Browser)+len(c.Country)+len(c.Language)+len(c.Query) == 0 &&
		c.After.IsZero() && c.Before.IsZero()
}
