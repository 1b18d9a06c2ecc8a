package audit_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/testkit/testenv"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stores opens a Store on each database.
var stores = map[string]func(t *testing.T, cfg audit.Config) *audit.Store{
	"sqlite": func(t *testing.T, cfg audit.Config) *audit.Store {
		cfg.DSN = "sqlite://" + filepath.Join(t.TempDir(), "links.db")
		return open(t, cfg)
	},
	"postgres": func(t *testing.T, cfg audit.Config) *audit.Store {
		cfg.DSN = testenv.Schema(t)
		return open(t, cfg)
	},
}

func open(t *testing.T, cfg audit.Config) *audit.Store {
	t.Helper()
	s, err := audit.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func routes(es []audit.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Route+" "+e.Target)
	}
	return out
}

func TestLogFilters(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, audit.Config{})
			now := time.Now().UTC().Truncate(time.Microsecond)
			in := []audit.Entry{
				{At: now.Add(-3 * time.Hour), KeyID: "k1", Method: "POST", Route: "POST /api/v1/links", Target: "abc", ClientIP: "192.0.2.1", Status: 201},
				{At: now.Add(-2 * time.Hour), KeyID: audit.Anonymous, Method: "POST", Route: "POST /api/v1/links", Target: "", ClientIP: "192.0.2.2", Status: 400},
				{At: now.Add(-time.Hour), KeyID: "k2", Method: "DELETE", Route: "DELETE /api/v1/links/{code}", Target: "abc", ClientIP: "2001:db8::1", Status: 204},
				{At: now, KeyID: "k1", Method: "PUT", Route: "PUT /api/v1/admin/blocklist/{domain}", Target: "evil.test", ClientIP: "192.0.2.1", Status: 503},
			}
			if err := s.Insert(t.Context(), in); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				name string
				q    audit.Query
				want []string
			}{
				{"all", audit.Query{}, []string{"PUT /api/v1/admin/blocklist/{domain} evil.test", "DELETE /api/v1/links/{code} abc", "POST /api/v1/links ", "POST /api/v1/links abc"}},
				{"key", audit.Query{KeyID: "k1"}, []string{"PUT /api/v1/admin/blocklist/{domain} evil.test", "POST /api/v1/links abc"}},
				{"route", audit.Query{Route: "POST /api/v1/links"}, []string{"POST /api/v1/links ", "POST /api/v1/links abc"}},
				{"target", audit.Query{Target: "abc"}, []string{"DELETE /api/v1/links/{code} abc", "POST /api/v1/links abc"}},
				{"success", audit.Query{Outcome: audit.OutcomeSuccess}, []string{"DELETE /api/v1/links/{code} abc", "POST /api/v1/links abc"}},
				{"client error", audit.Query{Outcome: audit.OutcomeClientError}, []string{"POST /api/v1/links "}},
				{"server error", audit.Query{Outcome: audit.OutcomeServerError}, []string{"PUT /api/v1/admin/blocklist/{domain} evil.test"}},
				{"status", audit.Query{Status: 204}, []string{"DELETE /api/v1/links/{code} abc"}},
				{"since", audit.Query{Since: now.Add(-time.Hour)}, []string{"PUT /api/v1/admin/blocklist/{domain} evil.test", "DELETE /api/v1/links/{code} abc"}},
				{"until", audit.Query{Until: now.Add(-2 * time.Hour)}, []string{"POST /api/v1/links abc"}},
				{"limit", audit.Query{Limit: 1}, []string{"PUT /api/v1/admin/blocklist/{domain} evil.test"}},
			} {
				q := tt.q
				q.Limit = max(q.Limit, 10)
				if tt.q.Limit == 1 {
					q.Limit = 1
				}
				got, err := s.List(t.Context(), q)
				if err != nil {
					t.Fatalf("%s: %v", tt.name, err)
				}
				if !slices.Equal(routes(got), tt.want) {
					t.Errorf("%s: %q, want %q", tt.name, routes(got), tt.want)
				}
			}
			// Pages: each one after the last entry of the one before.
			var all []string
			var before int64
			for range 10 {
				page, err := s.List(t.Context(), audit.Query{Limit: 3, Before: before})
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, routes(page)...)
				if len(page) < 3 {
					break
				}
				before = page[len(page)-1].ID
			}
			if len(all) != 4 {
				t.Errorf("pages: %q", all)
			}
			got, _ := s.List(t.Context(), audit.Query{Limit: 1, Target: "evil.test"})
			if len(got) != 1 || !got[0].At.Equal(now) || got[0].ClientIP != "192.0.2.1" || got[0].KeyID != "k1" || got[0].Method != "PUT" || got[0].Status != 503 {
				t.Errorf("entry read back as %+v", got)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, audit.Config{Retention: 30 * 24 * time.Hour, MonthsAhead: 1})
			now := time.Now().UTC()
			old := statsparts.AddMonths(now, -3).Add(time.Hour)
			if s.Partitioned() {
				// The old month's partition, as an earlier upkeep made it.
				if _, err := s.Maintain(t.Context(), old); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Insert(t.Context(), []audit.Entry{
				{At: old, KeyID: "k", Method: "POST", Route: "POST /x", Status: 200},
				{At: now, KeyID: "k", Method: "POST", Route: "POST /y", Status: 200},
			}); err != nil {
				t.Fatal(err)
			}
			rep, err := s.Maintain(t.Context(), now)
			if err != nil {
				t.Fatal(err)
			}
			if s.Partitioned() {
				names := statsparts.Names(rep.Expired.Partitions)
				if !slices.Contains(names, statsparts.PartitionName(audit.Table, old)) {
					t.Errorf("dropped %q, want the partition of %s", names, old.Format("2006-01"))
				}
				// Idempotent: the next run finds nothing to do.
				rep2, err := s.Maintain(t.Context(), now)
				if err != nil || len(rep2.Created) != 0 || len(rep2.Expired.Partitions) != 0 {
					t.Errorf("second run: %+v, %v", rep2, err)
				}
			} else if rep.Expired.Rows != 1 {
				t.Errorf("deleted %d rows, want 1", rep.Expired.Rows)
			}
			got, err := s.List(t.Context(), audit.Query{Limit: 10})
			if err != nil || len(got) != 1 || got[0].Route != "POST /y" {
				t.Errorf("left %+v, %v", got, err)
			}
		})
	}
}

