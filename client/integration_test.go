package client_test

import (
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
	cpapi "github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/apitest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
	whstore "github.com/shortify/shortify/webhooks/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is the APIs as a program meets them (apitest.Server), with the
// audit log, the abuse reports and the webhook store in SQLite.
type stack struct {
	url   string
	admin string
	srv   *apitest.Server
	// hooks is the webhook store behind /api/v1/webhooks (SQLite).
	hooks *whstore.Store
}

func newStack(t *testing.T) *stack { return newStackOn(t, teststore.SQLite(t)) }

// newStackOn is newStack on the link store given.
func newStackOn(t *testing.T, links linkstore.Store) *stack {
	t.Helper()
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
	srv := apitest.ServeWith(t, links, func(d *cpapi.Deps) {
		d.Audit, d.AuditLog, d.Reports, d.Webhooks = rec, log, log, hooks
	})
	return &stack{url: srv.URL, admin: srv.Admin, srv: srv, hooks: hooks}
}

func (s *stack) client(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.url, append([]client.Option{client.WithAPIKey(s.admin)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// click writes a day's clicks of a link of the default workspace as the
// ingest aggregates them (apitest.Server.Click).
func (s *stack) click(t *testing.T, code string, linkID string, clicks int64) {
	t.Helper()
	s.srv.Click(t, workspace.DefaultID, code, linkID, clicks)
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
