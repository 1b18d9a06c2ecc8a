package api_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
)

func TestManageAPI(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("update", func(t *testing.T) { testUpdate(t, newEnv(t, open(t), api.Config{})) })
			t.Run("list", func(t *testing.T) { testList(t, newEnv(t, open(t), api.Config{})) })
			t.Run("bulk", func(t *testing.T) { testBulk(t, newEnv(t, open(t), api.Config{})) })
		})
	}
}

func (e *env) mustCreate(t *testing.T, body string) api.Link {
	t.Helper()
	w := e.do(t, "POST", "/api/v1/links", "application/json", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, w.Code, w.Body.String())
	}
	return decode[api.Link](t, w)
}

func testUpdate(t *testing.T, e *env) {
	l := e.mustCreate(t, `{"url":"https://example.com/old","expires_at":"2031-01-01T00:00:00Z"}`)
	path := "/api/v1/links/" + l.Code

	w := e.do(t, "PATCH", path, "application/json", `{"url":"https://example.com/new","redirect_status":308,"disabled":true}`)
	if w.Code != http.StatusOK {
		t.Fatalf("update: %d %s", w.Code, w.Body.String())
	}
	got := decode[api.Link](t, w)
	if got.URL != "https://example.com/new" || got.RedirectStatus != 308 || !got.Disabled || got.ExpiresAt == nil {
		t.Fatalf("after update: %+v", got)
	}
	w = e.do(t, "PATCH", path, "application/json", `{"expires_at":null,"disabled":false}`)
	if got = decode[api.Link](t, w); w.Code != 200 || got.ExpiresAt != nil || got.Disabled {
		t.Fatalf("clearing the expiry: %d %+v", w.Code, got)
	}
	w = e.do(t, "PATCH", path, "application/json", `{"expires_at":"2032-02-02T00:00:00Z"}`)
	if got = decode[api.Link](t, w); w.Code != 200 || got.ExpiresAt == nil || !got.ExpiresAt.Equal(time.Date(2032, 2, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("setting the expiry: %d %+v", w.Code, got)
	}
	stored, err := e.store.Get(context.Background(), "", l.Code)
	if err != nil || stored.URL != "https://example.com/new" || stored.Status != 308 {
		t.Fatalf("stored: %+v %v", stored, err)
	}

	for _, tt := range []struct{ name, body, detail string }{
		{"empty", `{}`, "nothing to change"},
		{"bad url", `{"url":"ftp://x.example"}`, "scheme"},
		{"own host", `{"url":"http://sho.test/x"}`, "this shortener"},
		{"bad status", `{"redirect_status":303}`, "303"},
		{"past expiry", `{"expires_at":"2001-01-01T00:00:00Z"}`, "future"},
		{"bad expiry", `{"expires_at":"soon"}`, "RFC 3339"},
		{"unknown field", `{"alias":"x"}`, "alias"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.do(t, "PATCH", path, "application/json", tt.body), 400, tt.detail)
			after, err := e.store.Get(context.Background(), "", l.Code)
			if err != nil || !reflect.DeepEqual(after, stored) {
				t.Fatalf("a refused update changed the link: %+v %v", after, err)
			}
		})
	}
	wantProblem(t, e.do(t, "PATCH", "/api/v1/links/nosuchcode1", "application/json", `{"disabled":true}`), 404, "nosuchcode1")
}

func testList(t *testing.T, e *env) {
	// Links of a host of this test's own, so the shared database's other
	// links do not show.
	host := fmt.Sprintf("list%d.example", time.Now().UnixNano())
	var created []api.Link
	for i := range 7 {
		created = append(created, e.mustCreate(t, fmt.Sprintf(`{"url":"https://%s/%d"}`, host, i)))
	}
	sub := e.mustCreate(t, fmt.Sprintf(`{"url":"https://www.%s/sub"}`, host))
	created = append(created, sub)

	var seen []string
	cursor, firstCursor := "", ""
	for page := 0; ; page++ {
		path := "/api/v1/links?limit=3&domain=" + host
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		w := e.do(t, "GET", path, "", "")
		if w.Code != http.StatusOK {
			t.Fatalf("list: %d %s", w.Code, w.Body.String())
		}
		p := decode[api.LinkPage](t, w)
		for _, l := range p.Links {
			seen = append(seen, l.Code)
		}
		if p.NextCursor == "" {
			break
		}
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = p.NextCursor
		if firstCursor == "" {
			firstCursor = cursor
		}
	}
	if len(seen) != len(created) {
		t.Fatalf("listed %d links, created %d: %v", len(seen), len(created), seen)
	}
	for i := range created { // newest first
		if seen[i] != created[len(created)-1-i].Code {
			t.Fatalf("order: listed %v", seen)
		}
	}

	w := e.do(t, "GET", "/api/v1/links?domain=www."+host, "", "")
	if p := decode[api.LinkPage](t, w); len(p.Links) != 1 || p.Links[0].Code != sub.Code {
		t.Fatalf("subdomain filter: %+v", p)
	}
	w = e.do(t, "GET", "/api/v1/links?prefix="+created[0].Code, "", "")
	if p := decode[api.LinkPage](t, w); len(p.Links) != 1 || p.Links[0].Code != created[0].Code {
		t.Fatalf("prefix filter: %+v", p)
	}
	// Creation-time filters work on the Snowflake IDs, whose clock here is
	// the real one.
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	w = e.do(t, "GET", "/api/v1/links?domain="+host+"&created_before="+soon, "", "")
	if p := decode[api.LinkPage](t, w); w.Code != 200 || len(p.Links) != len(created) {
		t.Fatalf("created_before an hour from now: %d links, want %d", len(p.Links), len(created))
	}
	w = e.do(t, "GET", "/api/v1/links?domain="+host+"&created_after="+soon, "", "")
	if p := decode[api.LinkPage](t, w); w.Code != 200 || len(p.Links) != 0 {
		t.Fatalf("created_after an hour from now: %d links, want 0", len(p.Links))
	}
	testBadCursors(t, e, host, firstCursor)
	for _, tt := range []struct{ query, detail string }{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=x", "limit"},
		{"cursor=!!", "cursor"},
		{"prefix=a/b", "prefix"},
		{"domain=a_b.example", "domain"},
		{"created_after=yesterday", "created_after"},
		{"created_after=2030-01-02T00:00:00Z&created_before=2030-01-01T00:00:00Z", "before"},
		{"colour=red", "unknown query parameter"},
		{"limit=1&limit=2", "more than once"},
		{"a=%zz", "malformed"},
	} {
		wantProblem(t, e.do(t, "GET", "/api/v1/links?"+tt.query, "", ""), 400, tt.detail)
	}
}

