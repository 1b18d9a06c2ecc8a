package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/statsdb"
)

// isoLink is a link of the isolation matrix: in the link store (unless
// deleted), with clicks of its workspace from its country, to its variant
// (a smart link's choice).
type isoLink struct {
	code, domain string
	id, ws       int64
	country      string
	choice       uint8
	clicks       int
	deleted      bool
}

// isoLinks: workspace 2 ("acme", A) and 3 ("other", B) each have links on
// the own host and on a custom domain, and B a deleted link whose
// statistics outlive it; the default workspace has one link. Countries
// tell the workspaces apart in every answer, and so do variants in the
// per-link ones.
var isoLinks = []isoLink{
	{code: "dflt", id: 101, ws: 1, country: "FR", clicks: 1},
	{code: "a-own", id: 201, ws: 2, country: "JP", choice: 64, clicks: 4},
	{code: "a-dom", domain: "go.acme.example", id: 202, ws: 2, country: "JP", choice: 65, clicks: 2},
	{code: "b-own", id: 301, ws: 3, country: "DE", choice: 1, clicks: 3},
	{code: "b-dom", domain: "go.other.example", id: 302, ws: 3, country: "DE", choice: 2, clicks: 5},
	{code: "b-gone", id: 303, ws: 3, country: "DE", choice: 64, clicks: 6, deleted: true},
}

// isoDirectory is api.Directory on a real link store and a fixed list of
// workspaces (the control plane's, on its Raft FSM, is tested in
// controlplane/).
type isoDirectory struct{ links linkstore.Store }

var isoWorkspaces = []api.Workspace{{ID: 1, Name: "default"}, {ID: 2, Name: "acme"}, {ID: 3, Name: "other"}}

func (isoDirectory) Workspace(id int64) (api.Workspace, bool) {
	i := slices.IndexFunc(isoWorkspaces, func(w api.Workspace) bool { return w.ID == id })
	if i < 0 {
		return api.Workspace{}, false
	}
	return isoWorkspaces[i], true
}

func (isoDirectory) WorkspaceByName(name string) (api.Workspace, bool) {
	i := slices.IndexFunc(isoWorkspaces, func(w api.Workspace) bool { return w.Name == name })
	if i < 0 {
		return api.Workspace{}, false
	}
	return isoWorkspaces[i], true
}

func (isoDirectory) Workspaces() []api.Workspace { return slices.Clone(isoWorkspaces) }

func (d isoDirectory) Link(ctx context.Context, domain, code string) (api.LinkRef, bool, error) {
	l, err := d.links.Lookup(ctx, domain, code)
	if err == linkstore.ErrNotFound {
		return api.LinkRef{}, false, nil
	}
	if err != nil {
		return api.LinkRef{}, false, err
	}
	return api.LinkRef{ID: l.ID, Workspace: workspace.Of(l.WorkspaceID)}, true, nil
}

// isoEnv is the stats API of one backend with the isolation data, a link
// store beside it, and a key per kind of caller.
type isoEnv struct {
	*env
	keys map[string]string // caller -> key
}

