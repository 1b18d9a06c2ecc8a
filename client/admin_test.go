package client_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestModeration: takedowns, reports, the audit log and code release on
// the real API.
func TestModeration(t *testing.T) {
	s := newStack(t)
	c := s.client(t, client.WithRetries(0, 0))
	ctx := t.Context()
	if _, err := c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/x", Alias: "bad"}); err != nil {
		t.Fatal(err)
	}
	l, err := c.TakeDownLink(ctx, "bad", "", "phishing")
	if err != nil || l.Takedown == nil || l.Takedown.Reason != "phishing" {
		t.Fatalf("takedown %+v, %v", l, err)
	}
	if l, err = c.LiftTakedown(ctx, "bad", ""); err != nil || l.Takedown != nil {
		t.Fatalf("lift %+v, %v", l, err)
	}

	anon, err := client.New(s.url)
	if err != nil {
		t.Fatal(err)
	}
	acc, err := anon.CreateReport(ctx, client.ReportRequest{URL: "http://sho.test/bad", Reason: "phishing", Details: "asks for a bank login"})
	if err != nil || acc.ID == "" {
		t.Fatalf("report %+v, %v", acc, err)
	}
	if _, err := anon.CreateReport(ctx, client.ReportRequest{URL: "http://sho.test/bad", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	rp, err := c.ListReports(ctx, "open", 1, "")
	if err != nil || len(rp.Reports) != 1 || rp.Reports[0].Code != "bad" || rp.NextCursor == "" {
		t.Fatalf("reports %+v, %v", rp, err)
	}
	var reasons []string
	for r, err := range c.Reports(ctx, "open", 1) {
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, r.Reason)
	}
	if slices.Sort(reasons); !slices.Equal(reasons, []string{"phishing", "spam"}) {
		t.Fatalf("reports walked: %v", reasons)
	}
	ri, err := c.ResolveReport(ctx, acc.ID, client.ResolveRequest{Resolution: "taken_down", Note: "confirmed"})
	if err != nil || ri.State != "resolved" {
		t.Fatalf("resolved %+v, %v", ri, err)
	}
	js, err := anon.ReportFormScript(ctx)
	if err != nil || len(js) == 0 {
		t.Fatalf("form.js: %d bytes, %v", len(js), err)
	}
	html, err := anon.ReportForm(ctx, "http://sho.test/bad")
	if err != nil || !strings.Contains(string(html), "<form") {
		t.Fatalf("form: %v", err)
	}

	if err := c.DeleteLink(ctx, "bad", client.DeleteLinkOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseCode(ctx, "bad", ""); err != nil {
		t.Fatal(err)
	}

	// The writes above are in the audit log, written in the background:
	// an entry can land between two reads, so the comparison itself is
	// what is waited for, on a log that has the last write (the release).
	var walked, ids []string
	testenv.WaitFor(t, "the release in the audit log, walked alike by pages of 1 and 50", 10*time.Second, func() bool {
		all, err := c.ListAudit(ctx, client.AuditQuery{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, e := range all.Entries {
			ids = append(ids, e.ID)
		}
		if !slices.ContainsFunc(all.Entries, func(e client.AuditEntry) bool { return strings.Contains(e.Action, "takedown") }) ||
			!slices.ContainsFunc(all.Entries, func(e client.AuditEntry) bool { return strings.Contains(e.Action, "/admin/codes/") }) {
			return false
		}
		// Pages of one entry walk the same entries as one page of 50.
		walked = walked[:0]
		for e, err := range c.AuditEntries(ctx, client.AuditQuery{Limit: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			walked = append(walked, e.ID)
			if len(walked) == len(ids) {
				break
			}
		}
		return len(ids) >= 2 && slices.Equal(walked, ids)
	})

	if ws, err := c.GetWorkspace(ctx, "1"); err != nil || ws.Name != "default" {
		t.Fatalf("workspace 1: %+v, %v", ws, err)
	}
	if r, err := c.Ready(ctx); err != nil || r.Status != "ready" {
		t.Fatalf("ready %+v, %v", r, err)
	}
	if _, err := c.VerifyDomain(ctx, "nope.test"); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("verify an unknown domain: %v", err)
	}
	// Services the loopback stack lacks (the review flags, the stats
	// database's partitions) answer 503 problems; so does the cluster.
	for name, call := range map[string]func() error{
		"review":    func() error { _, err := c.ListFlaggedLinks(ctx, 10, ""); return err },
		"unflag":    func() error { return c.ResolveFlaggedLink(ctx, "bad", "") },
		"partition": func() error { _, err := c.ListPartitions(ctx); return err },
		"policy":    func() error { _, err := c.PartitionPolicy(ctx); return err },
	} {
		if err := call(); !isStatus(err, http.StatusServiceUnavailable) {
			t.Errorf("%s: %v, want a 503 problem", name, err)
		}
	}
}
