package controlplane

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/shortify/shortify/internal/targeturl"
)

// targetPolicy is the control plane's target policy: the own hosts and
// every address of this machine (a listener on a wildcard answers on all
// of them) are loops; private addresses, other shorteners and look-alike
// hosts are refused unless their switches say otherwise.
func (a *App) targetPolicy() targeturl.Policy {
	own, err := targeturl.LocalAddrs()
	if err != nil {
		// Loopback and unspecified addresses are refused regardless.
		a.logger.Warn("could not list this machine's addresses; only loopback counts as a loop", "err", err)
	}
	p := targeturl.Policy{
		MaxLength:        a.MaxURLLength,
		OwnHosts:         a.OwnDomains,
		BlockedDomains:   a.BlockedDomains,
		OwnAddrs:         own,
		RefusePrivate:    !a.AllowPrivateTargets,
		ShortenerDomains: a.ShortenerDomains,
		RefuseLookalike:  a.LookalikeHosts == "refuse",
		Resolver:         targeturl.NewResolver(a.TargetResolver),
		ResolveTimeout:   time.Duration(a.TargetResolveTimeout),
	}
	if a.AllowShortenerTargets {
		p.ShortenerDomains = nil
	}
	p.OwnPorts = ownPorts(a.PublicURL, a.OwnDomains)
	return p
}

// ownPorts are the ports of public_url (its scheme's when it names none)
// and of the own_domains that name one: the ports a target at one of this
// machine's addresses must use to be a loop. Listeners behind a proxy on
// other ports are not known here (see docs/security.md, Known limits).
func ownPorts(publicURL string, ownDomains []string) []int {
	var ports []int
	if u, err := url.Parse(publicURL); err == nil && u.Host != "" {
		ports = append(ports, targeturl.EffectivePort(u.Scheme, u.Port()))
	}
	for _, d := range ownDomains {
		if _, port, err := net.SplitHostPort(d); err == nil {
			if n, err := strconv.Atoi(port); err == nil {
				ports = append(ports, n)
			}
		}
	}
	return ports
}
