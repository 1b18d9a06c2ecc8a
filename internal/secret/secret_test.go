package secret

import (
	"errors"
	"os"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		ok      bool
	}{
		{"empty is the caller's decision", "", true},
		{"random base64", "q8Zk1m3v9R2xTt0YwPaL5eHs7cNb4GdU", true},
		{"api key", "sk_0123456789ab_AbCdEfGhIjKlMnOpQrStUvWxYz012345", true},
		{"compose default", "compose-cluster-secret-change-me", false},
		{"kubernetes placeholder", "CHANGE-ME-to-32-random-characters", false},
		{"dev password", "shortify-dev-password", false},
		{"unexpanded placeholder", "{env.SHORTIFY_CLUSTER_SECRET}", false},
		{"short", "Ab3$xY9", false},
		{"repeated", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"pattern", "abababababababababababab", false},
		{"digits", "1234567812345678", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check("test_secret", tc.v)
			if (err == nil) != tc.ok {
				t.Fatalf("Check(%q) = %v, want ok %v", tc.v, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrWeak) {
				t.Fatalf("Check(%q) = %v, not ErrWeak", tc.v, err)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	t.Setenv("SHORTIFY_SECRET_TEST", "q8Zk1m3v9R2xTt0YwPaL5eHs7cNb4GdU")
	if got := Resolve("{env.SHORTIFY_SECRET_TEST}"); got != "q8Zk1m3v9R2xTt0YwPaL5eHs7cNb4GdU" {
		t.Fatalf("Resolve(env) = %q", got)
	}
	f := t.TempDir() + "/key"
	if err := os.WriteFile(f, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := Resolve("{file." + f + "}"); got != "from-a-file" {
		t.Fatalf("Resolve(file) = %q", got)
	}
	if got := Resolve("plain"); got != "plain" {
		t.Fatalf("Resolve(plain) = %q", got)
	}
	if got := Resolve("{unknown.placeholder}"); got != "{unknown.placeholder}" {
		t.Fatalf("Resolve(unknown) = %q: an unknown placeholder must stay, so Check refuses it", got)
	}
}
