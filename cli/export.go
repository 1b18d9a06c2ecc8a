package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/shortify/shortify/client"
)

// ExportColumns is the CSV header of `shortify export`: the columns of
// the plain-CSV import format (url,alias,title,tags,expires_at,domain),
// so that an export imports again keeping every code, then the link's
// code, creation time and all-time click total.
var ExportColumns = []string{"url", "alias", "title", "tags", "expires_at", "domain", "code", "created_at", "clicks"}

// TagSeparator joins a link's tags in one CSV cell ("news|2026"), as the
// plain-CSV import format splits them. A tag may hold it (the API allows
// any one line of text): the export warns, as such a tag would import
// as two.
const TagSeparator = "|"

func init() {
	Register(Spec{
		Name:  "export",
		Usage: "[--format csv|jsonl] [--out FILE]",
		Short: "Writes every link of the workspace with its click total",
		Long: `Writes every link of the workspace, page after page, as CSV (the header
is ` + strings.Join(ExportColumns, ",") + `; tags joined with "` + TagSeparator + `")
or as JSON Lines (each line a link as the API returns it). The clicks are
the links' all-time totals, which the control plane refreshes
periodically (not live); --live-clicks asks the statistics API for each
link's total instead (exact to the last ingested click, one call a link).
The CSV is the plain-CSV import format, so "shortify import --from csv"
takes it back. Memory stays constant however many links there are; with
--out the file appears only once the export is complete.`,
		Build: buildExport,
	})
}

// exportBatch is how many links get their totals looked up together.
const exportBatch = 100

// totalsInFlight bounds the concurrent stats calls of a batch.
const totalsInFlight = 8

func buildExport(cmd *cobra.Command, e *Env) {
	var (
		format, out string
		live        bool
	)
	cmd.Example = `  shortify export --out links.csv
  shortify export --format jsonl | jq -r 'select(.clicks > 100) | .short_url'`
	cmd.Args = e.args()
	cmd.Flags().StringVar(&format, "format", "csv", "csv or jsonl")
	cmd.Flags().StringVar(&out, "out", "", "write to this file (default: standard output)")
	cmd.Flags().BoolVar(&live, "live-clicks", false, "take each link's click total from the statistics API (one call a link)")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		var enc recordWriter
		switch format {
		case "csv":
			enc = &csvRecords{warn: e.Stderr}
		case "jsonl":
			enc = &jsonlRecords{}
		default:
			return Usagef("--format must be csv or jsonl, not %q", format)
		}
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		w, commit, abort, err := e.output(out)
		if err != nil {
			return err
		}
		defer abort()
		x := exporter{c: c, now: e.now(), live: live}
		n, err := x.run(ctx, w, enc)
		if err != nil {
			return err
		}
		if err := commit(); err != nil {
			return err
		}
		if out != "" {
			fmt.Fprintf(e.Stderr, "exported %d links to %s\n", n, out)
		}
		return nil
	})
}

// output opens where the export goes: stdout, or a temporary file next
// to path that commit renames into place (abort removes it, and is a
// no-op after commit).
func (e *Env) output(path string) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "" {
		return e.Stdout, func() error { return nil }, func() {}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--out: %w", err)
	}
	done := false
	commit = func() error {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(f.Name(), path); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		done = true
		return nil
	}
	abort = func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}
	return f, commit, abort, nil
}

// recordWriter writes the links of an export in one format.
type recordWriter interface {
	begin(w io.Writer) error
	write(l *client.Link) error
	end() error
}

// exporter walks the links, a batch at a time (with live, looking up
// the batch's totals together), so that memory holds one batch whatever
// the workspace's size.
type exporter struct {
	c    *client.Client
	now  time.Time
	live bool
}

func (x exporter) run(ctx context.Context, w io.Writer, enc recordWriter) (int, error) {
	if err := enc.begin(w); err != nil {
		return 0, err
	}
	n := 0
	batch := make([]client.Link, 0, exportBatch)
	flush := func() error {
		if err := x.totals(ctx, batch); err != nil {
			return err
		}
		for i := range batch {
			if err := enc.write(&batch[i]); err != nil {
				return err
			}
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for l, err := range x.c.Links(ctx, client.ListLinksQuery{Limit: listPage}) {
		if err != nil {
			return n, err
		}
		if batch = append(batch, l); len(batch) == exportBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	return n, enc.end()
}

// statsDays bounds the range of a total: the statistics API answers at
// most 1,000 buckets, days here.
const statsDays = 1000

// totals replaces the batch's click totals with the statistics API's
// (with live), a few calls at a time: each link's clicks from the day it
// was made.
func (x exporter) totals(ctx context.Context, batch []client.Link) error {
	if !x.live {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(totalsInFlight)
	for i := range batch {
		r := &batch[i]
		g.Go(func() error {
			// Whole days from the link's to today's (or the link's, if
			// this machine's clock is behind the server's), both given:
			// from alone would end at the server's now.
			to := r.CreatedAt.UTC()
			if n := x.now.UTC(); n.After(to) {
				to = n
			}
			from := r.CreatedAt.UTC()
			if oldest := to.AddDate(0, 0, -(statsDays - 1)); from.Before(oldest) {
				from = oldest
			}
			s, err := x.c.LinkStats(ctx, r.Code, client.StatsQuery{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly),
				Granularity: "day", LinkID: r.ID, Domain: r.Domain})
			var p *client.Problem
			switch {
			case errors.As(err, &p) && p.Status == http.StatusNotFound:
				// The link was just listed as ours: a 404 is a link
				// nobody has clicked yet (the API keeps no row of it).
				r.Clicks, r.ClicksHumans = 0, 0
			case err != nil:
				return fmt.Errorf("the click total of %s: %w", r.Code, err)
			default:
				r.Clicks, r.ClicksHumans = s.Totals.Clicks, s.Totals.Humans
			}
			return nil
		})
	}
	return g.Wait()
}

// csvRecords writes the CSV of ExportColumns; warn hears of the tags
// that hold TagSeparator.
type csvRecords struct {
	w     *csv.Writer
	warn  io.Writer
	split []string
}

func (c *csvRecords) begin(w io.Writer) error {
	c.w = csv.NewWriter(w)
	return c.w.Write(ExportColumns)
}

func (c *csvRecords) write(x *client.Link) error {
	expires := ""
	if x.ExpiresAt != nil {
		expires = x.ExpiresAt.UTC().Format(time.RFC3339)
	}
	for _, t := range x.Tags {
		if strings.Contains(t, TagSeparator) && len(c.split) < 10 {
			c.split = append(c.split, x.Code+": "+t)
		}
	}
	// alias is the code: importing the file again keeps every short URL.
	if err := c.w.Write([]string{x.URL, x.Code, x.Title, strings.Join(x.Tags, TagSeparator), expires, x.Domain,
		x.Code, x.CreatedAt.UTC().Format(time.RFC3339), strconv.FormatInt(x.Clicks, 10)}); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

func (c *csvRecords) end() error {
	c.w.Flush()
	if len(c.split) > 0 {
		fmt.Fprintf(c.warn, "warning: tags holding %q import as several tags: %s\n", TagSeparator, strings.Join(c.split, "; "))
	}
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// jsonlRecords writes JSON Lines.
type jsonlRecords struct{ w io.Writer }

func (j *jsonlRecords) begin(w io.Writer) error { j.w = w; return nil }

func (j *jsonlRecords) write(x *client.Link) error {
	if err := writeJSONLine(j.w, x); err != nil {
		return err
	}
	_, err := io.WriteString(j.w, "\n")
	return err
}

func (j *jsonlRecords) end() error { return nil }
