package caddyapp

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("shortify_kafka", parseGlobalOption)
}

// UnmarshalCaddyfile sets up the app from the `shortify_kafka` global
// option. Syntax:
//
//	shortify_kafka [off] {
//		listen     <host:port>
//		data_dir   <path>
//		topics     <name...>
//		partitions <n>
//		enabled    on|off
//	}
//
// A subdirective given without a value (as `listen {$VAR}` is when the
// variable is unset) keeps the default. `enabled off` (or `shortify_kafka
// off`) turns the broker off, so that one Caddyfile can run it for the
// embedded default and leave it out when a real Kafka is configured:
// `enabled {$SHORTIFY_KAFKA_EMBEDDED:on}`.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		if d.Val() != "off" {
			return d.Errf("shortify_kafka takes no argument but off, got %q", d.Val())
		}
		a.Disabled = true
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(0) {
		name := d.Val()
		args := d.RemainingArgs()
		if len(args) == 0 || (len(args) == 1 && args[0] == "") {
			continue
		}
		if name != "topics" && len(args) != 1 {
			return d.Errf("%s takes one value, got %d", name, len(args))
		}
		switch name {
		case "listen":
			a.Listen = args[0]
		case "data_dir":
			a.DataDir = args[0]
		case "topics":
			a.Topics = append(a.Topics, args...)
		case "partitions":
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return d.Errf("partitions %q is not a positive number", args[0])
			}
			a.Partitions = n
		case "enabled":
			switch args[0] {
			case "on", "true":
				a.Disabled = false
			case "off", "false":
				a.Disabled = true
			default:
				return d.Errf("enabled %q: want on or off", args[0])
			}
		default:
			return d.Errf("unknown shortify_kafka option %q", name)
		}
	}
	return nil
}

func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{
		Name:  "shortify_kafka",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*App)(nil)
