package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/geoip/geoiptest"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/workspace"
)

// Topics of the kfake brokers of these tests.
const (
	testClicksTopic = "clicks.test"
	testLinksTopic  = "link-events.test"
)

// eventWait bounds waits for Kafka; it only runs out when something is
// broken (the latency asserted is separate).
const eventWait = 30 * time.Second

// eventsHandler returns h configured for click events and invalidation on
// k's topics.
func eventsHandler(h *Handler, k *kafkatest.Broker) *Handler {
	h.KafkaBrokers = []string{k.Addr()}
	h.ClicksTopic = testClicksTopic
	h.LinkEventsTopic = testLinksTopic
	h.VisitorKey = "test visitor key"
	return h
}

// readClicks reads every record of the clicks topic from the start until
// it holds n, and decodes them.
func readClicks(t *testing.T, k *kafkatest.Broker, n int) []clickevents.Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.ConsumeTopics(testClicksTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	var got []clickevents.Event
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d click events of %d", len(got), n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var e clickevents.Event
			if err := e.UnmarshalBinary(r.Value); err != nil {
				t.Errorf("record %d/%d: %v", r.Partition, r.Offset, err)
			}
			if string(r.Key) != e.Code {
				t.Errorf("record key %q, code %q", r.Key, e.Code)
			}
			got = append(got, e)
		})
	}
	return got
}

// redirect runs GET /code through h with the given headers and checks
// that it redirects to want.
func redirect(t testing.TB, h *Handler, code, want string, hdr map[string]string) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/"+code, nil)
	r.RemoteAddr = "198.51.100.7:50000"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil || w.Code != 302 || w.Header().Get("Location") != want {
		t.Fatalf("GET /%s: %d %q, %v; want 302 to %s", code, w.Code, w.Header().Get("Location"), err, want)
	}
}

