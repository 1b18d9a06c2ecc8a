// Package domainname checks the one form in which Shortify stores and
// sends a domain name (a link's custom domain, a click's domain): lower
// case ASCII, punycode for IDNs, without port or trailing dot. Parsing
// what people type (Unicode, ports, upper case) into that form is the
// API's job; this package only says whether a string already is in it.
package domainname

import (
	"errors"
	"fmt"
)

// MaxLen is the longest domain name in bytes (RFC 1035).
const MaxLen = 253

// Check reports why d is not a domain name in the stored form: one or
// more dot-separated labels of 1 to 63 bytes of a-z, 0-9 and hyphens,
// neither starting nor ending with a hyphen, MaxLen bytes in all. It does
// not allocate for a valid name.
func Check(d string) error {
	if d == "" {
		return errors.New("empty domain name")
	}
	if len(d) > MaxLen {
		return fmt.Errorf("domain name has %d bytes, more than %d", len(d), MaxLen)
	}
	start := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			c := d[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return fmt.Errorf("domain name %.80q: byte %q is not a lower-case letter, digit or hyphen (punycode, without port)", d, c)
			}
			continue
		}
		label := d[start:i]
		switch {
		case label == "":
			return fmt.Errorf("domain name %.80q has an empty label (leading, trailing or double dot)", d)
		case len(label) > 63:
			return fmt.Errorf("domain name %.80q has a label of %d bytes, more than 63", d, len(label))
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("domain name %.80q has a label that starts or ends with a hyphen", d)
		}
		start = i + 1
	}
	return nil
}
