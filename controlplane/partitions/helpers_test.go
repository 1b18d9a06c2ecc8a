package partitions

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
	statsparts "github.com/shortify/shortify/stats/partitions"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func month(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }

// setup opens a migrated manager of the stats schema on a fresh schema;
// cfg.DSN, when empty, is that schema's.
func setup(t *testing.T, cfg statsparts.Config) (*statsparts.Manager, string) {
	t.Helper()
	if cfg.DSN == "" {
		cfg.DSN = testenv.Schema(t)
	}
	cfg.Migrate = true
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	m, err := statsparts.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(m.Close)
	return m, cfg.DSN
}

func listManaged(t *testing.T, m *statsparts.Manager) []statsparts.Partition {
	t.Helper()
	ps, err := m.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return slices.DeleteFunc(ps, func(p statsparts.Partition) bool { return !p.Managed })
}
