package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/controlplane/cleanup"
	"github.com/shortify/shortify/controlplane/clicktotals"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/domainsync"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/controlplane/partitions"
	"github.com/shortify/shortify/controlplane/seqfloor"
	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/controlplane/titlefetch"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
	"github.com/shortify/shortify/internal/linkstore/batch"
	"github.com/shortify/shortify/internal/tracing"
	statsapi "github.com/shortify/shortify/stats/api"
	statsparts "github.com/shortify/shortify/stats/partitions"
	whstore "github.com/shortify/shortify/webhooks/store"
)

// services holds the running nodes, one per data directory, across config
// reloads.
var services = caddy.NewUsagePool()

// serviceConfig is what a running node is built from; a reload that
// changes it needs a restart to take effect.
type serviceConfig struct {
	DataDir, NodeID, RaftBind, RaftAdvertise string
	Cluster                                  clusterSettings
	Database, Redis, RedisPrefix             string
	RedisTTL                                 time.Duration
	InitialAPIKey                            string
	AuditRetention                           time.Duration
	Partitions                               partitionSettings
	Events                                   eventSettings
	Threats                                  threatSettings
	Titles                                   titleSettings
	// ClickTotals is the click-totals job's interval (0: off).
	ClickTotals time.Duration
	// RestoreFrom is the backup a new cluster starts from ("": none).
	RestoreFrom string
}

// partitionSettings configure the stats database and the leader's upkeep
// of its statsparts.
type partitionSettings struct {
	StatsDatabase string // DSN; the link database's by default
	MonthsAhead   int
	Retention     time.Duration
	Detach        bool
	CheckInterval time.Duration
}

// clusterSettings are the node's cluster membership settings (App's
// api_addr, join, bootstrap, cluster_ca/cert/key and cluster_listen).
type clusterSettings struct {
	APIAddr   string
	Join      string // space-separated, so that the struct compares
	Bootstrap bool
	TLS       clustertls.Files
	Listen    string
}

// service is one running control-plane node: Raft, the link store and the
// optional Redis L2.
type service struct {
	cfg  serviceConfig
	node *cluster.Node
	// internal is the internal listener of node-to-node calls (nil
	// without cluster_listen).
	internal *internalServer
	store    linkstore.Store
	// ledger records the sequence mark and the key revocations in the
	// link database, for a restore (package seqfloor).
	ledger *seqfloor.Ledger
	// creates groups concurrent creates into multi-row inserts.
	creates *batch.Batcher
	redis   redis.UniversalClient
	cache   *l2cache.Cache
	// parts administers the stats partitions; upkeep runs it while this
	// node leads, as lead tells.
	parts  *statsparts.Manager
	upkeep *partitions.Scheduler
	lead   *leader.Polled
	// events publishes link events (nil: no kafka_brokers); cleaner
	// deletes expired links while this node leads.
	events  *producer.Producer
	cleaner *cleanup.Cleaner
	// metrics are the service's Prometheus counters (metrics.go).
	metrics *serviceMetrics
	// audit is the audit log and the reports, auditRec the recorder of
	// the API's writes, auditUpkeep its retention (auditlog.go).
	audit       *audit.Store
	auditRec    *audit.Recorder
	auditUpkeep *partitions.Scheduler
	// blocks is the shared block set and review flags in the link
	// database; threats refreshes it while this node leads; watcher
	// keeps this node's copy for the create checks (threats.go).
	blocks  blockset.Store
	threats *threatfeed.Refresher
	watcher *blockset.Watcher
	// mirror is the custom-domain registry's copy in the link database,
	// which domainSync keeps equal to the FSM's while this node leads
	// (domainmirror.go).
	mirror     domainmirror.Store
	domainSync *domainsync.Syncer
	// clickTotals copies the links' click totals from the stats
	// database (totals) while this node leads (clicktotals.go).
	clickTotals *clicktotals.Job
	totals      statsapi.TotalsReader
	// titles fetches the titles of links created without one (nil:
	// fetch_titles off; titles.go).
	titles *titlefetch.Fetcher
	// hooks is the webhook store behind /api/v1/webhooks
	// (webhookstore.go).
	hooks *whstore.Store
	// tracingRelease lets go of the process's tracer provider, held for
	// the spans no request starts: Raft proposals of the background jobs
	// (tracing.go; a no-op while tracing is off).
	tracingRelease func(context.Context) error
}

