// Package controlplane is Shortify's control plane as a Caddy app: a Raft
// node that leases Snowflake worker IDs and code-sequence blocks, the link
// store it writes, and the REST API that the `shortify_api` HTTP handler
// serves. Configure it with the `shortify` global option in a Caddyfile, or
// as the "shortify" app in JSON.
//
// The node, the store and the Redis client live in a caddy.UsagePool keyed
// by the data directory, so a config reload keeps the same Raft node
// instead of reopening its log (which the old config still holds open).
package controlplane

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/partitions"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/secret"
	"github.com/shortify/shortify/internal/targeturl"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

func init() {
	caddy.RegisterModule(new(App))
}

// Defaults of the app's settings.
const (
	DefaultRaftBind    = "127.0.0.1:8300"
	DefaultRedisPrefix = l2cache.DefaultPrefix
	DefaultRedisTTL    = 24 * time.Hour
	// startTimeout bounds opening the store and electing a Raft leader.
	startTimeout = 60 * time.Second
)

// App is the control-plane node.
type App struct {
	// DataDir holds the Raft log, snapshots and (by default) the SQLite
	// link database. Default: Caddy's data directory + "/shortify".
	DataDir string `json:"data_dir,omitempty"`
	// NodeID names this node in the Raft cluster (default "node1").
	NodeID string `json:"node_id,omitempty"`
	// RaftBind is the TCP address Raft listens on (default
	// 127.0.0.1:8300), over mutual TLS from the cluster CA. Without
	// cluster TLS it must be a loopback address and no port is opened: the
	// node is a one-node cluster on raft's in-memory transport.
	RaftBind string `json:"raft_bind,omitempty"`
	// RaftAdvertise is the address other nodes reach this one at (default
	// RaftBind).
	RaftAdvertise string `json:"raft_advertise,omitempty"`
	// APIAddr is the https URL of this node's internal listener
	// (ClusterListen) as the other control-plane nodes reach it, such as
	// https://10.0.0.5:8301 ("host:port" means https://host:port). While
	// this node leads, followers forward their writes to it. Required on
	// every member of a cluster of more than one node; needs cluster TLS.
	APIAddr string `json:"api_addr,omitempty"`
	// Join lists the https URLs of internal listeners of members of an
	// existing cluster. A node with no Raft state asks them, in turn, to
	// add it (as a non-voter, promoted to voter once caught up); a node
	// with state ignores Join. Needs cluster TLS.
	Join []string `json:"join,omitempty"`
	// Bootstrap makes a node with no Raft state start a new cluster.
	// Default: true when Join is empty. Set it on the first node only.
	Bootstrap *bool `json:"bootstrap,omitempty"`
	// ClusterCA, ClusterCert and ClusterKey are the PEM files of the
	// cluster's mutual TLS: the cluster CA's certificate, this node's
	// certificate (client and server use, covering the host names the
	// other nodes dial it by) and its key. Nodes prove membership with
	// them on the Raft transport and the internal listener. All three or
	// none; placeholders such as {env.SHORTIFY_CLUSTER_CERT} are expanded
	// at provision. Make them with `shortify cluster-ca` and
	// `shortify cluster-cert`. None: a one-node cluster that opens no Raft
	// port and takes no members.
	ClusterCA   string `json:"cluster_ca,omitempty"`
	ClusterCert string `json:"cluster_cert,omitempty"`
	ClusterKey  string `json:"cluster_key,omitempty"`
	// ClusterListen is the host:port of the internal listener: an https
	// server, mutual TLS with the cluster CA, that serves the node-to-node
	// routes (forwarded writes, join, remove) and nothing else; the public
	// API never serves them. Required with APIAddr or Join; keep it off
	// any address clients reach.
	ClusterListen string `json:"cluster_listen,omitempty"`
	// RestoreFrom is a backup file (`shortify backup`) that a new cluster
	// starts from: the node that bootstraps it restores the file, with
	// its sequence and worker IDs moved past what the link database
	// holds, instead of making a new code key. It is read only while the
	// cluster has no code key (empty data directories); later starts
	// ignore it. docs/operations.md, "Backup and restore".
	RestoreFrom string `json:"restore_from,omitempty"`
	// ClusterSecret is gone: a config that sets it fails to load, saying
	// what replaced it (cluster_ca, cluster_cert, cluster_key).
	ClusterSecret string `json:"cluster_secret,omitempty"`
	// Database is the link store's DSN: postgres://… or sqlite://PATH.
	// Default: sqlite://DataDir/links.db (the embedded default).
	Database string `json:"database,omitempty"`
	// Redis is the address of the L2 cache that creates write through and
	// deletes clear, in the edge's forms (l2cache.NewClient): host:port,
	// comma-separated Cluster seeds, or a redis:// or rediss:// (TLS) URL
	// with tls_ca_file= and addr=. Empty means no Redis.
	Redis string `json:"redis,omitempty"`
	// RedisPrefix must equal the edges' redis_prefix (default
	// "shortify:link:").
	RedisPrefix string `json:"redis_prefix,omitempty"`
	// RedisTTL is the L2 entry lifetime (default 24h).
	RedisTTL caddy.Duration `json:"redis_ttl,omitempty"`
	// PublicURL is the base of returned short URLs and QR codes, e.g.
	// https://sho.rt. Required: short URLs never follow a request's Host
	// header, which any client can set (the root Caddyfile gives `make
	// run` http://localhost:<port>).
	PublicURL string `json:"public_url,omitempty"`
	// CORSOrigins are the origins (scheme://host[:port]) whose web pages
	// may call the API from a browser, writes included: preflights are
	// answered for them and their writes are let through. Empty (the
	// default): writes a browser marks as coming from another site, or
	// with another Origin, are refused with 403.
	CORSOrigins []string `json:"cors_origins,omitempty"`
	// OwnDomains are further host names of this shortener; targets on
	// them are refused (PublicURL's host always is).
	OwnDomains []string `json:"own_domains,omitempty"`
	// BlockedDomains are refused as targets, with their subdomains.
	BlockedDomains []string `json:"blocked_domains,omitempty"`
	// MaxURLLength bounds target URLs in bytes (default 2048).
	MaxURLLength int `json:"max_url_length,omitempty"`
	// AllowPrivateTargets accepts targets at private and special
	// addresses, or names resolving there (internal go-links
	// installations); the shortener's own addresses stay refused.
	AllowPrivateTargets bool `json:"allow_private_targets,omitempty"`
	// OutboundAllowPrivate lets the control plane's own outbound requests
	// (title fetches, webhook deliveries) reach private and special
	// addresses, for tests and installations whose pages are internal.
	// Off (the default): only public unicast addresses are dialled,
	// checked at connect time (package safedial).
	OutboundAllowPrivate bool `json:"outbound_allow_private,omitempty"`
	// FetchTitles set to false turns off fetching the title of a link
	// created without one (default: on).
	FetchTitles *bool `json:"fetch_titles,omitempty"`
	// ShortenerDomains are other URL shorteners, refused as targets so
	// that chains end after one hop (default
	// targeturl.DefaultShortenerDomains).
	ShortenerDomains []string `json:"shortener_domains,omitempty"`
	// AllowShortenerTargets accepts targets on ShortenerDomains.
	AllowShortenerTargets bool `json:"allow_shortener_targets,omitempty"`
	// LookalikeHosts is "refuse" (default), "allow" or "flag": what
	// becomes of IDN targets that mix scripts or read as a Latin name they
	// are not; "flag" accepts them and flags the link for review.
	LookalikeHosts string `json:"lookalike_hosts,omitempty"`
	// ThreatFeeds are the threat feeds the leader reads and shares with
	// every node and edge; their targets are refused at create and answer
	// an interstitial page at the edge.
	ThreatFeeds []ThreatFeed `json:"threat_feeds,omitempty"`
	// ThreatFeedRefresh is the time between the leader's reads of the
	// feeds (default 30m, at least 1m; also at the start of a leadership).
	ThreatFeedRefresh caddy.Duration `json:"threat_feed_refresh,omitempty"`
	// BlocklistRefresh is how often the leader merges the admin blocklist
	// into the shared set and this node reloads the set (default 15s, at
	// most 1m).
	BlocklistRefresh caddy.Duration `json:"blocklist_refresh,omitempty"`
	// TargetResolver is the DNS server (host:port) that target host
	// names are resolved through at create time (default: the system's).
	TargetResolver string `json:"target_resolver,omitempty"`
	// TargetResolveTimeout bounds that lookup (default 2s); a name that
	// does not resolve in time is accepted.
	TargetResolveTimeout caddy.Duration `json:"target_resolve_timeout,omitempty"`
	// DomainResolver (host:port) answers custom domains' TXT challenges
	// (default: TargetResolver, else the system's resolver).
	DomainResolver string `json:"domain_resolver,omitempty"`
	// Workspace* limit a workspace whose own limit is 0 (0: no limit).
	WorkspaceMaxLinks         int64 `json:"workspace_max_links,omitempty"`
	WorkspaceCreatesPerMinute int64 `json:"workspace_creates_per_minute,omitempty"`
	WorkspaceMaxDomains       int64 `json:"workspace_max_domains,omitempty"`
	// ClickTotalsInterval is the time between the leader's copies of
	// the links' click totals from the stats database onto the links
	// (default 30s; negative, or 0 or off in the Caddyfile: off).
	ClickTotalsInterval caddy.Duration `json:"click_totals_interval,omitempty"`
	// StatsDatabase is the stats database's DSN, postgres://… or
	// sqlite://PATH (default: Database). Its schema is created at start.
	StatsDatabase string `json:"stats_database,omitempty"`
	// PartitionMonthsAhead, PartitionRetention and PartitionRetentionMode
	// only seed the replicated partition policy when the cluster has none
	// yet; after that it is changed through the admin API.
	//
	// PartitionMonthsAhead is how many months after the current one the
	// leader keeps partitioned ahead (default 3, 1..24).
	PartitionMonthsAhead int `json:"partition_months_ahead,omitempty"`
	// PartitionRetention is how long stats data is kept (default 400
	// days); older partitions are dropped or detached, older SQLite rows
	// deleted.
	PartitionRetention caddy.Duration `json:"partition_retention,omitempty"`
	// PartitionRetentionMode is "drop" (the default) or "detach": detached
	// partitions stay in the database as plain tables, for archiving.
	PartitionRetentionMode string `json:"partition_retention_mode,omitempty"`
	// PartitionCheckInterval is how often the leader re-checks the
	// partitions (default 24h; also at the start of every leadership).
	PartitionCheckInterval caddy.Duration `json:"partition_check_interval,omitempty"`

	// AnonymousCreate lets POST /api/v1/links go without an API key,
	// rate-limited per client (off by default).
	AnonymousCreate bool `json:"anonymous_create,omitempty"`
	// AnonymousPerMinute is how many anonymous creates one client may make
	// a minute (default 10; shared through Redis when configured).
	AnonymousPerMinute int `json:"anonymous_per_minute,omitempty"`
	// TrustedProxies are the addresses (CIDRs, or private_ranges) whose
	// X-Forwarded-For names the client, for the anonymous-create and
	// report limits and the client address of the audit log.
	TrustedProxies []string `json:"trusted_proxies,omitempty"`
	// AuditRetention is how long the audit log keeps an entry (default
	// 365 days): older monthly partitions are dropped, older SQLite rows
	// deleted, by the leader's upkeep.
	AuditRetention caddy.Duration `json:"audit_retention,omitempty"`
	// ReportPerMinute is how many abuse reports one client may send a
	// minute (default 5; shared through Redis when configured).
	ReportPerMinute int `json:"report_per_minute,omitempty"`
	// DomainCheckPerMinute is how many on-demand TLS checks (GET
	// /api/v1/domains/allowed) one client may make a minute (default 600;
	// shared through Redis when configured).
	DomainCheckPerMinute int `json:"domain_check_per_minute,omitempty"`
	// InitialAPIKey is the first admin key of a new cluster (a key in the
	// form `shortify new-api-key` prints), best as a placeholder expanded
	// at provision, {env.SHORTIFY_INITIAL_API_KEY} or {file./path}, so that
	// the config (and the admin endpoint's /config/) holds the placeholder,
	// never the key. Empty, or a placeholder of an unset variable: a key
	// is made, shown on standard error if that is a terminal, else written
	// to DataDir/initial-admin-key (mode 0600) and the file's path logged.
	InitialAPIKey string `json:"initial_api_key,omitempty"`
	// KafkaBrokers are the Kafka brokers (host:port) that the control
	// plane publishes link events to, for the edges' invalidation and the
	// stats service. Empty: no link events.
	KafkaBrokers []string `json:"kafka_brokers,omitempty"`
	// KafkaSecurity is how the link-events producer authenticates and
	// encrypts (TLS, SASL/SCRAM; package kafkasec). Caddyfile:
	// kafka_tls_ca, kafka_tls_cert, kafka_tls_key, kafka_tls_server_name,
	// kafka_sasl_mechanism, kafka_sasl_user, kafka_sasl_password.
	KafkaSecurity kafkasec.Config `json:"kafka_security,omitzero"`
	// LinkEventsTopic is the link-events topic (default
	// "shortify.link-events"); it must exist.
	LinkEventsTopic string `json:"link_events_topic,omitempty"`
	// CleanupBatchSize is the most expired links the leader deletes in
	// one statement (default 500, at most 10000).
	CleanupBatchSize int `json:"cleanup_batch_size,omitempty"`
	// CleanupInterval is the time between the leader's runs of the
	// cleanup of expired links (default 1m).
	CleanupInterval caddy.Duration `json:"cleanup_interval,omitempty"`
	// CleanupRate is the most cleanup batches a second (default 2).
	CleanupRate float64 `json:"cleanup_rate,omitempty"`

	logger *slog.Logger
	// metrics is the config's metrics registry (nil: none), which
	// gathers the running service while this config runs.
	metrics prometheus.Registerer
	svc     *service
	anon    *clientLimiter
	// reports limits abuse reports per client.
	reports *clientLimiter
	// domainChecks limits the on-demand TLS checks per client.
	domainChecks *clientLimiter
	// creates limits each workspace's link creates a minute.
	creates *api.LimiterSet
	// initialKey is InitialAPIKey with its placeholders expanded.
	initialKey string
	api        atomic.Pointer[api.Handler]
	// started opens when Start ends or Stop begins (startgate.go).
	started startGate
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "shortify",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision fills defaults and expands the placeholders of the cluster
// settings. It opens nothing: that happens in Start.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		a.metrics = reg
	}
	if err := a.resolveCluster(); err != nil {
		return err
	}
	if err := a.fillDefaults(); err != nil {
		return err
	}
	if a.initialKey != "" && a.initialKey == a.InitialAPIKey {
		a.logger.Warn("initial_api_key is written into the config, where the admin endpoint's /config/ shows it; use {env.SHORTIFY_INITIAL_API_KEY} instead")
	}
	return nil
}

