package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/shortify/shortify/client"
)

func init() {
	Register(Spec{
		Name:  "stats",
		Usage: "CODE [--from DATE] [--to DATE] [--dimension NAME]...",
		Short: "Shows a link's clicks: totals, a series and the top values",
		Long: `Shows one link's statistics from the statistics API: the totals of the
range, the buckets that had clicks, and the top values of each dimension
asked for (country, referrer and device by default; also browser, os,
status and, for smart links, variant). The range is the last 30 days by
default; --from and --to take UTC dates (whole days) or RFC 3339 times.`,
		Build: buildStats,
	})
}

// defaultDimensions are ranked when --dimension is not given.
var defaultDimensions = []string{"country", "referrer", "device"}

// statsReport is what `stats --json` prints: the API's two answers.
type statsReport struct {
	Stats *client.LinkStats      `json:"stats"`
	Top   map[string]*client.Top `json:"top"`
}

func buildStats(cmd *cobra.Command, e *Env) {
	var (
		q    client.StatsQuery
		dims []string
	)
	cmd.Example = `  shortify stats launch
  shortify stats launch --from 2026-11-01 --to 2026-11-30 --dimension country --dimension browser
  shortify stats launch --granularity hour --traffic human --json`
	cmd.Args = e.args("CODE")
	fl := cmd.Flags()
	fl.StringVar(&q.From, "from", "", "first day (UTC date) or time (RFC 3339)")
	fl.StringVar(&q.To, "to", "", "last day (UTC date) or time (RFC 3339)")
	fl.StringVar(&q.Granularity, "granularity", "", "bucket size: day (default) or hour")
	fl.StringVar(&q.Traffic, "traffic", "", "all (default), human or bot")
	fl.StringArrayVar(&dims, "dimension", nil, "rank this dimension (repeat; default country, referrer, device)")
	fl.IntVar(&q.Limit, "limit", 5, "values per ranking")
	fl.StringVar(&q.Domain, "domain", "", "the link's custom domain")
	fl.StringVar(&q.LinkID, "link-id", "", "one link of a code that has had several")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		if len(dims) == 0 {
			dims = defaultDimensions
		}
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		r := statsReport{Top: map[string]*client.Top{}}
		// The series takes the range alone; the rankings their length
		// and the traffic class too.
		series := q
		series.Limit, series.Traffic = 0, ""
		if r.Stats, err = c.LinkStats(ctx, args[0], series); err != nil {
			return e.noStats(ctx, cmd, c, args[0], q.Domain, err)
		}
		// The rankings are of the link the totals are of, even when the
		// code has named another since.
		q.LinkID = r.Stats.LinkID
		for _, d := range dims {
			if r.Top[d], err = c.LinkTop(ctx, args[0], d, q); err != nil {
				return err
			}
		}
		if e.Options(cmd).JSON {
			return writeJSON(e.Stdout, r)
		}
		return e.printStats(r, dims)
	})
}

func (e *Env) printStats(r statsReport, dims []string) error {
	s := r.Stats
	w := e.Stdout
	layout := "2006-01-02"
	if s.Granularity == "hour" {
		layout = "2006-01-02 15:04"
	}
	fmt.Fprintf(w, "%s (link %s), %s to %s UTC, by %s\n\n", printable(s.Code), printable(s.LinkID),
		s.From.UTC().Format("2006-01-02 15:04"), s.To.UTC().Format("2006-01-02 15:04"), s.Granularity)
	t := s.Totals
	if err := fields(w, "Clicks", itoa(t.Clicks), "Humans", itoa(t.Humans), "Bots", itoa(t.Bots), "Visitors", itoa(t.Visitors)); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if t.Clicks == 0 {
		fmt.Fprintf(w, "no clicks in these %d buckets\n", len(s.Series.Series))
	} else {
		tab := NewTable(w, "BUCKET", "CLICKS", "HUMANS", "BOTS")
		quiet := 0
		for _, p := range s.Series.Series {
			if p.Clicks == 0 {
				quiet++
				continue
			}
			tab.Row(p.Bucket.UTC().Format(layout), itoa(p.Clicks), itoa(p.Humans), itoa(p.Bots))
		}
		if err := tab.Flush(); err != nil {
			return err
		}
		if quiet > 0 {
			fmt.Fprintf(w, "(%d of %d buckets without clicks not shown)\n", quiet, len(s.Series.Series))
		}
	}
	for _, d := range dims {
		top := r.Top[d]
		fmt.Fprintf(w, "\nTop %s\n", d)
		if len(top.Items) == 0 {
			fmt.Fprintln(w, "(none)")
			continue
		}
		tab := NewTable(w, "VALUE", "CLICKS", "HUMANS", "BOTS")
		for _, it := range top.Items {
			tab.Row(ellipsis(it.Value, 60), itoa(it.Clicks), itoa(it.Humans), itoa(it.Bots))
		}
		if err := tab.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// noStats answers a failed LinkStats: the statistics API answers 404 for
// a link nobody has clicked yet, which is no error to the user when the
// link exists (the control plane says so): zero clicks.
func (e *Env) noStats(ctx context.Context, cmd *cobra.Command, c *client.Client, code, domain string, err error) error {
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusNotFound {
		return err
	}
	l, lerr := c.GetLink(ctx, code, domain)
	if lerr != nil {
		return err
	}
	if e.Options(cmd).JSON {
		return writeJSON(e.Stdout, statsReport{
			Stats: &client.LinkStats{Code: l.Code, LinkID: l.ID, Domain: l.Domain, Series: client.Series{Series: []client.Point{}}},
			Top:   map[string]*client.Top{},
		})
	}
	fmt.Fprintf(e.Stdout, "%s (link %s): no clicks recorded yet\n", printable(l.Code), printable(l.ID))
	return nil
}