// Destruct shuts the node down; the usage pool calls it when the last
// config holding the node is stopped.
func (s *service) Destruct() error {
	var errs []error
	if s.titles != nil {
		s.titles.Close() // before the store it writes
	}
	if s.upkeep != nil {
		errs = append(errs, s.upkeep.Close())
	}
	errs = append(errs, s.closeAudit())
	if s.hooks != nil {
		s.hooks.Close()
	}
	errs = append(errs, s.closeClickTotals()) // before the store it writes
	if s.cleaner != nil {
		errs = append(errs, s.cleaner.Close()) // before the producer and the store it uses
	}
	if s.threats != nil {
		errs = append(errs, s.threats.Close()) // before the stores it writes
	}
	errs = append(errs, s.closeDomainMirror())
	if s.watcher != nil {
		s.watcher.Close()
	}
	if s.blocks != nil {
		s.blocks.Close()
	}
	if s.lead != nil {
		s.lead.Close()
	}
	if s.node != nil {
		errs = append(errs, s.node.Close())
	}
	if s.internal != nil {
		errs = append(errs, s.internal.Close())
	}
	if s.events != nil {
		errs = append(errs, s.events.Close()) // delivers what it can within its bound
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	if s.ledger != nil {
		s.ledger.Close() // after the node, whose refills write it
	}
	if s.store != nil {
		if s.creates != nil {
			s.creates.Close() // finishes the queued creates first
		}
		s.store.Close()
	}
	if s.parts != nil {
		s.parts.Close()
	}
	errs = append(errs, s.releaseTracing()) // last: the spans of the closes above
	return errors.Join(errs...)
}

func (s *service) deps() api.Deps {
	d := api.Deps{
		Store:      s.store,
		Creator:    s.creates,
		Keys:       ledgerKeys{nodeKeys{s.node}, s.ledger},
		Blocklist:  s.node,
		Domains:    s.node,
		Workspaces: s.node,
		// Workspace and domain writes go through Raft, forwarded to the
		// leader with the caller's key.
		WorkspaceAdmin: s.node,
		DomainAdmin:    s.node,
		Issuer:         s.node,
		// The node forwards writes to the leader and serves the
		// /api/v1/cluster routes.
		Cluster: s.node,
		Ready:   func(context.Context) error { return s.node.Ready() },
		Creates: s.metrics,
	}
	if s.cache != nil {
		d.Cache = s.cache
	}
	if s.parts != nil {
		d.Partitions = s.parts
	}
	if s.node != nil {
		d.PartitionPolicy = nodePolicy{s.node}
	}
	if s.events != nil {
		d.Events = s.events
	}
	s.auditDeps(&d)
	s.webhookDeps(&d)
	if s.watcher != nil {
		d.Threats = s.watcher
	}
	if s.blocks != nil {
		d.Reviews = s.blocks
	}
	if s.titles != nil {
		d.Titles = s.titles
	}
	return d
}

func acquireService(cfg serviceConfig, log *slog.Logger) (*service, error) {
	v, loaded, err := services.LoadOrNew(cfg.DataDir, func() (caddy.Destructor, error) {
		return openService(cfg, log)
	})
	if err != nil {
		return nil, err
	}
	svc := v.(*service)
	if loaded && svc.cfg != cfg {
		log.Warn("the control plane's node settings changed; they take effect after a restart (the running node keeps its settings)",
			"data_dir", cfg.DataDir)
	}
	return svc, nil
}

func releaseService(svc *service) error {
	_, err := services.Delete(svc.cfg.DataDir)
	return err
}

func openService(cfg serviceConfig, log *slog.Logger) (_ *service, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s := &service{cfg: cfg, metrics: newServiceMetrics()}
	defer func() {
		if err != nil {
			_ = s.Destruct()
		}
	}()
	if s.tracingRelease, err = tracing.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("shortify: %w", err)
	}
	s.store, err = backend.Open(ctx, linkstore.Config{DSN: cfg.Database, Migrate: true})
	if err != nil {
		return nil, fmt.Errorf("shortify: open link store: %w", err)
	}
	s.creates = batch.New(s.store, batch.Options{})
	if s.ledger, err = seqfloor.Open(ctx, cfg.Database); err != nil {
		return nil, fmt.Errorf("shortify: open the sequence ledger: %w", err)
	}
	if cfg.Redis != "" {
		s.redis, err = l2cache.NewClient(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("shortify: redis: %w", err)
		}
		s.cache = l2cache.New(s.redis, cfg.RedisPrefix, cfg.RedisTTL)
	}
	var tc *clustertls.Config
	if cfg.Cluster.TLS.Set() {
		if tc, err = clustertls.Load(cfg.Cluster.TLS); err != nil {
			return nil, fmt.Errorf("shortify: cluster TLS: %w", err)
		}
	}
	if cfg.Cluster.Listen != "" {
		// Listening before the node opens: the other members reach this
		// node (503 until it is ready) while it joins and catches up.
		if s.internal, err = listenInternal(cfg.Cluster.Listen, tc, log); err != nil {
			return nil, err
		}
	}
	s.node, err = cluster.Open(ctx, cluster.Config{
		NodeID:        cfg.NodeID,
		DataDir:       cfg.DataDir,
		BindAddr:      cfg.RaftBind,
		AdvertiseAddr: cfg.RaftAdvertise,
		Bootstrap:     cfg.Cluster.Bootstrap,
		APIAddr:       cfg.Cluster.APIAddr,
		Join:          strings.Fields(cfg.Cluster.Join),
		TLS:           tc,
		RecordBlock:   s.ledger.RecordBlock,
		Restore:       restoreFrom(cfg, s.ledger, log),
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("shortify: start control-plane node %s: %w", cfg.NodeID, err)
	}
	if s.internal != nil {
		s.internal.serve(s.node)
	}
	if err := ensureAdminKey(ctx, s.node, cfg.InitialAPIKey, stderrOutput(cfg.DataDir), log); err != nil {
		return nil, err
	}
	if err := seedPartitionPolicy(ctx, s.node, cfg.Partitions, log); err != nil {
		return nil, err
	}
	if err := s.startPartitions(ctx, log); err != nil {
		return nil, err
	}
	if err := s.startAudit(ctx, log); err != nil {
		return nil, err
	}
	if err := s.openWebhooks(ctx); err != nil {
		return nil, err
	}
	if err := s.startLinkEvents(log); err != nil {
		return nil, err
	}
	if err := s.startCleanup(log); err != nil {
		return nil, err
	}
	if err := s.startThreats(ctx, log); err != nil {
		return nil, err
	}
	if err := s.startDomainMirror(ctx, log); err != nil {
		return nil, err
	}
	if err := s.startClickTotals(ctx, log); err != nil {
		return nil, err
	}
	if err := s.startTitles(log); err != nil {
		return nil, err
	}
	log.Info("control-plane node ready", "node_id", cfg.NodeID, "raft", cfg.RaftAdvertise, "data_dir", cfg.DataDir)
	return s, nil
}

// startPartitions opens the stats database (creating its schema) and
// starts the partition upkeep, which runs while this node is the leader.
func (s *service) startPartitions(ctx context.Context, log *slog.Logger) (err error) {
	ps := s.cfg.Partitions
	s.parts, err = statsparts.Open(ctx, statsparts.Config{
		DSN:         ps.StatsDatabase,
		LinksDSN:    s.cfg.Database,
		Migrate:     true,
		MonthsAhead: ps.MonthsAhead,
		Retention:   ps.Retention,
		Detach:      ps.Detach,
		// List and Drop judge "past retention" by the replicated policy,
		// as the upkeep does.
		Policy: nodePolicy{s.node},
		// Every create, detach and drop is recorded in the replicated
		// catalogue.
		Catalogue: nodeCatalogue{s.node},
		Logger:    log.With("component", "partitions"),
	})
	if err != nil {
		return fmt.Errorf("shortify: open stats database: %w", err)
	}
	node := s.node
	s.lead = leader.Poll(func() bool { return node.State().RaftState == "Leader" }, leaderPollInterval)
	s.upkeep, err = partitions.NewScheduler(s.parts, s.lead, partitions.SchedulerConfig{
		Interval: ps.CheckInterval,
		Logger:   log.With("component", "partitions"),
		// Every run reads the replicated policy: a change applies to the
		// leader's next run.
		Policy: nodePolicy{node},
		OnRun:  s.metrics.upkeepRun,
	})
	if err != nil {
		return fmt.Errorf("shortify: partition upkeep: %w", err)
	}
	s.upkeep.Start(context.Background())
	return nil
}

// seedPartitionPolicy makes the configured partition_* settings the
// cluster's partition policy when it has none yet: they only seed it, and
// the policy set since (PUT /api/v1/admin/partitions/policy) is kept.
func seedPartitionPolicy(ctx context.Context, node *cluster.Node, ps partitionSettings, log *slog.Logger) error {
	if p, ok := node.PartitionPolicy(); ok {
		log.Debug("partition policy", "months_ahead", p.MonthsAhead, "retention_days", p.RetentionDays, "detach", p.Detach)
		return nil
	}
	p, err := node.SeedPartitionPolicy(ctx, fsm.PartitionPolicy{
		MonthsAhead:   ps.MonthsAhead,
		RetentionDays: retentionDays(ps.Retention),
		Detach:        ps.Detach,
	})
	if err != nil {
		return fmt.Errorf("shortify: store the initial partition policy: %w", err)
	}
	log.Info("partition policy", "months_ahead", p.MonthsAhead, "retention_days", p.RetentionDays, "detach", p.Detach)
	return nil
}

// retentionDays is a configured retention in whole days (rounded up),
// within the policy's bounds.
func retentionDays(d time.Duration) int {
	const day = 24 * time.Hour
	days := (d + day - 1) / day
	return int(min(max(days, 1), fsm.MaxPolicyRetentionDays))
}

// nodePolicy is the node's replicated partition policy as the API and the
// partition upkeep see it.
type nodePolicy struct{ node *cluster.Node }

// PartitionPolicy implements api.PartitionPolicyStore.
func (n nodePolicy) PartitionPolicy() (api.PartitionPolicy, bool) {
	p, ok := n.node.PartitionPolicy()
	return api.PartitionPolicy{MonthsAhead: p.MonthsAhead, RetentionDays: p.RetentionDays, Detach: p.Detach}, ok
}

// SetPartitionPolicy implements api.PartitionPolicyStore.
func (n nodePolicy) SetPartitionPolicy(ctx context.Context, p api.PartitionPolicy) error {
	return n.node.SetPartitionPolicy(ctx, fsm.PartitionPolicy{MonthsAhead: p.MonthsAhead, RetentionDays: p.RetentionDays, Detach: p.Detach})
}

// Policy implements statsparts.PolicySource.
func (n nodePolicy) Policy() (statsparts.Policy, bool) {
	p, ok := n.node.PartitionPolicy()
	if !ok {
		return statsparts.Policy{}, false
	}
	return statsparts.Policy{MonthsAhead: p.MonthsAhead, Retention: time.Duration(p.RetentionDays) * 24 * time.Hour, Detach: p.Detach}, true
}

// leaderPollInterval is how often the upkeep's leadership adapter reads
// the node's Raft state: cluster.Node has no leadership notification.
const leaderPollInterval = time.Second
