package api_test

import (
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/shortify/shortify/stats/api"
)

func ptr(s string) *string { return &s }

func point(b time.Time, humans, bots int64, hv, bv, v uint64) api.Point {
	return api.Point{Bucket: b, Counts: api.Counts{Clicks: humans + bots, Humans: humans, Bots: bots, Visitors: v, HumanVisitors: hv, BotVisitors: bv}}
}

// TestLinkSeries: a link's hourly and daily series, every bucket present,
// bots apart, visitors merged over buckets and classes, the latest link of
// a reused code unless link_id names another.
func TestLinkSeries(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			const old, cur = 7000000000000000001, 7000000000000000002
			// The current link: hours 10 and 12 of Nov 20.
			e.bucketRow(api.Hour, at(20, 10), "abc", cur, false, 3, sketch(t, 1, 2))
			e.bucketRow(api.Hour, at(20, 10), "abc", cur, true, 2, sketch(t, 100))
			e.bucketRow(api.Hour, at(20, 12), "abc", cur, false, 5, sketch(t, 2, 3, 4))
			// Outside the range, another link and another code.
			e.bucketRow(api.Hour, at(20, 9), "abc", cur, false, 50, sketch(t, 9))
			e.bucketRow(api.Hour, at(20, 10), "abc", old, false, 40, sketch(t, 9))
			e.bucketRow(api.Hour, at(20, 10), "abd", 5, false, 30, nil)
			// Daily rows (other numbers, to tell the tables apart).
			e.bucketRow(api.Day, at(19, 0), "abc", cur, false, 11, sketch(t, 1, 5))
			e.bucketRow(api.Day, at(20, 0), "abc", cur, false, 8, sketch(t, 1, 2, 3, 4))
			e.bucketRow(api.Day, at(20, 0), "abc", cur, true, 2, nil)
			e.bucketRow(api.Day, at(18, 0), "abc", old, false, 40, sketch(t, 9))
			before := e.checksum()

			var got api.LinkStats
			e.getJSON("/api/v1/stats/links/abc?granularity=hour&from=2026-11-20T10:00:00Z&to=2026-11-20T13:30:00Z", &got)
			want := api.LinkStats{Code: "abc", LinkID: ptr("7000000000000000002"), Series: api.Series{
				From: at(20, 10), To: at(20, 14), Granularity: api.Hour,
				Totals: api.Counts{Clicks: 10, Humans: 8, Bots: 2, Visitors: 5, HumanVisitors: 4, BotVisitors: 1},
				Points: []api.Point{
					point(at(20, 10), 3, 2, 2, 1, 3),
					point(at(20, 11), 0, 0, 0, 0, 0),
					point(at(20, 12), 5, 0, 3, 0, 3),
					point(at(20, 13), 0, 0, 0, 0, 0),
				},
			}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("hourly:\n got %+v\nwant %+v", got, want)
			}

			e.getJSON("/api/v1/stats/links/abc?from=2026-11-18&to=2026-11-20", &got)
			want = api.LinkStats{Code: "abc", LinkID: ptr("7000000000000000002"), Series: api.Series{
				From: at(18, 0), To: at(21, 0), Granularity: api.Day,
				Totals: api.Counts{Clicks: 21, Humans: 19, Bots: 2, Visitors: 5, HumanVisitors: 5, BotVisitors: 0},
				Points: []api.Point{
					point(at(18, 0), 0, 0, 0, 0, 0),
					point(at(19, 0), 11, 0, 2, 0, 2),
					point(at(20, 0), 8, 2, 4, 0, 4),
				},
			}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("daily:\n got %+v\nwant %+v", got, want)
			}

			e.getJSON("/api/v1/stats/links/abc?from=2026-11-18&to=2026-11-18&link_id=7000000000000000001", &got)
			if got.Totals.Clicks != 40 || *got.LinkID != "7000000000000000001" || len(got.Points) != 1 {
				t.Errorf("link_id of the old link: %+v", got)
			}

			// A code without statistics (and, here, no link store to
			// know it by): 404, as another workspace's link.
			wantProblem(t, "unknown code", e.get("/api/v1/stats/links/nothing", e.viewer), http.StatusNotFound)
			// The default range: the last 30 days up to the day of now.
			e.getJSON("/api/v1/stats/links/abc", &got)
			if len(got.Points) != 30 || !got.To.Equal(at(21, 0)) || !got.From.Equal(at(21, 0).AddDate(0, 0, -30)) {
				t.Errorf("default range: %d points, [%v, %v)", len(got.Points), got.From, got.To)
			}
			// The default hourly range: the last 24 hours, to the end of
			// the hour of now (15:30).
			e.getJSON("/api/v1/stats/links/abc?granularity=hour", &got)
			if len(got.Points) != 24 || !got.To.Equal(at(20, 16)) || got.Totals.Clicks != 60 {
				t.Errorf("default hourly range: %d points, to %v, %d clicks", len(got.Points), got.To, got.Totals.Clicks)
			}
			if after := e.checksum(); after != before {
				t.Errorf("reads changed the data: %s -> %s", before, after)
			}
		})
	}
}