// fillDefaults sets every unset field to its default.
func (a *App) fillDefaults() error {
	a.DataDir = cmp.Or(a.DataDir, filepath.Join(caddy.AppDataDir(), "shortify"))
	abs, err := filepath.Abs(a.DataDir)
	if err != nil {
		return fmt.Errorf("shortify: data_dir %q: %w", a.DataDir, err)
	}
	a.DataDir = abs
	if a.RestoreFrom != "" {
		if a.RestoreFrom, err = filepath.Abs(a.RestoreFrom); err != nil {
			return fmt.Errorf("shortify: restore_from: %w", err)
		}
	}
	a.NodeID = cmp.Or(a.NodeID, "node1")
	a.RaftBind = cmp.Or(a.RaftBind, DefaultRaftBind)
	a.RaftAdvertise = cmp.Or(a.RaftAdvertise, a.RaftBind)
	a.Database = cmp.Or(a.Database, "sqlite://"+filepath.Join(a.DataDir, "links.db"))
	a.RedisPrefix = cmp.Or(a.RedisPrefix, DefaultRedisPrefix)
	if a.RedisTTL == 0 {
		a.RedisTTL = caddy.Duration(DefaultRedisTTL)
	}
	a.MaxURLLength = cmp.Or(a.MaxURLLength, targeturl.DefaultMaxLength)
	if a.ShortenerDomains == nil {
		a.ShortenerDomains = targeturl.DefaultShortenerDomains
	}
	a.LookalikeHosts = cmp.Or(a.LookalikeHosts, "refuse")
	a.TargetResolveTimeout = cmp.Or(a.TargetResolveTimeout, caddy.Duration(targeturl.DefaultResolveTimeout))
	a.AnonymousPerMinute = cmp.Or(a.AnonymousPerMinute, DefaultAnonymousPerMinute)
	a.AuditRetention = cmp.Or(a.AuditRetention, caddy.Duration(audit.DefaultRetention))
	a.ReportPerMinute = cmp.Or(a.ReportPerMinute, DefaultReportPerMinute)
	a.DomainCheckPerMinute = cmp.Or(a.DomainCheckPerMinute, DefaultDomainCheckPerMinute)
	a.StatsDatabase = cmp.Or(a.StatsDatabase, a.Database)
	a.PartitionMonthsAhead = cmp.Or(a.PartitionMonthsAhead, statsparts.DefaultMonthsAhead)
	a.PartitionRetention = cmp.Or(a.PartitionRetention, caddy.Duration(statsparts.DefaultRetention))
	a.PartitionRetentionMode = cmp.Or(a.PartitionRetentionMode, "drop")
	a.PartitionCheckInterval = cmp.Or(a.PartitionCheckInterval, caddy.Duration(partitions.DefaultInterval))
	a.fillEventDefaults()
	a.fillThreatDefaults()
	// Expanded here, kept apart: the config keeps the placeholder.
	a.initialKey = secret.Resolve(a.InitialAPIKey)
	return nil
}

