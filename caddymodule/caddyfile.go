package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	if err := m.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return m, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	shortify [<matcher>] [<database>] {
//		database          <dsn>
//		read_replicas     <dsn...>
//		redis             [<address>]
//		redis_prefix      <prefix>
//		redis_ttl         <duration>
//		cache_size        <entries>
//		cache_ttl         <duration>
//		max_ttl           <duration>
//		negative_ttl      <duration>
//		default_status    301|302|307|308
//		not_found         404|next
//		permanent_max_age <duration>
//		rate_limit        <requests>/<window> [burst <n>] [name <name>] [max_clients <n>] [shared]
//		miss_limit        <requests>/<window> [burst <n>] [name <name>] [max_clients <n>]
//		trusted_proxies   <cidr|address|private_ranges...>
//		client_ip_header  X-Forwarded-For|Forwarded
//		ipv6_prefix       <bits>
//		kafka_brokers     <host:port...>
//		clicks_topic      <topic>
//		link_events_topic <topic>
//		click_queue       <events>
//		country_header    <header>
//		visitor_key       <secret>
//		kafka_tls_ca          <pem-file>
//		kafka_tls_cert        <pem-file>
//		kafka_tls_key         <pem-file>
//		kafka_tls_server_name <name>
//		kafka_sasl_mechanism  SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
//		kafka_sasl_user       <user>
//		kafka_sasl_password   <secret>
//	}
//
// The kafka_tls_* and kafka_sasl_* subdirectives set the fields of
// KafkaSecurity (package kafkasec, whose Options says what each does).
// Each other subdirective sets the JSON field of the same name (see Handler);
// the database may also be given inline. Durations take Caddy's units
// (ms, s, m, h, d); a rate's window may be a bare unit (100/s). read_replicas
// and trusted_proxies take any number of values and may be repeated; every
// other subdirective may appear once.
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
	for d.NextBlock(0) {
		name := d.Val()
		if name != "read_replicas" && name != "trusted_proxies" {
			if seen[name] {
				return d.Errf("%s: specified more than once", name)
			}
			seen[name] = true
		}
		switch name {
		case "kafka_brokers":
			if err := h.parseKafkaBrokers(d); err != nil {
				return err
			}
			continue
		case "read_replicas", "trusted_proxies":
			for d.NextArg() {
				if v := d.Val(); v == "" {
					continue
				} else if name == "read_replicas" {
					h.ReadReplicas = append(h.ReadReplicas, v)
				} else {
					h.TrustedProxies = append(h.TrustedProxies, v)
				}
			}
			continue
		case "rate_limit", "miss_limit":
			rl, err := parseRateLimit(d, name)
			if err != nil {
				return err
			}
			if name == "rate_limit" {
				h.RateLimit = rl
			} else {
				h.MissLimit = rl
			}
			if d.NextBlock(d.Nesting()) {
				return d.Errf("%s: takes no block", name)
			}
			continue
		}

		// Every other subdirective takes at most one argument; none, or an
		// empty one, leaves the field unset.
		var v string
		if d.NextArg() {
			v = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
		}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("%s: takes no block", name)
		}
		if err := h.setOption(d, name, v); err != nil {
			return err
		}
	}
	return nil
}

// setOption sets the field of subdirective name to v ("" leaves it unset).
func (h *Handler) setOption(d *caddyfile.Dispenser, name, v string) error {
	var err error
	switch name {
	case "database":
		// An empty value keeps the inline database, so that
		// `shortify DEFAULT { database {$VAR} }` means "VAR, else DEFAULT".
		if v != "" {
			h.Database = v
		}
	case "redis":
		h.Redis = v
	case "redis_prefix":
		h.RedisPrefix = v
	case "redis_ttl":
		h.RedisTTL, err = parseDuration(d, name, v)
	case "cache_size":
		if v != "" {
			n, perr := strconv.Atoi(v)
			if perr != nil || n <= 0 {
				return d.Errf("cache_size %q: want a positive number of entries", v)
			}
			h.CacheSize = n
		}
	case "cache_ttl":
		h.CacheTTL, err = parseDuration(d, name, v)
	case "max_ttl":
		h.MaxTTL, err = parseDuration(d, name, v)
	case "negative_ttl":
		h.NegativeTTL, err = parseDuration(d, name, v)
	case "default_status":
		switch v {
		case "":
		case "301", "302", "307", "308":
			h.DefaultStatus, _ = strconv.Atoi(v)
		default:
			return d.Errf("default_status %q: want 301, 302, 307 or 308", v)
		}
	case "not_found":
		switch v {
		case "", "404", "next":
			h.NotFound = v
		default:
			return d.Errf("not_found %q: want 404 or next", v)
		}
	case "permanent_max_age":
		h.PermanentMaxAge, err = parseDuration(d, name, v)
	case "client_ip_header":
		h.ClientIPHeader = v
	case "ipv6_prefix":
		if v != "" {
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > 128 {
				return d.Errf("ipv6_prefix %q: want a prefix length from 1 to 128", v)
			}
			h.IPv6Prefix = n
		}
	default:
		return h.parseEventOption(d, name, v) // clicks.go; refuses unknown names
	}
	return err
}

// parseDuration parses a positive Caddy duration; "" is zero (the default).
func parseDuration(d *caddyfile.Dispenser, name, v string) (caddy.Duration, error) {
	if v == "" {
		return 0, nil
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s %q: want a positive duration such as 30s, 5m or 1h", name, v)
	}
	return caddy.Duration(dur), nil
}
