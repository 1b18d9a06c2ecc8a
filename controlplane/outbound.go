package controlplane

import (
	"log/slog"

	"github.com/shortify/shortify/internal/safedial"
	"github.com/shortify/shortify/internal/targeturl"
)

// outboundOptions are the safedial options of the control plane's own
// outbound requests (title fetches, webhook deliveries): private
// addresses only with outbound_allow_private (allowPrivate), and this
// machine's non-loopback addresses never, so that a page or endpoint
// cannot reach a service of this instance that listens on a wildcard
// address. (Loopback is refused anyway unless outbound_allow_private is
// on, which opens it on purpose: tests and single-host installations.)
func outboundOptions(allowPrivate bool, log *slog.Logger) safedial.Options {
	o := safedial.Options{AllowPrivate: allowPrivate}
	own, err := targeturl.LocalAddrs()
	if err != nil {
		log.Warn("could not list this machine's addresses; outbound requests refuse only what the address policy does", "err", err)
	}
	for _, p := range own {
		if !p.Addr().IsLoopback() {
			o.Deny = append(o.Deny, p)
		}
	}
	return o
}

// outboundOptions is the function of that name for the app's
// outbound_allow_private and logger (what the webhook deliverer dials with).
func (a *App) outboundOptions() safedial.Options {
	return outboundOptions(a.OutboundAllowPrivate, a.logger)
}

// fetchTitles tells whether titles of links created without one are
// fetched (fetch_titles, default on).
func (a *App) fetchTitles() bool { return a.FetchTitles == nil || *a.FetchTitles }
