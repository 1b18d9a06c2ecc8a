package clickevents

import (
	"strings"
	"testing"
)

func TestIsBot(t *testing.T) {
	for _, c := range []struct {
		ua  string
		bot bool
	}{
		{"", true},
		// Crawlers and link-preview agents.
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", true},
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true},
		{"Slack-ImgProxy (+https://api.slack.com/robots)", true},
		{"Twitterbot/1.0", true},
		{"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true},
		{"meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)", true},
		{"WhatsApp/2.23.20.0 A", true},
		{"TelegramBot (like TwitterBot)", true},
		{"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", true},
		{"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", true},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)", true},
		{"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", true},
		{"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", true},
		{"Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", true},
		{"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", true},
		{"redditbot/1.0", true},
		{"Pinterest/0.2 (+https://www.pinterest.com/bot.html)", true},
		{"http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/)", true},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", true},
		{"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse", true},
		{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", true},
		{"FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", true},
		// Automation.
		{"curl/8.5.0", true},
		{"Wget/1.21.4", true},
		{"python-requests/2.31.0", true},
		{"Python-urllib/3.11", true},
		{"Go-http-client/1.1", true},
		{"Go-http-client/2.0", true},
		{"Java/17.0.2", true},
		{"okhttp/4.12.0", true},
		{"Apache-HttpClient/4.5.14 (Java/17.0.9)", true},
		{"axios/1.6.2", true},
		{"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", true},
		{"PostmanRuntime/7.36.0", true},
		{"Scrapy/2.11.0 (+https://scrapy.org)", true},
		{"libwww-perl/6.72", true},
		// People.
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", false},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", false},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", false},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", false},
		{"Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", false},
		{"Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1)", true},
		// Only the first MaxUserAgent bytes count.
		{strings.Repeat("a", MaxUserAgent) + "bot", false},
	} {
		if got := IsBot(c.ua); got != c.bot {
			t.Errorf("IsBot(%q) = %v, want %v", c.ua, got, c.bot)
		}
	}
}

func BenchmarkIsBot(b *testing.B) {
	for _, c := range []struct{ name, ua string }{
		{"chrome", sample.UserAgent},
		{"iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"},
		{"googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
	} {
		b.Run(c.name, func(b *testing.B) {
			defer ReportCPU(b, CPUTime(b))
			for b.Loop() {
				IsBot(c.ua)
			}
		})
	}
}
