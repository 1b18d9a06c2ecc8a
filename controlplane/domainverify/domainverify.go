// Package domainverify is the DNS TXT challenge by which a workspace
// proves that it controls a custom domain: the control plane makes a
// random token, the customer publishes it as a TXT record at
// RecordName(domain), and Verify looks for it before the domain is
// marked verified (and so may get a certificate through on-demand TLS).
package domainverify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/targeturl"
)

// RecordPrefix is the label under which a domain's challenge is
// published: a name of its own, so that it never clashes with the CNAME
// or A record that points the domain at Shortify.
const RecordPrefix = "_shortify-challenge."

// ValuePrefix starts the TXT record's value, so that a record is
// recognisable among others at the name.
const ValuePrefix = "shortify-verification="

// DefaultTimeout bounds one Verify when Verifier.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// tokenBytes is the challenge's entropy: 160 bits, 32 base32 characters
// (within the FSM's MinChallengeLen..MaxChallengeLen).
const tokenBytes = 20

// Errors of Verify, told apart so that the API can say what to fix.
var (
	// ErrNoRecord: the name has no TXT record (or does not exist).
	ErrNoRecord = errors.New("no TXT record")
	// ErrWrongValue: TXT records exist but none carries the challenge.
	ErrWrongValue = errors.New("no TXT record carries the challenge")
	// ErrResolver: the lookup failed (resolver unreachable, timeout,
	// server failure); trying again later may succeed.
	ErrResolver = errors.New("DNS lookup failed")
)

// NewChallenge returns a fresh random challenge token (lower-case
// base32, no padding).
func NewChallenge() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("challenge: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// RecordName is the name of the TXT record that must carry domain's
// challenge.
func RecordName(domain string) string { return RecordPrefix + domain }

// RecordValue is the TXT record's value for a challenge.
func RecordValue(challenge string) string { return ValuePrefix + challenge }

// Verifier looks challenges up in DNS.
type Verifier struct {
	// Resolver is the DNS server (host:port) asked; empty: the system's.
	Resolver string
	// Timeout bounds one Verify (0: DefaultTimeout).
	Timeout time.Duration
}

// Verify reports whether RecordName(domain) has a TXT record whose value
// is RecordValue(challenge); the error wraps ErrNoRecord, ErrWrongValue
// or ErrResolver otherwise.
func (v Verifier) Verify(ctx context.Context, domain, challenge string) error {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(v.Timeout, DefaultTimeout))
	defer cancel()
	name := RecordName(domain)
	txts, err := targeturl.DNSResolver(v.Resolver).LookupTXT(ctx, name+".")
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return fmt.Errorf("verify %s: %w at %s", domain, ErrNoRecord, name)
		}
		return fmt.Errorf("verify %s: %w: %w", domain, ErrResolver, err)
	}
	if len(txts) == 0 {
		return fmt.Errorf("verify %s: %w at %s", domain, ErrNoRecord, name)
	}
	want := RecordValue(challenge)
	if !slices.Contains(txts, want) {
		return fmt.Errorf("verify %s: %w: %s has %d TXT record(s), none is %q", domain, ErrWrongValue, name, len(txts), want)
	}
	return nil
}
