// Package shortify plugs every Shortify Caddy module into a Caddy build
// with one import, the way Caddy plugins are built with xcaddy:
//
//	xcaddy build v2.11.9 --with github.com/shortify/shortify=.
//
// It registers the edge handler (http.handlers.shortify), the control-plane
// app (shortify) and its API handler (http.handlers.shortify_api), the
// stats API and dashboard handler (http.handlers.shortify_stats), and the
// Shortify subcommands. cmd/shortify is the same build without xcaddy.
package shortify

import (
	// Each package registers its modules and Caddyfile directives in init.
	_ "github.com/shortify/shortify/caddymodule"
	_ "github.com/shortify/shortify/controlplane"
	_ "github.com/shortify/shortify/internal/kafkabroker/caddyapp" // the embedded broker app, shortify_kafka
	_ "github.com/shortify/shortify/stats"                         // the stats ingest app, shortify_ingest
	_ "github.com/shortify/shortify/stats/handler"
)
