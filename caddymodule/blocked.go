package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/smartlink"
)

// A link whose target is on the shared block set (a threat feed, or the
// admin domain blocklist, merged by the control plane's leader) does not
// redirect: the edge answers an interstitial warning page instead, at
// once for links blocked after they were created. The set lives in memory
// (a blockset.Watcher that reloads it when its generation in the link
// database moves, every blocklist_refresh), so the check costs an atomic
// load when nothing is blocked, and a few map lookups (the URL, the host
// and its parents) when something is: no per-request I/O.

// DefaultBlocklistRefresh is how often an edge polls the block set's
// generation: with the leader's own poll of the admin blocklist, a block
// reaches every edge well within a minute.
const DefaultBlocklistRefresh = blockset.DefaultRefresh

// blockedStyle is the page's only style, allowed by its hash in the CSP.
const blockedStyle = `body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}h1{color:#a00}code{background:#f3f3f3;padding:0 .2em;word-break:break-all}`

// blockedPage is the interstitial. The target is shown as text, never as
// a link, so that nobody follows it by reflex; the source names the list.
var blockedPage = newPage("blocked", "Warning: blocked link", blockedStyle, `<h1>This link has been blocked</h1>
<p>The short link you opened leads to a page that is listed as phishing, malware or abuse ({{.Source}}). You have not been sent there.</p>
<p>Its target was: <code>{{.Target}}</code></p>
<p>If you think this is a mistake, tell the operator of this shortener.</p>
`)

// denyFrames is the page's X-Frame-Options, shared: never modified.
var denyFrames = []string{"DENY"}

// blockedClick answers the click with the interstitial when the target
// is on the block set, and reports whether it did. The click is counted
// as blocked, and its click event carries status 200 (the page), never a
// redirect status.
func (h *Handler) blockedClick(w http.ResponseWriter, r *http.Request, code, domain string, e *entry, target string) bool {
	set := h.blocks.Set()
	if set == nil {
		return false
	}
	hit, ok := set.Match(target)
	if !ok {
		return false
	}
	h.blockedClicks.Inc()
	body := renderBlocked(target, hit.Source)
	hdr := w.Header()
	blockedPage.header(hdr, contentLength(body))
	hdr["X-Frame-Options"] = denyFrames
	hdr["Cache-Control"] = ccNoStore
	w.WriteHeader(http.StatusOK)
	if h.events != nil {
		x := h.visitors.visitOf(r)
		h.emitClick(&x, code, domain, e, http.StatusOK, smartlink.ChoiceURL)
	}
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // a failed write means the client went away
	}
	return true
}

func renderBlocked(target, source string) []byte {
	if source == blockset.AdminSource {
		source = "blocked by the operator"
	} else {
		source = "listed by " + source
	}
	return blockedPage.render(struct{ Target, Source string }{target, source})
}

// provisionBlocks takes the pooled watcher of the block set in the link
// database (one per database and refresh interval, shared by every
// handler and surviving reloads) and the blocked-clicks counter.
func (h *Handler) provisionBlocks() error {
	h.BlocklistRefresh = cmpDuration(h.BlocklistRefresh, DefaultBlocklistRefresh)
	h.blockedClicks = h.metrics.blocked // registered with the others (metrics.go)
	dsn, every, logger := h.Database, time.Duration(h.BlocklistRefresh), h.l2log
	key := "shortify/blocks/" + hashKey(dsn, h.BlocklistRefresh, h.hookKey())
	v, err := h.loadOrNew(key, func() (caddy.Destructor, error) {
		return blockWatcher{blockset.Watch(blockset.WatcherConfig{
			Open:  func(ctx context.Context) (blockset.Store, error) { return blockset.Open(ctx, dsn, false) },
			Every: every,
			OnError: func(err error) {
				logger.Warn("could not reload the block set; the last one stays", zap.Error(err))
			},
			OnLoad: func(gen int64, n int) {
				logger.Info("block set loaded", zap.Int64("generation", gen), zap.Int("entries", n))
			},
		})}, nil
	})
	if err != nil {
		return fmt.Errorf("blocklist: %w", err)
	}
	h.blocks = v.(blockWatcher).Watcher
	return nil
}

// blockWatcher makes a blockset.Watcher a caddy.Destructor.
type blockWatcher struct{ *blockset.Watcher }

// Destruct stops the polling.
func (b blockWatcher) Destruct() error {
	b.Close()
	return nil
}
