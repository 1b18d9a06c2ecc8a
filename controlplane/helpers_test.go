package controlplane

import (
	"log/slog"
	"testing"

	"github.com/shortify/shortify/internal/apikey"
)

// newKey returns a new API key (a secret the app accepts as
// InitialAPIKey), failing the test if none can be made.
func newKey(t testing.TB) apikey.Key {
	t.Helper()
	key, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// wantInvalid checks that Validate refuses a, with its defaults filled in
// and a data directory of the test's; name says which case a is.
func wantInvalid(t *testing.T, name string, a *App) {
	t.Helper()
	a.DataDir = t.TempDir()
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err == nil {
		t.Errorf("%s: accepted", name)
	}
}

// wantValid fills in a's defaults and fails the test unless Validate
// accepts it.
func wantValid(t *testing.T, a *App) {
	t.Helper()
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

// openTestService opens the service of a (its defaults filled in), with
// its logs discarded; the caller destructs it.
func openTestService(t *testing.T, a *App) *service {
	t.Helper()
	svc, err := openService(a.serviceConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
