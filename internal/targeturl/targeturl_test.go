package targeturl

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	p := Policy{MaxLength: 100, OwnHosts: []string{"sho.rt", "localhost:8080"}, BlockedDomains: []string{"evil.example"}}
	tests := []struct {
		in, want, errHas string
	}{
		{in: "https://example.com/a?b=c#d", want: "https://example.com/a?b=c#d"},
		{in: "HTTP://Example.COM/Path", want: "http://example.com/Path"},
		{in: "https://example.com:8443/x", want: "https://example.com:8443/x"},
		{in: "https://bücher.example/", want: "https://xn--bcher-kva.example/"},
		{in: "http://192.0.2.1/x", want: "http://192.0.2.1/x"},
		{in: "http://[2001:db8::1]:80/x", want: "http://[2001:db8::1]:80/x"},
		{in: "https://example.com./", want: "https://example.com/"},
		{in: "", errHas: "empty"},
		{in: "https://example.com/" + strings.Repeat("a", 100), errHas: "limit is 100"},
		{in: "javascript:alert(1)", errHas: "scheme \"javascript\""},
		{in: "ftp://example.com/", errHas: "scheme \"ftp\""},
		{in: "data:text/html,hi", errHas: "scheme"},
		{in: "example.com/path", errHas: "absolute"},
		{in: "//example.com/path", errHas: "absolute"},
		{in: "https:///path", errHas: "no host"},
		{in: "https:example.com", errHas: "no host"},
		{in: "https://user:pw@example.com/", errHas: "credentials"},
		{in: "https://exa mple.com/", errHas: "space"},
		{in: "https://example.com/\x00", errHas: "control"},
		{in: "https://exa_mple.com/", errHas: "not a valid domain"},
		{in: "https://-example.com/", errHas: "not a valid domain"},
		{in: "https://intranet/", errHas: "fully qualified"},
		{in: "https://example.com:0/", errHas: "port"},
		{in: "https://example.com:99999/", errHas: "port"},
		{in: "https://example.com:/", errHas: "port"},
		{in: "https://sho.rt/abc", errHas: "this shortener"},
		{in: "https://www.SHO.rt/abc", errHas: "this shortener"},
		{in: "http://localhost:8080/abc", errHas: "this shortener"},
		{in: "http://localhost:9999/abc", errHas: "this shortener"},
		{in: "https://a.evil.example/", errHas: "blocked"},
		{in: "https://notevil.example/", want: "https://notevil.example/"},
		{in: "https://[fe80::1%25eth0]/", errHas: "zones"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := p.Check(tt.in)
			if tt.errHas != "" {
				if err == nil {
					t.Fatalf("Check(%q) = %q, want an error containing %q", tt.in, got, tt.errHas)
				}
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Check(%q) error = %v, want ErrInvalid containing %q", tt.in, err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Check(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDefaultMaxLength(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", DefaultMaxLength)
	if _, err := (Policy{}).Check(long); err == nil {
		t.Fatal("a URL over DefaultMaxLength was accepted")
	}
	ok := "https://example.com/" + strings.Repeat("a", DefaultMaxLength-40)
	if _, err := (Policy{}).Check(ok); err != nil {
		t.Fatalf("a URL under DefaultMaxLength was refused: %v", err)
	}
}

// FuzzCheck: Check never panics, and what it accepts it accepts again
// unchanged (normalisation is idempotent) and is http(s).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"https://example.com/", "http://[::1]:80/", "https://bücher.example/a?b#c", "javascript:x", "https://u@h.com", "http://a.b:65535"} {
		f.Add(s)
	}
	p := Policy{OwnHosts: []string{"sho.rt"}}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := p.Check(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if !strings.HasPrefix(got, "http://") && !strings.HasPrefix(got, "https://") {
			t.Fatalf("accepted %q as %q", raw, got)
		}
		again, err := p.Check(got)
		if err != nil || again != got {
			t.Fatalf("normalised %q to %q, which checks as %q, %v", raw, got, again, err)
		}
	})
}
