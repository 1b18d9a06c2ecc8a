package caddymodule

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/caddyopt"
)

// parseCaddyfile parses the shortify_edge directive into a Handler.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	shortify_edge [<matcher>] [<database>] {
//		database          <dsn>
//		read_replicas     <dsn...>
//		redis             [<address>]
//		redis_prefix      <prefix>
//		redis_ttl         <duration>
//		cache_size        <entries>
//		cache_ttl         <duration>
//		cache_admission   on|off
//		max_ttl           <duration>
//		negative_ttl      <duration>
//		default_status    301|302|307|308
//		not_found         404|next
//		permanent_max_age <duration>
//		rate_limit        <requests>/<window> [burst <n>] [name <name>] [max_clients <n>] [shared [sync <interval>]]
//		miss_limit        <requests>/<window> [burst <n>] [name <name>] [max_clients <n>]
//		trusted_proxies   <cidr|address|private_ranges...>
//		client_ip_header  X-Forwarded-For|Forwarded
//		ipv6_prefix       <bits>
//		kafka_brokers     <host:port...>
//		clicks_topic      <topic>
//		link_events_topic <topic>
//		click_queue       <events>
//		country_header    <header>
//		geoip_database    <path>
//		visitor_key       <secret>
//		kafka_tls_ca          <pem-file>
//		kafka_tls_cert        <pem-file>
//		kafka_tls_key         <pem-file>
//		kafka_tls_server_name <name>
//		kafka_sasl_mechanism  SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
//		kafka_sasl_user       <user>
//		kafka_sasl_password   <secret>
//		root_redirect     <url>
//		blocklist_refresh <duration>
//		hosts             <host...>
//		domain_refresh    <duration>
//		link_cookie_key          <secret>
//		password_cookie_lifetime <duration>
//		password_attempts        <requests>/<window> [burst <n>] [name <name>] [max_clients <n>]
//		warm              on|off
//		warm_count        <codes>
//		warm_timeout      <duration>
//		warm_publish      <duration>
//	}
//
// The old spelling of the directive, shortify, takes the same syntax and
// makes the deprecated module http.handlers.shortify (deprecated.go).
//
// The kafka_tls_* and kafka_sasl_* subdirectives set the fields of
// KafkaSecurity (package kafkasec, whose Options says what each does).
// Each other subdirective sets the JSON field of the same name (see Handler);
// the database may also be given inline. Durations take Caddy's units
// (ms, s, m, h, d); a rate's window may be a bare unit (100/s). read_replicas,
// trusted_proxies and hosts take any number of values and may be repeated; every
// other subdirective may appear once, and none takes a block. Values are
// parsed with package caddyopt, as the other Shortify modules' are.
//
// An empty value means "not set": the default applies, and for redis the
// default is no Redis at all. That is what makes environment variables
// usable for switching features off:
//
//   - redis {$REDIS} with REDIS unset or empty: the Caddyfile replaces
//     {$VAR} before it splits tokens, so the argument disappears; an
//     absent argument is accepted and means off.
//   - redis "{$REDIS}": becomes redis "", an empty argument: off as well.
//   - redis {$REDIS:host:6379}: the default is used only when REDIS is
//     unset; REDIS set to the empty string switches Redis off.
//   - redis {env.REDIS}: kept as a placeholder in the adapted JSON and
//     expanded when the handler is provisioned; empty means off. Prefer
//     {env.*} for DSNs with passwords, which {$VAR} would write into the
//     adapted (and autosaved) JSON.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		h.Database = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	seen := make(map[string]bool)
	return caddyopt.Block(d, func(o *caddyopt.Option) error {
		if !repeatable[o.Name] {
			if seen[o.Name] {
				return o.Errf("%s: specified more than once", o.Name)
			}
			seen[o.Name] = true
		}
		return h.setOption(o)
	})
}

// repeatable are the subdirectives that take a list and may be given on
// several lines; every other one may appear once.
var repeatable = map[string]bool{"read_replicas": true, "trusted_proxies": true, "hosts": true}

