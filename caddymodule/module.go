// Package caddymodule is Shortify's edge: the Caddy v2 HTTP handler
// http.handlers.shortify_edge (Caddyfile directive shortify_edge), which
// answers GET and HEAD /{code} with the redirect of a short link, and
// GET and HEAD / with a small landing page (landing.go).
//
// The handler was called http.handlers.shortify (directive shortify),
// the name the control plane's global option also has; that spelling
// still works, as a deprecated alias that logs a warning (deprecated.go).
//
// The redirect path runs through three tiers (see docs/architecture.md,
// "A redirect"):
//
//  1. L1, an in-process cache bounded by entries, holding found links for
//     cache_ttl (never past the link's own expiry, extended for hot codes
//     up to max_ttl) and unknown codes for negative_ttl. One load per code
//     runs at a time. It is a flatcache.Cache, whose entries the garbage
//     collector never traces (docs/decisions/0001-pointer-free-l1.md).
//  2. L2, Redis (optional), shared by all edges and written through by the
//     control plane. A Redis failure is logged and skipped, never shown to
//     the client.
//  3. The link store's Lookup (PostgreSQL read replicas, or SQLite), whose
//     answer fills L2 (found links only) and L1.
//
// Paths that cannot be a code never reach a cache or the store. The store,
// the Redis client and the L1 cache outlive config reloads: they are held in
// a caddy.UsagePool keyed by the settings that determine them (pool.go).
//
// Files: module.go (registration, config, guards), provision.go (Provision,
// Validate, Cleanup), handler.go (ServeHTTP), cache.go (the L1 value and its
// loader), ttl.go (the adaptive L1 lifetime), pool.go (shared resources),
// store.go (the lazily opened store), readpolicy.go (primary or replica),
// caddyfile.go (the directive), landing.go (GET /), deprecated.go (the
// old name),
// ratelimit.go (per-client limits), blocked.go (the interstitial of
// blocked targets), domains.go (the host: own host or custom domain),
// clicks.go (click events to Kafka),
// invalidate.go (link events evicting L1 and L2), metrics.go and
// l1metrics.go (Prometheus), password.go, password_token.go,
// password_page.go and password_config.go (password-protected links),
// hot.go, warm.go and ready.go (the hot list, the warm start of a new L1
// and the readiness endpoint shortify_edge_ready).
package caddymodule

import (
	"context"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/caddymodule/internal/flatcache"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/clicklimit"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/l2cache"
)

// directive is the handler's Caddyfile directive, and the name its
// errors give it: the edge's, not the control plane's global option
// `shortify`.
const directive = "shortify_edge"

func init() {
	caddy.RegisterModule(Handler{})
	caddy.RegisterModule(DeprecatedHandler{})
	httpcaddyfile.RegisterHandlerDirective(directive, parseCaddyfile)
	httpcaddyfile.RegisterHandlerDirective(deprecatedDirective, parseDeprecatedCaddyfile)
	// Before file_server: after every standard directive that responds to a
	// request it matches (handle, route, respond, reverse_proxy, ...), so
	// that `reverse_proxy /api/*` or `respond /healthz` next to the edge
	// win for their paths even though those paths look like codes; and
	// before file_server, the one terminal handler, so that with
	// `not_found next` unknown codes fall through to static files.
	httpcaddyfile.RegisterDirectiveOrder(directive, httpcaddyfile.Before, "file_server")
	httpcaddyfile.RegisterDirectiveOrder(deprecatedDirective, httpcaddyfile.Before, "file_server")
}

