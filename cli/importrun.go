package cli

// This file is the engine of `shortify import`: it reads an export's
// records (package cli/imports) and creates their links through the bulk
// API, a few batches in flight, keeping each original code as the alias
// where it can. Each link carries its record's external ID, so that the
// records of an earlier run answer "already there" instead of being
// created twice: a second run creates nothing, and a run stopped halfway
// completes the rest when started again. A record whose alias the
// workspace's own link to the same URL holds (an export imported back)
// is already there too.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/cli/imports"
	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/shortcode"
)

// MaxImportBatch is the links per bulk request: the API's bulk maximum.
const MaxImportBatch = 1000

// bulkCreator is the one API call the importer makes.
type bulkCreator interface {
	CreateLinksBulk(ctx context.Context, links []client.CreateLinkRequest) (*client.BulkResponse, error)
}

// importConfig is what the command's flags ask of a run.
type importConfig struct {
	// Format is the export's format (in the keys of the report).
	Format imports.Format
	// Domain puts every link on this Shortify domain ("" : the plain
	// CSV's domain column, else the instance's own host).
	Domain string
	// Tags are added to every link.
	Tags []string
	// DryRun reads and checks the file and sends nothing.
	DryRun bool
	// StopOnBad ends the run at the first bad record instead of
	// reporting it and going on.
	StopOnBad bool
	// Batch is the links per request (at most MaxImportBatch) and
	// Parallel the requests in flight.
	Batch, Parallel int
	// Now is the clock that tells links already expired in the source.
	Now func() time.Time
	// Backoff is the first wait before a link refused with 429 or 503
	// is sent again (it doubles, up to 30 s; default 1 s).
	Backoff time.Duration
}

// maxAttempts bounds the sends of one link that keeps being refused with
// 429 or 503.
const maxAttempts = 8

// importItem is one record on its way.
type importItem struct {
	rec      imports.Record
	req      client.CreateLinkRequest
	renamed  string // why the original code is not the alias ("" : kept, or none)
	attempts int
}

// Rename is a record whose original code could not be its alias.
type Rename struct {
	Line int    `json:"line"`
	Key  string `json:"source_key"`
	From string `json:"from"`
	To   string `json:"to"`
	Why  string `json:"why"`
}

// Failure is a record that was not imported, and why.
type Failure struct {
	Line   int    `json:"line"`
	Key    string `json:"source_key,omitempty"`
	Reason string `json:"reason"`
}

// ImportReport is the outcome of a run.
type ImportReport struct {
	Read     int64         `json:"read"`
	Created  int64         `json:"created"`
	Existing int64         `json:"already_imported"`
	Skipped  int64         `json:"skipped_expired"`
	Renamed  []Rename      `json:"renamed"`
	Failed   []Failure     `json:"failed"`
	DryRun   bool          `json:"dry_run,omitempty"`
	Elapsed  time.Duration `json:"-"`
	// Seconds is Elapsed, for scripts.
	Seconds float64 `json:"seconds"`
	// Stopped says why the run ended before the end of the file, if it
	// did.
	Stopped string `json:"stopped,omitempty"`
}

// importer is one run's state, shared by the workers.
type importer struct {
	cfg importConfig
	api bulkCreator

	read, created, existing, skipped, failed atomic.Int64

	mu      sync.Mutex
	renamed []Rename
	fails   []Failure
}