// TestCSV: the series as CSV, one line per bucket.
func TestCSV(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			e.bucketRow(api.Hour, at(20, 10), "x-y_1", 42, false, 3, sketch(t, 1, 2))
			e.bucketRow(api.Hour, at(20, 10), "x-y_1", 42, true, 2, sketch(t, 100))
			resp := e.get("/api/v1/stats/links/x-y_1/series.csv?granularity=hour&from=2026-11-20T09:00:00Z&to=2026-11-20T11:00:00Z", e.viewer)
			body, _ := io.ReadAll(resp.Body)
			want := "bucket,clicks,humans,bots,visitors,human_visitors,bot_visitors\n" +
				"2026-11-20T09:00:00Z,0,0,0,0,0,0\n" +
				"2026-11-20T10:00:00Z,5,3,2,3,2,1\n"
			if resp.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("CSV: %d\n%s\nwant\n%s", resp.StatusCode, body, want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8; header=present" {
				t.Errorf("Content-Type %q", ct)
			}
			if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="x-y_1-hour.csv"` {
				t.Errorf("Content-Disposition %q", cd)
			}
		})
	}
}

// TestTop: top-N per dimension for a link and over all links, ranked by
// the chosen traffic, ties by value, values without such clicks left out;
// the same whether the counts are in the bucket rows' dims column, in the
// *_dims tables of earlier versions, or spread over both.
func TestTop(t *testing.T) {
	for _, b := range backends {
		for name, mode := range dimsModes {
			t.Run(b+"/"+name, func(t *testing.T) {
				t.Parallel()
				e := setup(t, b)
				e.dims = mode
				const id = 99
				for _, r := range []struct {
					day   int
					bot   bool
					dim   string
					value string
					n     int64
				}{
					{19, false, "referrer", "news.example", 4},
					{20, false, "referrer", "news.example", 3},
					{20, false, "referrer", "", 5},
					{20, true, "referrer", "", 9},
					{20, false, "referrer", "blog.example", 7},
					{20, true, "referrer", "crawler.example", 1},
					{17, false, "referrer", "old.example", 100}, // before the range
					{20, false, "country", "DE", 2},
				} {
					e.dimRow(api.Day, at(r.day, 0), "abc", id, r.bot, r.dim, r.value, r.n)
				}
				e.dimRow(api.Day, at(20, 0), "", 0, false, "browser", "Firefox", 12)
				e.dimRow(api.Day, at(20, 0), "", 0, false, "browser", "Chrome", 30)
				e.dimRow(api.Day, at(20, 0), "", 0, true, "browser", "Chrome", 3)
				e.dimRow(api.Hour, at(20, 10), "abc", id, false, "referrer", "hourly.example", 1)
				// The bucket rows the ingest writes with them, which tell the
				// latest link of a code.
				e.bucketRow(api.Day, at(20, 0), "abc", id, false, 1, nil)
				e.bucketRow(api.Hour, at(20, 10), "abc", id, false, 1, nil)

				var got api.Top
				e.getJSON("/api/v1/stats/links/abc/top/referrer?from=2026-11-18&to=2026-11-20", &got)
				want := api.Top{Code: "abc", LinkID: ptr("99"), Dimension: "referrer", From: at(18, 0), To: at(21, 0),
					Granularity: api.Day, Traffic: api.AllTraffic, Items: []api.TopItem{
						{Value: "", Clicks: 14, Humans: 5, Bots: 9},
						{Value: "blog.example", Clicks: 7, Humans: 7},
						{Value: "news.example", Clicks: 7, Humans: 7},
						{Value: "crawler.example", Clicks: 1, Bots: 1},
					}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("all traffic:\n got %+v\nwant %+v", got, want)
				}
				e.getJSON("/api/v1/stats/links/abc/top/referrer?from=2026-11-18&to=2026-11-20&traffic=human&limit=2", &got)
				want.Traffic, want.Items = api.HumanTraffic, []api.TopItem{
					{Value: "blog.example", Clicks: 7, Humans: 7},
					{Value: "news.example", Clicks: 7, Humans: 7},
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("humans, limit 2:\n got %+v\nwant %+v", got, want)
				}
				e.getJSON("/api/v1/stats/links/abc/top/referrer?from=2026-11-18&to=2026-11-20&traffic=bot", &got)
				if len(got.Items) != 2 || got.Items[0].Value != "" || got.Items[1].Value != "crawler.example" {
					t.Errorf("bots: %+v", got.Items)
				}
				e.getJSON("/api/v1/stats/links/abc/top/referrer?granularity=hour&from=2026-11-20T10:00:00Z&to=2026-11-20T11:00:00Z", &got)
				if len(got.Items) != 1 || got.Items[0].Value != "hourly.example" {
					t.Errorf("hourly: %+v", got.Items)
				}
				wantProblem(t, "unknown code", e.get("/api/v1/stats/links/nothing/top/country", e.viewer), http.StatusNotFound)
				e.getJSON("/api/v1/stats/top/browser?from=2026-11-20", &got)
				// from alone ends with the day of now, not 30 days later.
				want = api.Top{Dimension: "browser", From: at(20, 0), To: at(21, 0),
					Granularity: api.Day, Traffic: api.AllTraffic, Items: []api.TopItem{
						{Value: "Chrome", Clicks: 33, Humans: 30, Bots: 3},
						{Value: "Firefox", Clicks: 12, Humans: 12},
					}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("every link:\n got %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

// TestOverview: the roll-up's series and the top links.
func TestOverview(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			e.bucketRow(api.Day, at(19, 0), "", 0, false, 20, sketch(t, 1, 2, 3))
			e.bucketRow(api.Day, at(20, 0), "", 0, false, 10, sketch(t, 3, 4))
			e.bucketRow(api.Day, at(20, 0), "", 0, true, 6, sketch(t, 50))
			e.bucketRow(api.Day, at(19, 0), "aaa", 1, false, 15, nil)
			e.bucketRow(api.Day, at(20, 0), "aaa", 1, true, 6, nil)
			e.bucketRow(api.Day, at(20, 0), "bbb", 2, false, 10, nil)
			e.bucketRow(api.Day, at(19, 0), "ccc", 3, false, 5, nil)
			e.bucketRow(api.Day, at(10, 0), "ddd", 4, false, 500, nil) // before the range

			var got api.Overview
			e.getJSON("/api/v1/stats/overview?from=2026-11-19&to=2026-11-20&limit=2", &got)
			want := api.Overview{Series: api.Series{From: at(19, 0), To: at(21, 0), Granularity: api.Day,
				Totals: api.Counts{Clicks: 36, Humans: 30, Bots: 6, Visitors: 5, HumanVisitors: 4, BotVisitors: 1},
				Points: []api.Point{
					point(at(19, 0), 20, 0, 3, 0, 3),
					point(at(20, 0), 10, 6, 2, 1, 3),
				}},
				Traffic: api.AllTraffic,
				TopLinks: []api.TopLink{
					{Code: "aaa", LinkID: "1", Clicks: 21, Humans: 15, Bots: 6},
					{Code: "bbb", LinkID: "2", Clicks: 10, Humans: 10},
				}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("overview:\n got %+v\nwant %+v", got, want)
			}
			e.getJSON("/api/v1/stats/overview?from=2026-11-19&to=2026-11-20&traffic=human", &got)
			if len(got.TopLinks) != 3 || got.TopLinks[0].Code != "aaa" || got.TopLinks[2].Code != "ccc" {
				t.Errorf("humans: %+v", got.TopLinks)
			}
			e.getJSON("/api/v1/stats/overview?from=2026-11-19&to=2026-11-20&traffic=bot", &got)
			if len(got.TopLinks) != 1 || got.TopLinks[0].Code != "aaa" {
				t.Errorf("bots: %+v", got.TopLinks)
			}
		})
	}
}
