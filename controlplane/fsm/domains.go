package fsm

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/shortify/shortify/internal/domainname"
)

// The custom domain registry: which workspace serves links on which host
// name, whether it proved it controls the name (a DNS TXT record carrying
// the domain's challenge), and how the edge answers there. The edge's
// on-demand TLS asks DomainVerified before it requests a certificate.

// Bounds of domain records.
const (
	// MaxDomains bounds the registry: it is replicated and snapshotted
	// whole.
	MaxDomains = 100_000
	// MinChallengeLen and MaxChallengeLen bound a domain's challenge.
	MinChallengeLen = 16
	MaxChallengeLen = 128
	// MaxRedirectLen bounds the redirect URLs of DomainSettings.
	MaxRedirectLen = 2048
)

// Business errors of the domain commands.
var (
	// ErrDomainTaken answers AddDomain for a domain another workspace holds.
	ErrDomainTaken = errors.New("domain held by another workspace")
	// ErrDomainExists answers AddDomain for a domain the same workspace
	// holds already.
	ErrDomainExists = errors.New("domain exists")
	// ErrUnknownDomain answers a command naming a domain the workspace
	// does not hold.
	ErrUnknownDomain = errors.New("no such domain in the workspace")
)

// NormalizeDomain turns a host name as a person or a Host header writes
// it into the registry's form: lower case, IDNs in punycode (xn--), no
// trailing dot, no port. It refuses IP addresses, single labels, and what
// is no valid host name, wrapping ErrInvalidCommand. The API reuses it to
// answer 400 before proposing.
func NormalizeDomain(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %q is not UTF-8", ErrInvalidCommand, s)
	}
	d := strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(d); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: %q has a bad port", ErrInvalidCommand, s)
		}
		d = host
	}
	d = strings.TrimSuffix(d, ".")
	if net.ParseIP(d) != nil {
		return "", fmt.Errorf("%w: %q is an IP address, not a domain", ErrInvalidCommand, s)
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not a valid domain: %w", ErrInvalidCommand, s, err)
	}
	if err := CheckCustomDomain(a); err != nil {
		return "", fmt.Errorf("%w (from %q)", err, s)
	}
	// The form must be its own normal form, or the registry could hold
	// one name twice; ToASCII passes some labels it would refuse in
	// punycode.
	if again, err := idna.Lookup.ToASCII(a); err != nil || again != a {
		return "", fmt.Errorf("%w: %q is not a valid domain", ErrInvalidCommand, s)
	}
	return a, nil
}

// CheckCustomDomain reports what makes d unacceptable in the registry: a
// lower-case ASCII host name with at least two labels of at most 63 bytes
// and a top-level label that is not numeric. It is what the FSM checks;
// the IDNA rules (NormalizeDomain) are the proposer's, since their tables
// change with library versions and the FSM must answer alike on every
// node.
func CheckCustomDomain(d string) error {
	if err := CheckDomain(d); err != nil {
		return err
	}
	if err := domainname.Check(d); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%w: %q has a single label; a custom domain has at least two", ErrInvalidCommand, d)
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return fmt.Errorf("%w: %q ends in a numeric label", ErrInvalidCommand, d)
	}
	return nil
}

// DomainSettings say how the edge answers on a custom domain.
type DomainSettings struct {
	// RootRedirect is where "/" redirects; empty: the instance's default.
	RootRedirect string `json:"root_redirect,omitempty"`
	// NotFoundRedirect is where an unknown code redirects; empty: a 404.
	NotFoundRedirect string `json:"not_found_redirect,omitempty"`
	// RedirectStatus is the status of the domain's link redirects (301,
	// 302, 307 or 308); 0: the instance's default.
	RedirectStatus int `json:"redirect_status,omitempty"`
}

// Check reports what makes the settings unacceptable, wrapping
// ErrInvalidCommand.
func (s DomainSettings) Check() error {
	switch s.RedirectStatus {
	case 0, 301, 302, 307, 308:
	default:
		return fmt.Errorf("%w: redirect status %d, want 301, 302, 307 or 308", ErrInvalidCommand, s.RedirectStatus)
	}
	for _, u := range []string{s.RootRedirect, s.NotFoundRedirect} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || len(u) > MaxRedirectLen || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("%w: redirect %q is not an absolute http(s) URL of at most %d bytes", ErrInvalidCommand, u, MaxRedirectLen)
		}
	}
	return nil
}