// Validate checks the settings.
func (a *App) Validate() error {
	if a.MaxURLLength < 64 || a.MaxURLLength > 32<<10 {
		return fmt.Errorf("shortify: max_url_length %d is outside 64..32768", a.MaxURLLength)
	}
	if a.LookalikeHosts != "refuse" && a.LookalikeHosts != "allow" && a.LookalikeHosts != "flag" {
		return fmt.Errorf("shortify: lookalike_hosts %q is none of refuse, allow, flag", a.LookalikeHosts)
	}
	if err := a.validateThreats(); err != nil {
		return err
	}
	for name, v := range map[string]string{"target_resolver": a.TargetResolver, "domain_resolver": a.DomainResolver} {
		if _, _, err := net.SplitHostPort(v); v != "" && err != nil {
			return fmt.Errorf("shortify: %s %q is not host:port: %w", name, v, err)
		}
	}
	if a.WorkspaceMaxLinks < 0 || a.WorkspaceCreatesPerMinute < 0 || a.WorkspaceMaxDomains < 0 {
		return errors.New("shortify: workspace_max_links, workspace_creates_per_minute and workspace_max_domains must be 0 (no limit) or more")
	}
	if a.PartitionMonthsAhead < 1 || a.PartitionMonthsAhead > statsparts.MaxMonthsAhead {
		return fmt.Errorf("shortify: partition_months_ahead %d is outside 1..%d", a.PartitionMonthsAhead, statsparts.MaxMonthsAhead)
	}
	if a.PartitionRetention < 0 || a.PartitionCheckInterval < 0 {
		return errors.New("shortify: partition_retention and partition_check_interval must be positive")
	}
	if a.PartitionRetentionMode != "drop" && a.PartitionRetentionMode != "detach" {
		return fmt.Errorf("shortify: partition_retention_mode %q is neither drop nor detach", a.PartitionRetentionMode)
	}
	if a.AnonymousPerMinute < 1 || a.AnonymousPerMinute > 100_000 {
		return fmt.Errorf("shortify: anonymous_per_minute %d is outside 1..100000", a.AnonymousPerMinute)
	}
	if a.ReportPerMinute < 1 || a.ReportPerMinute > 100_000 {
		return fmt.Errorf("shortify: report_per_minute %d is outside 1..100000", a.ReportPerMinute)
	}
	if a.DomainCheckPerMinute < 1 || a.DomainCheckPerMinute > 100_000 {
		return fmt.Errorf("shortify: domain_check_per_minute %d is outside 1..100000", a.DomainCheckPerMinute)
	}
	if a.AuditRetention < caddy.Duration(24*time.Hour) {
		return errors.New("shortify: audit_retention must be at least a day (24h)")
	}
	if _, err := clientKeyFunc(a.TrustedProxies); err != nil {
		return err
	}
	if err := a.validateEvents(); err != nil {
		return err
	}
	if a.RedisTTL < 0 {
		return errors.New("shortify: redis_ttl must not be negative")
	}
	if err := a.validateCluster(); err != nil {
		return err
	}
	return a.validateAPI()
}

