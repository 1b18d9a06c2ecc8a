// Package workspace names what every part of Shortify agrees on about
// workspaces: the tenants that own links, domains, keys and statistics.
package workspace

// DefaultID is the workspace that exists on every installation: links,
// statistics and non-admin keys from before workspaces belong to it.
const DefaultID int64 = 1

// DefaultName is the default workspace's name.
const DefaultName = "default"

// Of returns the workspace that id names where 0 stands for "none given":
// links, keys and click events from before workspaces, and creates that
// name none, belong to the default workspace.
func Of(id int64) int64 {
	if id == 0 {
		return DefaultID
	}
	return id
}
