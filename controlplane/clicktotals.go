package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shortify/shortify/controlplane/clicktotals"
	"github.com/shortify/shortify/internal/caddyopt"
	statsapi "github.com/shortify/shortify/stats/api"
)

// parseClickTotalsInterval reads `click_totals_interval <duration>|off`:
// 0 or off turns the leader's click-totals job off (stored as a negative
// duration, since 0 is the default's).
func (a *App) parseClickTotalsInterval(o *caddyopt.Option) error {
	v, err := o.One()
	if err != nil {
		return err
	}
	if v == "off" || v == "0" {
		a.ClickTotalsInterval = -1
		return nil
	}
	return o.PositiveDuration(&a.ClickTotalsInterval)
}

// clickTotalsInterval is the configured interval: the default for 0,
// and 0 (off) for a negative one.
func (a *App) clickTotalsInterval() time.Duration {
	switch d := time.Duration(a.ClickTotalsInterval); {
	case d < 0:
		return 0
	case d == 0:
		return clicktotals.DefaultInterval
	default:
		return d
	}
}

// startClickTotals opens a reader of the stats database and starts the
// leader's copy of the links' click totals, unless it is off.
func (s *service) startClickTotals(ctx context.Context, log *slog.Logger) (err error) {
	if s.cfg.ClickTotals <= 0 {
		log.Info("click totals off: links show the clicks they last had, and sort=clicks their order then")
		return nil
	}
	if s.totals, err = statsapi.OpenTotals(ctx, s.cfg.Partitions.StatsDatabase); err != nil {
		return fmt.Errorf("shortify: click totals: %w", err)
	}
	s.clickTotals, err = clicktotals.New(s.lead, clicktotals.Config{
		Source:   s.totals,
		Store:    s.store,
		Interval: s.cfg.ClickTotals,
		Metrics:  s.metrics.clickTotals,
		Logger:   log.With("component", "clicktotals"),
	})
	if err != nil {
		return fmt.Errorf("shortify: click totals: %w", err)
	}
	s.clickTotals.Start(context.Background())
	return nil
}

// closeClickTotals stops the job, then closes its reader.
func (s *service) closeClickTotals() error {
	var err error
	if s.clickTotals != nil {
		err = s.clickTotals.Close()
	}
	if s.totals != nil {
		if cerr := s.totals.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
