package controlplane

import (
	"errors"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("shortify", parseGlobalOption)
}

// UnmarshalCaddyfile sets up the app from the `shortify` global option.
// Syntax:
//
//	shortify {
//		data_dir        <path>
//		node_id         <id>
//		raft_bind       <host:port>
//		raft_advertise  <host:port>
//		api_addr        <url>
//		join            <url...>
//		bootstrap       true|false
//		cluster_secret  <secret>
//		database        <dsn>
//		redis           [<host:port>]
//		redis_prefix    <prefix>
//		redis_ttl       <duration>
//		public_url      <url>
//		own_domains     <host...>
//		blocked_domains <host...>
//		max_url_length  <bytes>
//		stats_database  <dsn>
//		partition_months_ahead   <n>
//		partition_retention      <duration>
//		partition_retention_mode drop|detach
//		partition_check_interval <duration>
//		anonymous_create on|off
//		anonymous_per_minute <n>
//		trusted_proxies <cidr...>|private_ranges
//		initial_api_key <key>
//		kafka_brokers      <host:port...>
//		link_events_topic  <name>
//		cleanup_batch_size <n>
//		cleanup_interval   <duration>
//		cleanup_rate       <batches per second>
//	}
//
// A subdirective given without a value (as `redis {$SHORTIFY_REDIS}` is
// when the variable is unset) keeps the default, so that one Caddyfile
// serves the embedded default and a production setup.
//
// A multi-node control plane: the first node bootstraps the cluster
// (bootstrap defaults to true when join is empty); every other node lists
// the API URLs of one or more members in join and is added when it first
// starts, as a non-voter that the leader promotes to voter once it has
// caught up. Every member needs its own api_addr (the URL the others
// reach its API at) and the same cluster_secret.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 || (len(args) == 1 && args[0] == "") {
			continue
		}
		one := func(dst *string) error {
			if len(args) != 1 {
				return d.Errf("%s takes one value, got %d", name, len(args))
			}
			*dst = args[0]
			return nil
		}
		var err error
		switch name {
		case "data_dir":
			err = one(&a.DataDir)
		case "node_id":
			err = one(&a.NodeID)
		case "raft_bind":
			err = one(&a.RaftBind)
		case "raft_advertise":
			err = one(&a.RaftAdvertise)
		case "api_addr":
			err = one(&a.APIAddr)
		case "join":
			a.Join = append(a.Join, args...)
		case "bootstrap":
			var s string
			if err = one(&s); err == nil {
				b, convErr := strconv.ParseBool(s)
				if convErr != nil {
					return d.Errf("bootstrap %q is neither true nor false", s)
				}
				a.Bootstrap = &b
			}
		case "cluster_secret":
			err = one(&a.ClusterSecret)
		case "database":
			err = one(&a.Database)
		case "redis":
			err = one(&a.Redis)
		case "redis_prefix":
			err = one(&a.RedisPrefix)
		case "redis_ttl":
			var s string
			if err = one(&s); err == nil {
				var dur caddy.Duration
				dur, err = parseDuration(s)
				if err != nil {
					return d.Errf("redis_ttl %q: %v", s, err)
				}
				a.RedisTTL = dur
			}
		case "anonymous_per_minute":
			var v string
			if err = one(&v); err == nil {
				n, convErr := strconv.Atoi(v)
				if convErr != nil || n <= 0 {
					return d.Errf("anonymous_per_minute %q is not a positive number", v)
				}
				a.AnonymousPerMinute = n
			}
		case "trusted_proxies":
			a.TrustedProxies = append(a.TrustedProxies, args...)
		case "kafka_brokers", "link_events_topic", "cleanup_batch_size", "cleanup_interval", "cleanup_rate":
			err = a.unmarshalEventOption(d, name, args)
		case "initial_api_key":
			err = one(&a.InitialAPIKey)
		case "anonymous_create":
			var v string
			if err = one(&v); err == nil {
				switch v {
				case "on", "true":
					a.AnonymousCreate = true
				case "off", "false":
					a.AnonymousCreate = false
				default:
					return d.Errf("anonymous_create %q: want on or off", v)
				}
			}
		case "public_url":
			err = one(&a.PublicURL)
		case "own_domains":
			a.OwnDomains = append(a.OwnDomains, args...)
		case "blocked_domains":
			a.BlockedDomains = append(a.BlockedDomains, args...)
		case "max_url_length":
			var s string
			if err = one(&s); err == nil {
				n, convErr := strconv.Atoi(s)
				if convErr != nil || n <= 0 {
					return d.Errf("max_url_length %q is not a positive number of bytes", s)
				}
				a.MaxURLLength = n
			}
		case "stats_database":
			err = one(&a.StatsDatabase)
		case "partition_months_ahead":
			var s string
			if err = one(&s); err == nil {
				n, convErr := strconv.Atoi(s)
				if convErr != nil || n <= 0 {
					return d.Errf("partition_months_ahead %q is not a positive number of months", s)
				}
				a.PartitionMonthsAhead = n
			}
		case "partition_retention", "partition_check_interval":
			var s string
			if err = one(&s); err == nil {
				dur, durErr := parseDuration(s)
				if durErr != nil {
					return d.Errf("%s %q: %v", name, s, durErr)
				}
				if name == "partition_retention" {
					a.PartitionRetention = dur
				} else {
					a.PartitionCheckInterval = dur
				}
			}
		case "partition_retention_mode":
			err = one(&a.PartitionRetentionMode)
		default:
			return d.Errf("unknown shortify option %q", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseDuration(s string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if dur <= 0 {
		return 0, errors.New("must be positive")
	}
	return caddy.Duration(dur), nil
}

func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{
		Name:  "shortify",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// caddyfileHint explains the usual cause of a missing app.
func caddyfileHint(err error) error {
	return errors.Join(err, errors.New("shortify_api needs the control plane: add a `shortify { … }` block to the Caddyfile's global options"))
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*App)(nil)
