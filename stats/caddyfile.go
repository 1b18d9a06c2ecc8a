package stats

import (
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/shortify/shortify/internal/caddyopt"
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
//		kafka_tls_ca          <pem-file>
//		kafka_tls_cert        <pem-file>
//		kafka_tls_key         <pem-file>
//		kafka_tls_server_name <name>
//		kafka_sasl_mechanism  SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
//		kafka_sasl_user       <user>
//		kafka_sasl_password   <secret>
//	}
//
// A subdirective without a value (as `database {$SHORTIFY_STATS_DSN}` is
// when the variable is unset) keeps the default.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	return caddyopt.Block(d, func(o *caddyopt.Option) error {
		switch o.Name {
		case "brokers":
			return o.Append(&a.Brokers)
		case "topic":
			return o.String(&a.Topic)
		case "link_events_topic":
			return o.String(&a.LinkEventsTopic)
		case "group":
			return o.String(&a.Group)
		case "database":
			return o.String(&a.Database)
		case "max_poll_records":
			return o.Int(&a.MaxPollRecords)
		case "max_batch_events":
			return o.Int(&a.MaxBatchEvents)
		case "linger":
			return o.Duration(&a.Linger)
		case "session_timeout":
			return o.Duration(&a.SessionTimeout)
		case "rebalance_timeout":
			return o.Duration(&a.RebalanceTimeout)
		case "raw_clicks":
			return o.OnOff(&a.RawClicks)
		case "keep_deleted":
			return o.OnOff(&a.KeepDeleted)
		}
		if ok, err := a.KafkaSecurity.SetOption(o); ok { // kafka_tls_*, kafka_sasl_*
			return err
		}
		return o.Unknown("shortify_ingest")
	})
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
