package linkstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/domainname"
	"github.com/shortify/shortify/internal/linkstore"
)

func TestValidateDomain(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	long := strings.Repeat(label63+".", 4)[:254] // 254 bytes, labels of 63
	tests := []struct {
		domain string
		ok     bool
	}{
		{"", true},
		{"example.com", true},
		{"go.acme.co.uk", true},
		{"xn--bcher-kva.example", true},
		{"a-b.example", true},
		{"localhost", true},
		{"1.2.3.4", true},
		{label63 + ".example", true},
		{long[:253], true},
		{long, false},
		{strings.Repeat("a", 64) + ".example", false},
		{"Example.com", false},
		{"example.com.", false},
		{".example.com", false},
		{"a..example", false},
		{"example.com:443", false},
		{"-a.example", false},
		{"a-.example", false},
		{"a_b.example", false},
		{"bücher.example", false},
		{"[::1]", false},
		{"a b.example", false},
		{"a/b", false},
		{"a\x00b", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		err := linkstore.ValidateDomain(tt.domain)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateDomain(%.40q) = %v, want ok %t", tt.domain, err, tt.ok)
		}
		if err != nil && !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("ValidateDomain(%.40q): %v does not wrap ErrInvalidLink", tt.domain, err)
		}
	}
}

// FuzzValidateDomain: an accepted domain is in the one form the stores
// compare (lower case, no port, no trailing dot, at most 253 bytes).
func FuzzValidateDomain(f *testing.F) {
	for _, d := range []string{"", "example.com", "Example.com", "a..b", "x:1", "xn--d.example."} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d string) {
		if linkstore.ValidateDomain(d) != nil || d == "" {
			return
		}
		if d != strings.ToLower(d) || strings.ContainsAny(d, ":/[] ") || strings.HasSuffix(d, ".") ||
			strings.HasPrefix(d, ".") || len(d) > domainname.MaxLen {
			t.Errorf("ValidateDomain accepted %q", d)
		}
	})
}

func TestBoundsWorkspaceAndDomain(t *testing.T) {
	tests := []struct {
		name string
		q    linkstore.ListQuery
		ok   bool
	}{
		{"none", linkstore.ListQuery{}, true},
		{"workspace", linkstore.ListQuery{WorkspaceID: 7}, true},
		{"domain", linkstore.ListQuery{Domain: "go.example"}, true},
		{"negative workspace", linkstore.ListQuery{WorkspaceID: -1}, false},
		{"domain with a port", linkstore.ListQuery{Domain: "go.example:80"}, false},
		{"upper-case domain", linkstore.ListQuery{Domain: "Go.example"}, false},
	}
	for _, tt := range tests {
		b, err := tt.q.Bounds()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Bounds() = %v, want ok %t", tt.name, err, tt.ok)
			continue
		}
		if err == nil && (b.WorkspaceID != tt.q.WorkspaceID || b.Domain != tt.q.Domain) {
			t.Errorf("%s: bounds carry workspace %d, domain %q", tt.name, b.WorkspaceID, b.Domain)
		}
	}
}