// setOption sets the field of the subdirective o (which has a value).
func (h *Handler) setOption(o *caddyopt.Option) error {
	switch o.Name {
	case "database":
		return o.String(&h.Database)
	case "read_replicas":
		return appendSet(o, &h.ReadReplicas)
	case "trusted_proxies":
		return appendSet(o, &h.TrustedProxies)
	case "kafka_brokers":
		return appendSet(o, &h.KafkaBrokers)
	case "redis":
		return o.String(&h.Redis)
	case "redis_prefix":
		return o.String(&h.RedisPrefix)
	case "redis_ttl":
		return o.PositiveDuration(&h.RedisTTL)
	case "cache_size":
		return o.PositiveInt(&h.CacheSize, "entries")
	case "cache_ttl":
		return o.PositiveDuration(&h.CacheTTL)
	case "cache_admission":
		on := !h.CacheAdmissionOff
		err := o.OnOff(&on)
		h.CacheAdmissionOff = !on
		return err
	case "max_ttl":
		return o.PositiveDuration(&h.MaxTTL)
	case "negative_ttl":
		return o.PositiveDuration(&h.NegativeTTL)
	case "permanent_max_age":
		return o.PositiveDuration(&h.PermanentMaxAge)
	case "blocklist_refresh":
		return o.PositiveDuration(&h.BlocklistRefresh)
	case "domain_refresh":
		return o.PositiveDuration(&h.DomainRefresh)
	case "hosts":
		return appendSet(o, &h.Hosts)
	case "default_status":
		v, err := o.One()
		if err != nil {
			return err
		}
		switch v {
		case "301", "302", "307", "308":
			h.DefaultStatus, _ = strconv.Atoi(v)
			return nil
		}
		return o.Errf("default_status %q: want 301, 302, 307 or 308", v)
	case "not_found":
		v, err := o.One()
		if err != nil {
			return err
		}
		if v != "404" && v != "next" {
			return o.Errf("not_found %q: want 404 or next", v)
		}
		h.NotFound = v
		return nil
	case "rate_limit":
		return parseRateLimit(o, &h.RateLimit)
	case "miss_limit":
		return parseRateLimit(o, &h.MissLimit)
	case "client_ip_header":
		return o.String(&h.ClientIPHeader)
	case "ipv6_prefix":
		if err := o.Int(&h.IPv6Prefix); err != nil {
			return err
		}
		if h.IPv6Prefix < 1 || h.IPv6Prefix > 128 {
			return o.Errf("ipv6_prefix %q: want a prefix length from 1 to 128", o.Args[0])
		}
		return nil
	case "clicks_topic":
		return o.String(&h.ClicksTopic)
	case "link_events_topic":
		return o.String(&h.LinkEventsTopic)
	case "click_queue":
		return o.PositiveInt(&h.ClickQueue, "events")
	case "country_header":
		if err := o.String(&h.CountryHeader); err != nil {
			return err
		}
		if !validHeaderName(h.CountryHeader) {
			return o.Errf("country_header %q: not a header name", h.CountryHeader)
		}
		return nil
	case "geoip_database":
		return o.String(&h.GeoIPDatabase)
	case "visitor_key":
		return o.String(&h.VisitorKey)
	case "root_redirect":
		return o.String(&h.RootRedirect)
	// Password-protected links (password_config.go).
	case "link_cookie_key":
		return o.String(&h.LinkCookieKey)
	case "password_cookie_lifetime":
		return o.PositiveDuration(&h.PasswordCookieLifetime)
	case "password_attempts":
		return parseRateLimit(o, &h.PasswordAttempts)
	}
	if ok, err := h.KafkaSecurity.SetOption(o); ok { // kafka_tls_*, kafka_sasl_*
		return err
	}
	if ok, err := h.setWarmOption(o); ok { // warm, warm_* (warm.go)
		return err
	}
	return o.Unknown(directive)
}

// appendSet adds the non-empty values of o to *dst: an empty one is an
// unset {$VAR} among others.
func appendSet(o *caddyopt.Option, dst *[]string) error {
	for _, v := range o.Args {
		if v != "" {
			*dst = append(*dst, v)
		}
	}
	return nil
}

// parseRateLimit sets *dst from the values of rate_limit or miss_limit:
//
//	<requests>/<window> [burst <n>] [name <name>] [max_clients <n>] [shared [sync <interval>]]
//	off
//
// The window is a Caddy duration, or a bare unit (s, m, h, d) for one of
// it: 100/s, 600/1m, 5000/1h. No value (an unset {$VAR}) leaves the
// default (rate_limit: none; miss_limit: DefaultMissLimit); `off` turns
// the limit off.
func parseRateLimit(o *caddyopt.Option, dst **RateLimit) error {
	name, args := o.Name, o.Args
	if args[0] == "off" {
		if len(args) > 1 {
			return o.Errf("%s off takes no other argument", name)
		}
		*dst = &RateLimit{Off: true}
		return nil
	}
	rl := new(RateLimit)
	n, w, ok := strings.Cut(args[0], "/")
	reqs, err := strconv.Atoi(n)
	if !ok || err != nil || reqs < 1 {
		return o.Errf("%s %q: want <requests>/<window> such as 100/s or 600/1m", name, args[0])
	}
	rl.Requests = reqs
	dur := w
	switch w {
	case "ms", "s", "m", "h", "d":
		dur = "1" + w // a bare unit: one of it
	}
	window, err := caddy.ParseDuration(dur)
	if err != nil || window <= 0 {
		return o.Errf("%s %q: the window %q is not a positive duration", name, args[0], w)
	}
	rl.Window = caddy.Duration(window)

	for i := 1; i < len(args); i++ {
		opt := args[i]
		if opt == "shared" {
			rl.Shared = true
			continue
		}
		if i+1 >= len(args) {
			return o.Errf("%s: %s needs a value", name, opt)
		}
		i++
		v := args[i]
		switch opt {
		case "burst", "max_clients":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o.Errf("%s: %s %q: want a positive number", name, opt, v)
			}
			if opt == "burst" {
				rl.Burst = n
			} else {
				rl.MaxClients = n
			}
		case "name":
			rl.Name = v
		case "sync":
			// Its bounds, and that it needs shared, are Validate's.
			d, err := caddy.ParseDuration(v)
			if err != nil || d <= 0 {
				return o.Errf("%s: sync %q: want a positive duration such as 100ms", name, v)
			}
			rl.SyncInterval = caddy.Duration(d)
		default:
			return o.Errf("%s: unknown option %q (want burst, name, max_clients, shared or sync)", name, opt)
		}
	}
	*dst = rl
	return nil
}