// Handler is the http.handlers.shortify_edge module: it answers GET and
// HEAD /{code} with the redirect of the short link {code}. Its JSON fields
// are its configuration; all but Database are optional.
type Handler struct {
	// Database is the DSN of the link store: postgres://… or
	// postgresql://… for PostgreSQL, sqlite://PATH for SQLite. Required.
	// Placeholders such as {env.SHORTIFY_DB} are expanded when the module
	// is provisioned, which keeps secrets out of the adapted config.
	Database string `json:"database,omitempty"`

	// ReadReplicas are PostgreSQL DSNs of read replicas for lookups (round
	// robin over healthy ones, falling back to the primary). Placeholders
	// are expanded.
	ReadReplicas []string `json:"read_replicas,omitempty"`

	// Redis is the address of the Redis L2: host:port, several
	// comma-separated host:port seeds of a Redis Cluster, or a redis:// or
	// rediss:// (TLS) URL, with tls_ca_file=PATH for a private CA and
	// addr=host:port for more Cluster seeds (l2cache.NewClient). Empty
	// (also after placeholder expansion) means no L2.
	Redis string `json:"redis,omitempty"`

	// RedisPrefix is prepended to every code to form its Redis key; it must
	// match the control plane's. Default: "shortify:link:".
	RedisPrefix string `json:"redis_prefix,omitempty"`

	// RedisTTL bounds how long a link filled into Redis by this edge lives
	// there (never past the link's own expiry). Default: 24h.
	RedisTTL caddy.Duration `json:"redis_ttl,omitempty"`

	// CacheSize is the maximum number of entries (found links and unknown
	// codes) in the in-process L1 cache. Default: 1000000.
	CacheSize int `json:"cache_size,omitempty"`

	// CacheTTL is how long a found link stays in L1 at first; codes that
	// keep being read stay longer, up to MaxTTL. A link that expires
	// sooner stays only until it expires. Default: 1m.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// CacheAdmissionOff turns off the L1's admission (Caddyfile
	// `cache_admission off`): by default a full L1 caches a new code only
	// if a frequency sketch says it is asked for more often than the entry
	// it would evict, so a scan of one-off codes cannot push out the hot
	// set (docs/decisions/0011-l1-admission.md). Off, every miss is cached
	// and CLOCK alone picks what goes.
	CacheAdmissionOff bool `json:"cache_admission_off,omitempty"`

	// MaxTTL caps the adaptive L1 lifetime of found links: a code read
	// again late in its lifetime has it extended fourfold, from cache_ttl
	// to 4x and 16x, never past max_ttl (see ttl.go). It bounds how stale
	// an edge can be while it misses invalidations. Equal to cache_ttl,
	// the lifetime is fixed. Default: 16 x cache_ttl.
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`

	// NegativeTTL is how long an unknown code stays in L1 as not found.
	// Keep it short: a new link must not stay a 404 for long. Default: 5s.
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`

	// DefaultStatus is the redirect status for links that do not set their
	// own: 301, 302, 307 or 308. Default: 302, so that every click reaches
	// the edge (browsers keep 301s) and takedowns and counts keep working.
	DefaultStatus int `json:"default_status,omitempty"`

	// NotFound says what an unknown code or a path that cannot be a code
	// gets: "404" (default) answers 404 Not Found; "next" passes the
	// request to the next handler in the route.
	NotFound string `json:"not_found,omitempty"`

	// PermanentMaxAge is the Cache-Control max-age sent with 301 and 308
	// redirects, which browsers and shared caches keep: it bounds how long
	// a takedown takes to reach them. Default: 1h.
	PermanentMaxAge caddy.Duration `json:"permanent_max_age,omitempty"`

	// RateLimit limits the requests each client may send to this handler
	// (see RateLimit). A refused request gets 429 with Retry-After and the
	// RateLimit and RateLimit-Policy header fields, and costs no lookup.
	// Default: no limit.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`

	// MissLimit is a budget of misses per client: only the requests this
	// handler answers 404 spend it, so a client that guesses codes runs
	// out while one that follows real links never notices. A client with
	// no misses left gets 429 for every code, without a lookup, until the
	// budget refills. Keep it stricter than RateLimit. Default:
	// DefaultMissLimit (20 a second, burst 40); {"off": true} turns it
	// off.
	MissLimit *RateLimit `json:"miss_limit,omitempty"`

	// TrustedProxies are the networks (CIDR prefixes, addresses, or
	// "private_ranges") of the proxies whose forwarding header names the
	// client for the limits; other peers are the client themselves.
	// Default: none (the peer is always the client).
	TrustedProxies []string `json:"trusted_proxies,omitempty"`

	// ClientIPHeader is the forwarding header the trusted proxies write:
	// "X-Forwarded-For" (default) or "Forwarded" (RFC 7239). Only that one
	// is read, so a client cannot choose its address with the other.
	ClientIPHeader string `json:"client_ip_header,omitempty"`

	// IPv6Prefix is the prefix length under which IPv6 clients count as
	// one for the limits (a subscriber holds a whole /64 or more).
	// Default: 64.
	IPv6Prefix int `json:"ipv6_prefix,omitempty"`

	// KafkaBrokers are the seed brokers (host:port; an element may hold
	// several, comma-separated) of the Kafka that receives click events
	// and carries the control plane's link events. Placeholders are
	// expanded. Empty (also after expansion): no click events and no
	// invalidation (then only the L1 TTL bounds staleness). See clicks.go
	// and invalidate.go.
	KafkaBrokers []string `json:"kafka_brokers,omitempty"`

	// ClicksTopic is the topic click events go to. It must exist.
	// Default: "clicks" (clickevents.DefaultTopic).
	ClicksTopic string `json:"clicks_topic,omitempty"`

	// LinkEventsTopic is the control plane's link-events topic, read to
	// evict changed codes. Default: "shortify.link-events"
	// (linkevents.DefaultTopic).
	LinkEventsTopic string `json:"link_events_topic,omitempty"`

	// KafkaSecurity is how the edge's Kafka clients (click events and
	// the link-events consumer) authenticate and encrypt: TLS with a CA
	// (and a client certificate for mutual TLS), SASL SCRAM-SHA-256/512
	// or PLAIN over TLS (package kafkasec). Caddyfile: kafka_tls_ca,
	// kafka_tls_cert, kafka_tls_key, kafka_tls_server_name,
	// kafka_sasl_mechanism, kafka_sasl_user, kafka_sasl_password.
	// Placeholders are expanded at provision; all empty: plaintext, no
	// authentication (fit for a broker on loopback only).
	KafkaSecurity kafkasec.Config `json:"kafka_security,omitzero"`

	// ClickQueue bounds the click events waiting for Kafka; more are
	// dropped and counted. Default: 100000
	// (clickevents.DefaultMaxBufferedRecords).
	ClickQueue int `json:"click_queue,omitempty"`

	// CountryHeader is the request header holding the client's country
	// (e.g. CF-IPCountry); only a two-letter value is kept, upper-cased.
	// It is read only from requests whose peer is one of TrustedProxies
	// (anyone else could name any country), and only when GeoIPDatabase
	// has no answer. Default: none.
	CountryHeader string `json:"country_header,omitempty"`

	// GeoIPDatabase is the path of a MaxMind-format country database
	// (GeoLite2-Country or -City, DB-IP Lite country) that gives click
	// events the country of the client IP. The file is checked every few
	// seconds and reloaded when it changes (package geoip). Placeholders
	// are expanded. Default: none (the country comes from CountryHeader,
	// or is unknown).
	GeoIPDatabase string `json:"geoip_database,omitempty"`

	// VisitorKey is the secret of the keyed visitor hash in click events
	// (the raw IP never leaves the edge). Every edge must share it for
	// unique-visitor counts to add up. Placeholders are expanded (use
	// {env.*}). Default: a random key per process, with a warning: unique
	// visitors are then counted per edge and per restart.
	VisitorKey string `json:"visitor_key,omitempty"`

	// RootRedirect is where GET and HEAD / send a person who lands on the
	// shortener without a code: an absolute http(s) URL or a path,
	// answered with 302 Found. Placeholders are expanded. Default: none,
	// and / answers a small HTML page that says what this is, with a link
	// to the dashboard (landing.go).
	RootRedirect string `json:"root_redirect,omitempty"`

	// BlocklistRefresh is how often the edge polls the generation of the
	// shared block set (threat feeds and the admin blocklist) in the link
	// database, reloading it when it changed; links to listed targets
	// answer an interstitial page (blocked.go). Default: 15s.
	BlocklistRefresh caddy.Duration `json:"blocklist_refresh,omitempty"`

	// Hosts are the instance's own host names (such as s.example.com):
	// requests for them resolve the links that live on no custom domain.
	// A request for a verified custom domain (registered with the control
	// plane, mirrored into the link database) resolves that domain's
	// links; any other host gets 404 without a lookup. Empty (default):
	// every host that is not a verified custom domain is the own host, as
	// before custom domains. Matched in lower case, without port or
	// trailing dot (domains.go).
	Hosts []string `json:"hosts,omitempty"`

	// DomainRefresh is how often the edge polls the generation of the
	// custom-domain mirror in the link database, reloading the verified
	// domains when it moved: a deleted or unverified domain stops
	// answering within about this much after the control plane's leader
	// mirrors it (every 250 ms). Default: 1s.
	DomainRefresh caddy.Duration `json:"domain_refresh,omitempty"`

	// Password-protected links (password.go, password_config.go).

	// LinkCookieKey is the secret that signs the access cookies and form
	// tokens of password-protected links; every edge must share it for a
	// cookie one edge set to pass at another. Placeholders are expanded
	// ({env.*}, {file.*}); a weak or placeholder value is refused.
	// Default: derived from VisitorKey when that is set; else a random key
	// per process, with a warning (cookies then work on one edge, until it
	// restarts).
	LinkCookieKey string `json:"link_cookie_key,omitempty"`

	// PasswordCookieLifetime is how long the cookie set by a right
	// password lets the browser follow that link without it (its Max-Age;
	// 1s to 400d). Default: 24h.
	PasswordCookieLifetime caddy.Duration `json:"password_cookie_lifetime,omitempty"`

	// PasswordAttempts limits the wrong passwords a client may try on one
	// link (429 with Retry-After beyond), counted in Redis when the edge
	// has one so the limit holds across edges, else per edge. Only
	// Requests, Window, Burst, Name and MaxClients apply. Default:
	// DefaultPasswordAttempts (5 a minute, burst 5).
	PasswordAttempts *RateLimit `json:"password_attempts,omitempty"`

	pw *passwordState // runtime state of the above, set by Provision

	// Warm is the warm start of the L1 from the hot list in Redis
	// (warm.go, ready.go). Default: on when the edge has Redis.
	Warm WarmStart   `json:"warm,omitzero"`
	hot  *hotTracker // samples redirects into the hot list; nil when off
	warm *warmer     // this L1's warm start; nil when off

	// Runtime state, set by Provision.
	res           *resources // the shared store, Redis client and L1
	keys          []string   // pool keys this instance holds, for Cleanup
	l1            *flatcache.Cache[entry]
	l2            *l2cache.Cache                                       // nil without Redis
	load          func(context.Context, string) (entry, string, error) // h.loadLink, made once
	logger        *zap.Logger
	l2log         *zap.Logger // logger for failures of loads (L2, refused targets), sampled to one per message per second
	notFoundNext  bool
	permanentCC   []string              // Cache-Control value of 301/308 answers
	limits        *limiters             // nil without rate_limit and miss_limit
	metrics       *metrics              // the collectors of the config's registry
	stats         *stats                // their children the request path counts with
	events        *events               // nil without kafka_brokers (clicks.go)
	visitors      *visitors             // client address, visitor hash, country (clicks.go)
	counter       clicklimit.Counter    // claims clicks of links with max_clicks (smart.go)
	inval         *invalidator          // the link-events consumer; nil without kafka_brokers (invalidate.go)
	invalTarget   *targetL1             // h.l1 as registered with inval
	rootLocation  []string              // Location of GET /; nil: the landing page
	blocks        *blockset.Watcher     // the block set (blocked.go)
	blockedClicks prometheus.Counter    // shortify_edge_blocked_clicks_total
	ownHosts      map[string]struct{}   // hosts, normalised; nil: every host not a custom domain
	domains       *domainmirror.Watcher // the verified custom domains (domains.go)
	unknownHosts  counter               // shortify_edge_unknown_hosts_total

	// Tracing (tracing.go): on (SHORTIFY_TRACING) at Provision, and the
	// release of the process's tracer provider, for Cleanup.
	traced         bool
	tracingRelease func(context.Context) error

	// Test hooks, unexported: set before Provision. The clock and keySalt
	// become part of the pool keys, so that tests that set a salt of their
	// own (the test's name) never share resources built with other hooks.
	clock     flatcache.Clock // nil: the system clock
	openStore storeOpener     // nil: backend.Open
	keySalt   string
	// geoipInterval is how often the GeoIP file is checked (part of its
	// pool key); 0: geoip.DefaultInterval.
	geoipInterval time.Duration
	// hotEvery is one sample of the hot list in how many redirects (part
	// of its pool key); 0: hotSampleEvery.
	hotEvery int
	// warmReg is the registry warm starts join; nil: warmups (warm.go).
	warmReg *warmRegistry
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers." + directive,
		New: func() caddy.Module { return new(Handler) },
	}
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
