package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/clientip"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

// auditEnv is an API with a real audit log (SQLite or PostgreSQL) and a
// key of each role, whose requests name their key themselves.
type auditEnv struct {
	h                  *api.Handler
	log                *audit.Store
	admin, creator     string // keys
	adminID, creatorID string
}

// auditStores opens an audit store on each database.
var auditStores = map[string]func(t *testing.T) *audit.Store{
	"sqlite": func(t *testing.T) *audit.Store {
		return openAudit(t, "sqlite://"+filepath.Join(t.TempDir(), "audit.db"))
	},
	"postgres": func(t *testing.T) *audit.Store { return openAudit(t, testenv.Schema(t)) },
}

func openAudit(t testing.TB, dsn string) *audit.Store {
	t.Helper()
	s, err := audit.Open(t.Context(), audit.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newAuditEnv(t *testing.T, log *audit.Store, deps api.Deps) *auditEnv {
	t.Helper()
	ring := &keyRing{}
	e := &auditEnv{log: log, admin: ring.mint(t, apikey.Admin), creator: ring.mint(t, apikey.Creator)}
	e.adminID, _ = apikey.Parse(e.admin)
	e.creatorID, _ = apikey.Parse(e.creator)
	// The control plane's client address: forwarding headers count only
	// from a trusted proxy (10.0.0.0/8 here).
	res, err := clientip.NewResolver([]string{"10.0.0.0/8"}, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := audit.NewRecorder(log, audit.RecorderConfig{FlushInterval: 5 * time.Millisecond})
	t.Cleanup(rec.Close)
	if deps.Store == nil {
		deps.Store = teststore.SQLite(t)
	}
	deps.Issuer, deps.Keys, deps.Audit, deps.AuditLog = newIssuer(t, 1000), ring, rec, log
	deps.ClientIP = func(r *http.Request) string {
		ip, err := res.ClientIP(r)
		if err != nil {
			return r.RemoteAddr
		}
		return ip.String()
	}
	if e.h, err = api.New(api.Config{PublicURL: testPublicURL}, deps); err != nil {
		t.Fatal(err)
	}
	return e
}

// do sends a request with key (none when ""), from peer, with headers.
func (e *auditEnv) do(t *testing.T, key, method, path, body, peer string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "http://sho.test"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	if peer != "" {
		r.RemoteAddr = peer
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// entries reads the audit log through the API, as the admin.
func (e *auditEnv) entries(t *testing.T, query string) api.AuditPage {
	t.Helper()
	w := e.do(t, e.admin, http.MethodGet, "/api/v1/admin/audit?"+query, "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET audit?%s: %d %s", query, w.Code, w.Body)
	}
	return decode[api.AuditPage](t, w)
}

// waitEntries waits until the log holds n entries.
func (e *auditEnv) waitEntries(t *testing.T, n int) []api.AuditEntry {
	t.Helper()
	var got []api.AuditEntry
	testenv.WaitFor(t, fmt.Sprintf("%d audit entries", n), 10*time.Second, func() bool {
		got = e.entries(t, "limit=1000").Entries
		return len(got) >= n
	})
	return got
}

func TestAuditRecordsWrites(t *testing.T) {
	for name, open := range auditStores {
		t.Run(name, func(t *testing.T) {
			e := newAuditEnv(t, open(t), api.Deps{Blocklist: &blocklist{}})
			w := e.do(t, e.admin, "POST", "/api/v1/links", `{"url":"https://example.com/a"}`, "10.1.2.3:4000", "X-Forwarded-For", "203.0.113.7")
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body)
			}
			code := decode[api.Link](t, w).Code
			steps := []struct {
				key, method, path, body, peer string
				header                        []string
				want                          api.AuditEntry
			}{
				// A spoofed header from an untrusted peer is ignored.
				{e.creator, "PATCH", "/api/v1/links/" + code, `{"disabled":true}`, "198.51.100.1:5000", []string{"X-Forwarded-For", "203.0.113.99"},
					api.AuditEntry{KeyID: e.creatorID, Action: "PATCH /api/v1/links/{code}", Target: code, ClientIP: "198.51.100.1", Status: 200}},
				{e.creator, "POST", "/api/v1/admin/keys", `{"name":"x","role":"viewer"}`, "198.51.100.1:5000", nil,
					api.AuditEntry{KeyID: e.creatorID, Action: "POST /api/v1/admin/keys", ClientIP: "198.51.100.1", Status: 403}},
				{"", "POST", "/api/v1/links", `{"url":"https://example.com/b"}`, "198.51.100.2:5000", nil,
					api.AuditEntry{KeyID: audit.Anonymous, Action: "POST /api/v1/links", ClientIP: "198.51.100.2", Status: 401}},
				{e.admin, "POST", "/api/v1/links", `{"url":`, "198.51.100.1:5000", nil,
					api.AuditEntry{KeyID: e.adminID, Action: "POST /api/v1/links", ClientIP: "198.51.100.1", Status: 400}},
				{e.admin, "PUT", "/api/v1/admin/blocklist/evil.example", "", "10.9.9.9:1", []string{"X-Forwarded-For", "2001:db8::5"},
					api.AuditEntry{KeyID: e.adminID, Action: "PUT /api/v1/admin/blocklist/{domain}", Target: "evil.example", ClientIP: "2001:db8::5", Status: 204}},
				{e.admin, "POST", "/api/v1/links/bulk", `{"links":[{"url":"https://example.com/c"}]}`, "198.51.100.1:5000", nil,
					api.AuditEntry{KeyID: e.adminID, Action: "POST /api/v1/links/bulk", ClientIP: "198.51.100.1", Status: 200}},
				{e.admin, "POST", "/api/v1/cluster/join", `{"id":"n2","address":"10.0.0.2:8300"}`, "198.51.100.1:5000", nil,
					api.AuditEntry{KeyID: e.adminID, Action: "POST /api/v1/cluster/join", ClientIP: "198.51.100.1", Status: 503}},
				{e.admin, "DELETE", "/api/v1/links/" + code, "", "198.51.100.1:5000", nil,
					api.AuditEntry{KeyID: e.adminID, Action: "DELETE /api/v1/links/{code}", Target: code, ClientIP: "198.51.100.1", Status: 204}},
			}
			for _, s := range steps {
				e.do(t, s.key, s.method, s.path, s.body, s.peer, s.header...)
			}
			// Reads are not recorded.
			e.do(t, e.admin, "GET", "/api/v1/links", "", "")
			w = e.do(t, e.admin, "POST", "/api/v1/admin/keys", `{"name":"ops","role":"viewer"}`, "198.51.100.1:5000")
			newKey := decode[api.NewKey](t, w)
			e.do(t, newKey.Key, "DELETE", "/api/v1/admin/keys/"+newKey.ID, "", "198.51.100.1:5000")

			got := e.waitEntries(t, len(steps)+3)
			if len(got) != len(steps)+3 {
				t.Fatalf("%d entries, want %d: %+v", len(got), len(steps)+3, got)
			}
			slices.Reverse(got) // oldest first
			first := got[0]
			if first.KeyID != e.adminID || first.Action != "POST /api/v1/links" || first.Target != code || first.ClientIP != "203.0.113.7" || first.Status != 201 {
				t.Errorf("create through a trusted proxy: %+v", first)
			}
			for i, s := range steps {
				g := got[i+1]
				g.ID, g.At = "", time.Time{}
				if g != s.want {
					t.Errorf("%s %s:\n got %+v\nwant %+v", s.method, s.path, g, s.want)
				}
			}
			if k := got[len(steps)+1]; k.Action != "POST /api/v1/admin/keys" || k.Target != newKey.ID || k.Status != 201 {
				t.Errorf("key create: %+v", k)
			}
			// A viewer key (newKey) revoking itself is refused (403), and
			// recorded with its own ID: who is taken before the write.
			if k := got[len(steps)+2]; k.Action != "DELETE /api/v1/admin/keys/{id}" || k.Target != newKey.ID || k.KeyID != newKey.ID || k.Status != 403 {
				t.Errorf("key revoke: %+v", k)
			}
		})
	}
}

// TestAuditCoversEveryWriteRoute sends every write route of the API once:
// each lands in the log, the routes added after the audit log included.
func TestAuditCoversEveryWriteRoute(t *testing.T) {
	e := newAuditEnv(t, auditStores["sqlite"](t), api.Deps{})
	var writes []string
	for _, rt := range e.h.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		if method == "GET" {
			continue
		}
		writes = append(writes, rt.Pattern)
		// Any path argument, of the routes that come later too.
		path = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "x1y2z3")
		e.do(t, e.admin, method, path, `{}`, "")
	}
	got := e.waitEntries(t, len(writes))
	var logged []string
	for _, g := range got {
		logged = append(logged, g.Action)
	}
	slices.Sort(logged)
	slices.Sort(writes)
	if !slices.Equal(logged, writes) {
		t.Errorf("logged %q\nwant %q", logged, writes)
	}
}

