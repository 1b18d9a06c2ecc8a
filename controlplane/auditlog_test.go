package controlplane

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/testkit/caddytest"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

// TestAuditAndReportsWired runs a one-node control plane on PostgreSQL
// behind a trusted proxy: its writes reach the audit log with the client
// address the proxy gives, reports are stored and limited per client
// (report_per_minute), and the metrics count both.
func TestAuditAndReportsWired(t *testing.T) {
	key := newKey(t)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a := &App{
		DataDir:         t.TempDir(),
		RaftBind:        testenv.FreeAddr(t),
		InitialAPIKey:   key.Secret,
		Database:        testenv.Schema(t),
		StatsDatabase:   testenv.Schema(t),
		PublicURL:       "https://sho.rt",
		TrustedProxies:  []string{"10.0.0.0/8"},
		ReportPerMinute: 2,
		// The leader's upkeep, the audit log's retention included, runs
		// over and over.
		PartitionCheckInterval: caddy.Duration(50 * time.Millisecond),
	}
	caddytest.StartApp(t, ctx, a)
	defer a.Stop()
	reg := ctx.GetMetricsRegistry()

	send := func(method, path, body, apiKey string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if apiKey != "" {
			r.Header.Set(api.KeyHeader, apiKey)
		}
		r.RemoteAddr = "10.0.0.9:4444"
		r.Header.Set("X-Forwarded-For", "203.0.113.50")
		w := httptest.NewRecorder()
		a.handler().ServeHTTP(w, r)
		return w
	}
	if w := send("POST", "/api/v1/links", `{"url":"https://example.com/x","alias":"wired"}`, key.Secret); w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	for i, want := range []int{202, 202, 429} {
		if w := send("POST", "/api/v1/reports", `{"url":"https://sho.rt/wired","reason":"spam"}`, ""); w.Code != want {
			t.Fatalf("report %d: %d %s, want %d", i, w.Code, w.Body, want)
		}
	}
	var entries []audit.Entry
	testenv.WaitFor(t, "four audit entries", 10*time.Second, func() bool {
		var err error
		entries, err = a.svc.audit.List(t.Context(), audit.Query{Limit: 10})
		return err == nil && len(entries) == 4
	})
	create := entries[3]
	if create.Route != "POST /api/v1/links" || create.Target != "wired" || create.ClientIP != "203.0.113.50" || create.KeyID != key.ID || create.Status != 201 {
		t.Errorf("create entry: %+v", create)
	}
	if e := entries[0]; e.Route != "POST /api/v1/reports" || e.KeyID != audit.Anonymous || e.Status != 429 {
		t.Errorf("refused report entry: %+v", e)
	}
	// A partition of 14 months ago goes at the upkeep's next run
	// (audit_retention 365 days). The links' schema is not the stats
	// one, so the stats manager lists the link database's partitions too.
	old := time.Now().AddDate(0, -14, 0)
	name := statsparts.PartitionName(audit.Table, old)
	rep, err := a.svc.audit.Maintain(t.Context(), old)
	if err != nil || !slices.Contains(statsparts.Names(rep.Created), name) {
		t.Fatalf("made %v, %v; want %s", statsparts.Names(rep.Created), err, name)
	}
	testenv.WaitFor(t, name+" dropped by the leader's upkeep", 10*time.Second, func() bool {
		ps, err := a.svc.parts.List(t.Context())
		return err == nil && !slices.Contains(statsparts.Names(ps), name) &&
			slices.Contains(statsparts.Names(ps), statsparts.PartitionName(audit.Table, time.Now()))
	})
	testenv.WaitFor(t, "the audit and report metrics", 10*time.Second, func() bool {
		got := promtest.Samples(t, reg, "shortify_cp_")
		return got["shortify_cp_audit_entries_written_total{}"] == 4 && got["shortify_cp_audit_entries_dropped_total{}"] == 0 &&
			got["shortify_cp_reports_received_total{}"] == 2 && got["shortify_cp_reports_open{}"] == 2
	})
}

func TestAuditOptionsValidated(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(a *App)
	}{
		{"audit_retention under a day", func(a *App) { a.AuditRetention = caddy.Duration(time.Hour) }},
		{"report_per_minute too high", func(a *App) { a.ReportPerMinute = 100_001 }},
	} {
		a := &App{PublicURL: "https://sho.rt", DataDir: t.TempDir()}
		tt.set(a)
		wantInvalid(t, tt.name, a)
	}
}

func TestAuditOptionsCaddyfile(t *testing.T) {
	got := new(App)
	if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n audit_retention 90d\n report_per_minute 3\n}")); err != nil {
		t.Fatal(err)
	}
	if got.AuditRetention != caddy.Duration(90*24*time.Hour) || got.ReportPerMinute != 3 {
		t.Errorf("got %v, %d", got.AuditRetention, got.ReportPerMinute)
	}
	if err := new(App).UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n report_per_minute 0\n}")); err == nil {
		t.Error("report_per_minute 0 accepted")
	}
}
