package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/titlefetch"
	"github.com/shortify/shortify/internal/safedial"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// pagesOnLoopback lets targets be pages on loopback: the shortener
// answers on 443 alone, as a public_url of https:// makes it, so another
// port of this machine is not a loop.
var pagesOnLoopback = api.Config{Targets: targeturl.Policy{OwnPorts: []int{443}}}

// stalledPage serves a page whose title comes only once release is
// closed; arrived is closed when the first request for it comes in.
type stalledPage struct {
	*httptest.Server
	arrived, release chan struct{}
	once             atomic.Bool
}

func newStalledPage(t *testing.T) *stalledPage {
	t.Helper()
	p := &stalledPage{arrived: make(chan struct{}), release: make(chan struct{})}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/slow" {
			if p.once.CompareAndSwap(false, true) {
				close(p.arrived)
			}
			select {
			case <-p.release:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "<title>Page %s</title>", r.URL.Path)
	}))
	t.Cleanup(func() {
		select {
		case <-p.release:
		default:
			close(p.release)
		}
		p.Close()
	})
	return p
}

// TestCreateFetchesTitle: a link created without a title (single or
// bulk) gets its page's title in the background, and the create answers
// while the page still stalls; a given title is kept.
func TestCreateFetchesTitle(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			f, err := titlefetch.Start(t.Context(), titlefetch.Config{
				Client: safedial.Client(safedial.Options{AllowPrivate: true, Timeout: 30 * time.Second}),
				Store:  store, Timeout: 30 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(f.Close)
			e := newEnvDeps(t, pagesOnLoopback, api.Deps{Store: store, Titles: f})
			page := newStalledPage(t)
			title := func(code string) string {
				l, err := store.Get(t.Context(), "", code)
				if err != nil {
					t.Fatal(err)
				}
				return l.Title
			}

			began := time.Now()
			w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"`+page.URL+`/slow"}`)
			took := time.Since(began)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			slow := decode[api.Link](t, w)
			// The page has the fetch's request and holds it: the create
			// answered without waiting for it.
			testenv.Receive(t, page.arrived, 10*time.Second, "the title fetch never reached the page")
			if got := title(slow.Code); got != "" || slow.Title != "" {
				t.Fatalf("title %q (answer %q) before the page answered", got, slow.Title)
			}
			t.Logf("the create answered in %v; the page was still stalled", took)

			w = e.do(t, "POST", "/api/v1/links/bulk", "application/json", fmt.Sprintf(
				`{"links":[{"url":"%[1]s/a"},{"url":"%[1]s/b","title":"Mine"},{"url":"%[1]s/c"}]}`, page.URL))
			if w.Code != http.StatusOK {
				t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
			}
			var codes []string
			for _, r := range decode[api.BulkResponse](t, w).Results {
				if r.Link == nil {
					t.Fatalf("bulk result %+v", r)
				}
				codes = append(codes, r.Link.Code)
			}
			for i, want := range []string{"Page /a", "Mine", "Page /c"} {
				testenv.WaitFor(t, "title "+want, 10*time.Second, func() bool { return title(codes[i]) == want })
			}

			close(page.release)
			testenv.WaitFor(t, "the stalled page's title", 10*time.Second, func() bool { return title(slow.Code) == "Page /slow" })
		})
	}
}

// TestCreateWithoutFetcher: without a fetcher (fetch_titles off) a link
// keeps no title, and nothing is dialled.
func TestCreateWithoutFetcher(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "<title>x</title>")
	}))
	defer srv.Close()
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			e := newEnv(t, store, pagesOnLoopback)
			w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"`+srv.URL+`/"}`)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			l, err := store.Get(t.Context(), "", decode[api.Link](t, w).Code)
			if err != nil || l.Title != "" {
				t.Fatalf("link %+v, %v", l, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the page was fetched %d times", n)
	}
}
