package fsm

import (
	"fmt"
	"slices"
	"strings"
)

// The domain blocklist: target hosts that no new or updated link may point
// to (with their subdomains). It lives in the FSM so that every node
// refuses the same domains the moment a block is applied.

// MaxBlockedDomains bounds the blocklist: it is replicated and snapshotted
// whole, and checked on every create.
const MaxBlockedDomains = 100_000

// SetDomainBlocked adds a domain to the blocklist (Blocked true) or
// removes it. Both are idempotent. Response: *DomainResult.
type SetDomainBlocked struct {
	// Domain is a lower-case ASCII host name (IDNs in their xn-- form).
	Domain  string `json:"domain"`
	Blocked bool   `json:"blocked"`
}

// Type implements Command.
func (SetDomainBlocked) Type() CommandType { return TypeSetDomainBlocked }

// DomainResult answers SetDomainBlocked.
type DomainResult struct {
	// Err is nil or ErrInvalidCommand.
	Err error `json:"-"`
}

func (r *DomainResult) businessErr() error     { return r.Err }
func (r *DomainResult) setBusinessErr(e error) { r.Err = e }

// CheckDomain reports what makes d unacceptable as a blocklist entry.
func CheckDomain(d string) error {
	if d == "" || len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return fmt.Errorf("%w: %q is not a host name", ErrInvalidCommand, d)
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: %q is not a lower-case ASCII host name", ErrInvalidCommand, d)
		}
	}
	return nil
}

func (s *state) setDomainBlocked(c *SetDomainBlocked) any {
	if err := CheckDomain(c.Domain); err != nil {
		return &DomainResult{Err: err}
	}
	if !c.Blocked {
		delete(s.blocked, c.Domain)
		return &DomainResult{}
	}
	if _, ok := s.blocked[c.Domain]; !ok && len(s.blocked) >= MaxBlockedDomains {
		return &DomainResult{Err: fmt.Errorf("%w: the blocklist holds %d domains already", ErrInvalidCommand, MaxBlockedDomains)}
	}
	if s.blocked == nil {
		s.blocked = make(map[string]struct{})
	}
	s.blocked[c.Domain] = struct{}{}
	return &DomainResult{}
}

func (s *state) sortedBlocked() []string {
	if len(s.blocked) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.blocked))
	for d := range s.blocked {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// DomainBlocked reports whether host or one of its parent domains is on
// the blocklist.
func (f *FSM) DomainBlocked(host string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for h := host; h != ""; {
		if _, ok := f.s.blocked[h]; ok {
			return true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	return false
}

// BlockedDomains returns the blocklist, sorted.
func (f *FSM) BlockedDomains() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.sortedBlocked()
}
