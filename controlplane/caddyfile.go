package controlplane

import (
	"errors"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/shortify/shortify/internal/caddyopt"
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
//		cluster_ca      <file>
//		cluster_cert    <file>
//		cluster_key     <file>
//		cluster_listen  <host:port>
//		restore_from    <backup-file>
//		database        <dsn>
//		redis           [<host:port>]
//		redis_prefix    <prefix>
//		redis_ttl       <duration>
//		public_url      <url>
//		cors_origins    <origin...>
//		own_domains     <host...>
//		blocked_domains <host...>
//		max_url_length  <bytes>
//		allow_private_targets   on|off
//		outbound_allow_private  on|off
//		fetch_titles            on|off
//		shortener_domains       <host...>
//		allow_shortener_targets on|off
//		lookalike_hosts         refuse|allow|flag
//		threat_feed <name> urlhaus|openphish|phishtank|plain <file-or-https-url>
//		threat_feed_refresh     <duration>
//		blocklist_refresh       <duration>
//		target_resolver         <host:port>
//		target_resolve_timeout  <duration>
//		domain_resolver         <host:port>
//		workspace_max_links          <n>
//		workspace_creates_per_minute <n>
//		workspace_max_domains        <n>
//		stats_database  <dsn>
//		click_totals_interval <duration>|off
//		partition_months_ahead   <n>
//		partition_retention      <duration>
//		partition_retention_mode drop|detach
//		partition_check_interval <duration>
//		anonymous_create on|off
//		anonymous_per_minute <n>
//		trusted_proxies <cidr...>|private_ranges
//		audit_retention   <duration>
//		report_per_minute <n>
//		initial_api_key <key>|{env.VAR}|{file.PATH}
//		kafka_brokers      <host:port...>
//		link_events_topic  <name>
//		cleanup_batch_size <n>
//		cleanup_interval   <duration>
//		cleanup_rate       <batches per second>
//		kafka_tls_ca          <pem-file>
//		kafka_tls_cert        <pem-file>
//		kafka_tls_key         <pem-file>
//		kafka_tls_server_name <name>
//		kafka_sasl_mechanism  SCRAM-SHA-512|SCRAM-SHA-256|PLAIN
//		kafka_sasl_user       <user>
//		kafka_sasl_password   <secret>
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
// caught up. Members prove membership with mutual TLS from one cluster
// CA: every member needs cluster_ca, its own cluster_cert and cluster_key
// (`shortify cluster-ca`, `shortify cluster-cert`; the values may be
// placeholders such as {env.SHORTIFY_CLUSTER_CERT}, expanded at start),
// cluster_listen (its internal listener, which serves the node-to-node
// routes and nothing else) and api_addr (the https URL the others reach
// that listener at); join lists such URLs. Without cluster TLS the node
// is a cluster of one that opens no Raft port. cluster_secret was removed
// and is refused.
//
// public_url is required: short URLs and QR codes never follow a
// request's Host header. cors_origins lists the only origins whose web
// pages may call the API (writes included) from a browser. Write
// initial_api_key as a runtime placeholder, {env.SHORTIFY_INITIAL_API_KEY},
// not as {$SHORTIFY_INITIAL_API_KEY}: a {$VAR} is substituted when the
// Caddyfile is adapted, so the key would sit in the JSON config that the
// admin endpoint's /config/ serves; a placeholder is expanded only when
// the app is provisioned.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	return caddyopt.Block(d, func(o *caddyopt.Option) error {
		switch o.Name {
		case "data_dir":
			return o.String(&a.DataDir)
		case "node_id":
			return o.String(&a.NodeID)
		case "raft_bind":
			return o.String(&a.RaftBind)
		case "raft_advertise":
			return o.String(&a.RaftAdvertise)
		case "api_addr":
			return o.String(&a.APIAddr)
		case "join":
			return o.Append(&a.Join)
		case "bootstrap":
			return optionalOnOff(o, &a.Bootstrap)
		case "cluster_secret":
			return o.Errf("%v", errClusterSecret)
		case "cluster_ca":
			return o.String(&a.ClusterCA)
		case "cluster_cert":
			return o.String(&a.ClusterCert)
		case "cluster_key":
			return o.String(&a.ClusterKey)
		case "cluster_listen":
			return o.String(&a.ClusterListen)
		case "restore_from":
			return o.String(&a.RestoreFrom)
		case "database":
			return o.String(&a.Database)
		case "redis":
			return o.String(&a.Redis)
		case "redis_prefix":
			return o.String(&a.RedisPrefix)
		case "redis_ttl":
			return o.PositiveDuration(&a.RedisTTL)
		case "anonymous_create":
			return o.OnOff(&a.AnonymousCreate)
		case "anonymous_per_minute":
			return o.PositiveInt(&a.AnonymousPerMinute, "creates a minute")
		case "trusted_proxies":
			return o.Append(&a.TrustedProxies)
		case "audit_retention":
			return o.PositiveDuration(&a.AuditRetention)
		case "report_per_minute":
			return o.PositiveInt(&a.ReportPerMinute, "reports a minute")
		case "domain_check_per_minute":
			return o.PositiveInt(&a.DomainCheckPerMinute, "domain checks a minute")
		case "initial_api_key":
			return o.String(&a.InitialAPIKey)
		case "public_url":
			return o.String(&a.PublicURL)
		case "cors_origins":
			return o.Append(&a.CORSOrigins)
		case "own_domains":
			return o.Append(&a.OwnDomains)
		case "blocked_domains":
			return o.Append(&a.BlockedDomains)
		case "max_url_length":
			return o.PositiveInt(&a.MaxURLLength, "bytes")
		case "allow_private_targets":
			return o.OnOff(&a.AllowPrivateTargets)
		case "outbound_allow_private":
			return o.OnOff(&a.OutboundAllowPrivate)
		case "fetch_titles":
			return optionalOnOff(o, &a.FetchTitles)
		case "shortener_domains":
			return o.Append(&a.ShortenerDomains)
		case "allow_shortener_targets":
			return o.OnOff(&a.AllowShortenerTargets)
		case "lookalike_hosts":
			return o.String(&a.LookalikeHosts)
		case "threat_feed":
			return a.parseThreatFeed(o)
		case "threat_feed_refresh":
			return o.PositiveDuration(&a.ThreatFeedRefresh)
		case "blocklist_refresh":
			return o.PositiveDuration(&a.BlocklistRefresh)
		case "target_resolver":
			return o.String(&a.TargetResolver)
		case "target_resolve_timeout":
			return o.PositiveDuration(&a.TargetResolveTimeout)
		case "domain_resolver":
			return o.String(&a.DomainResolver)
		case "workspace_max_links":
			return limitOption(o, &a.WorkspaceMaxLinks)
		case "workspace_creates_per_minute":
			return limitOption(o, &a.WorkspaceCreatesPerMinute)
		case "workspace_max_domains":
			return limitOption(o, &a.WorkspaceMaxDomains)
		case "stats_database":
			return o.String(&a.StatsDatabase)
		case "click_totals_interval":
			return a.parseClickTotalsInterval(o)
		case "partition_months_ahead":
			return o.PositiveInt(&a.PartitionMonthsAhead, "months")
		case "partition_retention":
			return o.PositiveDuration(&a.PartitionRetention)
		case "partition_check_interval":
			return o.PositiveDuration(&a.PartitionCheckInterval)
		case "partition_retention_mode":
			return o.String(&a.PartitionRetentionMode)
		case "kafka_brokers":
			return o.Append(&a.KafkaBrokers)
		case "link_events_topic":
			return o.String(&a.LinkEventsTopic)
		case "cleanup_batch_size":
			return o.PositiveInt(&a.CleanupBatchSize, "links")
		case "cleanup_interval":
			return o.PositiveDuration(&a.CleanupInterval)
		case "cleanup_rate":
			return o.PositiveFloat(&a.CleanupRate, "batches a second")
		}
		if ok, err := a.KafkaSecurity.SetOption(o); ok { // kafka_tls_*, kafka_sasl_*
			return err
		}
		return o.Unknown("shortify")
	})
}

// optionalOnOff sets a switch whose default depends on other settings
// (nil: the default) from on or off.
func optionalOnOff(o *caddyopt.Option, dst **bool) error {
	var b bool
	if err := o.OnOff(&b); err != nil {
		return err
	}
	*dst = &b
	return nil
}

// limitOption sets a workspace limit default: a whole number, 0 for no
// limit.
func limitOption(o *caddyopt.Option, dst *int64) error {
	var n int
	if err := o.Int(&n); err != nil {
		return err
	}
	if n < 0 {
		return o.Errf("%s %d: want 0 (no limit) or more", o.Name, n)
	}
	*dst = int64(n)
	return nil
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
