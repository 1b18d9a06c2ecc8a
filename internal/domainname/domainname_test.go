package domainname

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	long := strings.Repeat(label63+".", 4)[:MaxLen+1]
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"go.acme.example", true},
		{"xn--80ak6aa92e.com", true},
		{"localhost", true},
		{"a-b.c", true},
		{label63 + ".example", true},
		{"", false},
		{"Go.acme.example", false},
		{"go.acme.example.", false},
		{".go.acme.example", false},
		{"go..example", false},
		{"go.acme.example:443", false},
		{"-go.example", false},
		{"go-.example", false},
		{"go.example-", false},
		{label63 + "a.example", false},
		{long, false},
		{"gо.example", false}, // Cyrillic о: not punycode
		{"go example", false},
		{"go_example.com", false},
	} {
		if err := Check(tc.in); (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Check("go.acme.example") }); n != 0 {
		t.Fatalf("Check of a valid name allocates %v times", n)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"go.acme.example", "", "a..b", "-a.b", "xn--80ak6aa92e.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d string) {
		if Check(d) != nil {
			return
		}
		// A valid name is its own lower-case, dot-trimmed form.
		if strings.ToLower(d) != d || strings.Trim(d, ".") != d || len(d) > MaxLen {
			t.Fatalf("Check accepted %q", d)
		}
	})
}
