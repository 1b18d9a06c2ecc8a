package titlefetch

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/safedial"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// pages is a loopback web server with the pages the tests fetch; stall
// holds /slow's answer until the test ends.
type pages struct {
	*httptest.Server
	stall chan struct{}
}

func newPages(t *testing.T) *pages { return newPagesTB(t) }

// newPagesTB is newPages for tests and benchmarks.
func newPagesTB(t testing.TB) *pages {
	t.Helper()
	p := &pages{stall: make(chan struct{})}
	html := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/title", func(w http.ResponseWriter, r *http.Request) {
		html(w, "<!doctype html><html><head><title>\n  Caf&eacute; &amp; Bar\t&mdash; home  </title></head><body>hi</body></html>")
	})
	mux.HandleFunc("/og", func(w http.ResponseWriter, r *http.Request) {
		html(w, `<html><head><meta property="og:title" content="The &quot;OG&quot; title"></head></html>`)
	})
	mux.HandleFunc("/latin1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		w.Write([]byte("<title>Cr\xe8me br\xfbl\xe9e</title>"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"x":"<title>not html</title>"}`)
	})
	late := "<html><head><!--" + strings.Repeat("x", 600<<10) + "--><title>Too far</title></head></html>"
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// The title comes after 600 KiB: past what is read.
		html(w, late)
	})
	early := "<title>Early</title>" + strings.Repeat("<p>filler</p>", 2<<20/13)
	mux.HandleFunc("/bigearly", func(w http.ResponseWriter, r *http.Request) {
		// A title first, then 2 MiB that is never read.
		html(w, early)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<html><head>")
		w.(http.Flusher).Flush()
		select { // the title never comes in time
		case <-p.stall:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/hop/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
		if n == 0 {
			http.Redirect(w, r, "/title", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(func() { close(p.stall); p.Close() })
	return p
}

// fixture is a running fetcher over a store, with its metrics.
type fixture struct {
	f       *Fetcher
	store   linkstore.Store
	metrics *Metrics
}

func start(t *testing.T, store linkstore.Store, o safedial.Options) *fixture {
	t.Helper()
	m := NewMetrics()
	// Short enough for /slow to time out soon, long enough for a loaded
	// test machine.
	o.Timeout = 1500 * time.Millisecond
	f, err := Start(t.Context(), Config{Client: safedial.Client(o), Store: store, Workers: 2, Timeout: o.Timeout, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return &fixture{f: f, store: store, metrics: m}
}

// create stores a link without a title to url and queues it.
func (x *fixture) create(t *testing.T, url string) linkstore.Link {
	t.Helper()
	l := storetest.NewLink()
	l.URL = url
	if err := x.store.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if !x.f.Enqueue(l) {
		t.Fatal("Enqueue refused the link")
	}
	return l
}

// title reads the stored title of l.
func (x *fixture) title(t *testing.T, l linkstore.Link) string {
	t.Helper()
	got, err := x.store.Get(t.Context(), l.Domain, l.Code)
	if err != nil {
		t.Fatal(err)
	}
	return got.Title
}

// wantTitle waits until l has the title want.
func (x *fixture) wantTitle(t *testing.T, l linkstore.Link, want string) {
	t.Helper()
	testenv.WaitFor(t, "title "+want, 5*time.Second, func() bool { return x.title(t, l) == want })
}

// wantFailure waits for one more failure of reason, then checks that l
// has no title.
func (x *fixture) wantFailure(t *testing.T, l linkstore.Link, reason string, before float64) {
	t.Helper()
	c := x.metrics.Failures.WithLabelValues(reason)
	testenv.WaitFor(t, "a "+reason+" failure", 5*time.Second, func() bool { return testutil.ToFloat64(c) > before })
	if got := x.title(t, l); got != "" {
		t.Errorf("%s: a title was stored: %q", reason, got)
	}
}

func TestFetch(t *testing.T) {
	for name, open := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newPages(t)
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			// Private addresses allowed (the page is on loopback), but
			// 127.0.0.2 denied: what a redirect to a refused address does.
			x := start(t, open(t), safedial.Options{AllowPrivate: true, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})

			for path, want := range map[string]string{
				"/title":    "Café & Bar — home",
				"/og":       `The "OG" title`,
				"/latin1":   "Crème brûlée",
				"/bigearly": "Early",
			} {
				x.wantTitle(t, x.create(t, srv.URL+path), want)
			}
			// 3 redirects, the most allowed: /hop/2, /hop/1, /hop/0, /title.
			x.wantTitle(t, x.create(t, srv.URL+"/hop/2"), "Café & Bar — home")
			// Counted just after the write that the waits above saw.
			testenv.WaitFor(t, "titles_fetched_total 5", 5*time.Second, func() bool { return testutil.ToFloat64(x.metrics.Fetched) == 5 })

			for _, tc := range []struct{ path, reason string }{
				{"/json", ReasonNotHTML},
				{"/big", ReasonNoTitle},
				{"/missing", ReasonStatus},
				{"/slow", ReasonTimeout},
				{"/hop/3", ReasonRedirects}, // 4 redirects: one too many
				{"/to?u=http://127.0.0.2:" + port + "/title", ReasonForbidden},
			} {
				before := testutil.ToFloat64(x.metrics.Failures.WithLabelValues(tc.reason))
				x.wantFailure(t, x.create(t, srv.URL+tc.path), tc.reason, before)
			}
		})
	}
}

// TestFetchPrivateRefused: without outbound_allow_private, a page on
// loopback (by address or by a name that resolves there) is refused at
// connect time, and nothing is stored.
func TestFetchPrivateRefused(t *testing.T) {
	srv := newPages(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	x := start(t, teststore.SQLite(t), safedial.Options{})
	for _, url := range []string{srv.URL + "/title", "http://localhost:" + port + "/title"} {
		before := testutil.ToFloat64(x.metrics.Failures.WithLabelValues(ReasonForbidden))
		x.wantFailure(t, x.create(t, url), ReasonForbidden, before)
	}
}

// TestOwnerTitleWins: a title the owner sets while the page is fetched
// stays; the fetch counts as kept.
func TestOwnerTitleWins(t *testing.T) {
	srv := newPages(t)
	x := start(t, teststore.SQLite(t), safedial.Options{AllowPrivate: true})
	l := storetest.NewLink()
	l.URL = srv.URL + "/title"
	if err := x.store.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	mine := "mine"
	if _, err := x.store.Update(t.Context(), "", l.Code, linkstore.Update{Title: &mine}); err != nil {
		t.Fatal(err)
	}
	x.f.Enqueue(l) // as if queued before the owner's PATCH
	c := x.metrics.Failures.WithLabelValues(ReasonKept)
	testenv.WaitFor(t, "the fetch to finish", 5*time.Second, func() bool { return testutil.ToFloat64(c) == 1 })
	if got := x.title(t, l); got != "mine" {
		t.Fatalf("title %q, want the owner's", got)
	}
	titled := l
	titled.Title = "given"
	if x.f.Enqueue(titled) {
		t.Error("a link with a title was queued")
	}
}

// TestQueueFullDrops: with the workers busy on stalled pages and the
// queue full, Enqueue returns at once, false, and counts the drop; Close
// ends the stalled fetches.
func TestQueueFullDrops(t *testing.T) {
	srv := newPages(t)
	m := NewMetrics()
	f, err := Start(t.Context(), Config{Client: safedial.Client(safedial.Options{AllowPrivate: true, Timeout: time.Minute}),
		Store: teststore.SQLite(t), Workers: 1, Queue: 1, Timeout: time.Minute, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	slow := storetest.NewLink()
	slow.URL = srv.URL + "/slow"
	f.Enqueue(slow) // taken by the one worker
	testenv.WaitFor(t, "the worker to take the link", 5*time.Second, func() bool { return len(f.queue) == 0 })
	if !f.Enqueue(slow) {
		t.Fatal("the queue's one place refused a link")
	}
	began := time.Now()
	if f.Enqueue(slow) {
		t.Fatal("a full queue took a link")
	}
	if d := time.Since(began); d > 100*time.Millisecond {
		t.Errorf("Enqueue on a full queue took %v", d)
	}
	if got := testutil.ToFloat64(m.Dropped); got != 1 {
		t.Errorf("dropped = %v, want 1", got)
	}
	done := make(chan struct{})
	go func() { f.Close(); close(done) }()
	testenv.Receive(t, done, 5*time.Second, "Close did not end the stalled fetch")
	if f.Enqueue(storetest.NewLink()) {
		t.Error("a closed fetcher took a link")
	}
}

func TestStartChecksConfig(t *testing.T) {
	if _, err := Start(t.Context(), Config{}); err == nil {
		t.Error("Start without client and store succeeded")
	}
	if _, err := Start(t.Context(), Config{Client: http.DefaultClient, Store: teststore.SQLite(t), Workers: -1}); err == nil {
		t.Error("Start with -1 workers succeeded")
	}
}
