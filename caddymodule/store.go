package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// storeOpener opens a link store; backend.Open unless a test sets another.
type storeOpener func(context.Context, linkstore.Config) (linkstore.Store, error)

const (
	// storeOpenTimeout bounds opening the store (backend.Open pings the
	// primary), which happens on the first lookup, not in Provision.
	storeOpenTimeout = 5 * time.Second
	// storeRetryAfter is how long a failed open is answered from memory
	// (503) before a lookup tries again, so that a database outage does not
	// turn every miss into a new connection attempt.
	storeRetryAfter = time.Second
)

// lazyStore opens the link store on first use rather than in Provision:
// backend.Open pings the primary (and SQLite migrates), and Provision must
// not wait on the network. A failed open is remembered for storeRetryAfter.
type lazyStore struct {
	cfg  linkstore.Config
	open storeOpener

	ready atomic.Pointer[storeBox] // set once open; the lookup fast path
	sem   chan struct{}            // held while opening: one open at a time

	mu      sync.Mutex // guards the fields below
	closed  bool
	err     error     // of the last failed open
	retryAt time.Time // when to try again after err
}

type storeBox struct{ linkstore.Store }

var errStoreClosed = errors.New("shortify_edge: link store closed")

func newLazyStore(cfg linkstore.Config, open storeOpener) *lazyStore {
	return &lazyStore{cfg: cfg, open: open, sem: make(chan struct{}, 1)}
}

// get returns the open store, opening it if needed. It waits for an open in
// progress as long as ctx allows.
func (s *lazyStore) get(ctx context.Context) (linkstore.Store, error) {
	if b := s.ready.Load(); b != nil {
		return b.Store, nil
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if b := s.ready.Load(); b != nil {
		return b.Store, nil // opened while we waited
	}
	s.mu.Lock()
	closed, lastErr, retryAt := s.closed, s.err, s.retryAt
	s.mu.Unlock()
	switch {
	case closed:
		return nil, errStoreClosed
	case lastErr != nil && time.Now().Before(retryAt):
		return nil, lastErr
	}

	// The open is shared by everyone waiting, so the request that happens
	// to run it must not cancel it by going away.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeOpenTimeout)
	st, err := s.open(octx, s.cfg)
	cancel()

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = fmt.Errorf("shortify_edge: open link store: %w", err)
		s.retryAt = time.Now().Add(storeRetryAfter)
		return nil, s.err
	}
	if s.closed {
		st.Close()
		return nil, errStoreClosed
	}
	s.err = nil
	s.ready.Store(&storeBox{st})
	return st, nil
}

// Destruct closes the store if it was opened; a later get fails.
func (s *lazyStore) Destruct() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if b := s.ready.Swap(nil); b != nil {
		b.Close()
	}
	return nil
}
