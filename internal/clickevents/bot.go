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

// notBotAfter are exceptions: a token preceded by these bytes is part
// of a browser's user agent, not a bot's (Cubot phones: "CUBOT_X30").
var notBotAfter = map[string]string{
	"bot": "cu",
}

// botIndex finds the tokens in one pass over a user agent: a bit per
// lower-case byte pair says whether a token starts with it, so that most
// positions cost a table lookup, and only the pairs that start a token
// look further.
var botIndex = func() (ix struct {
	pairs  [1 << 16 / 64]uint64
	tokens map[uint16][]string
}) {
	ix.tokens = make(map[uint16][]string)
	for _, t := range botTokens {
		if len(t) < 3 || string(bytes.ToLower(t)) != string(t) {
			panic("clickevents: bot token " + string(t) + " must be lower case and at least 3 bytes")
		}
		k := pair(t[0], t[1])
		ix.pairs[k/64] |= 1 << (k % 64)
		ix.tokens[k] = append(ix.tokens[k], string(t))
	}
	return ix
}()

// lower maps ASCII upper-case letters to lower case, other bytes to
// themselves.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

func pair(a, b byte) uint16 { return uint16(a)<<8 | uint16(b) }

// IsBot reports whether a user agent is a known crawler, link-preview
// agent or automation tool. The empty user agent counts as a bot: every
// browser sends one, scripts often do not. The test is a case-insensitive
// search for a fixed list of substrings in the first MaxUserAgent bytes,
// in one pass (no regular expression, no allocation; see BenchmarkIsBot).
// It aims at the agents that matter for link clicks, not at every crawler
// there is.
func IsBot(userAgent string) bool {
	if userAgent == "" {
		return true
	}
	ua := userAgent[:min(len(userAgent), MaxUserAgent)]
	for i := 0; i+3 <= len(ua); i++ {
		k := pair(lower[ua[i]], lower[ua[i+1]])
		if botIndex.pairs[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		for _, t := range botIndex.tokens[k] {
			if hasPrefixFold(ua[i:], t) && !hasSuffixFold(ua[:i], notBotAfter[t]) {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold reports whether s begins with the lower-case t, ignoring
// ASCII case in s.
func hasPrefixFold(s, t string) bool {
	if len(s) < len(t) {
		return false
	}
	for j := range len(t) {
		if lower[s[j]] != t[j] {
			return false
		}
	}
	return true
}

// hasSuffixFold reports whether s ends with the lower-case t (never, for
// an empty t), ignoring ASCII case in s.
func hasSuffixFold(s, t string) bool {
	return t != "" && len(s) >= len(t) && hasPrefixFold(s[len(s)-len(t):], t)
}