// setupIsolation writes isoLinks' links and clicks and builds the API
// with the directory.
func setupIsolation(t *testing.T, backend string) *isoEnv {
	t.Helper()
	e := setup(t, backend)
	var links linkstore.Store
	if e.sqlite {
		links = teststore.SQLite(t)
	} else {
		links = teststore.Postgres(t, e.dsn) // the link and stats tables in one database, as by default
	}
	b := aggregate.NewBatch()
	day := now.Truncate(24 * time.Hour)
	for _, l := range isoLinks {
		err := links.Create(t.Context(), linkstore.Link{ID: l.id, Code: l.code, Domain: l.domain, WorkspaceID: l.ws,
			URL: "https://example.com/" + l.code, CreatedAt: day})
		if err != nil {
			t.Fatal(err)
		}
		if l.deleted {
			if _, err := links.Delete(t.Context(), l.domain, l.code); err != nil {
				t.Fatal(err)
			}
		}
		for i := range l.clicks {
			ev := clickevents.Event{Time: day.Add(time.Duration(i) * time.Hour), Code: l.code, LinkID: l.id, Status: 302,
				Visitor: uint64(l.id*10 + int64(i)), Country: l.country, UserAgent: "Mozilla/5.0 Firefox/140.0",
				Workspace: l.ws, Domain: l.domain, Choice: l.choice}
			b.Add(&ev)
		}
	}
	db, err := statsdb.Open(t.Context(), statsdb.Config{DSN: e.dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(t.Context(), &statsdb.Batch{Group: "g", Rows: b.Rows(),
		Offsets: []statsdb.Offset{{Topic: "clicks", Expected: statsdb.NoOffset, Next: 1}}}); err != nil {
		t.Fatal(err)
	}
	dir := isoDirectory{links: links}
	e.h, err = api.New(api.Config{Now: func() time.Time { return now }}, api.Deps{
		Store:     e.store,
		Keys:      func(context.Context) apiauth.KeyLookup { return e.keys },
		Directory: func(context.Context) api.Directory { return dir },
	})
	if err != nil {
		t.Fatal(err)
	}
	ie := &isoEnv{env: e, keys: map[string]string{
		"A viewer":       e.keys.addIn(t, apikey.Viewer, 2),
		"A admin":        e.keys.addIn(t, apikey.Admin, 2),
		"B viewer":       e.keys.addIn(t, apikey.Viewer, 3),
		"legacy viewer":  e.viewer, // no workspace: the default one
		"instance admin": e.admin,
	}}
	return ie
}

// addIn adds a key of role in workspace ws.
func (k *keyRing) addIn(t testing.TB, role apikey.Role, ws int64) string {
	t.Helper()
	secret := k.add(t, role)
	id, err := apikey.Parse(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := k.recs[id]
	r.Workspace = ws
	k.recs[id] = r
	return secret
}

// call sends a GET with a key and an optional Shortify-Workspace header.
func (e *isoEnv) call(path, key, header string) (int, []byte) {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "Bearer "+key)
	if header != "" {
		r.Header.Set(apiauth.WorkspaceHeader, header)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, body
}

// viewer is a caller of the matrix: a key, the header it sends, and the
// workspace whose statistics it must read (0: every workspace; -1: none,
// every route 404).
type viewer struct {
	name, key, header string
	ws                int64
}

func (e *isoEnv) viewers() []viewer {
	return []viewer{
		{"A viewer", e.keys["A viewer"], "", 2},
		{"A viewer naming itself", e.keys["A viewer"], "acme", 2},
		{"A admin naming itself by ID", e.keys["A admin"], "2", 2},
		{"A viewer naming B", e.keys["A viewer"], "3", -1},
		{"A admin naming B by name", e.keys["A admin"], "other", -1},
		{"A viewer naming no workspace", e.keys["A viewer"], "nope", -1},
		{"B viewer", e.keys["B viewer"], "", 3},
		{"B viewer naming A", e.keys["B viewer"], "acme", -1},
		{"legacy viewer", e.keys["legacy viewer"], "", 1},
		{"legacy viewer naming A", e.keys["legacy viewer"], "2", -1},
		{"instance admin", e.keys["instance admin"], "", 0},
		{"instance admin in A", e.keys["instance admin"], "acme", 2},
		{"instance admin in B", e.keys["instance admin"], "3", 3},
		{"instance admin naming no workspace", e.keys["instance admin"], "99", -1},
	}
}

// sees tells whether a caller acting in ws reads link l.
func sees(ws int64, l isoLink) bool { return ws == 0 || ws == l.ws }

// TestIsolationMatrix: on both stores, every stats route answers each
// caller with its own workspace's statistics only. A link of another
// workspace is a 404 on every per-link route, exactly like a code no link
// has; overview, top links and top dimensions never hold another
// workspace's clicks; a header naming a workspace the key may not act in
// is a 404 everywhere.
func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := setupIsolation(t, backend)
			q := "from=" + now.Format(time.DateOnly) // the day of the clicks
			unknown := map[string][]byte{}           // caller and route -> the 404 body of a code no link has
			for _, v := range e.viewers() {
				for _, l := range isoLinks {
					dq := q
					if l.domain != "" {
						dq += "&domain=" + l.domain
					}
					for _, route := range []string{"/api/v1/stats/links/%s", "/api/v1/stats/links/%s/top/country", "/api/v1/stats/links/%s/top/variant", "/api/v1/stats/links/%s/series.csv"} {
						path := fmt.Sprintf(route, l.code) + "?" + dq
						status, body := e.call(path, v.key, v.header)
						want := http.StatusNotFound
						if v.ws >= 0 && sees(v.ws, l) {
							want = http.StatusOK
						}
						if status != want {
							t.Errorf("%s: %s: %d, want %d: %s", v.name, path, status, want, body)
							continue
						}
						if status == http.StatusOK {
							checkLinkAnswer(t, v.name, path, body, l)
							continue
						}
						// The 404 of another workspace's link says what a
						// code that no link has says.
						none := fmt.Sprintf(route, "zz-none") + "?" + dq
						if _, ok := unknown[v.name+none]; !ok {
							st, b := e.call(none, v.key, v.header)
							if st != http.StatusNotFound {
								t.Fatalf("%s: %s: %d", v.name, none, st)
							}
							unknown[v.name+none] = b
						}
						if like := strings.ReplaceAll(string(unknown[v.name+none]), "zz-none", l.code); like != string(body) {
							t.Errorf("%s: %s: the 404 differs from an unknown code's:\n%s\n%s", v.name, path, body, like)
						}
					}
				}
				checkRollups(t, e, v, q)
			}
		})
	}
}

