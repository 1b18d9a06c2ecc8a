package handler

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/partitions"
)

// TestLazyWorkspaceView: a workspace view of the lazy store connects
// through its root (one connection for all views) and its Close leaves
// the root's connection open.
func TestLazyWorkspaceView(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	root := &lazyStore{dsn: dsn}
	defer root.Destruct()
	view := root.Workspace(2).Workspace(3) // a view of a view is the root's
	if id, err := view.LatestLinkID(t.Context(), api.Day, "abc"); err != nil || id != 0 {
		t.Fatalf("LatestLinkID through a view: %d, %v", id, err)
	}
	if v := view.(*lazyStore); v.root != root || v.ws != 3 || root.store == nil {
		t.Fatalf("the view reads workspace %d through %p, not the connected root %p", v.ws, v.root, root)
	}
	if err := view.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := root.LatestLinkID(t.Context(), api.Day, "abc"); err != nil {
		t.Fatalf("the root after a view's Close: %v", err)
	}
	if ok, err := view.HasLink(t.Context(), api.Day, "abc", 1); err != nil || ok {
		t.Fatalf("HasLink through a view: %v, %v", ok, err)
	}
}
