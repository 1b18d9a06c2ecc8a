package controlplane

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/caddyopt"
	"github.com/shortify/shortify/internal/threatlist"
)

// ThreatFeed is one threat feed of the app's config (threat_feed).
type ThreatFeed struct {
	// Name names the feed in refusals, review flags, logs and metrics.
	Name string `json:"name"`
	// Format is urlhaus, openphish, phishtank or plain.
	Format string `json:"format"`
	// Location is a file path or an https:// URL.
	Location string `json:"location"`
}

// threatSettings are the node's threat-feed settings, comparable (the
// feeds as text) so that serviceConfig stays comparable.
type threatSettings struct {
	Feeds            string // one "name\tformat\tlocation" a line
	Refresh          time.Duration
	BlocklistRefresh time.Duration
}

// parseThreatFeed reads `threat_feed <name> <format> <file-or-https-url>`.
func (a *App) parseThreatFeed(o *caddyopt.Option) error {
	if len(o.Args) != 3 {
		return o.Errf("threat_feed takes a name, a format and a file or https URL, got %d values", len(o.Args))
	}
	a.ThreatFeeds = append(a.ThreatFeeds, ThreatFeed{Name: o.Args[0], Format: o.Args[1], Location: o.Args[2]})
	return nil
}

// fillThreatDefaults sets the refresh intervals' defaults.
func (a *App) fillThreatDefaults() {
	a.ThreatFeedRefresh = cmp.Or(a.ThreatFeedRefresh, caddy.Duration(threatfeed.DefaultRefresh))
	a.BlocklistRefresh = cmp.Or(a.BlocklistRefresh, caddy.Duration(blockset.DefaultRefresh))
}

// validateThreats checks the feeds and intervals.
func (a *App) validateThreats() error {
	seen := make(map[string]bool)
	for _, f := range a.ThreatFeeds {
		switch {
		case f.Name == "" || strings.ContainsAny(f.Name, "\t\n") || f.Name == threatfeed.AdminSource:
			return fmt.Errorf("shortify: threat_feed name %q is empty, reserved or holds a tab or newline", f.Name)
		case seen[f.Name]:
			return fmt.Errorf("shortify: threat_feed %q is configured twice", f.Name)
		case f.Location == "" || strings.ContainsAny(f.Location, "\t\n"):
			return fmt.Errorf("shortify: threat_feed %q has no file path or URL", f.Name)
		case strings.Contains(f.Location, "://") && !strings.HasPrefix(f.Location, "https://"):
			return fmt.Errorf("shortify: threat_feed %q: %q is neither a file path nor an https URL", f.Name, f.Location)
		}
		seen[f.Name] = true
		if _, err := threatlist.ParseFormat(f.Format); err != nil {
			return fmt.Errorf("shortify: threat_feed %q: %w", f.Name, err)
		}
	}
	if a.ThreatFeedRefresh < caddy.Duration(time.Minute) {
		return fmt.Errorf("shortify: threat_feed_refresh %s is below 1m", time.Duration(a.ThreatFeedRefresh))
	}
	if a.BlocklistRefresh <= 0 || a.BlocklistRefresh > caddy.Duration(time.Minute) {
		return fmt.Errorf("shortify: blocklist_refresh %s is outside (0, 1m]: a block must reach every node within a minute", time.Duration(a.BlocklistRefresh))
	}
	return nil
}

// threatSettings are the feeds with the placeholders of their locations
// expanded ({env.PHISHTANK_KEY}: keys stay out of the config).
func (a *App) threatSettings() threatSettings {
	repl := caddy.NewReplacer()
	var b strings.Builder
	for _, f := range a.ThreatFeeds {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", f.Name, f.Format, repl.ReplaceKnown(f.Location, ""))
	}
	return threatSettings{Feeds: b.String(), Refresh: time.Duration(a.ThreatFeedRefresh), BlocklistRefresh: time.Duration(a.BlocklistRefresh)}
}

// feeds are the settings' feeds, validated by validateThreats.
func (t threatSettings) feeds() []threatfeed.Feed {
	var out []threatfeed.Feed
	for line := range strings.Lines(t.Feeds) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		out = append(out, threatfeed.Feed{Name: f[0], Format: threatlist.Format(f[1]), Location: f[2]})
	}
	return out
}

// startThreats opens the block set in the link database, starts the
// leader's refresh of it, and this node's watcher of it (for the create
// checks).
func (s *service) startThreats(ctx context.Context, log *slog.Logger) (err error) {
	if s.blocks, err = blockset.Open(ctx, s.cfg.Database, true); err != nil {
		return fmt.Errorf("shortify: open the block set: %w", err)
	}
	node := s.node
	s.threats, err = threatfeed.New(s.lead, threatfeed.Config{
		Feeds:   s.cfg.Threats.feeds(),
		Refresh: s.cfg.Threats.Refresh,
		Poll:    s.cfg.Threats.BlocklistRefresh,
		Admin:   node.BlockedDomains,
		Store:   s.blocks,
		Links:   s.store,
		// This node's create checks see a new set at once.
		Written: func() { s.watcher.Poke() },
		Logger:  log.With("component", "threatfeed"),
		Metrics: s.metrics.threats,
	})
	if err != nil {
		return fmt.Errorf("shortify: threat feeds: %w", err)
	}
	// The watcher reads the store this node has open rather than a second
	// pool (and, on SQLite, a second migration check) on the same database.
	blocks := ownedStore{s.blocks}
	wlog := log.With("component", "blockset")
	s.watcher = blockset.Watch(blockset.WatcherConfig{
		Open:    func(context.Context) (blockset.Store, error) { return blocks, nil },
		Every:   s.cfg.Threats.BlocklistRefresh,
		OnError: func(err error) { wlog.Warn("could not reload the shared block set; the last one stays", "err", err) },
		OnLoad: func(gen int64, n int) {
			wlog.Info("shared block set loaded", "generation", gen, "entries", n)
		},
	})
	s.threats.Start(context.Background()) // after s.watcher is set: Written pokes it
	return nil
}

// ownedStore is the service's block set as its watcher sees it: the
// service closes it, after the watcher, so the watcher's Close leaves it
// open.
type ownedStore struct{ blockset.Store }

func (ownedStore) Close() {}
