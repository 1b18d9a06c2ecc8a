// Package useragent classifies a User-Agent header into the three
// dimensions the stats keep and the smart-link rules test: device class,
// browser family and operating system family (Slug gives the rules' form
// of a family name); and tells link-preview crawlers (IsPreviewCrawler),
// which the edge shows a link's preview instead of the redirect.
//
// It is a small table of substrings checked in order, not a full parser:
// the dashboard shows families ("Chrome", "iOS"), never versions, and the
// dozen families that cover nearly all traffic are told apart by a few
// well-known tokens. The order matters because browsers impersonate each
// other (every Chromium browser says "Chrome" and "Safari", Edge says
// "Edg/", Opera "OPR/"), so the specific tokens come first. Bots are
// recognised by their product tokens and by the generic words crawlers
// use ("bot", "crawler", "spider"), and by HTTP libraries (curl, Go, Python)
// that no person's browser sends.
//
// Classifying a typical header takes about a microsecond and allocates
// nothing (the edge does it on the redirect path when a rule asks); Cache
// memoises the answers, as a batch of clicks holds few distinct headers.
package useragent

import (
	"bytes"
	"strings"
)

// Device classes.
const (
	Desktop = "desktop"
	Mobile  = "mobile"
	Tablet  = "tablet"
	Bot     = "bot"
	Other   = "other"
)

// Agent is what Parse makes of a User-Agent header. Unknown families are
// "" (the stats' "unknown" value); Device is Other when nothing matched
// and "" only for an empty header.
type Agent struct {
	Device  string
	Browser string
	OS      string
}

// IsBot reports whether the agent is a crawler or a program.
func (a Agent) IsBot() bool { return a.Device == Bot }

// rule maps a substring of the header to a family name.
type rule struct{ token, name string }

// bots are checked first, case-insensitively (the header is lowered).
// Named crawlers keep their name as the browser; anything else that
// declares itself a bot is "Other bot".
var bots = []rule{
	{"googlebot", "Googlebot"},
	{"adsbot-google", "Googlebot"},
	{"mediapartners-google", "Googlebot"},
	{"google-inspectiontool", "Googlebot"},
	{"bingbot", "Bingbot"},
	{"bingpreview", "Bingbot"},
	{"yandexbot", "YandexBot"},
	{"yandex.com/bots", "YandexBot"},
	{"baiduspider", "Baiduspider"},
	{"duckduckbot", "DuckDuckBot"},
	{"applebot", "Applebot"},
	{"facebookexternalhit", "Facebook"},
	{"facebookcatalog", "Facebook"},
	{"meta-externalagent", "Facebook"},
	{"twitterbot", "Twitterbot"},
	{"linkedinbot", "LinkedInBot"},
	{"slackbot", "Slackbot"},
	{"slack-imgproxy", "Slackbot"},
	{"discordbot", "Discordbot"},
	{"telegrambot", "TelegramBot"},
	{"whatsapp", "WhatsApp"},
	{"skypeuripreview", "Skype"},
	{"pinterestbot", "Pinterestbot"},
	{"petalbot", "PetalBot"},
	{"ahrefsbot", "AhrefsBot"},
	{"semrushbot", "SemrushBot"},
	{"mj12bot", "MJ12bot"},
	{"dotbot", "DotBot"},
	{"gptbot", "GPTBot"},
	{"chatgpt-user", "GPTBot"},
	{"claudebot", "ClaudeBot"},
	{"ccbot", "CCBot"},
	{"bytespider", "Bytespider"},
	{"headlesschrome", "HeadlessChrome"},
	{"curl/", "curl"},
	{"wget/", "Wget"},
	{"python-requests", "Python"},
	{"python-urllib", "Python"},
	{"aiohttp", "Python"},
	{"go-http-client", "Go"},
	{"okhttp", "OkHttp"},
	{"java/", "Java"},
	{"apache-httpclient", "Java"},
	{"libwww-perl", "Perl"},
	{"node-fetch", "Node.js"},
	{"axios/", "Node.js"},
	{"postmanruntime", "Postman"},
	{"uptimerobot", "UptimeRobot"},
	{"pingdom", "Pingdom"},
	{"lighthouse", "Lighthouse"},
	// Generic words last: a bare "bot" would match "CUBOT" phones, so it
	// is "bot/" (a product token) or a trailing "bot"; most other crawlers
	// link their documentation ("+http…").
	{"crawler", "Other bot"},
	{"spider", "Other bot"},
	{"bot/", "Other bot"},
	{"+http", "Other bot"},
}

