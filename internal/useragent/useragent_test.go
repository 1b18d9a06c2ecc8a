package useragent

import (
	"strings"
	"testing"
)

// Real headers, as browsers and crawlers send them.
func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ua   string
		want Agent
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Agent{Desktop, "Chrome", "Windows"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
			Agent{Desktop, "Edge", "Windows"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
			Agent{Desktop, "Firefox", "Windows"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
			Agent{Desktop, "Safari", "macOS"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
			Agent{Desktop, "Opera", "macOS"}},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Agent{Desktop, "Chrome", "Linux"}},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
			Agent{Desktop, "Firefox", "Linux"}},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Agent{Desktop, "Chrome", "Chrome OS"}},
		{"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
			Agent{Desktop, "Internet Explorer", "Windows"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
			Agent{Mobile, "Safari", "iOS"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
			Agent{Mobile, "Chrome", "iOS"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
			Agent{Mobile, "Firefox", "iOS"}},
		{"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
			Agent{Tablet, "Safari", "iOS"}},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
			Agent{Mobile, "Chrome", "Android"}},
		{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
			Agent{Mobile, "Samsung Internet", "Android"}},
		{"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Agent{Tablet, "Chrome", "Android"}},
		{"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
			Agent{Mobile, "Firefox", "Android"}},
		{"Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
			Agent{Mobile, "Chrome", "Android"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/475.0.0.36.109;FBBV/643105826]",
			Agent{Mobile, "Facebook App", "iOS"}},
		{"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
			Agent{Mobile, "Edge", "Windows Phone"}},
		{"Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/131.1.1 like Chrome/131.0.6778.135 Safari/537.36",
			Agent{Tablet, "Chrome", "Android"}},
		// Crawlers and programs.
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			Agent{Bot, "Googlebot", ""}},
		{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			Agent{Bot, "Googlebot", "Android"}},
		{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
			Agent{Bot, "Bingbot", ""}},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
			Agent{Bot, "Facebook", ""}},
		{"Twitterbot/1.0", Agent{Bot, "Twitterbot", ""}},
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", Agent{Bot, "Slackbot", ""}},
		{"WhatsApp/2.23.20.0", Agent{Bot, "WhatsApp", ""}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
			Agent{Bot, "Applebot", "macOS"}},
		{"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", Agent{Bot, "GPTBot", ""}},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
			Agent{Bot, "HeadlessChrome", "Linux"}},
		{"curl/8.5.0", Agent{Bot, "curl", ""}},
		{"Wget/1.21.4", Agent{Bot, "Wget", ""}},
		{"python-requests/2.32.3", Agent{Bot, "Python", ""}},
		{"Go-http-client/1.1", Agent{Bot, "Go", ""}},
		{"Mozilla/5.0 (compatible; SomeNewCrawler/1.0)", Agent{Bot, "Other bot", ""}},
		{"ExampleMonitorBot", Agent{Bot, "Other bot", ""}},
		// Unknown and empty.
		{"", Agent{}},
		{"   ", Agent{}},
		{"Mozilla/5.0", Agent{Other, "", ""}},
		{"something odd", Agent{Other, "", ""}},
	} {
		if got := Parse(tc.ua); got != tc.want {
			t.Errorf("Parse(%q)\n = %+v\nwant %+v", tc.ua, got, tc.want)
		}
	}
}

func TestParseLongHeader(t *testing.T) {
	t.Parallel()
	ua := "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0 " + strings.Repeat("x", 100_000)
	if got := Parse(ua); got != (Agent{Desktop, "Firefox", "Windows"}) {
		t.Errorf("long header: %+v", got)
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	var c Cache
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
	for range 3 {
		if got, want := c.Parse(ua), Parse(ua); got != want {
			t.Fatalf("cached %+v, want %+v", got, want)
		}
	}
	for i := range cacheMax + 10 { // past the bound: starts over, stays correct
		c.Parse(strings.Repeat("a", i%50) + "curl/1")
	}
	if len(c.m) > cacheMax {
		t.Errorf("cache holds %d entries, bound %d", len(c.m), cacheMax)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36")
	f.Add("curl/8")
	f.Fuzz(func(t *testing.T, ua string) {
		a := Parse(ua)
		IsPreviewCrawler(ua)
		if Slug(a.OS) != slug(a.OS) || Slug(a.Browser) != slug(a.Browser) {
			t.Fatalf("Slug's table disagrees with slug for %+v", a)
		}
		switch a.Device {
		case "", Desktop, Mobile, Tablet, Bot, Other:
		default:
			t.Fatalf("device %q", a.Device)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	ua := "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	for b.Loop() {
		Parse(ua)
	}
}

func BenchmarkIsPreviewCrawler(b *testing.B) {
	ua := "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	for b.Loop() {
		IsPreviewCrawler(ua)
	}
}
