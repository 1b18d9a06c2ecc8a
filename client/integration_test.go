package client_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
	cpapi "github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
	statsapi "github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/partitions"
	whstore "github.com/shortify/shortify/webhooks/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// issuer is a real codegen codec and Snowflake generator over a local
// counter: the Raft-backed issuer without Raft.
type issuer struct {
	codec *codegen.Codec
	ids   *snowflake.Generator
	next  atomic.Uint64
}

func (i *issuer) NewID() (int64, error) { return i.ids.Next() }

func (i *issuer) NextCode() (string, error) { return i.codec.Code(i.next.Add(1) - 1) }

// statsNow is the stats API's clock: the clicks the test writes are on
// its day.
var statsNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

// stack is the control plane API on SQLite with the registries on a real
// FSM and the audit log and reports in SQLite, and the stats API on a
// SQLite stats database, behind one loopback server as the front door
// routes them.
type stack struct {
	url   string
	admin string
	stats *sql.DB
	// hooks is the webhook store behind /api/v1/webhooks (SQLite).
	hooks *whstore.Store
}

func newStack(t *testing.T) *stack { return newStackOn(t, teststore.SQLite(t)) }

// newStackOn is newStack on the link store given.
func newStackOn(t *testing.T, links linkstore.Store) *stack {
	t.Helper()
	key, err := codegen.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := codegen.New(key)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := snowflake.New(1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry()
	log, err := audit.Open(t.Context(), audit.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "audit.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	rec := audit.NewRecorder(log, audit.RecorderConfig{FlushInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(rec.Close)
	hooks, err := whstore.Open(t.Context(), whstore.Config{DSN: "sqlite://" + filepath.Join(t.TempDir(), "links.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hooks.Close)
	cp, err := cpapi.New(cpapi.Config{PublicURL: "http://sho.test"},
		reg.deps(cpapi.Deps{Store: links, Issuer: &issuer{codec: codec, ids: ids}, Audit: rec, AuditLog: log, Reports: log, Webhooks: hooks}))
	if err != nil {
		t.Fatal(err)
	}
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	store, err := statsapi.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	st, err := statsapi.New(statsapi.Config{Now: func() time.Time { return statsNow }, Logger: slog.New(slog.DiscardHandler)},
		statsapi.Deps{Store: store, Keys: func(context.Context) apiauth.KeyLookup { return reg }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite://")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/stats/") {
			st.ServeHTTP(w, r)
			return
		}
		cp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &stack{url: srv.URL, admin: reg.mint(t), stats: db, hooks: hooks}
}

func (s *stack) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.url, append([]client.Option{client.WithAPIKey(s.admin)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// click writes a day's clicks of a link as the ingest aggregates them:
// the link's row and the roll-ups over all links (code "": the
// instance's, workspace 0, and the default workspace's).
func (s *stack) click(t *testing.T, code string, linkID string, clicks int64) {
	t.Helper()
	day := statsNow.Truncate(24 * time.Hour)
	for _, row := range []struct {
		code, linkID string
		ws           int64
	}{{code, linkID, workspace.DefaultID}, {"", "0", 0}, {"", "0", workspace.DefaultID}} {
		if _, err := s.stats.ExecContext(t.Context(),
			`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, visitors, workspace_id) VALUES (?1, ?2, ?3, 0, ?4, NULL, ?5)`,
			day.UnixMicro(), row.code, row.linkID, clicks, row.ws); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLinksLifecycle runs on both link stores: the client must not care.
func TestLinksLifecycle(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) linkstore.Store{
		"sqlite":   func(t *testing.T) linkstore.Store { return teststore.SQLite(t) },
		"postgres": func(t *testing.T) linkstore.Store { return teststore.Postgres(t, testenv.Schema(t)) },
	} {
		t.Run(name, func(t *testing.T) { testLinksLifecycle(t, newStackOn(t, open(t))) })
	}
}

func testLinksLifecycle(t *testing.T, s *stack) {
	c := s.client(t, client.WithUserAgent("client-test"))
	ctx := t.Context()

	l, err := c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/a", Alias: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Code != "hello" || l.URL != "https://example.com/a" || l.ShortURL != "http://sho.test/hello" {
		t.Fatalf("created %+v", l)
	}
	got, err := c.GetLink(ctx, "hello", "")
	if err != nil || got.ID != l.ID {
		t.Fatalf("get = %+v, %v", got, err)
	}

	bulk := make([]client.CreateLinkRequest, 7)
	for i := range bulk {
		bulk[i] = client.CreateLinkRequest{URL: "https://example.com/bulk"}
	}
	br, err := c.CreateLinksBulk(ctx, bulk)
	if err != nil || br.Created != 7 || br.Failed != 0 || len(br.Results) != 7 {
		t.Fatalf("bulk = %+v, %v", br, err)
	}

	// Pages of 3 over 8 links: the iterator walks all of them.
	var codes []string
	for l, err := range c.Links(ctx, client.ListLinksQuery{Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, l.Code)
	}
	if len(codes) != 8 || !slices.Contains(codes, "hello") {
		t.Fatalf("listed %v", codes)
	}
	// Breaking out of the loop stops it.
	n := 0
	for range c.Links(ctx, client.ListLinksQuery{Limit: 3}) {
		n++
		if n == 4 {
			break
		}
	}
	if n != 4 {
		t.Fatalf("stopped after %d", n)
	}

	// PATCH with the smart-link fields, then clearing one.
	up, err := c.UpdateLink(ctx, "hello", "", client.UpdateLinkRequest{
		MaxClicks:  client.Set[int64](100),
		ExpiredURL: client.Set("https://example.com/over"),
		Rules:      client.Set([]client.SmartRule{{When: client.SmartConditions{Country: []string{"DE"}}, URL: "https://example.de/"}}),
		UTM:        client.Set(client.UTM{Source: "newsletter"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.MaxClicks != 100 || len(up.Rules) != 1 || up.Rules[0].When.Country[0] != "DE" || up.UTM == nil || up.UTM.Source != "newsletter" {
		t.Fatalf("updated %+v", up)
	}
	up, err = c.UpdateLink(ctx, "hello", "", client.UpdateLinkRequest{MaxClicks: client.Clear[int64](), UTM: client.Clear[client.UTM]()})
	if err != nil || up.MaxClicks != 0 || up.UTM != nil || len(up.Rules) != 1 {
		t.Fatalf("cleared: %+v, %v", up, err)
	}

	png, ct, err := c.LinkQR(ctx, "hello", client.QROptions{Format: "png"})
	if err != nil || ct != "image/png" || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("QR: %q %d bytes, %v", ct, len(png), err)
	}
	margin := 0
	svg, ct, err := c.LinkQR(ctx, "hello", client.QROptions{Format: "svg", Margin: &margin, ECC: "H"})
	if err != nil || !strings.HasPrefix(ct, "image/svg+xml") || !strings.Contains(string(svg), "<svg") {
		t.Fatalf("SVG QR: %q %d bytes, %v", ct, len(svg), err)
	}

	// A bulk create reports each link's refusal as a problem of its own.
	br, err = c.CreateLinksBulk(ctx, []client.CreateLinkRequest{{URL: "https://example.com/ok"}, {URL: "ftp://example.com/"}})
	if err != nil || br.Created != 1 || br.Failed != 1 {
		t.Fatalf("mixed bulk = %+v, %v", br, err)
	}
	if r := br.Results[1]; r.Link != nil || r.Error == nil || r.Status != http.StatusBadRequest || r.Error.Field == "" {
		t.Fatalf("refused bulk item = %+v (error %+v)", r, r.Error)
	}

	if err := c.DeleteLink(ctx, "hello", client.DeleteLinkOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLink(ctx, "hello", "")
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		t.Fatalf("get after delete: %v", err)
	}
}

// TestProblemNamesTheField: a smart-link field the server refuses comes
// back as a *Problem naming its JSON path.
func TestProblemNamesTheField(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	_, err := c.CreateLink(t.Context(), client.CreateLinkRequest{
		URL:   "https://example.com/",
		Rules: []client.SmartRule{{When: client.SmartConditions{Country: []string{"Germany"}}, URL: "https://example.de/"}},
	})
	var p *client.Problem
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want a *client.Problem", err)
	}
	if p.Status != http.StatusBadRequest || !strings.HasPrefix(p.Field, "rules[0]") || p.Title == "" {
		t.Fatalf("problem = %+v", p)
	}
	if !strings.Contains(err.Error(), p.Field) {
		t.Fatalf("message %q does not name the field", err)
	}

	// No key: 401, a problem too.
	anon, err := client.New(s.url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = anon.ListKeys(t.Context())
	if !errors.As(err, &p) || p.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %v", err)
	}
}

func TestAdminWorkspacesDomains(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	ctx := t.Context()
	if h, err := c.Health(ctx); err != nil || h.Status == "" {
		t.Fatalf("health %+v, %v", h, err)
	}
	k, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "ci", Role: "viewer"})
	if err != nil || !strings.HasPrefix(k.Key, "sk_") || k.Role != "viewer" {
		t.Fatalf("key %+v, %v", k, err)
	}
	keys, err := c.ListKeys(ctx)
	if err != nil || !slices.ContainsFunc(keys, func(i client.KeyInfo) bool { return i.ID == k.ID }) {
		t.Fatalf("keys %+v, %v", keys, err)
	}
	if err := c.RevokeKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	doc, err := c.OpenAPI(ctx)
	if err != nil || !strings.Contains(string(doc), `"openapi"`) {
		t.Fatalf("openapi: %.80s, %v", doc, err)
	}
	// Blocklist, workspaces and domains on the FSM's registries.
	if err := c.BlockDomain(ctx, "evil.example"); err != nil {
		t.Fatal(err)
	}
	if bl, err := c.ListBlockedDomains(ctx); err != nil || !slices.Contains(bl, "evil.example") {
		t.Fatalf("blocklist %v, %v", bl, err)
	}
	if err := c.UnblockDomain(ctx, "evil.example"); err != nil {
		t.Fatal(err)
	}
	maxLinks := int64(50)
	ws, err := c.CreateWorkspace(ctx, client.CreateWorkspaceRequest{Name: "acme", Limits: &client.WorkspaceLimitsPatch{MaxLinks: &maxLinks}})
	if err != nil || ws.Name != "acme" || ws.Limits.MaxLinks != 50 {
		t.Fatalf("workspace %+v, %v", ws, err)
	}
	wss, err := c.ListWorkspaces(ctx)
	if err != nil || len(wss) < 2 {
		t.Fatalf("workspaces %+v, %v", wss, err)
	}
	if ws, err = c.UpdateWorkspace(ctx, "acme", client.UpdateWorkspaceRequest{Name: "acme2"}); err != nil || ws.Name != "acme2" {
		t.Fatalf("renamed %+v, %v", ws, err)
	}
	acme := c.InWorkspace("acme2")
	wk, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "acme-ci", Role: "creator", Workspace: "acme2"})
	if err != nil || wk.Workspace != ws.ID || wk.InstanceAdmin {
		t.Fatalf("workspace key %+v, %v", wk, err)
	}
	if got, err := c.GetWorkspace(ctx, strconv.FormatInt(ws.ID, 10)); err != nil || got.Name != "acme2" {
		t.Fatalf("workspace by ID: %+v, %v", got, err)
	}
	d, err := acme.CreateDomain(ctx, "go.acme.test")
	if err != nil || d.Verified || d.Challenge.Type == "" {
		t.Fatalf("domain %+v, %v", d, err)
	}
	root := "https://acme.test/"
	if d, err = acme.UpdateDomain(ctx, "go.acme.test", client.UpdateDomainRequest{RootRedirect: &root}); err != nil || d.RootRedirect != root {
		t.Fatalf("domain update %+v, %v", d, err)
	}
	if ds, err := acme.ListDomains(ctx); err != nil || len(ds) != 1 {
		t.Fatalf("domains %+v, %v", ds, err)
	}
	if ok, err := c.DomainAllowed(ctx, "go.acme.test"); err != nil || ok {
		t.Fatalf("unverified domain allowed: %v, %v", ok, err)
	}
	verified := true
	if _, err := acme.UpdateDomain(ctx, "go.acme.test", client.UpdateDomainRequest{Verified: &verified}); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.DomainAllowed(ctx, "go.acme.test"); err != nil || !ok {
		t.Fatalf("verified domain not allowed: %v, %v", ok, err)
	}
	if err := acme.DeleteDomain(ctx, "go.acme.test", true); err != nil {
		t.Fatal(err)
	}
	if _, err := acme.GetDomain(ctx, "go.acme.test"); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("deleted domain: %v", err)
	}
	if err := c.DeleteWorkspace(ctx, "acme2", true); err != nil {
		t.Fatal(err)
	}

	// Routes whose service this API has none of answer 503, a problem;
	// an idempotent call is retried, so the client here retries none.
	once := s.client(t, client.WithRetries(0, 0))
	if _, err := once.Cluster(ctx); !isStatus(err, http.StatusServiceUnavailable) {
		t.Fatalf("cluster: %v, want a 503 problem", err)
	}
}

// isStatus reports whether err is a problem of the status.
func isStatus(err error, status int) bool {
	var p *client.Problem
	return errors.As(err, &p) && p.Status == status
}

func TestStats(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	ctx := t.Context()
	l, err := c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/", Alias: "counted"})
	if err != nil {
		t.Fatal(err)
	}
	s.click(t, "counted", l.ID, 42)

	ls, err := c.LinkStats(ctx, "counted", client.StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if ls.Code != "counted" || ls.LinkID != l.ID || ls.Totals.Clicks != 42 || ls.Totals.Humans != 42 || len(ls.Series.Series) == 0 {
		t.Fatalf("link stats %+v", ls)
	}
	ov, err := c.StatsOverview(ctx, client.StatsQuery{From: "2026-11-01", To: "2026-11-30", Traffic: "human"})
	if err != nil {
		t.Fatal(err)
	}
	if ov.Totals.Clicks != 42 || len(ov.TopLinks) != 1 || ov.TopLinks[0].Code != "counted" {
		t.Fatalf("overview %+v", ov)
	}
	csv, err := c.LinkSeriesCSV(ctx, "counted", client.StatsQuery{})
	if err != nil || !strings.Contains(string(csv), "42") {
		t.Fatalf("csv %q, %v", csv, err)
	}
	top, err := c.LinkTop(ctx, "counted", "country", client.StatsQuery{})
	if err != nil || top.Dimension != "country" {
		t.Fatalf("top %+v, %v", top, err)
	}
	if _, err := c.StatsTop(ctx, "device", client.StatsQuery{Limit: 5}); err != nil {
		t.Fatal(err)
	}
	wv, err := c.StatsWorkspace(ctx, "")
	if err != nil || wv.Role != "admin" || !wv.InstanceAdmin {
		t.Fatalf("workspace view %+v, %v", wv, err)
	}
	doc, err := c.StatsOpenAPI(ctx)
	if err != nil || !strings.Contains(string(doc), "/api/v1/stats/overview") {
		t.Fatalf("stats openapi: %v", err)
	}
	// An unknown dimension is a problem (404: no such resource) naming it.
	_, err = c.StatsTop(ctx, "planet", client.StatsQuery{})
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound || p.Field != "dimension" {
		t.Fatalf("bad dimension: %v", err)
	}
}
