// Command shortify is Caddy with the Shortify modules plugged in, built the
// way xcaddy builds a custom Caddy: the standard modules plus the edge
// handler (http.handlers.shortify_edge, and http.handlers.shortify, its
// deprecated old name), the control-plane app (shortify) and its API
// handler (http.handlers.shortify_api), the stats ingest app
// (shortify_ingest) and the stats API and dashboard handler
// (http.handlers.shortify_stats), and the embedded broker app
// (shortify_kafka). The list is kept, with what each module is, in the
// root package shortify. Every Caddy subcommand works: `shortify run
// --config Caddyfile`, `shortify list-modules`, …
package main

import (
	_ "time/tzdata"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/shortify/shortify" // every Shortify module, as xcaddy adds them
)

func main() {
	// Help and usage errors name the command people typed.
	caddy.CustomBinaryName = "shortify"
	caddycmd.Main()
}