func TestReports(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, audit.Config{})
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Microsecond)
			var ids []int64
			// bbb is a custom domain's link: the report keeps its domain.
			domains := map[string]string{"bbb": "go.acme.example"}
			for _, code := range []string{"aaa", "bbb", "ccc"} {
				id, err := s.CreateReport(ctx, audit.Report{CreatedAt: now, Domain: domains[code], Code: code, URL: "https://sho.test/" + code, Reason: "spam", Details: "<b>x</b>", Contact: "a@b.test", ClientIP: "192.0.2.9"})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			r, err := s.ResolveReport(ctx, ids[1], "taken_down", "gone", "k1", now)
			if err != nil || r.Open() || r.ResolvedBy != "k1" || r.Domain != "go.acme.example" || r.Code != "bbb" || r.Resolution != "taken_down" {
				t.Fatalf("resolve: %+v, %v", r, err)
			}
			if _, err := s.ResolveReport(ctx, ids[1], "no_action", "", "k2", now); !errors.Is(err, audit.ErrResolved) {
				t.Errorf("resolve twice: %v", err)
			}
			if _, err := s.ResolveReport(ctx, ids[2]+100, "no_action", "", "k2", now); !errors.Is(err, audit.ErrNotFound) {
				t.Errorf("resolve unknown: %v", err)
			}
			for _, tt := range []struct {
				state string
				want  []string
			}{{"", []string{"ccc", "bbb", "aaa"}}, {audit.StateOpen, []string{"ccc", "aaa"}}, {audit.StateResolved, []string{"bbb"}}} {
				rs, err := s.Reports(ctx, audit.ReportQuery{State: tt.state, Limit: 10})
				var codes []string
				for _, r := range rs {
					codes = append(codes, r.Code)
					if r.Domain != domains[r.Code] {
						t.Errorf("report of %s has domain %q, want %q", r.Code, r.Domain, domains[r.Code])
					}
				}
				if err != nil || !slices.Equal(codes, tt.want) {
					t.Errorf("state %q: %q, %v; want %q", tt.state, codes, err, tt.want)
				}
			}
			page, err := s.Reports(ctx, audit.ReportQuery{Limit: 10, Before: ids[2]})
			if err != nil || len(page) != 2 || page[0].Details != "<b>x</b>" || !page[0].CreatedAt.Equal(now) {
				t.Errorf("page: %+v, %v", page, err)
			}
			if n, err := s.OpenReports(ctx); err != nil || n != 2 {
				t.Errorf("open: %d, %v", n, err)
			}
		})
	}
}

