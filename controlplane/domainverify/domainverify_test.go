package domainverify

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
)

// TestNewChallenge: tokens are fresh and fit the FSM's challenge bounds
// and alphabet (an AddDomain with one is accepted).
func TestNewChallenge(t *testing.T) {
	a, err := NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewChallenge()
	if a == b {
		t.Fatalf("two challenges are both %q", a)
	}
	if len(a) < fsm.MinChallengeLen || len(a) > fsm.MaxChallengeLen || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Fatalf("challenge %q out of the FSM's form", a)
	}
	if got := RecordName("go.example.com"); got != "_shortify-challenge.go.example.com" {
		t.Errorf("RecordName = %q", got)
	}
}

// TestVerify asks a real DNS server on loopback.
func TestVerify(t *testing.T) {
	const challenge = "abcdefghijklmnopqrstuvwx"
	addr := targeturltest.DNSServerAddr(t, map[string][]string{
		"_shortify-challenge.a-only.example.com": {"192.0.2.1"},
	}, map[string][]string{
		"_shortify-challenge.ok.example.com":    {"v=spf1 -all", RecordValue(challenge)},
		"_shortify-challenge.wrong.example.com": {RecordValue("someothertokenvalue1234")},
		"_shortify-challenge.bare.example.com":  {challenge}, // the token without its prefix
	})
	// A UDP port nothing listens on: the lookup fails (refused or timeout).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()

	for _, tc := range []struct {
		name, resolver, domain string
		want                   error
	}{
		{"found among others", addr, "ok.example.com", nil},
		{"wrong value", addr, "wrong.example.com", ErrWrongValue},
		{"token without prefix", addr, "bare.example.com", ErrWrongValue},
		{"no such name", addr, "missing.example.com", ErrNoRecord},
		{"name without TXT", addr, "a-only.example.com", ErrNoRecord},
		{"resolver times out", addr, "x.slow", ErrResolver},
		{"resolver unreachable", dead, "ok.example.com", ErrResolver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Verifier{Resolver: tc.resolver, Timeout: 500 * time.Millisecond}
			err := v.Verify(context.Background(), tc.domain, challenge)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%s) = %v, want %v", tc.domain, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.domain) {
				t.Errorf("error %q does not name the domain", err)
			}
		})
	}
}
