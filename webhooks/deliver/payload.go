package deliver

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/useragent"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/webhooks"
)

// eventOf is the webhook event of a link event's type ("" for a type
// this deliverer does not know: the record is skipped).
func eventOf(t linkevents.Type) webhooks.Event {
	switch t {
	case linkevents.Created:
		return webhooks.LinkCreated
	case linkevents.Updated, linkevents.Disabled:
		return webhooks.LinkUpdated
	case linkevents.Deleted:
		return webhooks.LinkDeleted
	}
	return ""
}

// shortURL is the link's short URL: base (the public URL) for the
// instance's own host, https and the custom domain otherwise, as the
// REST API shows it; "" when there is no base for the own host.
func shortURL(base, domain, code string) string {
	if domain != "" {
		return "https://" + domain + "/" + code
	}
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/" + code
}

// encode marshals the message of type ev at at with data.
func encode(ev webhooks.Event, at time.Time, data any) ([]byte, error) {
	b, err := json.Marshal(webhooks.Message{Type: ev, Timestamp: at.UTC(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("deliver: encode %s: %w", ev, err)
	}
	return b, nil
}

// linkData is the payload data of l, as the link store has it now.
func linkData(l linkstore.Link, base string) *webhooks.LinkData {
	d := &webhooks.LinkData{
		LinkID:         strconv.FormatInt(l.ID, 10),
		Code:           l.Code,
		Domain:         l.Domain,
		ShortURL:       shortURL(base, l.Domain, l.Code),
		URL:            l.URL,
		Workspace:      workspace.Of(l.WorkspaceID),
		RedirectStatus: l.Status,
		CreatedAt:      l.CreatedAt.UTC(),
		Disabled:       l.Disabled,
		Title:          l.Title,
		Tags:           l.Tags,
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if !l.ExpiresAt.IsZero() {
		t := l.ExpiresAt.UTC()
		d.ExpiresAt = &t
	}
	return d
}

// deletedData is the payload data of a deleted event: the identity the
// event carries (the link store no longer shows a deleted link).
func deletedData(e linkevents.Event, base string) *webhooks.DeletedData {
	return &webhooks.DeletedData{
		LinkID:    strconv.FormatInt(e.LinkID, 10),
		Code:      e.Code,
		Domain:    e.Domain,
		ShortURL:  shortURL(base, e.Domain, e.Code),
		Workspace: workspace.Of(e.Workspace),
		Reason:    string(e.Reason),
	}
}

// clickOf is the payload form of a click: families, not the raw agent;
// the referrer's host, not its URL; no address or visitor hash.
func clickOf(e *clickevents.Event, c coord, ua *useragent.Cache) webhooks.Click {
	a := ua.Parse(e.UserAgent)
	return webhooks.Click{
		ID:           clickID(c),
		Code:         e.Code,
		Domain:       e.Domain,
		LinkID:       strconv.FormatInt(e.LinkID, 10),
		Time:         e.Time.UTC(),
		Country:      e.Country,
		Device:       a.Device,
		Browser:      a.Browser,
		OS:           a.OS,
		Bot:          e.Bot,
		ReferrerHost: referrerHost(e.Referrer),
	}
}

// referrerHost is the lower-case host of a Referer header, "" when it
// has none: the path and query may carry what the visitor's previous
// page should not give away.
func referrerHost(ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
