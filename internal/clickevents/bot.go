package clickevents

import "bytes"

// botTokens are lower-case substrings of the user agents that IsBot flags.
// "bot" alone covers most crawlers and link-preview agents (Googlebot,
// bingbot, Slackbot, Twitterbot, TelegramBot, Discordbot, LinkedInBot,
// Applebot, YandexBot, DuckDuckBot, redditbot, AhrefsBot, ...); the rest
// name agents without it. Automation (curl, wget, HTTP libraries) counts
// as a bot too: people do not click links with it.
var botTokens = [][]byte{
	[]byte("bot"),
	[]byte("crawl"),  // crawler, Crawl, ...
	[]byte("spider"), // Baiduspider, Sogou web spider, ...
	[]byte("slurp"),  // Yahoo! Slurp
	[]byte("facebookexternalhit"),
	[]byte("facebookcatalog"),
	[]byte("meta-externalagent"),
	[]byte("whatsapp"),
	[]byte("headless"), // HeadlessChrome
	[]byte("phantomjs"),
	[]byte("lighthouse"),
	[]byte("preview"), // SkypeUriPreview, Google Web Preview, Quora Link Preview
	[]byte("embedly"),
	[]byte("iframely"),
	[]byte("mastodon"), // Mastodon's link preview fetcher
	[]byte("pinterest"),
	[]byte("vkshare"),
	[]byte("slack-imgproxy"),
	[]byte("feedfetcher"),
	[]byte("google-inspectiontool"),
	[]byte("ia_archiver"),
	[]byte("curl/"),
	[]byte("wget/"),
	[]byte("python-"), // python-requests, python-urllib, python-httpx
	[]byte("aiohttp"),
	[]byte("go-http-client"),
	[]byte("java/"),
	[]byte("okhttp/"),
	[]byte("httpclient"), // Apache-HttpClient
	[]byte("libwww"),
	[]byte("axios/"),
	[]byte("node-fetch"),
	[]byte("undici"),
	[]byte("scrapy"),
	[]byte("postmanruntime"),
	[]byte("httpie"),
}

// notBotTokens are browsers whose user agent contains a bot token by
// accident: Cubot phones ("CUBOT" model names on Android).
var notBotTokens = [][]byte{
	[]byte("cubot"),
}

// IsBot reports whether a user agent is a known crawler, link-preview
// agent or automation tool. The empty user agent counts as a bot: every
// browser sends one, scripts often do not. The test is a case-insensitive
// search for a fixed list of substrings in the first MaxUserAgent bytes
// (no regular expression, no allocation; see BenchmarkIsBot). It aims at the agents that matter for link clicks, not
// at every crawler there is.
func IsBot(userAgent string) bool {
	if userAgent == "" {
		return true
	}
	var buf [MaxUserAgent]byte
	n := min(len(userAgent), len(buf))
	for i := range n {
		c := userAgent[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	ua := buf[:n]
	for _, nt := range notBotTokens {
		// Blank the exception out, so that "CUBOT ... Googlebot" is
		// still a bot.
		for i := bytes.Index(ua, nt); i >= 0; i = bytes.Index(ua, nt) {
			clear(ua[i : i+len(nt)])
		}
	}
	for _, t := range botTokens {
		if bytes.Contains(ua, t) {
			return true
		}
	}
	return false
}
