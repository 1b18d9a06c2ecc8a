package caddymodule

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/exp/zapslog"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/clientip"
	"github.com/shortify/shortify/internal/geoip"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/smartlink"
)

// Click events (docs/architecture.md, "A redirect" and "A click"): every
// redirect the handler answers, after its status line is written, becomes
// a clickevents.Event handed to a clickevents.Emitter, which never waits:
// a full buffer drops the event and counts it. Requests answered 404, 410
// or 429 (a refused request returns before any lookup) produce none.
//
// The emitter and the link-events consumer (invalidate.go) are long-lived
// resources in the pool, keyed by the settings that determine them, so a
// config reload keeps their connections and buffers:
//
//	clicks:       kafka_brokers, clicks_topic, click_queue, kafka_tls_*, kafka_sasl_*
//	invalidation: kafka_brokers, link_events_topic, kafka_tls_*, kafka_sasl_*
//
// An event costs, on top of the redirect, the client address (the
// rate limiter's resolver), one SipHash of it and the user agent, the bot
// check, and the encoding into a pooled record: no allocation
// (BenchmarkServeHTTP_L1HitEvents).

// emitterCloseTimeout bounds how long a destroyed emitter waits for its
// buffered events (the rest count as failed), so that a reload or shutdown
// with Kafka down is not held up.
const emitterCloseTimeout = 3 * time.Second

// clickStatsEvery is how often the outcomes of emitted events (produced,
// failed) and the queue depth are copied into the metrics.
const clickStatsEvery = time.Second

// events is a handler's click-event state: nil without kafka_brokers.
type events struct {
	emitter *clickevents.Emitter
	sink    *clickSink
	metrics clickMetrics // registered with sink; unregistered in Cleanup
	dropped counter      // events Emit refused

	cleanup sync.Once // Cleanup may run more than once
}

// visitors is what the edge knows of who clicks: the client address, the
// visitor hash and the country. Click events record them, and smart
// links' rules and splits decide by them (smart.go), so a handler has
// them with or without kafka_brokers.
type visitors struct {
	resolver *clientip.Resolver
	hasher   *clickevents.VisitorHasher
	country  string    // canonical header name; "" without country_header
	geo      *geoip.DB // nil without geoip_database
}

// visit is what one request has learned of its client. Each fact is
// worked out on first need, so that a smart link's split and rules and
// the click event after them resolve the address, hash and geolocate
// once per request.
type visit struct {
	r       *http.Request
	v       *visitors
	ua      string // the User-Agent header
	ip      netip.Addr
	hash    uint64
	country string
	known   uint8 // knownIP | knownHash | knownCountry
}

const (
	knownIP uint8 = 1 << iota
	knownHash
	knownCountry
)

// visitOf starts the visit of r.
func (v *visitors) visitOf(r *http.Request) visit {
	return visit{r: r, v: v, ua: headerValue(r.Header, "User-Agent")}
}

// addr is the client address: the zero Addr (no visitor) when the peer
// is not an IP.
func (x *visit) addr() netip.Addr {
	if x.known&knownIP == 0 {
		x.ip, _ = x.v.resolver.ClientIP(x.r)
		x.known |= knownIP
	}
	return x.ip
}

// visitorHash is the keyed visitor hash of the address and user agent.
func (x *visit) visitorHash() uint64 {
	if x.known&knownHash == 0 {
		x.hash = x.v.hasher.Hash(x.addr(), x.ua)
		x.known |= knownHash
	}
	return x.hash
}

// countryCode is the client's country, "" unknown.
func (x *visit) countryCode() string {
	if x.known&knownCountry == 0 {
		x.country = x.v.countryOf(x.r, x.addr())
		x.known |= knownCountry
	}
	return x.country
}

// countryOf returns the country of r, whose client is ip: GeoIP's, else
// the trusted proxy's country_header; "" unknown.
func (v *visitors) countryOf(r *http.Request, ip netip.Addr) string {
	if c := v.geo.Country(ip); c != "" {
		return c
	}
	if v.country != "" && v.resolver.FromTrustedProxy(r) {
		return clickevents.NormalizeCountry(headerValue(r.Header, v.country))
	}
	return ""
}

// processVisitorKey is the visitor key of handlers without visitor_key:
// random, made once per process.
var processVisitorKey = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return b
})