// checkLinkAnswer checks a per-link route's answer: the link's own
// clicks.
func checkLinkAnswer(t *testing.T, who, path string, body []byte, l isoLink) {
	t.Helper()
	switch {
	case strings.Contains(path, "/top/"):
		var top api.Top
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatal(err)
		}
		want := l.country
		if top.Dimension == "variant" {
			want = smartlink.Choice(l.choice).String()
		}
		if top.LinkID == nil || *top.LinkID != strconv.FormatInt(l.id, 10) || top.Domain != l.domain ||
			len(top.Items) != 1 || top.Items[0].Value != want || top.Items[0].Clicks != int64(l.clicks) {
			t.Errorf("%s: %s: %s", who, path, body)
		}
	case strings.HasSuffix(strings.Split(path, "?")[0], ".csv"):
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil || len(rows) != 2 || rows[1][1] != strconv.Itoa(l.clicks) {
			t.Errorf("%s: %s: %v %q", who, path, err, rows)
		}
	default:
		var s api.LinkStats
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		if s.LinkID == nil || *s.LinkID != strconv.FormatInt(l.id, 10) || s.Domain != l.domain || s.Totals.Clicks != int64(l.clicks) {
			t.Errorf("%s: %s: link %v on %q, %d clicks; want %d on %q, %d", who, path, s.LinkID, s.Domain, s.Totals.Clicks, l.id, l.domain, l.clicks)
		}
	}
}