// runImport reads src to its end, creating its links through api.
// The error is one that ended the run early (the file unreadable, the API
// unreachable, ctx done); the report holds what was done until then.
func runImport(ctx context.Context, api bulkCreator, src imports.Reader, cfg importConfig, progress func(*importer)) (*ImportReport, error) {
	cfg.Batch = min(max(cfg.Batch, 1), MaxImportBatch)
	cfg.Parallel = max(cfg.Parallel, 1)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	im := &importer{cfg: cfg, api: api}
	start := time.Now() // the wall clock: cfg.Now may be a test's fixed time

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []*importItem, cfg.Parallel)
	var wg sync.WaitGroup
	for range cfg.Parallel {
		wg.Go(func() {
			for b := range batches {
				if ctx.Err() != nil {
					continue // drain: the run is ending
				}
				if err := im.send(ctx, b); err != nil {
					cancel(err)
				}
			}
		})
	}
	stopProgress := make(chan struct{})
	var pwg sync.WaitGroup
	if progress != nil {
		pwg.Go(func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					progress(im)
				case <-stopProgress:
					progress(im)
					return
				}
			}
		})
	}

	readErr := im.feed(ctx, src, batches)
	close(batches)
	wg.Wait()
	close(stopProgress)
	pwg.Wait()

	rep := im.report()
	rep.DryRun = cfg.DryRun
	rep.Elapsed = time.Since(start)
	rep.Seconds = rep.Elapsed.Seconds()
	err := readErr
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	} else if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		rep.Stopped = err.Error()
	}
	return rep, err
}

// feed reads the records and hands them to the workers in batches.
func (im *importer) feed(ctx context.Context, src imports.Reader, batches chan<- []*importItem) error {
	batch := make([]*importItem, 0, im.cfg.Batch)
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case batches <- batch:
			batch = make([]*importItem, 0, im.cfg.Batch)
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		rec, err := src.Next()
		var le *imports.LineError
		switch {
		case errors.Is(err, io.EOF):
			flush()
			return nil
		case errors.As(err, &le):
			im.read.Add(1)
			im.fail(Failure{Line: le.Line, Reason: le.Reason})
			if im.cfg.StopOnBad {
				flush()
				return fmt.Errorf("stopped at a bad record (--on-error stop): %w", le)
			}
			continue
		case err != nil:
			flush()
			return fmt.Errorf("read the file: %w", err)
		}
		im.read.Add(1)
		it := im.item(rec)
		if it == nil {
			continue
		}
		if im.cfg.DryRun {
			im.dryRun(it)
			continue
		}
		if batch = append(batch, it); len(batch) == im.cfg.Batch && !flush() {
			break
		}
	}
	return context.Cause(ctx)
}

// item makes a record's create request, or counts it as skipped (nil).
func (im *importer) item(rec imports.Record) *importItem {
	if !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(im.cfg.Now()) {
		im.skipped.Add(1)
		return nil
	}
	req := client.CreateLinkRequest{
		URL: rec.URL, Alias: rec.Alias, Title: rec.Title, ExternalID: imports.ExternalID(rec),
		Tags: mergeTags(rec.Tags, im.cfg.Tags),
	}
	if !rec.ExpiresAt.IsZero() {
		exp := rec.ExpiresAt
		req.ExpiresAt = &exp
	}
	switch {
	case im.cfg.Domain != "":
		req.Domain = im.cfg.Domain
	case im.cfg.Format == imports.CSV:
		req.Domain = rec.Domain
	}
	it := &importItem{rec: rec, req: req}
	if rec.Alias != "" {
		if err := shortcode.ValidateAlias(rec.Alias); err != nil {
			it.req.Alias = ""
			it.renamed = err.Error()
		}
	}
	return it
}

