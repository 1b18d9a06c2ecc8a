package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
)

// services holds the running nodes, one per data directory, across config
// reloads.
var services = caddy.NewUsagePool()

// serviceConfig is what a running node is built from; a reload that
// changes it needs a restart to take effect.
type serviceConfig struct {
	DataDir, NodeID, RaftBind, RaftAdvertise string
	Database, Redis, RedisPrefix             string
	RedisTTL                                 time.Duration
}

// service is one running control-plane node: Raft, the link store and the
// optional Redis L2.
type service struct {
	cfg   serviceConfig
	node  *cluster.Node
	store linkstore.Store
	redis redis.UniversalClient
	cache *l2cache.Cache
}

// Destruct shuts the node down; the usage pool calls it when the last
// config holding the node is stopped.
func (s *service) Destruct() error {
	var errs []error
	if s.node != nil {
		errs = append(errs, s.node.Close())
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	if s.store != nil {
		s.store.Close()
	}
	return errors.Join(errs...)
}

func (s *service) deps() api.Deps {
	d := api.Deps{
		Store:  s.store,
		Issuer: s.node,
		Ready:  func(context.Context) error { return s.node.Ready() },
	}
	if s.cache != nil {
		d.Cache = s.cache
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
	s := &service{cfg: cfg}
	defer func() {
		if err != nil {
			_ = s.Destruct()
		}
	}()
	s.store, err = backend.Open(ctx, linkstore.Config{DSN: cfg.Database, Migrate: true})
	if err != nil {
		return nil, fmt.Errorf("shortify: open link store: %w", err)
	}
	if cfg.Redis != "" {
		s.redis, err = l2cache.NewClient(cfg.Redis)
		if err != nil {
			return nil, fmt.Errorf("shortify: redis: %w", err)
		}
		s.cache = l2cache.New(s.redis, cfg.RedisPrefix, cfg.RedisTTL)
	}
	s.node, err = cluster.Open(ctx, cluster.Config{
		NodeID:        cfg.NodeID,
		DataDir:       cfg.DataDir,
		BindAddr:      cfg.RaftBind,
		AdvertiseAddr: cfg.RaftAdvertise,
		Bootstrap:     true,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("shortify: start control-plane node %s: %w", cfg.NodeID, err)
	}
	log.Info("control-plane node ready", "node_id", cfg.NodeID, "raft", cfg.RaftAdvertise, "data_dir", cfg.DataDir)
	return s, nil
}
