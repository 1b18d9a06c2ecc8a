package stats

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("shortify_ingest", parseGlobalOption)
}

// UnmarshalCaddyfile sets up the app from the `shortify_ingest` global
// option. Syntax:
//
//	shortify_ingest {
//		brokers           <host:port...>
//		topic             <name>
//		link_events_topic <name>|-
//		group             <name>
//		database          <dsn>
//		max_poll_records  <n>
//		max_batch_events  <n>
//		linger            <duration>
//		raw_clicks        on|off
//		keep_deleted      on|off
//		session_timeout   <duration>
//		rebalance_timeout <duration>
//	}
//
// A subdirective without a value (as `database {$SHORTIFY_STATS_DSN}` is
// when the variable is unset) keeps the default.
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
		one := func() (string, error) {
			if len(args) != 1 {
				return "", d.Errf("%s takes one value, got %d", name, len(args))
			}
			return args[0], nil
		}
		onOff := func(dst *bool) error {
			v, err := one()
			if err != nil {
				return err
			}
			switch v {
			case "on":
				*dst = true
			case "off":
				*dst = false
			default:
				return d.Errf("%s: want on or off, got %q", name, v)
			}
			return nil
		}
		duration := func(dst *caddy.Duration) error {
			v, err := one()
			if err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("%s: %v", name, err)
			}
			*dst = caddy.Duration(dur)
			return nil
		}
		var err error
		switch name {
		case "brokers":
			a.Brokers = append(a.Brokers, args...)
		case "topic":
			a.Topic, err = one()
		case "link_events_topic":
			a.LinkEventsTopic, err = one()
		case "group":
			a.Group, err = one()
		case "database":
			a.Database, err = one()
		case "max_poll_records":
			var v string
			if v, err = one(); err == nil {
				if a.MaxPollRecords, err = strconv.Atoi(v); err != nil {
					err = d.Errf("max_poll_records: %v", err)
				}
			}
		case "max_batch_events":
			var v string
			if v, err = one(); err == nil {
				if a.MaxBatchEvents, err = strconv.Atoi(v); err != nil {
					err = d.Errf("max_batch_events: %v", err)
				}
			}
		case "linger":
			err = duration(&a.Linger)
		case "session_timeout":
			err = duration(&a.SessionTimeout)
		case "rebalance_timeout":
			err = duration(&a.RebalanceTimeout)
		case "raw_clicks":
			err = onOff(&a.RawClicks)
		case "keep_deleted":
			err = onOff(&a.KeepDeleted)
		default:
			return d.Errf("shortify_ingest: unknown subdirective %q", name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "shortify_ingest", Value: caddyconfig.JSON(app, nil)}, nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*App)(nil)