// validateAPI checks the settings of the API: public_url, cors_origins and
// the initial key.
func (a *App) validateAPI() error {
	if a.PublicURL == "" {
		return errors.New("shortify: public_url is required, the base of the short URLs the API returns " +
			"(such as https://sho.rt; set SHORTIFY_PUBLIC_URL with the shipped Caddyfiles): " +
			"without it short URLs and QR codes would follow the Host header any client sends")
	}
	if err := api.CheckPublicURL(a.PublicURL); err != nil {
		return fmt.Errorf("shortify: public_url: %w", err)
	}
	for _, o := range a.CORSOrigins {
		if err := api.CheckCORSOrigin(o); err != nil {
			return fmt.Errorf("shortify: cors_origins: %w", err)
		}
	}
	return checkInitialKey(a.initialKey)
}

// Start opens (or, after a reload, reuses) the node and serves the API.
func (a *App) Start() error {
	defer a.started.open() // API requests waiting for the start go on
	svc, err := acquireService(a.serviceConfig(), a.logger)
	if err != nil {
		return err
	}
	if err := registerMetrics(a.metrics, svc); err != nil {
		_ = releaseService(svc)
		return err
	}
	deps := svc.deps()
	deps.DomainVerifier = domainverify.Verifier{Resolver: cmp.Or(a.DomainResolver, a.TargetResolver)}
	if err := a.limiters(svc, &deps); err != nil {
		a.closeLimiters()
		a.unregisterMetrics(svc)
		_ = releaseService(svc)
		return err
	}
	h, err := api.New(api.Config{
		PublicURL:       a.PublicURL,
		CORSOrigins:     a.CORSOrigins,
		AnonymousCreate: a.AnonymousCreate,
		// Webhook endpoints may name private addresses when the
		// deliverer may dial them.
		OutboundAllowPrivate: a.OutboundAllowPrivate,
		FlagLookalike:        a.LookalikeHosts == "flag",
		Targets:              a.targetPolicy(),
		Logger:               a.logger,
		WorkspaceDefaults:    fsm.WorkspaceLimits{MaxLinks: a.WorkspaceMaxLinks, CreatesPerMinute: a.WorkspaceCreatesPerMinute, MaxDomains: a.WorkspaceMaxDomains},
	}, deps)
	if err != nil {
		a.closeLimiters()
		a.unregisterMetrics(svc)
		_ = releaseService(svc)
		return err
	}
	a.svc = svc
	a.api.Store(h)
	return nil
}

