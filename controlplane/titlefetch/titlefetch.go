// Package titlefetch fetches, in the background, the title of a link that
// was created without one, and stores it unless the link has a title by
// then. A create never waits for it: Enqueue hands the link to a bounded
// queue (a full queue drops it, counted) that a few workers drain. Each
// fetch goes through a safedial client (public addresses only, checked at
// connect time, a few redirects each checked, a whole-request timeout),
// reads at most MaxBytes of a text/html answer, and stores nothing when
// any of it fails.
package titlefetch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/html/charset"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/safedial"
)

// Defaults of Config.
const (
	DefaultWorkers   = 4
	DefaultQueue     = 1024
	DefaultMaxBytes  = 512 << 10
	DefaultTimeout   = safedial.DefaultTimeout
	DefaultUserAgent = "Shortify-TitleFetch/1 (+link title for its owner)"
	// storeTimeout bounds the write of a fetched title.
	storeTimeout = 5 * time.Second
)

// Store is where fetched titles go: linkstore.Store's method.
type Store interface {
	SetTitleIfEmpty(ctx context.Context, domain, code string, id int64, title string) (bool, error)
}

// Config configures a Fetcher.
type Config struct {
	// Client fetches the pages; it must be a safedial.Client (required).
	Client *http.Client
	// Store receives the titles (required).
	Store Store
	// Workers is how many fetches run at once (default 4).
	Workers int
	// Queue is how many links may wait for a worker (default 1024); a
	// link enqueued when it is full is dropped.
	Queue int
	// MaxBytes is the most of a page read (default 512 KiB): a title
	// further into the page is not found.
	MaxBytes int64
	// Timeout bounds one fetch, redirects and reading included (default
	// 3s).
	Timeout time.Duration
	// MaxTitle is the longest title stored, in characters (default
	// linkstore.MaxTitle, the API's limit); longer ones are cut.
	MaxTitle int
	// UserAgent is sent with each request (default DefaultUserAgent).
	UserAgent string
	// Metrics counts the outcomes (nil: not counted).
	Metrics *Metrics
	// Logger logs at debug level why a fetch stored nothing (nil: none).
	Logger *slog.Logger
}

// Fetcher is the queue and its workers.
type Fetcher struct {
	cfg    Config
	queue  chan job
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// job is what a worker needs of a queued link.
type job struct {
	domain, code, url string
	id                int64
}

// Start checks cfg, fills in its defaults and starts the workers, which
// stop when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config) (*Fetcher, error) {
	if cfg.Client == nil || cfg.Store == nil {
		return nil, errors.New("titlefetch: a client and a store are required")
	}
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.Queue = cmp.Or(cfg.Queue, DefaultQueue)
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, DefaultMaxBytes)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.MaxTitle = cmp.Or(cfg.MaxTitle, linkstore.MaxTitle)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, DefaultUserAgent)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers < 1 || cfg.Queue < 1 || cfg.MaxBytes < 1 || cfg.Timeout <= 0 || cfg.MaxTitle < 2 {
		return nil, fmt.Errorf("titlefetch: workers %d, queue %d, max bytes %d, timeout %s, max title %d: each must be positive",
			cfg.Workers, cfg.Queue, cfg.MaxBytes, cfg.Timeout, cfg.MaxTitle)
	}
	f := &Fetcher{cfg: cfg, queue: make(chan job, cfg.Queue)}
	f.ctx, f.cancel = context.WithCancel(ctx)
	for range cfg.Workers {
		f.wg.Add(1)
		go f.work()
	}
	return f, nil
}

// Enqueue asks for l's title to be fetched and returns at once: false
// when the queue is full (the link is dropped and counted) or the fetcher
// is closed. A link that has a title already is not queued.
func (f *Fetcher) Enqueue(l linkstore.Link) bool {
	if l.Title != "" || f.ctx.Err() != nil {
		return false
	}
	select {
	case f.queue <- job{domain: l.Domain, code: l.Code, url: l.URL, id: l.ID}:
		return true
	default:
		f.cfg.Metrics.dropped()
		return false
	}
}

// Close stops the workers, cancelling the fetches under way, and waits
// for them; links still queued are not fetched.
func (f *Fetcher) Close() {
	f.cancel()
	f.wg.Wait()
}

func (f *Fetcher) work() {
	defer f.wg.Done()
	for {
		select {
		case <-f.ctx.Done():
			return
		case j := <-f.queue:
			f.handle(j)
		}
	}
}

// handle fetches the title of j's link and stores it, counting the
// outcome.
func (f *Fetcher) handle(j job) {
	title, reason, err := f.fetch(f.ctx, j.url)
	if err != nil {
		if f.ctx.Err() != nil {
			return // closing: not the page's failure
		}
		f.cfg.Metrics.failed(reason)
		f.cfg.Logger.Debug("no title fetched", "code", j.code, "domain", j.domain, "reason", reason, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, storeTimeout)
	defer cancel()
	ok, err := f.cfg.Store.SetTitleIfEmpty(ctx, j.domain, j.code, j.id, title)
	switch {
	case err != nil:
		f.cfg.Metrics.failed(ReasonStore)
		f.cfg.Logger.Warn("a fetched title could not be stored", "code", j.code, "domain", j.domain, "err", err)
	case !ok:
		f.cfg.Metrics.failed(ReasonKept)
	default:
		f.cfg.Metrics.fetched()
	}
}

// fetch gets the page at url and returns its title, or why there is none
// (a Reason) and the error.
func (f *Fetcher) fetch(ctx context.Context, url string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", ReasonNetwork, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "text/html")
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return "", reasonOf(ctx, err), err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", ReasonStatus, fmt.Errorf("the page answered %s", resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/html" {
		return "", ReasonNotHTML, fmt.Errorf("content type %q is not text/html", ct)
	}
	body := io.LimitReader(resp.Body, f.cfg.MaxBytes)
	// A charset the page names (header or <meta>, within its first 1 KiB)
	// is converted to UTF-8; without one, a start that is valid UTF-8 is
	// read as UTF-8, else as windows-1252 (the web's default). Only a
	// read error fails here.
	r, err := charset.NewReader(body, ct)
	if err != nil {
		return "", reasonOf(ctx, err), err
	}
	title, err := Parse(r, f.cfg.MaxTitle)
	switch {
	case errors.Is(err, errNoTitle):
		return "", ReasonNoTitle, err
	case err != nil:
		return "", reasonOf(ctx, err), err
	}
	return title, "", nil
}

// reasonOf names the Reason of a request's error; ctx is the fetch's
// (once it is done, the fetch took too long, whatever the error says:
// a read cut off by the deadline can fail as a closed connection).
func reasonOf(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return ReasonTimeout
	case errors.Is(err, safedial.ErrForbiddenAddress):
		return ReasonForbidden
	case errors.Is(err, safedial.ErrTooManyRedirects):
		return ReasonRedirects
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	}
	return ReasonNetwork
}
