package kafkasec

import (
	"slices"

	"github.com/shortify/shortify/internal/caddyopt"
)

// Options are the Caddyfile subdirectives of a Config, the same in every
// block that configures a Kafka client (the edge's `shortify_edge` handler, the
// `shortify` and `shortify_ingest` global options):
//
//	kafka_tls_ca          <pem-file>     # CAs of the brokers; turns TLS on
//	kafka_tls_cert        <pem-file>     # client certificate (mutual TLS), with kafka_tls_key
//	kafka_tls_key         <pem-file>
//	kafka_tls_server_name <name>         # name in the brokers' certificates; turns TLS on
//	kafka_sasl_mechanism  SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
//	kafka_sasl_user       <user>
//	kafka_sasl_password   <secret>       # a placeholder: {env.SHORTIFY_KAFKA_SASL_PASSWORD}
//
// The deployments set them from the environment variables of the same
// names in upper case with a SHORTIFY_ prefix (SHORTIFY_KAFKA_TLS_CA, ...,
// SHORTIFY_KAFKA_SASL_PASSWORD), as {env.*} placeholders expanded at
// provision time.
var Options = []string{
	"kafka_tls_ca", "kafka_tls_cert", "kafka_tls_key", "kafka_tls_server_name",
	"kafka_sasl_mechanism", "kafka_sasl_user", "kafka_sasl_password",
}

// Set sets the field of the Caddyfile subdirective name (one of Options)
// to v and reports whether name is one of them; a block's parser calls it
// for the subdirectives it does not know itself, before answering
// "unknown option". Values are checked by Validate, after expansion.
func (c *Config) Set(name, v string) bool {
	var dst *string
	switch name {
	case "kafka_tls_ca":
		dst = &c.CAFile
	case "kafka_tls_cert":
		dst = &c.CertFile
	case "kafka_tls_key":
		dst = &c.KeyFile
	case "kafka_tls_server_name":
		dst = &c.ServerName
	case "kafka_sasl_mechanism":
		dst = &c.SASLMechanism
	case "kafka_sasl_user":
		dst = &c.User
	case "kafka_sasl_password":
		dst = &c.Password
	default:
		return false
	}
	*dst = v
	return true
}

// SetOption is Set for a block parsed with package caddyopt (the global
// options `shortify` and `shortify_ingest`): it reports whether o is one
// of Options, and an error when it is but does not have one value.
func (c *Config) SetOption(o *caddyopt.Option) (bool, error) {
	if !slices.Contains(Options, o.Name) {
		return false, nil
	}
	v, err := o.One()
	if err != nil {
		return true, err
	}
	return c.Set(o.Name, v), nil
}