// Stop releases this config's hold on the node; the node shuts down when
// no config holds it any more.
func (a *App) Stop() error {
	a.api.Store(nil)
	a.started.open()
	a.closeLimiters()
	if a.svc == nil {
		return nil
	}
	svc := a.svc
	a.svc = nil
	a.unregisterMetrics(svc)
	return releaseService(svc)
}

// unregisterMetrics takes svc out of this config's metrics registry.
func (a *App) unregisterMetrics(svc *service) {
	if a.metrics != nil {
		a.metrics.Unregister(svc)
	}
}

// validateCluster checks the cluster settings.
func (a *App) validateCluster() error {
	if a.ClusterSecret != "" {
		return errClusterSecret
	}
	files := a.clusterFiles()
	if err := files.Check(); err != nil {
		return fmt.Errorf("shortify: %w", err)
	}
	if files.Set() {
		if _, err := clustertls.Load(files); err != nil {
			return fmt.Errorf("shortify: cluster TLS: %w", err)
		}
	} else if a.ClusterListen != "" || a.APIAddr != "" || len(a.Join) > 0 {
		return errors.New("shortify: cluster_listen, api_addr and join need cluster TLS: set cluster_ca, cluster_cert and cluster_key (make them with `shortify cluster-ca` and `shortify cluster-cert`)")
	}
	if a.ClusterListen != "" {
		if _, _, err := net.SplitHostPort(a.ClusterListen); err != nil {
			return fmt.Errorf("shortify: cluster_listen %q is not a host:port: %w", a.ClusterListen, err)
		}
	} else if a.APIAddr != "" || len(a.Join) > 0 {
		return errors.New("shortify: a cluster member needs cluster_listen, the host:port of its internal listener, which api_addr points the other members at")
	}
	if a.APIAddr != "" {
		if _, err := cluster.BaseURL(a.APIAddr); err != nil {
			return fmt.Errorf("shortify: api_addr: %w", err)
		}
	}
	for _, j := range a.Join {
		if _, err := cluster.BaseURL(j); err != nil {
			return fmt.Errorf("shortify: join: %w", err)
		}
	}
	if len(a.Join) > 0 && a.APIAddr == "" {
		return errors.New("shortify: a node that joins a cluster needs api_addr, the URL the other nodes reach its internal listener at")
	}
	return nil
}

