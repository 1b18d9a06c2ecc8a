package caddyapp

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/shortify/shortify/internal/caddyopt"
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
	return caddyopt.Block(d, func(o *caddyopt.Option) error {
		switch o.Name {
		case "listen":
			return o.String(&a.Listen)
		case "data_dir":
			return o.String(&a.DataDir)
		case "topics":
			return o.Append(&a.Topics)
		case "partitions":
			return o.PositiveInt(&a.Partitions, "partitions")
		case "enabled":
			enabled := !a.Disabled
			if err := o.OnOff(&enabled); err != nil {
				return err
			}
			a.Disabled = !enabled
			return nil
		}
		return o.Unknown("shortify_kafka")
	})
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
