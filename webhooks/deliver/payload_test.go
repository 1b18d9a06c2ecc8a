package deliver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/useragent"
	"github.com/shortify/shortify/webhooks"
)

func TestLinkPayload(t *testing.T) {
	at := time.Date(2026, 12, 5, 6, 0, 0, 123e6, time.UTC)
	l := linkstore.Link{
		ID: 1234567890123456789, Code: "a9ZkQ2", URL: "https://example.com/x", WorkspaceID: 7, Status: 308,
		CreatedAt: at.Add(-time.Hour), ExpiresAt: at.Add(time.Hour), Title: "Example", Tags: []string{"a", "b"},
		Notes: "private notes",
	}
	body, err := encode(webhooks.LinkCreated, at, linkData(l, "http://localhost:8080/"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"link.created","timestamp":"2026-12-05T06:00:00.123Z","data":{"link_id":"1234567890123456789",` +
		`"code":"a9ZkQ2","short_url":"http://localhost:8080/a9ZkQ2","url":"https://example.com/x","workspace":7,` +
		`"redirect_status":308,"created_at":"2026-12-05T05:00:00.123Z","expires_at":"2026-12-05T07:00:00.123Z",` +
		`"disabled":false,"title":"Example","tags":["a","b"]}}`
	if string(body) != want {
		t.Fatalf("payload\n%s\nwant\n%s", body, want)
	}
	// A custom domain's short URL; no tags is [], the default workspace 1.
	l.Domain, l.Tags, l.WorkspaceID, l.ExpiresAt = "go.acme.example", nil, 0, time.Time{}
	d := linkData(l, "")
	if d.ShortURL != "https://go.acme.example/a9ZkQ2" || d.Tags == nil || d.Workspace != 1 || d.ExpiresAt != nil {
		t.Fatalf("linkData = %+v", d)
	}
	l.Domain = ""
	if d := linkData(l, ""); d.ShortURL != "" {
		t.Fatalf("no public URL: short_url %q", d.ShortURL)
	}
}

func TestDeletedPayload(t *testing.T) {
	e := linkevents.Event{Type: linkevents.Deleted, Code: "abc", LinkID: 42, Reason: linkevents.ReasonExpired, Workspace: 3}
	body, err := encode(webhooks.LinkDeleted, time.Unix(0, 0), deletedData(e, "https://s.example"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"link.deleted","timestamp":"1970-01-01T00:00:00Z","data":{"link_id":"42","code":"abc",` +
		`"short_url":"https://s.example/abc","workspace":3,"reason":"expired"}}`
	if string(body) != want {
		t.Fatalf("payload\n%s\nwant\n%s", body, want)
	}
}

func TestClickPayload(t *testing.T) {
	e := &clickevents.Event{
		Time: time.Unix(1700000000, 0), Code: "abc", LinkID: 9, Status: 302, Visitor: 0xdeadbeef,
		Country: "DE", UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
		Referrer: "https://News.Example.com/path?secret=1", Workspace: 2, Domain: "go.acme.example",
	}
	c := clickOf(e, coord{"clicks", 1, 2}, new(useragent.Cache))
	b, _ := json.Marshal(c)
	s := string(b)
	for _, want := range []string{`"code":"abc"`, `"domain":"go.acme.example"`, `"link_id":"9"`, `"country":"DE"`,
		`"device":"mobile"`, `"browser":"Safari"`, `"os":"iOS"`, `"bot":false`, `"referrer_host":"news.example.com"`, `"id":"clk_`} {
		if !strings.Contains(s, want) {
			t.Errorf("click %s lacks %s", s, want)
		}
	}
	// Never the referrer's path, the raw agent, the visitor hash or an address.
	for _, never := range []string{"secret", "Mozilla", "visitor", "3735928559", `"ip"`} {
		if strings.Contains(s, never) {
			t.Errorf("click %s carries %q", s, never)
		}
	}
}

func TestReferrerHost(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "https://a.example/x": "a.example", "http://A.EXAMPLE:8080/": "a.example",
		"android-app://com.google.android.gm/": "com.google.android.gm", "not a url": "", "%zz": "",
	} {
		if got := referrerHost(in); got != want {
			t.Errorf("referrerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEventOf(t *testing.T) {
	for in, want := range map[linkevents.Type]webhooks.Event{
		linkevents.Created: webhooks.LinkCreated, linkevents.Updated: webhooks.LinkUpdated,
		linkevents.Disabled: webhooks.LinkUpdated, linkevents.Deleted: webhooks.LinkDeleted, "renamed": "",
	} {
		if got := eventOf(in); got != want {
			t.Errorf("eventOf(%s) = %s, want %s", in, got, want)
		}
	}
}