func TestAuditQuery(t *testing.T) {
	for name, open := range auditStores {
		t.Run(name, func(t *testing.T) {
			log := open(t)
			e := newAuditEnv(t, log, api.Deps{})
			// In the current month, whose partition the store has.
			base := statsparts.MonthStart(time.Now()).Add(12 * time.Hour)
			at := func(h int) string { return base.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
			if err := log.Insert(t.Context(), []audit.Entry{
				{At: base, KeyID: "k1", Method: "POST", Route: "POST /api/v1/links", Target: "aaa", ClientIP: "192.0.2.1", Status: 201},
				{At: base.Add(time.Hour), KeyID: "k2", Method: "DELETE", Route: "DELETE /api/v1/links/{code}", Target: "aaa", Status: 404},
				{At: base.Add(2 * time.Hour), KeyID: "k1", Method: "POST", Route: "POST /api/v1/links", Target: "bbb", Status: 503},
				{At: base.Add(3 * time.Hour), KeyID: "k1", Method: "DELETE", Route: "DELETE /api/v1/links/{code}", Target: "bbb", Status: 204},
			}); err != nil {
				t.Fatal(err)
			}
			targets := func(p api.AuditPage) string {
				var ts []string
				for _, en := range p.Entries {
					ts = append(ts, en.Target+":"+fmt.Sprint(en.Status))
				}
				return strings.Join(ts, ",")
			}
			for _, tt := range []struct{ query, want string }{
				{"", "bbb:204,bbb:503,aaa:404,aaa:201"},
				{"key=k2", "aaa:404"},
				{"action=" + url.QueryEscape("DELETE /api/v1/links/{code}"), "bbb:204,aaa:404"},
				{"target=aaa", "aaa:404,aaa:201"},
				{"outcome=success", "bbb:204,aaa:201"},
				{"outcome=client_error", "aaa:404"},
				{"outcome=server_error", "bbb:503"},
				{"status=201", "aaa:201"},
				{"since=" + at(1), "bbb:204,bbb:503,aaa:404"},
				{"until=" + at(1), "aaa:201"},
				{"since=" + at(1) + "&until=" + at(3) + "&key=k1", "bbb:503"},
			} {
				if got := targets(e.entries(t, tt.query)); got != tt.want {
					t.Errorf("?%s: %s, want %s", tt.query, got, tt.want)
				}
			}
			// Pages of two, each after the last entry of the one before.
			var pages []string
			query := "limit=2"
			for range 5 {
				p := e.entries(t, query)
				pages = append(pages, targets(p))
				if p.NextCursor == "" {
					break
				}
				query = "limit=2&cursor=" + p.NextCursor
			}
			if want := []string{"bbb:204,bbb:503", "aaa:404,aaa:201", ""}; !slices.Equal(pages, want) {
				t.Errorf("pages %q, want %q", pages, want)
			}
			for _, tt := range []struct{ query, field string }{
				{"action=GET+%2Fapi%2Fv1%2Flinks", "action"},
				{"action=nonsense", "action"},
				{"outcome=fine", "outcome"},
				{"status=99", "status"},
				{"status=abc", "status"},
				{"since=yesterday", "since"},
				{"until=2026-13-01T00:00:00Z", "until"},
				{"since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "since"},
				{"cursor=", "cursor"},
				{"cursor=abc", "cursor"},
				{"limit=0", "limit"},
				{"limit=1001", "limit"},
				{"verb=POST", "verb"},
				{"target=a%00b", "target"},
				{"key=%FF", "key"},
				{"target=" + strings.Repeat("x", 513), "target"},
			} {
				w := e.do(t, e.admin, http.MethodGet, "/api/v1/admin/audit?"+tt.query, "", "")
				if p := wantProblem(t, w, http.StatusBadRequest, ""); p.Field != tt.field {
					t.Errorf("?%s: field %q, want %q", tt.query, p.Field, tt.field)
				}
			}
			// Admin only: a creator key gets 403, no key 401.
			wantProblem(t, e.do(t, e.creator, http.MethodGet, "/api/v1/admin/audit", "", ""), http.StatusForbidden, "admin")
			wantProblem(t, e.do(t, "", http.MethodGet, "/api/v1/admin/audit", "", ""), http.StatusUnauthorized, "")
		})
	}
}
