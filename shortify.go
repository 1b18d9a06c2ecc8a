// Package shortify plugs every Shortify Caddy module into a Caddy build
// with one import, the way Caddy plugins are built with xcaddy:
//
//	xcaddy build v2.11.9 --with github.com/shortify/shortify=.
//
// It registers these modules (Caddyfile names in brackets) and the
// Shortify subcommands:
//
//   - http.handlers.shortify_edge [shortify_edge]: the edge, redirecting
//     short codes (package caddymodule); http.handlers.shortify
//     [shortify] is its deprecated old name, kept for one release;
//   - shortify [global option shortify]: the control-plane app, and its
//     REST API handler http.handlers.shortify_api [shortify_api];
//   - shortify_ingest [global option shortify_ingest]: the stats ingest
//     app, and the stats API and dashboard handler
//     http.handlers.shortify_stats [shortify_stats];
//   - shortify_kafka [global option shortify_kafka]: the embedded
//     Kafka-protocol broker app.
//
// and the command line of the REST APIs (package cli): `shortify links`,
// `stats`, `keys`, `export` and `import`.
//
// cmd/shortify is the same build without xcaddy.
package shortify

import (
	// Each package registers its modules and Caddyfile directives in init.
	_ "github.com/shortify/shortify/caddymodule"
	_ "github.com/shortify/shortify/cli" // the command line: shortify links, stats, keys, export, import
	_ "github.com/shortify/shortify/controlplane"
	_ "github.com/shortify/shortify/kafkabroker/caddyapp" // the embedded broker app, shortify_kafka
	_ "github.com/shortify/shortify/stats"                // the stats ingest app, shortify_ingest
	_ "github.com/shortify/shortify/stats/handler"
)