// DomainEntry is one custom domain's record.
type DomainEntry struct {
	// Domain is the host name, in NormalizeDomain's form.
	Domain string `json:"domain"`
	// Workspace holds the domain.
	Workspace int64 `json:"workspace"`
	// Verified tells whether the DNS challenge was met.
	Verified bool `json:"verified,omitempty"`
	// Challenge is the random token the domain's TXT record must carry.
	Challenge string `json:"challenge"`
	// CreatedMs and VerifiedMs are the proposers' times, Unix milliseconds.
	CreatedMs  int64 `json:"created_ms"`
	VerifiedMs int64 `json:"verified_ms,omitempty"`
	// Settings say how the edge answers on the domain.
	Settings DomainSettings `json:"settings"`
}

// checkChallenge accepts MinChallengeLen..MaxChallengeLen bytes of
// letters, digits, '-' and '_' (base32 or base64url), which fit a TXT
// record as they are.
func checkChallenge(c string) error {
	if len(c) < MinChallengeLen || len(c) > MaxChallengeLen {
		return fmt.Errorf("%w: challenge of %d bytes, want %d..%d", ErrInvalidCommand, len(c), MinChallengeLen, MaxChallengeLen)
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return fmt.Errorf("%w: challenge has %q", ErrInvalidCommand, ch)
		}
	}
	return nil
}

func (d DomainEntry) check() error {
	if err := CheckCustomDomain(d.Domain); err != nil {
		return err
	}
	if d.Workspace <= 0 {
		return fmt.Errorf("%w: domain workspace %d", ErrInvalidCommand, d.Workspace)
	}
	if err := checkChallenge(d.Challenge); err != nil {
		return err
	}
	if d.Verified != (d.VerifiedMs != 0) {
		return fmt.Errorf("%w: verified %v at %d", ErrInvalidCommand, d.Verified, d.VerifiedMs)
	}
	return d.Settings.Check()
}

// AddDomain registers a custom domain, not verified yet, for a workspace.
// Refused with ErrDomainTaken when another workspace holds it. Added in
// CommandVersion 2. Response: *DomainEntryResult.
type AddDomain struct {
	// Domain is in NormalizeDomain's form.
	Domain string `json:"domain"`
	// Workspace is the workspace that will hold it.
	Workspace int64 `json:"workspace"`
	// Challenge is the random token (made by the proposer) the domain's
	// TXT record must carry.
	Challenge string `json:"challenge"`
	// Settings say how the edge answers on the domain.
	Settings DomainSettings `json:"settings"`
	// AtMs is the proposer's clock, Unix milliseconds.
	AtMs int64 `json:"at_ms"`
}

// VerifyDomain records that the proposer found the domain's challenge in
// its DNS. Verifying again keeps the first time. Added in CommandVersion
// 2. Response: *DomainEntryResult.
type VerifyDomain struct {
	// Domain is in NormalizeDomain's form.
	Domain string `json:"domain"`
	// Workspace must be the one that holds the domain.
	Workspace int64 `json:"workspace"`
	// AtMs is the proposer's clock when it found the challenge.
	AtMs int64 `json:"at_ms"`
}

// SetDomainSettings replaces a domain's settings. Added in CommandVersion
// 2. Response: *DomainEntryResult.
type SetDomainSettings struct {
	// Domain is in NormalizeDomain's form.
	Domain string `json:"domain"`
	// Workspace must be the one that holds the domain.
	Workspace int64 `json:"workspace"`
	// Settings replace the domain's.
	Settings DomainSettings `json:"settings"`
}

// DeleteDomain removes a domain from the registry. Added in CommandVersion
// 2. Response: *DomainEntryResult.
type DeleteDomain struct {
	// Domain is in NormalizeDomain's form.
	Domain string `json:"domain"`
	// Workspace must be the one that holds the domain.
	Workspace int64 `json:"workspace"`
}

// Type implements Command.
func (AddDomain) Type() CommandType { return TypeAddDomain }

// Type implements Command.
func (VerifyDomain) Type() CommandType { return TypeVerifyDomain }

// Type implements Command.
func (SetDomainSettings) Type() CommandType { return TypeSetDomainSettings }

// Type implements Command.
func (DeleteDomain) Type() CommandType { return TypeDeleteDomain }

