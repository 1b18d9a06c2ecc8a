package caddyapp

import (
	"strings"

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
//		tls_cert      <pem-file>
//		tls_key       <pem-file>
//		tls_client_ca <pem-file>
//		sasl_user     <name> <password> [read:<topic>] [write:<topic>] [group:<group>] [superuser]
//	}
//
// sasl_user may repeat, one user each; any user turns SCRAM
// authentication and ACLs on. Give passwords as placeholders
// ({env.SHORTIFY_KAFKA_EDGE_PASSWORD}), expanded at provision. read:,
// write: and group: may repeat; read: and write: of a topic also allow
// describing it; group: allows joining and committing in the group.
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
		case "tls_cert":
			return o.String(&a.TLSCert)
		case "tls_key":
			return o.String(&a.TLSKey)
		case "tls_client_ca":
			return o.String(&a.TLSClientCA)
		case "sasl_user":
			u, err := parseUser(o)
			if err != nil {
				return err
			}
			a.Users = append(a.Users, u)
			return nil
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

// parseUser parses `sasl_user <name> <password> [grant...]`.
func parseUser(o *caddyopt.Option) (User, error) {
	if len(o.Args) < 2 {
		return User{}, o.Errf("sasl_user takes a name, a password and grants, got %d values", len(o.Args))
	}
	u := User{Name: o.Args[0], Password: o.Args[1]}
	for _, g := range o.Args[2:] {
		kind, name, _ := strings.Cut(g, ":")
		switch {
		case g == "superuser":
			u.Superuser = true
		case name == "":
			return User{}, o.Errf("sasl_user %s: grant %q: want read:<topic>, write:<topic>, group:<group> or superuser", u.Name, g)
		case kind == "read":
			u.Read = append(u.Read, name)
		case kind == "write":
			u.Write = append(u.Write, name)
		case kind == "group":
			u.Groups = append(u.Groups, name)
		default:
			return User{}, o.Errf("sasl_user %s: grant %q: want read:<topic>, write:<topic>, group:<group> or superuser", u.Name, g)
		}
	}
	return u, nil
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
