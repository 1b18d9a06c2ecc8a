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
