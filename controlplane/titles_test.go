package controlplane

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestTitleOptionsCaddyfile(t *testing.T) {
	a := new(App)
	if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\noutbound_allow_private on\nfetch_titles off\n}")); err != nil {
		t.Fatal(err)
	}
	if !a.OutboundAllowPrivate || a.FetchTitles == nil || *a.FetchTitles || a.fetchTitles() {
		t.Fatalf("parsed %+v", a)
	}
	if !new(App).fetchTitles() {
		t.Error("titles are not fetched by default")
	}
	if s := (&App{}).serviceConfig().Titles; !s.Fetch || s.AllowPrivate {
		t.Errorf("default title settings %+v", s)
	}
	for _, bad := range []string{"outbound_allow_private maybe", "fetch_titles on off", "fetch_titles no"} {
		if err := new(App).UnmarshalCaddyfile(caddyfile.NewTestDispenser("shortify {\n" + bad + "\n}")); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestOutboundOptions: this machine's addresses are denied, loopback
// aside (outbound_allow_private opens it on purpose).
func TestOutboundOptions(t *testing.T) {
	o := outboundOptions(false, slog.New(slog.DiscardHandler))
	own, err := targeturl.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range own {
		denied := false
		for _, d := range o.Deny {
			denied = denied || d == p
		}
		if denied == p.Addr().IsLoopback() {
			t.Errorf("%s denied: %v", p, denied)
		}
	}
	app := &App{OutboundAllowPrivate: true, logger: slog.New(slog.DiscardHandler)}
	if o.AllowPrivate || !app.outboundOptions().AllowPrivate {
		t.Error("AllowPrivate does not follow the switch")
	}
}

// TestServiceTitles: the running node hands the API its title fetcher,
// which titles a new link and counts it; fetch_titles off starts none.
func TestServiceTitles(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<title>Node page</title>")
	}))
	defer page.Close()

	a := &App{DataDir: t.TempDir(), RaftBind: testenv.FreeAddr(t), InitialAPIKey: newKey(t).Secret,
		PublicURL: "https://sho.rt", OutboundAllowPrivate: true}
	wantValid(t, a)
	svc := openTestService(t, a)
	defer svc.Destruct()
	titles := svc.deps().Titles
	if titles == nil {
		t.Fatal("no title fetcher in the API's dependencies")
	}
	l := storetest.NewLink()
	l.URL = page.URL + "/"
	if err := svc.store.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if !titles.Enqueue(l) {
		t.Fatal("Enqueue refused")
	}
	testenv.WaitFor(t, "the fetched title", 10*time.Second, func() bool {
		got, err := svc.store.Get(t.Context(), "", l.Code)
		return err == nil && got.Title == "Node page"
	})
	// Counted just after the write.
	testenv.WaitFor(t, "titles_fetched_total 1", 5*time.Second, func() bool { return testutil.ToFloat64(svc.metrics.titles.Fetched) == 1 })

	off := false
	b := &App{DataDir: t.TempDir(), RaftBind: testenv.FreeAddr(t), InitialAPIKey: newKey(t).Secret,
		PublicURL: "https://sho.rt", FetchTitles: &off}
	wantValid(t, b)
	svcOff := openTestService(t, b)
	defer svcOff.Destruct()
	if svcOff.titles != nil || svcOff.deps().Titles != nil {
		t.Error("fetch_titles off started a fetcher")
	}
}
