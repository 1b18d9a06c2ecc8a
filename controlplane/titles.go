package controlplane

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shortify/shortify/controlplane/titlefetch"
	"github.com/shortify/shortify/internal/safedial"
)

// titleSettings configure the background title fetch (App's fetch_titles
// and outbound_allow_private).
type titleSettings struct {
	Fetch        bool
	AllowPrivate bool
}

// startTitles starts the title fetch of links created without a title,
// unless fetch_titles is off. Every node fetches the titles of the links
// created through it.
func (s *service) startTitles(log *slog.Logger) error {
	if !s.cfg.Titles.Fetch {
		log.Info("title fetch off (fetch_titles off)")
		return nil
	}
	log = log.With("component", "title-fetch")
	o := outboundOptions(s.cfg.Titles.AllowPrivate, log)
	o.Timeout, o.MaxRedirects = titlefetch.DefaultTimeout, safedial.DefaultMaxRedirects
	f, err := titlefetch.Start(context.Background(), titlefetch.Config{
		Client:  safedial.Client(o),
		Store:   s.store,
		Metrics: s.metrics.titles,
		Logger:  log,
	})
	if err != nil {
		return fmt.Errorf("shortify: title fetch: %w", err)
	}
	s.titles = f
	return nil
}