// testBadCursors: a cursor the API did not give out is a 400 naming
// cursor, never a 200 with an empty (or the first) page. good is a
// next_cursor the API answered for a list of host's links.
func testBadCursors(t *testing.T, e *env, host, good string) {
	if w := e.do(t, "GET", "/api/v1/links?limit=3&domain="+host+"&cursor="+good, "", ""); w.Code != http.StatusOK ||
		len(decode[api.LinkPage](t, w).Links) != 3 {
		t.Fatalf("the cursor the API gave out: %d %s", w.Code, w.Body.String())
	}
	last := good[len(good)-1]
	other := byte('0')
	if last == '0' {
		other = '1'
	}
	for _, tt := range []struct{ name, cursor string }{
		{"empty", ""},
		{"short made-up", "abc"},
		{"digits, no check", good[:len(good)-1]},
		{"check digit changed", good[:len(good)-1] + string(other)},
		{"a digit changed", string(good[0]+1) + good[1:]},
		{"one character more", good + "0"},
		{"not base62", "!!"},
		{"zero", "000000000000"},
		{"above int64", "zzzzzzzzzzzz"},
		{"percent-encoded space", "%20" + good[1:]},
	} {
		t.Run("cursor "+tt.name, func(t *testing.T) {
			w := e.do(t, "GET", "/api/v1/links?limit=3&domain="+host+"&cursor="+tt.cursor, "", "")
			if p := wantProblem(t, w, http.StatusBadRequest, "next_cursor"); p.Field != "cursor" {
				t.Fatalf("problem names field %q, want cursor", p.Field)
			}
		})
	}
}

func testBulk(t *testing.T, e *env) {
	taken := e.mustCreate(t, `{"url":"https://example.com/","alias":"`+uniqueAlias("taken")+`"}`)
	fresh := uniqueAlias("fresh")
	body := `{"links":[
		{"url":"https://example.com/1"},
		{"url":"javascript:alert(1)"},
		{"url":"https://example.com/3","alias":"` + fresh + `"},
		{"url":"https://example.com/4","alias":"` + taken.Code + `"},
		{"url":"https://example.com/5","alias":"` + fresh + `"},
		{"url":"https://example.com/6","redirect_status":301}
	]}`
	w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", body)
	if w.Code != http.StatusOK {
		t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
	}
	resp := decode[api.BulkResponse](t, w)
	want := []int{201, 400, 201, 409, 409, 201}
	if len(resp.Results) != len(want) || resp.Created != 3 || resp.Failed != 3 {
		t.Fatalf("bulk response: %+v", resp)
	}
	for i, res := range resp.Results {
		if res.Status != want[i] {
			t.Errorf("result %d: status %d, want %d (%+v)", i, res.Status, want[i], res.Error)
		}
		if res.Status == 201 {
			l, err := e.store.Get(context.Background(), "", res.Link.Code)
			if err != nil || l.URL != res.Link.URL {
				t.Errorf("result %d not stored: %+v %v", i, l, err)
			}
		} else if res.Error == nil || res.Error.Detail == "" || (res.Link != nil) != (i == 3) {
			t.Errorf("result %d: %+v", i, res)
		}
	}
	// The taken alias's 409 carries the workspace's link that holds it.
	if l := resp.Results[3].Link; l == nil || l.Code != taken.Code || l.URL != "https://example.com/" {
		t.Errorf("the taken alias's link: %+v", l)
	}
	if resp.Results[2].Link.Code != fresh || resp.Results[5].Link.RedirectStatus != 301 {
		t.Errorf("results: %+v", resp.Results)
	}
	if l, _ := e.store.Get(context.Background(), "", taken.Code); l.URL != "https://example.com/" {
		t.Errorf("the taken alias changed: %+v", l)
	}

	many := make([]string, api.MaxBulk+1)
	for i := range many {
		many[i] = `{"url":"https://example.com/"}`
	}
	wantProblem(t, e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[`+strings.Join(many, ",")+`]}`), 400, "at most 1000")
	wantProblem(t, e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[]}`), 400, "1 to 1000")
	wantProblem(t, e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":{}}`), 400, "links")

	// A full bulk of 1000 goes in one request.
	w = e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[`+strings.Join(many[:api.MaxBulk], ",")+`]}`)
	if resp := decode[api.BulkResponse](t, w); w.Code != 200 || resp.Created != api.MaxBulk {
		t.Fatalf("bulk of %d: %d, created %d", api.MaxBulk, w.Code, resp.Created)
	}
}

func uniqueAlias(tag string) string {
	return fmt.Sprintf("%s-%d", tag, time.Now().UnixNano())
}
