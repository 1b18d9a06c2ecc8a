// Package workspace names what every part of Shortify agrees on about
// workspaces: the tenants that own links, domains, keys and statistics.
package workspace

// DefaultID is the workspace that exists on every installation: links,
// statistics and non-admin keys from before workspaces belong to it.
const DefaultID int64 = 1

// DefaultName is the default workspace's name.
const DefaultName = "default"
