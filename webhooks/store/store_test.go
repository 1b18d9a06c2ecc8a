package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/store"
	"github.com/shortify/shortify/webhooks/storetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, dsn string, now func() time.Time) *store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), store.Config{DSN: dsn, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) webhooks.Store {
		return open(t, "sqlite://"+filepath.Join(t.TempDir(), "links.db"), now)
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) webhooks.Store {
		return open(t, testenv.Schema(t), now)
	})
}

// TestOpenTwice: a second Open of one database finds the migrations
// applied and keeps the rows.
func TestOpenTwice(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]string{
		"sqlite":   "sqlite://" + filepath.Join(t.TempDir(), "links.db"),
		"postgres": testenv.Schema(t),
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t, dsn, nil)
			e, err := s.CreateEndpoint(t.Context(), webhooks.Endpoint{Workspace: 1, URL: "https://a.example/", Events: webhooks.Events, Secret: "whsec_x"})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			again := open(t, dsn, nil)
			if _, err := again.Endpoint(t.Context(), 1, e.ID); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOpenRefusesABadDSN(t *testing.T) {
	for _, dsn := range []string{"", "mysql://x", "sqlite://x?mode=memory"} {
		if s, err := store.Open(context.Background(), store.Config{DSN: dsn}); err == nil {
			s.Close()
			t.Errorf("%q opened", dsn)
		}
	}
}
