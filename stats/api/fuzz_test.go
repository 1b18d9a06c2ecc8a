package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/stats/api"
)

// FuzzParseQuery: any query string is parsed into a valid query or
// refused with a parameter error; a valid query is a range of whole
// buckets, at most MaxBuckets, that holds what was asked for.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"", "granularity=hour", "from=2026-11-01&to=2026-11-02", "from=2026-11-01T10:30:00Z&granularity=hour",
		"to=2026-11-20T00:00:00.5%2B02:00", "limit=100&traffic=bot", "link_id=9223372036854775807",
		"from=1970-01-01&to=1972-09-27", "from=8999-12-31T23:59:59Z&granularity=hour",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, perr := api.ParseQuery(v, now)
		if perr != nil {
			if perr.Param == "" || perr.Msg == "" {
				t.Fatalf("%q: an empty error %+v", raw, perr)
			}
			return
		}
		step := q.Granularity.Step()
		switch {
		case q.Granularity != api.Hour && q.Granularity != api.Day:
			t.Fatalf("%q: granularity %q", raw, q.Granularity)
		case !q.From.Before(q.To):
			t.Fatalf("%q: empty range [%v, %v)", raw, q.From, q.To)
		case !q.From.Truncate(step).Equal(q.From) || !q.To.Truncate(step).Equal(q.To):
			t.Fatalf("%q: [%v, %v) is not whole buckets", raw, q.From, q.To)
		case q.Buckets() < 1 || q.Buckets() > api.MaxBuckets:
			t.Fatalf("%q: %d buckets", raw, q.Buckets())
		case q.Limit < 1 || q.Limit > api.MaxLimit:
			t.Fatalf("%q: limit %d", raw, q.Limit)
		case q.LinkID < 0:
			t.Fatalf("%q: link_id %d", raw, q.LinkID)
		case q.From.Location() != time.UTC || q.To.Location() != time.UTC:
			t.Fatalf("%q: not UTC", raw)
		}
		for _, name := range []string{"from", "to"} {
			if s := v.Get(name); s != "" {
				asked, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					asked, _ = time.Parse(time.DateOnly, s)
				}
				if asked.Before(q.From) || asked.After(q.To) {
					t.Fatalf("%q: %s %v outside [%v, %v]", raw, name, asked, q.From, q.To)
				}
			}
		}
	})
}

// FuzzRoutes sends arbitrary path arguments and query strings to every
// route, as a viewer, on an SQLite stats database with some rows: the
// answer is never a panic or a 5xx, every 4xx is a problem document, and
// nothing changes.
func FuzzRoutes(f *testing.F) {
	e := setup(f, "sqlite")
	e.bucketRow(api.Day, at(20, 0), "abc", 1, false, 3, sketch(f, 1, 2))
	e.bucketRow(api.Hour, at(20, 10), "abc", 1, true, 2, sketch(f, 3))
	e.dimRow(api.Day, at(20, 0), "abc", 1, false, "os", "Linux", 3)
	e.dimColumn(api.Day, at(20, 0), "abc", 1, false, "variant", "targets[1]", 3)
	e.bucketRow(api.Day, at(20, 0), "", 0, false, 3, sketch(f, 1, 2))
	before := e.checksum()
	seeds := []struct {
		route             uint8
		arg1, arg2, query string
	}{
		{0, "", "", "from=2026-11-01&limit=3&traffic=human"},
		{1, "", "os", "granularity=hour"},
		{2, "abc", "", "link_id=1&from=2026-11-20T10:00:00Z&to=2026-11-21"},
		{3, "abc", "referrer", "limit=100"},
		{4, "abc", "", "granularity=hour&to=2026-11-20T12:00:00Z"},
		{2, "a/b", "", "from=%zz"},
		{3, "abc", "variant", "traffic=bot"},
		{1, "", "variant", ""},
	}
	for _, sd := range seeds {
		f.Add(sd.route, sd.arg1, sd.arg2, sd.query)
	}
	f.Fuzz(func(t *testing.T, route uint8, arg1, arg2, query string) {
		fuzzRoute(t, e, route, arg1, arg2, query)
		inT := *e
		inT.t = t
		if after := inT.checksum(); after != before {
			t.Fatalf("requests changed the data: %s -> %s", before, after)
		}
	})
}

func fuzzRoute(t *testing.T, e *env, route uint8, arg1, arg2, query string) {
	routes := e.h.Routes()
	pattern := routes[int(route)%len(routes)].Pattern
	_, path, _ := strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{code}", url.PathEscape(arg1))
	path = strings.ReplaceAll(path, "{dimension}", url.PathEscape(arg2))
	target := "http://stats.test" + path
	if query != "" {
		target += "?" + query
	}
	r, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return // not a request a client could send
	}
	r.Header.Set("X-Api-Key", e.viewer)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	switch {
	case w.Code >= 500:
		t.Fatalf("%s: %d %s", target, w.Code, w.Body)
	case w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json":
		t.Fatalf("%s: %d without a problem document", target, w.Code)
	}
}