// bootstrap tells whether this node starts a new cluster when it has no
// Raft state.
func (a *App) bootstrap() bool {
	if a.Bootstrap != nil {
		return *a.Bootstrap
	}
	return len(a.Join) == 0
}

func (a *App) serviceConfig() serviceConfig {
	return serviceConfig{
		DataDir:        a.DataDir,
		NodeID:         a.NodeID,
		RaftBind:       a.RaftBind,
		RaftAdvertise:  a.RaftAdvertise,
		Database:       a.Database,
		Redis:          a.Redis,
		RedisPrefix:    a.RedisPrefix,
		RedisTTL:       time.Duration(a.RedisTTL),
		InitialAPIKey:  a.initialKey,
		AuditRetention: time.Duration(a.AuditRetention),
		Events:         a.eventSettings(),
		Threats:        a.threatSettings(),
		ClickTotals:    a.clickTotalsInterval(),
		RestoreFrom:    a.RestoreFrom,
		Titles:         titleSettings{Fetch: a.fetchTitles(), AllowPrivate: a.OutboundAllowPrivate},
		Partitions: partitionSettings{
			StatsDatabase: a.StatsDatabase,
			MonthsAhead:   a.PartitionMonthsAhead,
			Retention:     time.Duration(a.PartitionRetention),
			Detach:        a.PartitionRetentionMode == "detach",
			CheckInterval: time.Duration(a.PartitionCheckInterval),
		},
		Cluster: clusterSettings{
			APIAddr:   a.APIAddr,
			Join:      strings.Join(a.Join, " "),
			Bootstrap: a.bootstrap(),
			TLS:       a.clusterFiles(),
			Listen:    a.ClusterListen,
		},
	}
}

// handler returns the API handler, or nil before Start and after Stop.
func (a *App) handler() *api.Handler { return a.api.Load() }

// Interface guards.
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
	_ caddy.Validator   = (*App)(nil)
)