// mergeTags is a record's tags and the run's, without repeats (ASCII
// case ignored, as the API compares tags).
func mergeTags(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := slices.Clone(a)
	for _, t := range b {
		if !slices.ContainsFunc(out, func(o string) bool { return equalFoldASCII(o, t) }) {
			out = append(out, t)
		}
	}
	return out
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// dryRun counts what a real run would try.
func (im *importer) dryRun(it *importItem) {
	if it.renamed != "" {
		im.rename(Rename{Line: it.rec.Line, Key: it.rec.SourceKey, From: it.rec.Alias, To: "(generated)", Why: it.renamed})
	}
}

func (im *importer) fail(f Failure) {
	im.failed.Add(1)
	im.mu.Lock()
	im.fails = append(im.fails, f)
	im.mu.Unlock()
}

func (im *importer) rename(r Rename) {
	im.mu.Lock()
	im.renamed = append(im.renamed, r)
	im.mu.Unlock()
}

// send creates one batch, sending again the links refused for a taken
// alias (without it) and those refused for now (429, 503) after a wait.
// Its error ends the run.
func (im *importer) send(ctx context.Context, items []*importItem) error {
	wait := im.cfg.Backoff
	for len(items) > 0 {
		reqs := make([]client.CreateLinkRequest, len(items))
		for i, it := range items {
			it.attempts++
			reqs[i] = it.req
		}
		resp, err := im.api.CreateLinksBulk(ctx, reqs)
		if err != nil {
			if d, ok := later(err); ok && items[0].attempts < maxAttempts {
				if err := sleep(ctx, max(d, wait)); err != nil {
					return err
				}
				wait = min(2*wait, 30*time.Second)
				continue
			}
			return fmt.Errorf("create the links of lines %d to %d: %w", items[0].rec.Line, items[len(items)-1].rec.Line, err)
		}
		if len(resp.Results) != len(items) {
			return fmt.Errorf("the server answered %d results for %d links", len(resp.Results), len(items))
		}
		var again, retry []*importItem
		for i, res := range resp.Results {
			it := items[i]
			switch field := problemField(res.Error); {
			case res.Status == http.StatusCreated && res.Link != nil:
				im.created.Add(1)
				if it.renamed != "" {
					im.rename(Rename{Line: it.rec.Line, Key: it.rec.SourceKey, From: it.rec.Alias, To: res.Link.Code, Why: it.renamed})
				}
			case res.Status == http.StatusConflict && field == "external_id":
				im.existing.Add(1)
			case res.Status == http.StatusConflict && field == "alias" && sameLink(res.Link, it.req):
				// The workspace's own link under the original code, to
				// the same place: an export imported back.
				im.existing.Add(1)
			case res.Status == http.StatusConflict && field == "alias" && it.req.Alias != "":
				it.req.Alias = ""
				it.renamed = "taken: " + problemDetail(res.Error)
				again = append(again, it)
			case (res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable) && it.attempts < maxAttempts:
				retry = append(retry, it)
			default:
				im.fail(Failure{Line: it.rec.Line, Key: it.rec.SourceKey, Reason: fmt.Sprintf("%d %s", res.Status, problemDetail(res.Error))})
			}
		}
		if len(retry) > 0 {
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			wait = min(2*wait, 30*time.Second)
		}
		items = append(again, retry...)
	}
	return nil
}

// sameLink reports whether l, the link of this workspace that holds the
// alias req asked for (nil: none, or another workspace's), is req's link
// already: same code, domain and URL.
func sameLink(l *client.Link, req client.CreateLinkRequest) bool {
	return l != nil && req.Alias != "" && l.Code == req.Alias && l.Domain == req.Domain && l.URL == req.URL
}

// later reports whether a whole request was refused for now (429, or a
// 503 the client gave up retrying), and the wait the server asked for.
func later(err error) (time.Duration, bool) {
	var p *client.Problem
	if errors.As(err, &p) && (p.Status == http.StatusTooManyRequests || p.Status == http.StatusServiceUnavailable) {
		return p.RetryAfter, true
	}
	var se *client.StatusError
	if errors.As(err, &se) && (se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable) {
		return se.RetryAfter, true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func problemField(p *client.Problem) string {
	if p == nil {
		return ""
	}
	return p.Field
}

func problemDetail(p *client.Problem) string {
	switch {
	case p == nil:
		return "no reason given"
	case p.Detail != "":
		return p.Detail
	}
	return p.Title
}

// report is the run's outcome so far, the lists in line order.
func (im *importer) report() *ImportReport {
	im.mu.Lock()
	defer im.mu.Unlock()
	r := &ImportReport{
		Read: im.read.Load(), Created: im.created.Load(), Existing: im.existing.Load(), Skipped: im.skipped.Load(),
		Renamed: slices.Clone(im.renamed), Failed: slices.Clone(im.fails),
	}
	slices.SortStableFunc(r.Renamed, func(a, b Rename) int { return a.Line - b.Line })
	slices.SortStableFunc(r.Failed, func(a, b Failure) int { return a.Line - b.Line })
	if r.Renamed == nil {
		r.Renamed = []Rename{}
	}
	if r.Failed == nil {
		r.Failed = []Failure{}
	}
	return r
}
