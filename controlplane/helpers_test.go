package controlplane

import (
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
