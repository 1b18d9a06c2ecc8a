package useragent

import "strings"

// Slug is a family or device name in the form the smart-link rules use
// (smartlink.Devices, Systems, Browsers): lower case with the spaces
// removed, "Chrome OS" -> "chromeos", "Samsung Internet" ->
// "samsunginternet". The names Parse returns come from a table made once,
// so that the edge's rules compare them without allocating.
func Slug(name string) string {
	if s, ok := slugs[name]; ok {
		return s
	}
	return slug(name)
}

func slug(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), ""))
}

var slugs = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{Desktop, Mobile, Tablet, Bot, Other} {
		m[n] = slug(n)
	}
	for _, rs := range [][]rule{bots, browsers, systems} {
		for _, r := range rs {
			m[r.name] = slug(r.name)
		}
	}
	return m
}()

// previewSet names the agents that fetch a page to show a preview of a
// shared link (lower case, searched in the lowered header). iMessage
// fetches as "facebookexternalhit … Twitterbot" and Apple's other
// previews as Applebot; Mastodon servers send "(Mastodon/4.x; …)".
var previewSet = newTokenSet([]rule{
	{"slackbot", "Slack"},
	{"slack-imgproxy", "Slack"},
	{"twitterbot", "X"},
	{"facebookexternalhit", "Facebook"},
	{"facebookcatalog", "Facebook"},
	{"meta-externalagent", "Facebook"},
	{"linkedinbot", "LinkedIn"},
	{"discordbot", "Discord"},
	{"whatsapp", "WhatsApp"},
	{"telegrambot", "Telegram"},
	{"skypeuripreview", "Skype"},
	{"pinterestbot", "Pinterest"},
	{"pinterest/0.", "Pinterest"},
	{"applebot", "Apple"},
	{"mastodon/", "Mastodon"},
	{"redditbot", "Reddit"},
	{"embedly", "Embedly"},
	{"iframely", "Iframely"},
})

// IsPreviewCrawler reports whether ua is an agent that fetches a link to
// show its preview (Slack, X, Facebook, LinkedIn, Discord, WhatsApp,
// Telegram, Skype, Pinterest, iMessage, Mastodon, Reddit, Embedly,
// Iframely). It does not allocate.
func IsPreviewCrawler(ua string) bool {
	ua = clip(ua)
	if ua == "" {
		return false
	}
	var buf [MaxLen]byte
	return first(previewSet, lowerASCII(&buf, ua)) != ""
}
