package apikey

import (
	"errors"
	"strings"
	"testing"
)

func TestNewParseMatch(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Secret) != Len || !strings.HasPrefix(k.Secret, "sk_"+k.ID+"_") {
			t.Fatalf("key %q with ID %q", k.Secret, k.ID)
		}
		id, err := Parse(k.Secret)
		if err != nil || id != k.ID {
			t.Fatalf("Parse(%q) = %q, %v", k.Secret, id, err)
		}
		if !Matches(k.Secret, k.Hash) {
			t.Fatal("a key does not match its own hash")
		}
		other := k.Secret[:len(k.Secret)-1] + "x"
		if other == k.Secret {
			other = k.Secret[:len(k.Secret)-1] + "y"
		}
		if Matches(other, k.Hash) {
			t.Fatal("a changed key matches")
		}
		if seen[k.ID] {
			t.Fatal("an ID repeats")
		}
		seen[k.ID] = true
	}
}

func TestParseRefuses(t *testing.T) {
	good, _ := New()
	for _, s := range []string{
		"", "sk_", good.Secret + "x", good.Secret[1:], "pk" + good.Secret[2:],
		strings.Replace(good.Secret, "_", "-", 2), good.Secret[:20] + "!" + good.Secret[21:],
	} {
		if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		have, need Role
		ok         bool
	}{
		{Admin, Admin, true}, {Admin, Creator, true}, {Admin, Viewer, true},
		{Creator, Admin, false}, {Creator, Creator, true}, {Creator, Viewer, true},
		{Viewer, Creator, false}, {Viewer, Viewer, true},
		{Role(""), Viewer, false}, {Role("root"), Viewer, false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.ok {
			t.Errorf("%q.Allows(%q) = %v", tt.have, tt.need, got)
		}
	}
	for _, s := range []string{"viewer", "creator", "admin"} {
		if r, err := ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%q) = %q, %v", s, r, err)
		}
	}
	if _, err := ParseRole("Admin"); err == nil {
		t.Error("roles are lower case")
	}
}

func FuzzParse(f *testing.F) {
	k, _ := New()
	f.Add(k.Secret)
	f.Add("sk_abc_def")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err == nil && (len(id) != IDLen || !strings.Contains(s, id)) {
			t.Fatalf("Parse(%q) = %q", s, id)
		}
	})
}