// checkRollups checks the routes over every link (overview with its top
// links, top dimensions) and the workspace route for caller v.
func checkRollups(t *testing.T, e *isoEnv, v viewer, q string) {
	t.Helper()
	var clicks int64
	var codes []string
	countries := map[string]int64{}
	for _, l := range isoLinks {
		if v.ws >= 0 && sees(v.ws, l) {
			clicks += int64(l.clicks)
			codes = append(codes, l.code)
			countries[l.country] += int64(l.clicks)
		}
	}
	for _, path := range []string{"/api/v1/stats/overview?limit=100&" + q, "/api/v1/stats/top/country?" + q, "/api/v1/stats/workspace"} {
		status, body := e.call(path, v.key, v.header)
		if v.ws < 0 {
			if status != http.StatusNotFound {
				t.Errorf("%s: %s: %d, want 404: %s", v.name, path, status, body)
			}
			continue
		}
		if status != http.StatusOK {
			t.Errorf("%s: %s: %d: %s", v.name, path, status, body)
			continue
		}
		switch {
		case strings.HasPrefix(path, "/api/v1/stats/overview"):
			var o api.Overview
			if err := json.Unmarshal(body, &o); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range o.TopLinks {
				got = append(got, l.Code)
			}
			slices.Sort(got)
			slices.Sort(codes)
			if o.Totals.Clicks != clicks || !slices.Equal(got, codes) {
				t.Errorf("%s: overview: %d clicks, links %v; want %d, %v", v.name, o.Totals.Clicks, got, clicks, codes)
			}
		case strings.HasPrefix(path, "/api/v1/stats/top/"):
			var top api.Top
			if err := json.Unmarshal(body, &top); err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, it := range top.Items {
				got[it.Value] = it.Clicks
			}
			if fmt.Sprint(got) != fmt.Sprint(countries) {
				t.Errorf("%s: top countries %v, want %v", v.name, got, countries)
			}
		default:
			var w api.WorkspaceView
			if err := json.Unmarshal(body, &w); err != nil {
				t.Fatal(err)
			}
			admin := strings.HasPrefix(v.name, "instance admin")
			if w.InstanceAdmin != admin || (admin && len(w.Workspaces) != len(isoWorkspaces)) || (!admin && w.Workspaces != nil) {
				t.Errorf("%s: workspace: %s", v.name, body)
			}
			switch {
			case v.ws == 0 && w.Workspace != nil:
				t.Errorf("%s: workspace: %s, want none (every workspace)", v.name, body)
			case v.ws != 0 && (w.Workspace == nil || w.Workspace.ID != v.ws || w.Workspace.Name != isoWorkspaces[v.ws-1].Name):
				t.Errorf("%s: workspace: %s, want %d", v.name, body, v.ws)
			}
		}
	}
}

// TestIsolationLinkID: link_id reaches a link of the caller's workspace
// only, whatever the code says; a domain the link is not on is a 404.
func TestIsolationLinkID(t *testing.T) {
	t.Parallel()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := setupIsolation(t, backend)
			a, b := e.keys["A viewer"], e.keys["B viewer"]
			for _, c := range []struct {
				path, key string
				want      int
			}{
				{"/api/v1/stats/links/b-own?link_id=301", b, http.StatusOK},
				{"/api/v1/stats/links/b-own?link_id=301", a, http.StatusNotFound},
				{"/api/v1/stats/links/b-gone?link_id=303", a, http.StatusNotFound},
				{"/api/v1/stats/links/b-gone?link_id=303", b, http.StatusOK},
				{"/api/v1/stats/links/a-own?link_id=301", a, http.StatusNotFound}, // B's link under A's code
				{"/api/v1/stats/links/b-own/top/os?link_id=301", a, http.StatusNotFound},
				{"/api/v1/stats/links/b-own/series.csv?link_id=301", a, http.StatusNotFound},
				{"/api/v1/stats/links/b-dom?domain=go.other.example&link_id=302", a, http.StatusNotFound},
				{"/api/v1/stats/links/a-own?domain=go.acme.example", a, http.StatusNotFound}, // not on that domain
				{"/api/v1/stats/links/a-dom?domain=GO.Acme.Example.", a, http.StatusOK},      // normalised
				{"/api/v1/stats/links/b-gone?domain=go.other.example", b, http.StatusNotFound},
			} {
				if status, body := e.call(c.path, c.key, ""); status != c.want {
					t.Errorf("%s: %d, want %d: %s", c.path, status, c.want, body)
				}
			}
		})
	}
}
