package controlplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
	statsapi "github.com/shortify/shortify/stats/api"
)

// The stats services of the same config (shortify_ingest, shortify_stats)
// take these settings from the app through small interfaces of their own
// (stats.ControlPlane, handler.ControlPlane), so that stats/ does not
// depend on the control plane. They are read after Provision.

// StatsDSN returns the stats database's DSN (stats_database, default
// database).
func (a *App) StatsDSN() string { return a.StatsDatabase }

// KafkaClient returns the Kafka brokers and how a client authenticates to
// them (kafka_brokers, kafka_security).
func (a *App) KafkaClient() ([]string, kafkasec.Config) { return a.KafkaBrokers, a.KafkaSecurity }

// LinkEventsTopicName returns the link-events topic (link_events_topic).
func (a *App) LinkEventsTopicName() string { return a.LinkEventsTopic }

// WaitStatsDirectory returns the workspace registry and the link lookup
// that the stats API of the same config scopes its requests by: this
// node's copy of the FSM and its link store. It waits for the start as
// WaitKeys does; nil when the app did not start in time or is stopping.
func (a *App) WaitStatsDirectory(ctx context.Context) statsapi.Directory {
	if a.waitHandler(ctx, DefaultStartWait) == nil {
		return nil
	}
	svc := a.runningService()
	if svc == nil || svc.node == nil || svc.store == nil {
		return nil
	}
	return statsDirectory{node: svc.node, store: svc.store}
}

// runningService is the node service of a.DataDir that Start acquired,
// read from the usage pool (whose lock orders it after Start) rather than
// from a.svc, which Stop clears while a stats request may be reading it.
func (a *App) runningService() *service {
	var svc *service
	services.Range(func(key, value any) bool {
		if key == a.DataDir {
			svc, _ = value.(*service)
			return false
		}
		return true
	})
	return svc
}

// statsDirectory is statsapi.Directory on a node and its link store.
type statsDirectory struct {
	node  *cluster.Node
	store linkstore.Store
}

// Workspace implements statsapi.Directory.
func (d statsDirectory) Workspace(id int64) (statsapi.Workspace, bool) {
	w, ok := d.node.Workspace(id)
	return statsapi.Workspace{ID: w.ID, Name: w.Name}, ok
}

// WorkspaceByName implements statsapi.Directory.
func (d statsDirectory) WorkspaceByName(name string) (statsapi.Workspace, bool) {
	w, ok := d.node.WorkspaceByName(name)
	return statsapi.Workspace{ID: w.ID, Name: w.Name}, ok
}

// Workspaces implements statsapi.Directory.
func (d statsDirectory) Workspaces() []statsapi.Workspace {
	all := d.node.Workspaces()
	out := make([]statsapi.Workspace, 0, len(all))
	for _, w := range all {
		out = append(out, statsapi.Workspace{ID: w.ID, Name: w.Name})
	}
	return out
}

// Link implements statsapi.Directory with the redirect path's read
// (Lookup): a link the edge still answers for (live, expired, taken down)
// is the one its statistics belong to; a deleted one is not found.
func (d statsDirectory) Link(ctx context.Context, domain, code string) (statsapi.LinkRef, bool, error) {
	l, err := d.store.Lookup(ctx, domain, code)
	switch {
	case errors.Is(err, linkstore.ErrNotFound):
		return statsapi.LinkRef{}, false, nil
	case err != nil:
		return statsapi.LinkRef{}, false, fmt.Errorf("look up link %q on %q: %w", code, domain, err)
	}
	return statsapi.LinkRef{ID: l.ID, Workspace: workspace.Of(l.WorkspaceID)}, true, nil
}