// slowWriter blocks its inserts until released, to fill the queue.
type slowWriter struct {
	mu      sync.Mutex
	got     []audit.Entry
	release chan struct{}
	fail    bool
}

func (w *slowWriter) Insert(ctx context.Context, es []audit.Entry) error {
	select {
	case <-w.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w.fail {
		return errors.New("database down")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, es...)
	return nil
}

func TestRecorderDropsInsteadOfBlocking(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	r := audit.NewRecorder(w, audit.RecorderConfig{Buffer: 2, BatchSize: 1, FlushInterval: time.Hour})
	// The first entry is taken into a batch whose write blocks; two fill
	// the queue; the rest are dropped, without blocking.
	for range 10 {
		r.Record(audit.Entry{Route: "POST /x"})
	}
	testenv.WaitFor(t, "drops counted", 5*time.Second, func() bool { return r.Dropped() >= 7 })
	close(w.release)
	r.Close()
	if r.Written()+r.Dropped() != 10 || r.Written() < 1 || r.Written() > 3 {
		t.Errorf("written %d, dropped %d", r.Written(), r.Dropped())
	}
	r.Record(audit.Entry{})
	if r.Written()+r.Dropped() != 11 {
		t.Errorf("after Close: written %d, dropped %d", r.Written(), r.Dropped())
	}
}

func TestRecorderCountsFailedWrites(t *testing.T) {
	w := &slowWriter{release: make(chan struct{}), fail: true}
	close(w.release)
	r := audit.NewRecorder(w, audit.RecorderConfig{BatchSize: 4, FlushInterval: time.Hour})
	for range 5 {
		r.Record(audit.Entry{})
	}
	r.Close()
	if r.Dropped() != 5 || r.Written() != 0 {
		t.Errorf("written %d, dropped %d", r.Written(), r.Dropped())
	}
}

func TestRecorderWritesToStore(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, audit.Config{})
			r := audit.NewRecorder(s, audit.RecorderConfig{FlushInterval: 10 * time.Millisecond})
			defer r.Close()
			for i := range 300 {
				r.Record(audit.Entry{At: time.Now(), KeyID: "k", Method: "POST", Route: "POST /api/v1/links", Target: string(rune('a' + i%26)), Status: 201})
			}
			testenv.WaitFor(t, "entries written", 10*time.Second, func() bool { return r.Written() == 300 })
			got, err := s.List(context.Background(), audit.Query{Limit: 500})
			if err != nil || len(got) != 300 {
				t.Errorf("%d entries, %v", len(got), err)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 0, "abc"},
		{"a\x00b", 0, "a\uFFFDb"},
		{"a\xffb", 0, "a\uFFFDb"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: not cut in half
		{"€€", 4, "€"},
		{"", 5, ""},
	} {
		if got := audit.Text(tt.in, tt.max); got != tt.want {
			t.Errorf("Text(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestHostileText: bytes that PostgreSQL's text refuses (NUL, invalid
// UTF-8) and overlong values never fail a batch or a report.
func TestHostileText(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t, audit.Config{})
			long := strings.Repeat("x", 10_000)
			if err := s.Insert(t.Context(), []audit.Entry{
				{At: time.Now(), KeyID: "k", Method: "DELETE", Route: "DELETE /api/v1/links/{code}", Target: "a\x00b\xff", Status: 400},
				{At: time.Now(), KeyID: "k", Method: "DELETE", Route: "DELETE /api/v1/links/{code}", Target: long, Status: 400},
			}); err != nil {
				t.Fatal(err)
			}
			got, err := s.List(t.Context(), audit.Query{Limit: 10})
			if err != nil || len(got) != 2 || len(got[0].Target) != 512 || got[1].Target != "a\uFFFDb\uFFFD" {
				t.Errorf("%d entries, %v", len(got), err)
			}
			if _, err := s.CreateReport(t.Context(), audit.Report{CreatedAt: time.Now(), Code: "abc", URL: "abc", Reason: "spam", Details: "nul \x00 here"}); err != nil {
				t.Errorf("report with NUL: %v", err)
			}
		})
	}
}
