package useragent

import "testing"

func TestSlug(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"Chrome OS":         "chromeos",
		"Samsung Internet":  "samsunginternet",
		"Windows Phone":     "windowsphone",
		"macOS":             "macos",
		"iOS":               "ios",
		"Internet Explorer": "internetexplorer",
		"Facebook App":      "facebookapp",
		"mobile":            "mobile",
		"  Some New  OS ":   "somenewos",
		"":                  "",
	} {
		if got := Slug(name); got != want {
			t.Errorf("Slug(%q) = %q, want %q", name, got, want)
		}
	}
}

// Real headers of the preview fetchers, and people's browsers and other
// bots that must keep getting the redirect.
func TestIsPreviewCrawler(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ua   string
		want bool
	}{
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
		{"Slack-ImgProxy (+https://api.slack.com/robots)", true},
		{"Twitterbot/1.0", true},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
		{"facebookcatalog/1.0", true},
		{"meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)", true},
		{"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", true},
		{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", true},
		{"WhatsApp/2.23.20.0 A", true},
		{"TelegramBot (like TwitterBot)", true},
		{"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com", true},
		{"Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)", true},
		{"Pinterest/0.2 (+http://www.pinterest.com/)", true},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0", true},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", true},
		{"http.rb/5.1.1 (Mastodon/4.2.0; +https://mastodon.social/)", true},
		{"Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)", true},
		{"Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)", true},
		{"Iframely/1.3.1 (+https://iframely.com/docs/about)", true},
		// People and other programs.
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/475.0.0.36.109]", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]", false},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", false},
		{"curl/8.5.0", false},
		{"", false},
	} {
		if got := IsPreviewCrawler(tc.ua); got != tc.want {
			t.Errorf("IsPreviewCrawler(%q) = %v, want %v", tc.ua, got, tc.want)
		}
	}
}

// The edge parses on the redirect path: neither call may allocate.
func TestNoAllocations(t *testing.T) {
	ua := "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
	if n := testing.AllocsPerRun(100, func() {
		a := Parse(ua)
		Slug(a.Browser)
		Slug(a.OS)
		IsPreviewCrawler(ua)
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}
