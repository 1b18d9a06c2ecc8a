package shortcode

import (
	"errors"
	"strings"
	"testing"
)

func TestWellFormed(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a9ZkQ2", true},
		{"a", true},
		{"my_promo-2026", true},
		{strings.Repeat("z", MaxLen), true},
		{"", false},
		{strings.Repeat("z", MaxLen+1), false},
		{"a/b", false},
		{"a.b", false},
		{"a b", false},
		{"a%20", false},
		{"ä", false},
		{"\x00", false},
	}
	for _, tt := range tests {
		if got := WellFormed(tt.in); got != tt.want {
			t.Errorf("WellFormed(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidateAlias(t *testing.T) {
	tests := []struct{ in, errHas string }{
		{"promo", ""},
		{"Black-Friday_2026", ""},
		{"abc", ""},
		{"ab", "at least 3"},
		{strings.Repeat("x", MaxLen+1), "at most 64"},
		{"a b", "' ' at position 2"},
		{"a/b", "'/' at position 2"},
		{"ünï", "not allowed"},
		{"api", "reserved"},
		{"API", "reserved"},
		{"Dashboard", "reserved"},
		{"report", "reserved"},
		{"Reports", "reserved"},
	}
	for _, tt := range tests {
		err := ValidateAlias(tt.in)
		switch {
		case tt.errHas == "" && err != nil:
			t.Errorf("ValidateAlias(%q) = %v, want nil", tt.in, err)
		case tt.errHas != "" && (err == nil || !errors.Is(err, ErrInvalidAlias) || !strings.Contains(err.Error(), tt.errHas)):
			t.Errorf("ValidateAlias(%q) = %v, want ErrInvalidAlias containing %q", tt.in, err, tt.errHas)
		}
	}
}

// FuzzWellFormed: the check never panics, every valid alias is well formed,
// and a well-formed string has only the allowed bytes.
func FuzzWellFormed(f *testing.F) {
	for _, s := range []string{"a9ZkQ2", "", "a/b", "api", "x-y_z", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := WellFormed(s)
		if ValidateAlias(s) == nil && !ok {
			t.Fatalf("%q is a valid alias but not well formed", s)
		}
		if ok && strings.IndexFunc(s, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '_' || r == '-')
		}) >= 0 {
			t.Fatalf("%q is well formed but has a forbidden character", s)
		}
	})
}