// TestClickEventContent checks every field of an emitted event.
func TestClickEventContent(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	c := newCode(t, "click")
	dsn := seededDSN(t, linkstore.Link{ID: 4242, Code: c, URL: "https://example.com/c"})
	// The peer is a trusted proxy (with no forwarding header, the client is
	// the peer): country_header is read only from those.
	h := provision(t, eventsHandler(&Handler{Database: dsn, CountryHeader: "cf-ipcountry",
		TrustedProxies: []string{"198.51.100.0/24"}}, k))

	before := time.Now().Truncate(time.Millisecond)
	redirect(t, h, c, "https://example.com/c", map[string]string{
		"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", "Referer": "https://news.example/",
		"CF-IPCountry": "de",
	})
	redirect(t, h, c, "https://example.com/c", map[string]string{"User-Agent": "Slackbot-LinkExpanding 1.0", "CF-IPCountry": "XX"})

	got := readClicks(t, k, 2)
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	if got[0].Bot { // one partition per code: in order
		got[0], got[1] = got[1], got[0]
	}
	e := got[0]
	want := clickevents.NewVisitorHasher([]byte("test visitor key")).Hash(netip.MustParseAddr("198.51.100.7"), "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	if e.Code != c || e.LinkID != 4242 || e.Status != 302 || e.Country != "DE" || e.Bot ||
		e.UserAgent != "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0" || e.Referrer != "https://news.example/" ||
		e.Visitor != want || e.Time.Before(before) || e.Time.After(time.Now()) ||
		e.Workspace != workspace.DefaultID || e.Domain != "" {
		t.Errorf("event %+v; want code %s, link 4242, 302, DE, visitor %x, the default workspace, domain \"\"", e, c, want)
	}
	if b := got[1]; !b.Bot || b.Country != "" || b.Referrer != "" {
		t.Errorf("bot event %+v: want bot, no country, no referrer", b)
	}
}

// TestClickEventsBrokerDown: with Kafka stopped, 2,000 redirects are all
// answered; each is counted once, as emitted or dropped (the queue holds
// 300), the drops exactly in the metric. When the broker is back on the
// same port, the buffered events and new ones reach the topic, and every
// redirect ends produced, failed or dropped.
func TestClickEventsBrokerDown(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	c := newCode(t, "down")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/down"})
	h := provision(t, eventsHandler(&Handler{Database: dsn, ClickQueue: 300}, k))
	em := h.events.emitter

	redirect(t, h, c, "https://example.com/down", nil)
	testenv.WaitFor(t, "the first event produced", eventWait, func() bool { return em.Stats().Produced == 1 })

	k.Stop()
	const outage = 2000
	for range outage {
		redirect(t, h, c, "https://example.com/down", nil)
	}
	s := em.Stats()
	if s.Emitted+s.Dropped != 1+outage {
		t.Fatalf("emitted %d + dropped %d != %d redirects", s.Emitted, s.Dropped, 1+outage)
	}
	if s.Dropped < outage-300 {
		t.Errorf("dropped %d: the queue of 300 cannot have taken more than 300 of %d", s.Dropped, outage)
	}
	if got := h.events.dropped.Load(); got != s.Dropped {
		t.Errorf("dropped metric %d, emitter %d", got, s.Dropped)
	}
	if w := h.stats.redirects.Load(); w != 1+outage || h.stats.errors.Load() != 0 {
		t.Errorf("redirects %d, errors %d; want %d, 0", w, h.stats.errors.Load(), 1+outage)
	}

	k.Restart()
	back := time.Now()
	testenv.WaitFor(t, "the buffered events settled", eventWait, func() bool { return em.Stats().Queued == 0 })
	t.Logf("broker back: the %d buffered events settled in %s", s.Emitted-1, time.Since(back).Round(time.Millisecond))
	dropped := s.Dropped
	const after = 100
	for range after {
		redirect(t, h, c, "https://example.com/down", nil)
	}
	total := uint64(1 + outage + after)
	testenv.WaitFor(t, "every event settled", eventWait, func() bool {
		s = em.Stats()
		return s.Queued == 0 && s.Emitted+s.Dropped == total && s.Produced+s.Failed == s.Emitted
	})
	t.Logf("%d redirects: %d produced, %d failed, %d dropped", total, s.Produced, s.Failed, s.Dropped)
	if s.Dropped != dropped || s.Failed != 0 {
		t.Errorf("after the outage: %d more dropped, %d failed; want every event produced", s.Dropped-dropped, s.Failed)
	}
	got := readClicks(t, k, int(s.Produced))
	if uint64(len(got)) != s.Produced {
		t.Errorf("topic holds %d events, produced %d", len(got), s.Produced)
	}
	for _, e := range got {
		if e.Code != c || e.Status != 302 {
			t.Fatalf("event %+v: want code %s, 302", e, c)
		}
	}

	// The metrics say the same once the sink has copied the outcomes.
	h.events.sink.sync()
	m := h.events.metrics
	if p, f := (counter{m.produced}).Load(), (counter{m.failed}).Load(); p != s.Produced || f != s.Failed {
		t.Errorf("metrics: produced %d, failed %d; emitter %d, %d", p, f, s.Produced, s.Failed)
	}
}

// TestRateLimitedNoClickEvent: a refused request (429) emits nothing.
func TestRateLimitedNoClickEvent(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	c := newCode(t, "limited")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/l"})
	h := provision(t, eventsHandler(&Handler{Database: dsn,
		RateLimit: &RateLimit{Requests: 1, Window: caddy.Duration(time.Hour)}}, k))

	redirect(t, h, c, "https://example.com/l", nil)
	for range 5 {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/"+c, nil)
		r.RemoteAddr = "198.51.100.7:50000"
		if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil || w.Code != http.StatusTooManyRequests {
			t.Fatalf("GET /%s over the limit: %d %v; want 429", c, w.Code, err)
		}
	}
	em := h.events.emitter
	testenv.WaitFor(t, "the redirect's event produced", eventWait, func() bool { return em.Stats().Produced == 1 })
	if s := em.Stats(); s.Emitted != 1 || s.Dropped != 0 {
		t.Errorf("emitted %d, dropped %d; want 1 (the redirect), 0", s.Emitted, s.Dropped)
	}
	if got := readClicks(t, k, 1); len(got) != 1 {
		t.Errorf("%d events on the topic, want 1", len(got))
	}
}

// TestEventOptionsCaddyfile parses the event subdirectives.
func TestEventOptionsCaddyfile(t *testing.T) {
	t.Parallel()
	var h Handler
	d := caddyfile.NewTestDispenser(`shortify sqlite:///x.db {
		kafka_brokers k1:9092 k2:9092,k3:9092
		clicks_topic c
		link_events_topic l
		click_queue 5000
		country_header CF-IPCountry
		visitor_key {env.KEY}
	}`)
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if len(h.KafkaBrokers) != 2 || h.ClicksTopic != "c" || h.LinkEventsTopic != "l" || h.ClickQueue != 5000 ||
		h.CountryHeader != "CF-IPCountry" || h.VisitorKey != "{env.KEY}" {
		t.Errorf("got %+v", h)
	}
	for _, bad := range []string{
		"shortify {\n click_queue -1\n}",
		"shortify {\n click_queue many\n}",
		"shortify {\n country_header bad:name\n}",
		"shortify {\n kafka_brokers a:1\n kafka_brokers b:1\n}",
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
	v := Handler{Database: "sqlite:///x.db", KafkaBrokers: []string{"nohost"}}
	if err := v.Validate(); err == nil {
		t.Error("Validate accepted a broker without a port")
	}
}

// TestEventsOffWithoutBrokers: an empty kafka_brokers (an unset
// placeholder) leaves events off.
func TestEventsOffWithoutBrokers(t *testing.T) {
	c := newCode(t, "off")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/off"})
	h := provision(t, &Handler{Database: dsn, KafkaBrokers: []string{"{env.SHORTIFY_TEST_UNSET_KAFKA}"}})
	if h.events != nil || len(h.KafkaBrokers) != 0 {
		t.Fatalf("events %v, brokers %q: want off", h.events, h.KafkaBrokers)
	}
	redirect(t, h, c, "https://example.com/off", nil)
}

// BenchmarkServeHTTP_L1HitClicks is the hot path (an L1 hit) with click
// events off and on (a kfake broker in the process takes them), with a
// browser's User-Agent, a Referer and a country header. On a shared
// machine ns/op follows the load, so it also reports CPU time: cpu-ns/op
// for the whole process (the producer's batching and compression and the
// in-process broker included), thread-cpu-ns/op for the request path
// alone (the benchmark runs locked to its thread).
//
// "geoip" adds geoip_database, a client found in it, and so the lookup:
// its cost is the difference from "on".
func BenchmarkServeHTTP_L1HitClicks(b *testing.B) {
	for _, name := range []string{"off", "on", "geoip"} {
		on := name != "off"
		b.Run(name, func(b *testing.B) {
			dsn := sqliteDSN(b)
			c := newCode(b, "bench")
			create(b, seeder(b, dsn), linkstore.Link{Code: c, URL: "https://example.com/a/typical/landing/page?utm_source=x", Status: 302})
			h := &Handler{Database: dsn, CountryHeader: "CF-IPCountry", TrustedProxies: []string{"192.0.2.0/24"}}
			if name == "geoip" {
				h.GeoIPDatabase = geoiptest.Write(b, b.TempDir(), geoiptest.GeoLite2City, geoNetworks)
			}
			if on {
				eventsHandler(h, kafkatest.StartBroker(b, 2, testClicksTopic, testLinksTopic))
			}
			provision(b, h)
			r := httptest.NewRequest("GET", "/"+c, nil)
			r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
			r.Header.Set("Referer", "https://news.example.com/article")
			r.Header.Set("CF-IPCountry", "FR")
			if name == "geoip" {
				r.RemoteAddr = "81.2.69.142:1234"
			}
			w := &benchWriter{h: make(http.Header)}
			next := new(nextHandler)
			if err := h.ServeHTTP(w, r, next); err != nil || w.code != 302 {
				b.Fatalf("warm-up: %d %v", w.code, err)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			proc, thread := cpuTime(b, syscall.RUSAGE_SELF), cpuTime(b, rusageThread)
			for b.Loop() {
				clear(w.h)
				_ = h.ServeHTTP(w, r, next)
			}
			b.ReportMetric(float64(cpuTime(b, syscall.RUSAGE_SELF)-proc)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(cpuTime(b, rusageThread)-thread)/float64(b.N), "thread-cpu-ns/op")
			if on {
				s := h.events.emitter.Stats()
				b.ReportMetric(float64(s.Dropped)/float64(s.Emitted+s.Dropped), "dropped/op")
			}
		})
	}
}

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

// cpuTime returns the user and system CPU time of who (RUSAGE_SELF or
// rusageThread) so far.
func cpuTime(tb testing.TB, who int) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
