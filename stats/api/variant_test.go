package api_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/shortify/shortify/stats/api"
)

// TestTopVariant: a link's clicks per variant of a smart link (the
// variant dimension, in the dims column only), next to rows written
// before the dimension existed (dims encoding version 1), which count
// their other dimensions and no variant. Over every link there is no
// variant: a 404 naming the dimension.
func TestTopVariant(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			e := setup(t, b)
			e.dims = dimsColumn
			const id = 77
			for _, r := range []struct {
				day   int
				bot   bool
				value string
				n     int64
			}{
				{19, false, "url", 5},
				{20, false, "url", 1},
				{20, false, "targets[0]", 3},
				{20, true, "targets[1]", 2},
				{20, false, "rules[0]", 4},
			} {
				e.dimRow(api.Day, at(r.day, 0), "smart", id, r.bot, "variant", r.value, r.n)
			}
			// A day of the link before smart links: dims version 1 (six
			// dimensions, here a referrer), as the ingest wrote them.
			v1 := []byte{1, 1, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 6, 0, 0, 0, 0, 0}
			for _, ws := range rowWorkspaces("smart") {
				e.exec(`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, dims, workspace_id) VALUES ($1, $2, $3, $4, 6, $5, $6)`,
					at(18, 0), "smart", id, false, v1, ws)
			}
			var got api.Top
			e.getJSON("/api/v1/stats/links/smart/top/variant?from=2026-11-18&to=2026-11-20", &got)
			want := api.Top{Code: "smart", LinkID: ptr("77"), Dimension: "variant", From: at(18, 0), To: at(21, 0),
				Granularity: api.Day, Traffic: api.AllTraffic, Items: []api.TopItem{
					{Value: "url", Clicks: 6, Humans: 6},
					{Value: "rules[0]", Clicks: 4, Humans: 4},
					{Value: "targets[0]", Clicks: 3, Humans: 3},
					{Value: "targets[1]", Clicks: 2, Bots: 2},
				}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("variants:\n got %+v\nwant %+v", got, want)
			}
			e.getJSON("/api/v1/stats/links/smart/top/referrer?from=2026-11-18&to=2026-11-20", &got)
			if len(got.Items) != 1 || got.Items[0] != (api.TopItem{Value: "a.example", Clicks: 6, Humans: 6}) {
				t.Errorf("referrers of the version-1 row: %+v", got.Items)
			}
			for path, want := range map[string]string{
				"/api/v1/stats/top/variant":              "dimension of one link",
				"/api/v1/stats/links/smart/top/variants": "status and variant",
				"/api/v1/stats/top/variants":             "os and status",
			} {
				d := wantProblem(t, path, e.get(path, e.viewer), http.StatusNotFound)
				if d.Field != "dimension" || !strings.Contains(d.Detail, want) {
					t.Errorf("%s: field %q, detail %q; want dimension, %q", path, d.Field, d.Detail, want)
				}
			}
		})
	}
}
