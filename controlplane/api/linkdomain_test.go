package api_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// TestLinksOnDomains: a link lives on the own host or on a verified custom
// domain of its workspace; the same alias names one link per domain; the
// routes by code find it with ?domain= (the own host's names mean the own
// host); short_url, Location, the QR code and the L2 cache use its
// domain.
func TestLinksOnDomains(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { client.Close() })
	for name, open := range teststore.Backends {
		t.Run(name, func(t *testing.T) {
			cache := l2cache.New(client, testenv.UniquePrefix(t), time.Minute)
			e := newIsoEnv(t, open(t), api.Config{}, api.Deps{Cache: cache})
			creator := e.keys["A creator"]
			alias := "launch-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)

			create := func(body string, status int) *api.Link {
				t.Helper()
				w := e.do(t, creator, "POST", "/api/v1/links", body)
				if w.Code != status {
					t.Fatalf("create %s: %d %s, want %d", body, w.Code, w.Body.String(), status)
				}
				if status != http.StatusCreated {
					return nil
				}
				l := decode[api.Link](t, w)
				if want := "/api/v1/links/" + l.Code; l.Domain != "" {
					want += "?domain=" + l.Domain
					if got := w.Header().Get("Location"); got != want {
						t.Errorf("Location = %q, want %q", got, want)
					}
				}
				return &l
			}
			onDom := create(`{"url":"https://example.com/dom","alias":"`+alias+`","domain":"Go.A.Example."}`, http.StatusCreated)
			if onDom.Domain != domA || onDom.ShortURL != "https://"+domA+"/"+alias || onDom.Workspace != wsA {
				t.Errorf("link on %s: %+v", domA, onDom)
			}
			// The own host's name is the own host.
			own := create(`{"url":"https://example.com/own","alias":"`+alias+`","domain":"sho.test"}`, http.StatusCreated)
			if own.Domain != "" || own.ShortURL != isolationPublic+"/"+alias {
				t.Errorf("link on the own host: %+v", own)
			}
			w := e.do(t, creator, "POST", "/api/v1/links", `{"url":"https://example.com/again","alias":"`+alias+`","domain":"`+domA+`"}`)
			wantProblem(t, w, http.StatusConflict, "is already taken")
			for _, bad := range []string{"bad domain!", "192.0.2.1", "localhost"} {
				w := e.do(t, creator, "POST", "/api/v1/links", `{"url":"https://example.com/x","domain":"`+bad+`"}`)
				if p := wantProblem(t, w, http.StatusBadRequest, ""); p.Field != "domain" {
					t.Errorf("create on %q: field %q, want domain", bad, p.Field)
				}
			}

			// Reads by code name the domain.
			get := func(query string) (int, api.Link) {
				w := e.do(t, creator, "GET", "/api/v1/links/"+alias+query, "")
				if w.Code != http.StatusOK {
					return w.Code, api.Link{}
				}
				return w.Code, decode[api.Link](t, w)
			}
			tests := []struct {
				query   string
				status  int
				wantURL string
			}{
				{"", http.StatusOK, own.URL},
				{"?domain=SHO.TEST", http.StatusOK, own.URL},
				{"?domain=" + domA, http.StatusOK, onDom.URL},
				{"?domain=GO.A.EXAMPLE.", http.StatusOK, onDom.URL},
				{"?domain=" + domB, http.StatusNotFound, ""},
				{"?domain=a..b", http.StatusBadRequest, ""},
				{"?domain=" + domA + "&domain=" + domA, http.StatusBadRequest, ""},
			}
			for _, tt := range tests {
				if code, l := get(tt.query); code != tt.status || l.URL != tt.wantURL {
					t.Errorf("GET %s: %d %q, want %d %q", tt.query, code, l.URL, tt.status, tt.wantURL)
				}
			}

			// The QR code encodes the link's own short URL.
			svg := e.do(t, creator, "GET", "/api/v1/links/"+alias+"/qr?format=svg&domain="+domA, "")
			if svg.Code != http.StatusOK || !strings.Contains(svg.Body.String(), "https://"+domA+"/"+alias) {
				t.Errorf("QR on %s: %d, the SVG does not name its short URL", domA, svg.Code)
			}
			ownSVG := e.do(t, creator, "GET", "/api/v1/links/"+alias+"/qr?format=svg", "")
			if ownSVG.Header().Get("ETag") == svg.Header().Get("ETag") {
				t.Error("the QR codes of one alias on two domains have the same ETag")
			}

			// The L2 cache holds each under its domain.
			if l, ok, err := cache.Get(t.Context(), domA, alias); err != nil || !ok || l.URL != onDom.URL {
				t.Errorf("L2 on %s: %+v %t %v", domA, l, ok, err)
			}

			// A change and a delete on the domain leave the own host's link.
			w = e.do(t, creator, "PATCH", "/api/v1/links/"+alias+"?domain="+domA, `{"url":"https://example.com/moved"}`)
			if w.Code != http.StatusOK || decode[api.Link](t, w).URL != "https://example.com/moved" {
				t.Fatalf("PATCH on %s: %d %s", domA, w.Code, w.Body.String())
			}
			if w := e.do(t, creator, "DELETE", "/api/v1/links/"+alias+"?domain="+domA, ""); w.Code != http.StatusNoContent {
				t.Fatalf("DELETE on %s: %d %s", domA, w.Code, w.Body.String())
			}
			if _, ok, err := cache.Get(t.Context(), domA, alias); ok || err != nil {
				t.Errorf("L2 on %s after the delete: %t %v, want a tombstone", domA, ok, err)
			}
			if code, l := get(""); code != http.StatusOK || l.URL != own.URL {
				t.Errorf("the own host's link after the delete on %s: %d %+v", domA, code, l)
			}
			if code, _ := get("?domain=" + domA); code != http.StatusNotFound {
				t.Errorf("GET of the deleted link: %d, want 404", code)
			}
			// Never reissued on its domain.
			w = e.do(t, creator, "POST", "/api/v1/links", `{"url":"https://example.com/x","alias":"`+alias+`","domain":"`+domA+`"}`)
			wantProblem(t, w, http.StatusConflict, "never reissued")
		})
	}
}

// TestDomainLinkEvents: the events of a link on a custom domain name its
// domain and its workspace, so that the edges evict, and the stats count,
// the right link.
func TestDomainLinkEvents(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, eventsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	p, err := producer.New(producer.Config{Brokers: k.ListenAddrs(), Topic: eventsTopic, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	e := newIsoEnv(t, teststore.SQLite(t), api.Config{}, api.Deps{Events: p})
	key := e.keys["B creator"]
	w := e.do(t, key, "POST", "/api/v1/links", `{"url":"https://example.com/ev","alias":"ev-alias","domain":"`+domB+`"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	path := "/api/v1/links/ev-alias?domain=" + domB
	if w := e.do(t, key, "PATCH", path, `{"disabled":true}`); w.Code != http.StatusOK {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body.String())
	}
	if w := e.do(t, key, "DELETE", path, ""); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body.String())
	}
	waitFor(t, "3 events published", func() bool { return p.Stats().Published == 3 })
	for i, ev := range kafkatest.ConsumeEvents(t, k.ListenAddrs()[0], eventsTopic, 3) {
		if want := []linkevents.Type{linkevents.Created, linkevents.Disabled, linkevents.Deleted}[i]; ev.Type != want ||
			ev.Code != "ev-alias" || ev.Domain != domB || ev.Workspace != wsB {
			t.Errorf("event %d: %+v, want %s of ev-alias on %s in workspace %d", i, ev, want, domB, wsB)
		}
	}
}
