package threatfeed

import (
	"context"
	"fmt"
	"strings"

	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/threatlist"
)

// flag flags the links whose targets the added entries name (each on its
// own domain, so that the flag is the link's alone): for a host
// entry, the links to the host and its subdomains; for a URL entry, the
// links to its host whose target has the URL's key.
func (r *Refresher) flag(ctx context.Context, added []threatlist.Sourced) error {
	if r.cfg.Links == nil || len(added) == 0 {
		return nil
	}
	if len(added) > MaxFlagEntries {
		r.cfg.Logger.Warn("too many new block-set entries to look all up; flagging the links of the first ones",
			"new", len(added), "looked_up", MaxFlagEntries)
		added = added[:MaxFlagEntries]
	}
	now := r.cfg.Now().UTC()
	flagged := 0
	for _, e := range added {
		host := e.Value
		if e.Kind == threatlist.URL {
			host = keyHost(e.Value)
		}
		links, err := r.linksTo(ctx, host)
		if err != nil {
			return err
		}
		var reviews []blockset.Review
		for _, l := range links {
			if e.Kind == threatlist.URL && threatlist.URLKey(l.URL) != e.Value {
				continue
			}
			reviews = append(reviews, blockset.Review{Domain: l.Domain, Code: l.Code, Reason: reason(e), Source: e.Source, At: now})
		}
		if err := r.cfg.Store.Flag(ctx, reviews); err != nil {
			return err
		}
		flagged += len(reviews)
	}
	if flagged > 0 {
		r.cfg.Metrics.flaggedLinks(flagged)
		r.cfg.Logger.Info("links flagged for review: their targets are now on a block list", "links", flagged)
	}
	return nil
}

// linksTo lists up to MaxFlagLinks links to host and its subdomains.
func (r *Refresher) linksTo(ctx context.Context, host string) ([]linkstore.Link, error) {
	var out []linkstore.Link
	q := linkstore.ListQuery{Host: host, Limit: linkstore.MaxListLimit}
	for len(out) < MaxFlagLinks {
		page, err := r.cfg.Links.List(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("threatfeed: links to %s: %w", host, err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].ID
	}
	return out, nil
}

// reason is a review's reason, in words.
func reason(e threatlist.Sourced) string {
	if e.Kind == threatlist.Host {
		return fmt.Sprintf("the target's domain %s is listed by %s", e.Value, e.Source)
	}
	return fmt.Sprintf("the target URL is listed by %s", e.Source)
}

// keyHost is the host of a URL key (threatlist.URLKey): up to the path,
// query or port, an IPv6 address without its brackets.
func keyHost(key string) string {
	if i := strings.IndexAny(key, "/?"); i >= 0 {
		key = key[:i]
	}
	if strings.HasPrefix(key, "[") {
		if i := strings.IndexByte(key, ']'); i >= 0 {
			return key[1:i]
		}
	}
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		key = key[:i]
	}
	return key
}
