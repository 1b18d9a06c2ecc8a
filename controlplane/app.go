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
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/targeturl"
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
	// RaftBind is the TCP address Raft listens on (default 127.0.0.1:8300).
	RaftBind string `json:"raft_bind,omitempty"`
	// RaftAdvertise is the address other nodes reach this one at (default
	// RaftBind).
	RaftAdvertise string `json:"raft_advertise,omitempty"`
	// Database is the link store's DSN: postgres://… or sqlite://PATH.
	// Default: sqlite://DataDir/links.db (the embedded default).
	Database string `json:"database,omitempty"`
	// Redis is the address of the L2 cache that creates write through and
	// deletes clear; empty means no Redis.
	Redis string `json:"redis,omitempty"`
	// RedisPrefix must equal the edges' redis_prefix (default
	// "shortify:link:").
	RedisPrefix string `json:"redis_prefix,omitempty"`
	// RedisTTL is the L2 entry lifetime (default 24h).
	RedisTTL caddy.Duration `json:"redis_ttl,omitempty"`
	// PublicURL is the base of returned short URLs, e.g. https://sho.rt.
	// Empty: taken from each request's scheme and Host.
	PublicURL string `json:"public_url,omitempty"`
	// OwnDomains are further host names of this shortener; targets on
	// them are refused (PublicURL's host always is).
	OwnDomains []string `json:"own_domains,omitempty"`
	// BlockedDomains are refused as targets, with their subdomains.
	BlockedDomains []string `json:"blocked_domains,omitempty"`
	// MaxURLLength bounds target URLs in bytes (default 2048).
	MaxURLLength int `json:"max_url_length,omitempty"`

	logger *slog.Logger
	svc    *service
	api    atomic.Pointer[api.Handler]
}

// CaddyModule returns the Caddy module information.
func (*App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "shortify",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision fills defaults. It opens nothing: that happens in Start.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Slogger()
	a.DataDir = cmp.Or(a.DataDir, filepath.Join(caddy.AppDataDir(), "shortify"))
	abs, err := filepath.Abs(a.DataDir)
	if err != nil {
		return fmt.Errorf("shortify: data_dir %q: %w", a.DataDir, err)
	}
	a.DataDir = abs
	a.NodeID = cmp.Or(a.NodeID, "node1")
	a.RaftBind = cmp.Or(a.RaftBind, DefaultRaftBind)
	a.RaftAdvertise = cmp.Or(a.RaftAdvertise, a.RaftBind)
	a.Database = cmp.Or(a.Database, "sqlite://"+filepath.Join(a.DataDir, "links.db"))
	a.RedisPrefix = cmp.Or(a.RedisPrefix, DefaultRedisPrefix)
	if a.RedisTTL == 0 {
		a.RedisTTL = caddy.Duration(DefaultRedisTTL)
	}
	a.MaxURLLength = cmp.Or(a.MaxURLLength, targeturl.DefaultMaxLength)
	return nil
}

// Validate checks the settings.
func (a *App) Validate() error {
	if a.MaxURLLength < 64 || a.MaxURLLength > 32<<10 {
		return fmt.Errorf("shortify: max_url_length %d is outside 64..32768", a.MaxURLLength)
	}
	if a.RedisTTL < 0 {
		return errors.New("shortify: redis_ttl must not be negative")
	}
	if a.PublicURL != "" {
		if err := api.CheckPublicURL(a.PublicURL); err != nil {
			return fmt.Errorf("shortify: %w", err)
		}
	}
	return nil
}

// Start opens (or, after a reload, reuses) the node and serves the API.
func (a *App) Start() error {
	svc, err := acquireService(a.serviceConfig(), a.logger)
	if err != nil {
		return err
	}
	h, err := api.New(api.Config{
		PublicURL: a.PublicURL,
		Targets: targeturl.Policy{
			MaxLength:      a.MaxURLLength,
			OwnHosts:       a.OwnDomains,
			BlockedDomains: a.BlockedDomains,
		},
		Logger: a.logger,
	}, svc.deps())
	if err != nil {
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
	if a.svc == nil {
		return nil
	}
	svc := a.svc
	a.svc = nil
	return releaseService(svc)
}

func (a *App) serviceConfig() serviceConfig {
	return serviceConfig{
		DataDir:       a.DataDir,
		NodeID:        a.NodeID,
		RaftBind:      a.RaftBind,
		RaftAdvertise: a.RaftAdvertise,
		Database:      a.Database,
		Redis:         a.Redis,
		RedisPrefix:   a.RedisPrefix,
		RedisTTL:      time.Duration(a.RedisTTL),
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
