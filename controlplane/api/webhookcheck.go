package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/safedial"
	"github.com/shortify/shortify/webhooks"
)

// Bounds of a webhook endpoint's fields.
const (
	// MaxWebhookURLLength bounds an endpoint's URL, in bytes.
	MaxWebhookURLLength = 2048
	// MaxWebhookDescription bounds an endpoint's description, in
	// characters.
	MaxWebhookDescription = 256
)

// checkWebhookURL says what is wrong with raw as an endpoint's URL ("":
// nothing): an absolute http or https URL of at most MaxWebhookURLLength
// bytes, no user info, and, unless allowPrivate (the shortify app's
// outbound_allow_private), no host that is a literal non-public address
// (safedial.Public) or localhost. Names that resolve to private
// addresses are refused when the deliverer dials them (safedial checks
// the address connected to); this check only spares the user an endpoint
// that can never work.
func checkWebhookURL(raw string, allowPrivate bool) string {
	if raw == "" {
		return "url is required"
	}
	if len(raw) > MaxWebhookURLLength {
		return fmt.Sprintf("url must be at most %d bytes", MaxWebhookURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "url is not a valid URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "url must be an absolute http or https URL"
	}
	if u.User != nil {
		return "url must not carry user info (user:password@); the deliveries are signed instead"
	}
	host := u.Hostname()
	if host == "" || u.Opaque != "" {
		return "url must name a host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "url's port must be from 1 to 65535"
		}
	}
	if allowPrivate {
		return ""
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return "url must not name localhost (the shortify app's outbound_allow_private allows it)"
	}
	if ip, err := netip.ParseAddr(host); err == nil && !safedial.Public(ip) {
		return "url must not name a private or special address (the shortify app's outbound_allow_private allows private ones)"
	}
	return ""
}

// checkWebhookEvents says what is wrong with evs as an endpoint's events
// ("": nothing): at least one, each known, none twice.
func checkWebhookEvents(evs []string) string {
	if len(evs) == 0 {
		return "events must name at least one event: " + knownEvents()
	}
	for i, ev := range evs {
		if !slices.Contains(webhooks.Events, webhooks.Event(ev)) {
			return fmt.Sprintf("events: %q is no event; the events are %s", ev, knownEvents())
		}
		if slices.Contains(evs[:i], ev) {
			return fmt.Sprintf("events: %q is named twice", ev)
		}
	}
	return ""
}

func knownEvents() string {
	ss := make([]string, len(webhooks.Events))
	for i, ev := range webhooks.Events {
		ss[i] = string(ev)
	}
	return strings.Join(ss, ", ")
}

// checkWebhookDescription says what is wrong with d as a description.
func checkWebhookDescription(d string) string {
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > MaxWebhookDescription {
		return fmt.Sprintf("description must be UTF-8 text of at most %d characters", MaxWebhookDescription)
	}
	for _, r := range d {
		if r < 0x20 || r == 0x7f {
			return "description must not hold control characters"
		}
	}
	return ""
}

// fieldCheck is a field's name and what is wrong with its value ("":
// nothing).
type fieldCheck struct{ field, msg string }

// fieldChecks answers 400 naming the first field at fault, if any, and
// reports whether all passed.
func fieldChecks(w http.ResponseWriter, cs []fieldCheck) bool {
	for _, c := range cs {
		if c.msg != "" {
			problem.WriteField(w, http.StatusBadRequest, c.field, c.msg)
			return false
		}
	}
	return true
}

func toEvents(ss []string) []webhooks.Event {
	out := make([]webhooks.Event, len(ss))
	for i, s := range ss {
		out[i] = webhooks.Event(s)
	}
	return out
}

func fromEvents(evs []webhooks.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev)
	}
	return out
}
