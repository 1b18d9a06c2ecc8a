package fsm

import (
	"errors"
	"slices"
	"testing"
)

func TestBlocklist(t *testing.T) {
	a := newApplier(t)
	block := func(d string, on bool) error {
		return a.apply(SetDomainBlocked{Domain: d, Blocked: on}).(*DomainResult).Err
	}
	for _, d := range []string{"evil.example", "phish.test", "evil.example"} {
		if err := block(d, true); err != nil {
			t.Fatalf("block %s: %v", d, err)
		}
	}
	for _, bad := range []string{"", "Evil.example", "a b", ".example", "example.", "a..b", "ex_ample.com"} {
		if err := block(bad, true); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("block %q: %v", bad, err)
		}
	}
	if got := a.f.BlockedDomains(); !slices.Equal(got, []string{"evil.example", "phish.test"}) {
		t.Fatalf("BlockedDomains = %v", got)
	}
	for host, want := range map[string]bool{
		"evil.example": true, "www.evil.example": true, "a.b.evil.example": true,
		"notevil.example": false, "example": false, "phish.test": true, "test": false,
	} {
		if got := a.f.DomainBlocked(host); got != want {
			t.Errorf("DomainBlocked(%q) = %v", host, got)
		}
	}
	if err := block("evil.example", false); err != nil {
		t.Fatal(err)
	}
	if err := block("never.example", false); err != nil {
		t.Fatalf("unblocking a domain that is not blocked: %v", err)
	}
	if a.f.DomainBlocked("www.evil.example") {
		t.Fatal("still blocked after removal")
	}
}