// expandEvents expands the placeholders of the event settings and fills in
// their defaults; Provision calls it before Validate.
func (h *Handler) expandEvents(repl *caddy.Replacer) {
	var brokers []string
	for _, b := range h.KafkaBrokers {
		for _, s := range strings.Split(repl.ReplaceKnown(b, ""), ",") {
			if s = strings.TrimSpace(s); s != "" {
				brokers = append(brokers, s)
			}
		}
	}
	h.KafkaBrokers = brokers
	h.ClicksTopic = cmp.Or(repl.ReplaceKnown(h.ClicksTopic, ""), clickevents.DefaultTopic)
	h.LinkEventsTopic = cmp.Or(repl.ReplaceKnown(h.LinkEventsTopic, ""), linkevents.DefaultTopic)
	h.VisitorKey = repl.ReplaceKnown(h.VisitorKey, "")
	h.GeoIPDatabase = repl.ReplaceKnown(h.GeoIPDatabase, "")
	if h.ClickQueue == 0 {
		h.ClickQueue = clickevents.DefaultMaxBufferedRecords
	}
}

// validateEvents checks the event settings. Brokers still holding a
// placeholder (Validate without Provision) are left to Provision.
func (h *Handler) validateEvents() []error {
	var errs []error
	for i, b := range h.KafkaBrokers {
		if strings.Contains(b, "{") {
			continue
		}
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if host, port, err := net.SplitHostPort(s); err != nil || host == "" || port == "" {
				errs = append(errs, fmt.Errorf("kafka_brokers[%d] %q: want host:port", i, s))
			}
		}
	}
	if h.ClickQueue < 0 {
		errs = append(errs, fmt.Errorf("click_queue %d: must be positive", h.ClickQueue))
	}
	if h.CountryHeader != "" && !validHeaderName(h.CountryHeader) {
		errs = append(errs, fmt.Errorf("country_header %q: not a header name", h.CountryHeader))
	}
	if len(h.KafkaBrokers) > 0 {
		if err := h.KafkaSecurity.Validate("kafka_security"); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// provisionVisitors sets up what the edge knows of a visitor (visitors):
// the client-address resolver, the visitor hasher and the GeoIP database.
func (h *Handler) provisionVisitors() error {
	v := &visitors{country: textproto.CanonicalMIMEHeaderKey(h.CountryHeader)}
	if h.limits != nil {
		v.resolver = h.limits.resolver
	} else {
		res, err := clientip.NewResolver(h.TrustedProxies, h.IPv6Prefix, h.ClientIPHeader)
		if err != nil {
			return err
		}
		v.resolver = res
	}
	key := []byte(h.VisitorKey)
	if len(key) == 0 {
		if len(h.KafkaBrokers) > 0 {
			h.logger.Warn("visitor_key not set: using a random key of this process, so unique visitors are counted per edge and per restart, and split links pick variants per edge; set the same visitor_key on every edge")
		}
		key = processVisitorKey()
	}
	v.hasher = clickevents.NewVisitorHasher(key)
	if h.GeoIPDatabase != "" {
		logger := slog.New(zapslog.NewHandler(h.logger.Core()))
		dbv, err := h.loadOrNew("shortify/geoip/"+hashKey(h.GeoIPDatabase, h.geoipInterval, h.hookKey()), func() (caddy.Destructor, error) {
			db, err := geoip.Open(h.GeoIPDatabase, geoip.Options{Interval: h.geoipInterval, Logger: logger})
			if err != nil {
				return nil, err
			}
			return geoDB{db}, nil
		})
		if err != nil {
			return fmt.Errorf("geoip_database: %w", err)
		}
		v.geo = dbv.(geoDB).DB
	}
	h.visitors = v
	return nil
}

// provisionEvents takes the click-event emitter from the pool (building it
// when absent). Without kafka_brokers it does nothing.
func (h *Handler) provisionEvents() error {
	if len(h.KafkaBrokers) == 0 {
		return nil
	}
	ev := new(events)
	logger := slog.New(zapslog.NewHandler(h.logger.Core()))
	hooks := h.hookKey()

	// The security settings are part of the keys (the password as a
	// hash): a rotated password or certificate path makes new clients.
	sec := h.KafkaSecurity
	clicksKey := "shortify/clicks/" + hashKey(h.KafkaBrokers, h.ClicksTopic, h.ClickQueue, sec.Key(), hooks)
	v, err := h.loadOrNew(clicksKey, func() (caddy.Destructor, error) {
		em, err := clickevents.NewEmitter(clickevents.Config{
			Brokers:            h.KafkaBrokers,
			Topic:              h.ClicksTopic,
			Security:           sec,
			MaxBufferedRecords: h.ClickQueue,
			Logger:             logger,
		})
		if err != nil {
			return nil, err
		}
		return newClickSink(em), nil
	})
	if err != nil {
		return fmt.Errorf("click events: %w", err)
	}
	ev.sink = v.(*clickSink)
	ev.emitter = ev.sink.emitter
	ev.dropped = counter{h.metrics.clickEvents.WithLabelValues("dropped")}
	ev.metrics = clickMetrics{
		produced: h.metrics.clickEvents.WithLabelValues("produced"),
		failed:   h.metrics.clickEvents.WithLabelValues("failed"),
		depth:    h.metrics.queueDepth,
	}
	ev.sink.subscribe(ev.metrics)
	h.events = ev // from here on, Cleanup unsubscribes
	return nil
}

// cleanupEvents undoes provisionEvents' subscription; the pool closes the
// emitter when its last handler lets go.
func (h *Handler) cleanupEvents() {
	ev := h.events
	if ev == nil {
		return
	}
	// h.events stays: a load in flight may still read it.
	ev.cleanup.Do(func() {
		ev.sink.unsubscribe(ev.metrics)
	})
}

// emitClick sends the click event of a redirect just answered (choice:
// which of a smart link's targets it went to; smartlink.ChoiceURL for a
// plain link). It never waits; a refused event is counted as dropped.
// domain is the custom domain the request came for ("" on the own host),
// which is the link's; the workspace comes with the link through the
// caches (entry.workspace).
func (h *Handler) emitClick(x *visit, code, domain string, e *entry, status int, choice smartlink.Choice) {
	ev := h.events
	c := clickevents.Event{
		Time:      time.Now(),
		Code:      code,
		LinkID:    e.linkID,
		Status:    uint16(status),
		Visitor:   x.visitorHash(),
		Country:   x.countryCode(),
		Bot:       clickevents.IsBot(x.ua),
		UserAgent: x.ua,
		Referrer:  headerValue(x.r.Header, "Referer"),
		Workspace: e.workspace,
		Domain:    domain,
		Choice:    uint8(choice),
	}
	if !ev.emitter.EmitContext(h.clickContext(x.r), &c) { // nil context while tracing is off (tracing.go)
		ev.dropped.Inc()
	}
}

// geoDB makes a geoip.DB a caddy.Destructor: pooled, so a reload keeps
// the loaded database and its file watcher.
type geoDB struct{ *geoip.DB }

// Destruct stops the file watcher.
func (g geoDB) Destruct() error { return g.Close() }

// headerValue is h.Get for a canonical name, without canonicalizing it
// again.
func headerValue(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// clickMetrics are the collectors one config feeds from an emitter.
type clickMetrics struct {
	produced, failed prometheus.Counter
	depth            prometheus.Gauge
}

// clickSink is the pooled emitter, with a loop that copies the outcomes of
// its events (known only later, in the producer's promises) and its queue
// depth into the metrics of every config that uses it.
type clickSink struct {
	emitter *clickevents.Emitter
	cancel  context.CancelFunc
	done    chan struct{}

	mu   sync.Mutex
	subs map[clickMetrics]int // subscribers, counted
	last clickevents.EmitterStats
}

func newClickSink(em *clickevents.Emitter) *clickSink {
	ctx, cancel := context.WithCancel(context.Background())
	s := &clickSink{emitter: em, cancel: cancel, done: make(chan struct{}), subs: make(map[clickMetrics]int)}
	go s.loop(ctx)
	return s
}

func (s *clickSink) subscribe(m clickMetrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[m]++
}

func (s *clickSink) unsubscribe(m clickMetrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs[m]--; s.subs[m] <= 0 {
		delete(s.subs, m)
	}
}

func (s *clickSink) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(clickStatsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sync()
		}
	}
}

// sync adds the events produced and failed since the last sync to every
// subscriber's counters and sets their queue depth.
func (s *clickSink) sync() {
	st := s.emitter.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	produced, failed := st.Produced-s.last.Produced, st.Failed-s.last.Failed
	s.last = st
	for m := range s.subs {
		m.produced.Add(float64(produced))
		m.failed.Add(float64(failed))
		m.depth.Set(float64(st.Queued))
	}
}

// Destruct stops the loop and closes the emitter, waiting at most
// emitterCloseTimeout for the buffered events.
func (s *clickSink) Destruct() error {
	s.cancel()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), emitterCloseTimeout)
	defer cancel()
	return s.emitter.Close(ctx)
}

// Interface guard.
var _ caddy.Destructor = (*clickSink)(nil)
