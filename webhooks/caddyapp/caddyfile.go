package caddyapp

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/shortify/shortify/internal/caddyopt"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("shortify_webhooks", parseGlobalOption)
}

// UnmarshalCaddyfile sets up the app from the `shortify_webhooks` global
// option. Syntax:
//
//	shortify_webhooks {
//		brokers                <host:port...>
//		clicks_topic           <name>|-
//		link_events_topic      <name>|-
//		group                  <name>
//		database               <dsn>
//		public_url             <url>
//		outbound_allow_private on|off
//		concurrency            <n>
//		timeout                <duration>
//		session_timeout        <duration>
//		retention              <duration>
//		kafka_tls_ca          <pem-file>
//		kafka_tls_cert        <pem-file>
//		kafka_tls_key         <pem-file>
//		kafka_tls_server_name <name>
//		kafka_sasl_mechanism  SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
//		kafka_sasl_user       <user>
//		kafka_sasl_password   <secret>
//	}
//
// A subdirective without a value (as `database {$SHORTIFY_DATABASE_URL}`
// is when the variable is unset) keeps the default.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	return caddyopt.Block(d, func(o *caddyopt.Option) error {
		switch o.Name {
		case "brokers":
			return o.Append(&a.Brokers)
		case "clicks_topic":
			return o.String(&a.ClicksTopic)
		case "link_events_topic":
			return o.String(&a.LinkEventsTopic)
		case "group":
			return o.String(&a.Group)
		case "database":
			return o.String(&a.Database)
		case "public_url":
			return o.String(&a.PublicURL)
		case "outbound_allow_private":
			var v bool
			if err := o.OnOff(&v); err != nil {
				return err
			}
			a.OutboundAllowPrivate = &v
			return nil
		case "concurrency":
			return o.Int(&a.Concurrency)
		case "timeout":
			return o.Duration(&a.Timeout)
		case "session_timeout":
			return o.Duration(&a.SessionTimeout)
		case "retention":
			return o.Duration(&a.Retention)
		}
		if ok, err := a.KafkaSecurity.SetOption(o); ok { // kafka_tls_*, kafka_sasl_*
			return err
		}
		return o.Unknown("shortify_webhooks")
	})
}

func parseGlobalOption(d *caddyfile.Dispenser, _ any) (any, error) {
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "shortify_webhooks", Value: caddyconfig.JSON(app, nil)}, nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*App)(nil)