// browsers, case-sensitive on the original header: the tokens are the
// products' own spelling.
var browsers = []rule{
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"EdgiOS/", "Edge"},
	{"Edge/", "Edge"},
	{"OPR/", "Opera"},
	{"OPT/", "Opera"},
	{"OPiOS/", "Opera"},
	{"Opera", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex Browser"},
	{"UCBrowser/", "UC Browser"},
	{"Vivaldi/", "Vivaldi"},
	{"Brave", "Brave"},
	{"DuckDuckGo/", "DuckDuckGo"},
	{"FBAN/", "Facebook App"},
	{"FBAV/", "Facebook App"},
	{"Instagram", "Instagram App"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Chrome/", "Chrome"},
	{"MSIE ", "Internet Explorer"},
	{"Trident/", "Internet Explorer"},
	{"Safari/", "Safari"},
	{"AppleWebKit/", "Safari"}, // iOS in-app web views without "Safari/"
}

// systems, case-sensitive, most specific first (Android says Linux,
// iPadOS says Mac OS X).
var systems = []rule{
	{"Windows Phone", "Windows Phone"},
	{"Windows", "Windows"},
	{"iPhone", "iOS"},
	{"iPad", "iOS"},
	{"iPod", "iOS"},
	{"Android", "Android"},
	{"CrOS", "Chrome OS"},
	{"Mac OS X", "macOS"},
	{"Macintosh", "macOS"},
	{"Ubuntu", "Linux"},
	{"Fedora", "Linux"},
	{"Linux", "Linux"},
	{"FreeBSD", "FreeBSD"},
	{"OpenBSD", "OpenBSD"},
}

// tablets and mobiles are device tokens, checked on the original header.
var (
	tablets = []string{"iPad", "Tablet", "tablet", "Kindle", "Silk/", "PlayBook", "Nexus 7", "Nexus 9", "SM-T", "SM-X"}
	mobiles = []string{"Mobile", "iPhone", "iPod", "Windows Phone", "Opera Mini", "BlackBerry", "BB10", "IEMobile", "webOS"}
)

// MaxLen is the longest header Parse reads; real ones are a few hundred
// bytes, and the tokens that matter come early.
const MaxLen = 512

// Parse classifies a User-Agent header.
func Parse(ua string) Agent {
	ua = clip(ua)
	if ua == "" {
		return Agent{}
	}
	os := first(systemSet, ua)
	var buf [MaxLen]byte
	lower := lowerASCII(&buf, ua)
	if name := first(botSet, lower); name != "" {
		return Agent{Device: Bot, Browser: name, OS: os}
	}
	if bytes.HasSuffix(lower, []byte("bot")) {
		return Agent{Device: Bot, Browser: "Other bot", OS: os}
	}
	a := Agent{Browser: first(browserSet, ua), OS: os}
	switch {
	case containsAny(ua, tablets) || os == "Android" && !strings.Contains(ua, "Mobile"):
		a.Device = Tablet
	case containsAny(ua, mobiles):
		a.Device = Mobile
	case os == "Windows" || os == "macOS" || os == "Linux" || os == "Chrome OS" || os == "FreeBSD" || os == "OpenBSD":
		a.Device = Desktop
	default:
		a.Device = Other
	}
	return a
}

// clip trims ua and cuts it to MaxLen.
func clip(ua string) string {
	ua = strings.TrimSpace(ua)
	if len(ua) > MaxLen {
		ua = ua[:MaxLen]
	}
	return ua
}

// lowerASCII lowers s (at most MaxLen bytes) into buf: the tokens are
// ASCII, and a stack buffer spares the allocation strings.ToLower makes.
func lowerASCII(buf *[MaxLen]byte, s string) []byte {
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return b
}

// tokenSet finds which of its rules comes first in the list among those
// whose token occurs in a header, in one pass over the header: rules are
// indexed by their token's first byte, so each position tries the few
// tokens that start with its byte instead of every token scanning the
// whole header.
type tokenSet struct {
	rules   []rule
	byFirst [256][]uint8
}

func newTokenSet(rules []rule) *tokenSet {
	t := &tokenSet{rules: rules}
	for i, r := range rules {
		t.byFirst[r.token[0]] = append(t.byFirst[r.token[0]], uint8(i))
	}
	return t
}

var (
	botSet     = newTokenSet(bots)
	browserSet = newTokenSet(browsers)
	systemSet  = newTokenSet(systems)
)

// first returns the name of the earliest rule of t whose token is in s,
// "" for none.
func first[S string | []byte](t *tokenSet, s S) string {
	best := len(t.rules)
	for i := 0; i < len(s) && best > 0; i++ {
		for _, k := range t.byFirst[s[i]] {
			if int(k) >= best {
				break
			}
			tok := t.rules[k].token
			if len(s)-i >= len(tok) && string(s[i:i+len(tok)]) == tok {
				best = int(k)
				break
			}
		}
	}
	if best == len(t.rules) {
		return ""
	}
	return t.rules[best].name
}

func containsAny(s string, tokens []string) bool {
	for _, t := range tokens {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// Cache memoises Parse for a bounded number of distinct headers. The zero
// value is ready to use; it is not safe for concurrent use.
type Cache struct {
	m map[string]Agent
}

// cacheMax bounds the entries; the cache starts over when full, which
// costs one Parse per header again and never unbounded memory.
const cacheMax = 4096

// Parse returns Parse(ua), from the cache when it has seen ua.
func (c *Cache) Parse(ua string) Agent {
	if a, ok := c.m[ua]; ok {
		return a
	}
	if c.m == nil || len(c.m) >= cacheMax {
		c.m = make(map[string]Agent, 256)
	}
	a := Parse(ua)
	c.m[strings.Clone(ua)] = a
	return a
}