// DomainEntryResult answers the domain registry's commands.
type DomainEntryResult struct {
	// Domain is the record after the command (before it, for
	// DeleteDomain; the holder's, with ErrDomainExists); zero otherwise.
	Domain DomainEntry `json:"domain"`
	// Err is nil, ErrInvalidCommand, ErrUnknownWorkspace, ErrDomainTaken,
	// ErrDomainExists or ErrUnknownDomain.
	Err error `json:"-"`
}

func (r *DomainEntryResult) businessErr() error     { return r.Err }
func (r *DomainEntryResult) setBusinessErr(e error) { r.Err = e }

func (s *state) addDomain(c *AddDomain) any {
	d := DomainEntry{Domain: c.Domain, Workspace: c.Workspace, Challenge: c.Challenge, CreatedMs: c.AtMs, Settings: c.Settings}
	if err := d.check(); err != nil {
		return &DomainEntryResult{Err: err}
	}
	if _, ok := s.workspaces[c.Workspace]; !ok {
		return &DomainEntryResult{Err: fmt.Errorf("%w: %d", ErrUnknownWorkspace, c.Workspace)}
	}
	if held, ok := s.domains[c.Domain]; ok {
		if held.Workspace != c.Workspace {
			return &DomainEntryResult{Err: fmt.Errorf("%w: %s", ErrDomainTaken, c.Domain)}
		}
		return &DomainEntryResult{Domain: held, Err: fmt.Errorf("%w: %s", ErrDomainExists, c.Domain)}
	}
	if len(s.domains) >= MaxDomains {
		return &DomainEntryResult{Err: fmt.Errorf("%w: the registry holds %d domains already", ErrInvalidCommand, MaxDomains)}
	}
	if s.domains == nil {
		s.domains = make(map[string]DomainEntry)
	}
	s.domains[d.Domain] = d
	return &DomainEntryResult{Domain: d}
}

// domainHeldBy returns the domain's record when the workspace holds it.
func (s *state) domainHeldBy(domain string, ws int64) (DomainEntry, error) {
	d, ok := s.domains[domain]
	if !ok || d.Workspace != ws {
		return DomainEntry{}, fmt.Errorf("%w: %s in workspace %d", ErrUnknownDomain, domain, ws)
	}
	return d, nil
}

func (s *state) verifyDomain(c *VerifyDomain) any {
	d, err := s.domainHeldBy(c.Domain, c.Workspace)
	if err != nil {
		return &DomainEntryResult{Err: err}
	}
	if c.AtMs <= 0 {
		return &DomainEntryResult{Err: fmt.Errorf("%w: verification time %d", ErrInvalidCommand, c.AtMs)}
	}
	if !d.Verified {
		d.Verified, d.VerifiedMs = true, c.AtMs
		s.domains[d.Domain] = d
	}
	return &DomainEntryResult{Domain: d}
}

func (s *state) setDomainSettings(c *SetDomainSettings) any {
	d, err := s.domainHeldBy(c.Domain, c.Workspace)
	if err != nil {
		return &DomainEntryResult{Err: err}
	}
	if err := c.Settings.Check(); err != nil {
		return &DomainEntryResult{Err: err}
	}
	d.Settings = c.Settings
	s.domains[d.Domain] = d
	return &DomainEntryResult{Domain: d}
}

func (s *state) deleteDomain(c *DeleteDomain) any {
	d, err := s.domainHeldBy(c.Domain, c.Workspace)
	if err != nil {
		return &DomainEntryResult{Err: err}
	}
	delete(s.domains, c.Domain)
	return &DomainEntryResult{Domain: d}
}

// domainsOf returns the workspace's domains, sorted; every workspace when
// ws is 0.
func (s *state) domainsOf(ws int64) []DomainEntry {
	var out []DomainEntry
	for _, d := range s.domains {
		if ws == 0 || d.Workspace == ws {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b DomainEntry) int { return cmp.Compare(a.Domain, b.Domain) })
	return out
}

// Domain returns the record of a custom domain (in NormalizeDomain's
// form).
func (f *FSM) Domain(domain string) (DomainEntry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	d, ok := f.s.domains[domain]
	return d, ok
}

// WorkspaceDomains returns the workspace's custom domains, sorted.
func (f *FSM) WorkspaceDomains(ws int64) []DomainEntry {
	if ws <= 0 {
		return nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.domainsOf(ws)
}

// DomainVerified tells whether a custom domain (in NormalizeDomain's
// form) is registered and verified: the on-demand TLS check.
func (f *FSM) DomainVerified(domain string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.domains[domain].Verified
}
