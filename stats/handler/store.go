package handler

import (
	"context"
	"sync"
	"time"

	"github.com/shortify/shortify/stats/api"
)

// lazyStore connects to the stats database on first use, not in
// Provision: Provision stays fast, and the embedded default's SQLite
// file and directory are made by the shortify app's Start, which runs
// after the handlers are provisioned. A failed connection is retried by
// the next request (which answers 503 meanwhile).
type lazyStore struct {
	dsn   string
	mu    sync.Mutex
	store api.Store

	// root is the store that a Workspace view (of workspace ws) reads
	// through; nil in the root.
	root *lazyStore
	ws   int64
}

// Workspace implements api.Store: the view connects through the root.
func (l *lazyStore) Workspace(id int64) api.Store {
	if l.root != nil {
		l = l.root
	}
	return &lazyStore{root: l, ws: id}
}

// get returns the store, connecting when there is none.
func (l *lazyStore) get(ctx context.Context) (api.Store, error) {
	if l.root != nil {
		s, err := l.root.get(ctx)
		if err != nil {
			return nil, err
		}
		return s.Workspace(l.ws), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return l.store, nil
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	s, err := api.Open(ctx, l.dsn)
	if err != nil {
		return nil, err
	}
	l.store = s
	return s, nil
}

// Destruct closes the connections when the last config lets go.
func (l *lazyStore) Destruct() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store == nil {
		return nil
	}
	err := l.store.Close()
	l.store = nil
	return err
}

// Buckets implements api.Store.
func (l *lazyStore) Buckets(ctx context.Context, g api.Granularity, code string, linkID int64, from, to time.Time) ([]api.BucketRow, error) {
	s, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.Buckets(ctx, g, code, linkID, from, to)
}

// Top implements api.Store.
func (l *lazyStore) Top(ctx context.Context, g api.Granularity, code string, linkID int64, dimension string, from, to time.Time, traffic api.Traffic, limit int) ([]api.Counted, error) {
	s, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.Top(ctx, g, code, linkID, dimension, from, to, traffic, limit)
}

// TopLinks implements api.Store.
func (l *lazyStore) TopLinks(ctx context.Context, g api.Granularity, from, to time.Time, traffic api.Traffic, limit int) ([]api.LinkCount, error) {
	s, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return s.TopLinks(ctx, g, from, to, traffic, limit)
}

// LatestLinkID implements api.Store.
func (l *lazyStore) LatestLinkID(ctx context.Context, g api.Granularity, code string) (int64, error) {
	s, err := l.get(ctx)
	if err != nil {
		return 0, err
	}
	return s.LatestLinkID(ctx, g, code)
}

// HasLink implements api.Store.
func (l *lazyStore) HasLink(ctx context.Context, g api.Granularity, code string, linkID int64) (bool, error) {
	s, err := l.get(ctx)
	if err != nil {
		return false, err
	}
	return s.HasLink(ctx, g, code, linkID)
}

// Close implements api.Store; the usage pool closes through Destruct.
func (l *lazyStore) Close() error { return nil }
