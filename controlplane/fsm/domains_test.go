package fsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDomainCommands(t *testing.T) {
	settings := DomainSettings{RootRedirect: "https://acme.example/", NotFoundRedirect: "http://acme.example/404", RedirectStatus: 308}
	held := DomainEntry{Domain: "go.acme.example", Workspace: 2, Challenge: challenge, CreatedMs: 10}
	// setup makes workspaces 2 and 3; workspace 2 holds go.acme.example.
	setup := func(a *applier) {
		a.ws(CreateWorkspace{Name: "acme", AtMs: 1})
		a.ws(CreateWorkspace{Name: "other", AtMs: 2})
		a.dom(AddDomain{Domain: held.Domain, Workspace: 2, Challenge: challenge, AtMs: 10})
	}
	verified := held
	verified.Verified, verified.VerifiedMs = true, 20
	tests := []struct {
		name    string
		before  []Command // after setup
		cmd     Command
		wantErr error
		want    DomainEntry // the answer's record
		stored  *DomainEntry
	}{
		{name: "add", cmd: AddDomain{Domain: "xn--bcher-kva.example", Workspace: 3, Challenge: challenge, Settings: settings, AtMs: 11},
			want:   DomainEntry{Domain: "xn--bcher-kva.example", Workspace: 3, Challenge: challenge, Settings: settings, CreatedMs: 11},
			stored: &DomainEntry{Domain: "xn--bcher-kva.example", Workspace: 3, Challenge: challenge, Settings: settings, CreatedMs: 11}},
		{name: "add to the default workspace", cmd: AddDomain{Domain: "s.example", Workspace: 1, Challenge: challenge, AtMs: 11},
			want: DomainEntry{Domain: "s.example", Workspace: 1, Challenge: challenge, CreatedMs: 11}},
		{name: "add: held by another workspace", cmd: AddDomain{Domain: held.Domain, Workspace: 3, Challenge: challenge, AtMs: 11}, wantErr: ErrDomainTaken},
		{name: "add: held by the same workspace", cmd: AddDomain{Domain: held.Domain, Workspace: 2, Challenge: challenge, AtMs: 11}, wantErr: ErrDomainExists, want: held},
		{name: "add: unknown workspace", cmd: AddDomain{Domain: "a.example", Workspace: 9, Challenge: challenge, AtMs: 11}, wantErr: ErrUnknownWorkspace},
		{name: "add: workspace 0", cmd: AddDomain{Domain: "a.example", Challenge: challenge, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: not normalised", cmd: AddDomain{Domain: "A.example", Workspace: 2, Challenge: challenge, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: trailing dot", cmd: AddDomain{Domain: "a.example.", Workspace: 2, Challenge: challenge, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: single label", cmd: AddDomain{Domain: "localhost", Workspace: 2, Challenge: challenge, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: short challenge", cmd: AddDomain{Domain: "a.example", Workspace: 2, Challenge: "abc", AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: challenge with a space", cmd: AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge + " x", AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: bad status", cmd: AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, Settings: DomainSettings{RedirectStatus: 200}, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: relative redirect", cmd: AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, Settings: DomainSettings{RootRedirect: "/home"}, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: javascript redirect", cmd: AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, Settings: DomainSettings{NotFoundRedirect: "javascript:alert(1)"}, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "add: long redirect", cmd: AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, Settings: DomainSettings{RootRedirect: "https://a.example/" + strings.Repeat("a", MaxRedirectLen)}, AtMs: 11}, wantErr: ErrInvalidCommand},
		{name: "verify", cmd: VerifyDomain{Domain: held.Domain, Workspace: 2, AtMs: 20}, want: verified, stored: &verified},
		{name: "verify again keeps the first time", before: []Command{VerifyDomain{Domain: held.Domain, Workspace: 2, AtMs: 20}},
			cmd: VerifyDomain{Domain: held.Domain, Workspace: 2, AtMs: 30}, want: verified, stored: &verified},
		{name: "verify: other workspace", cmd: VerifyDomain{Domain: held.Domain, Workspace: 3, AtMs: 20}, wantErr: ErrUnknownDomain},
		{name: "verify: unknown domain", cmd: VerifyDomain{Domain: "no.example", Workspace: 2, AtMs: 20}, wantErr: ErrUnknownDomain},
		{name: "verify: no time", cmd: VerifyDomain{Domain: held.Domain, Workspace: 2}, wantErr: ErrInvalidCommand},
		{name: "settings", cmd: SetDomainSettings{Domain: held.Domain, Workspace: 2, Settings: settings},
			want: DomainEntry{Domain: held.Domain, Workspace: 2, Challenge: challenge, CreatedMs: 10, Settings: settings}},
		{name: "settings: bad", cmd: SetDomainSettings{Domain: held.Domain, Workspace: 2, Settings: DomainSettings{RedirectStatus: 303}}, wantErr: ErrInvalidCommand},
		{name: "settings: other workspace", cmd: SetDomainSettings{Domain: held.Domain, Workspace: 3, Settings: settings}, wantErr: ErrUnknownDomain},
		{name: "delete", cmd: DeleteDomain{Domain: held.Domain, Workspace: 2}, want: held},
		{name: "delete: other workspace", cmd: DeleteDomain{Domain: held.Domain, Workspace: 3}, wantErr: ErrUnknownDomain},
		{name: "delete: unknown", cmd: DeleteDomain{Domain: "no.example", Workspace: 2}, wantErr: ErrUnknownDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			setup(a)
			for _, c := range tt.before {
				a.apply(c)
			}
			before := a.f.State()
			r := a.dom(tt.cmd)
			checkErr(t, r.Err, tt.wantErr)
			if r.Domain != tt.want {
				t.Fatalf("answered %+v, want %+v", r.Domain, tt.want)
			}
			if tt.wantErr != nil && !reflect.DeepEqual(a.f.State(), before) {
				t.Fatal("a refused command changed the state")
			}
			if tt.stored != nil {
				if got, _ := a.f.Domain(tt.stored.Domain); got != *tt.stored {
					t.Fatalf("stored %+v, want %+v", got, *tt.stored)
				}
			}
		})
	}
}

func TestDomainLookups(t *testing.T) {
	a := newApplier(t)
	a.ws(CreateWorkspace{Name: "acme", AtMs: 1})
	for _, d := range []string{"b.acme.example", "a.acme.example"} {
		a.dom(AddDomain{Domain: d, Workspace: 2, Challenge: challenge, AtMs: 2})
	}
	a.dom(AddDomain{Domain: "s.example", Workspace: 1, Challenge: challenge, AtMs: 2})
	a.dom(VerifyDomain{Domain: "b.acme.example", Workspace: 2, AtMs: 3})

	got := a.f.WorkspaceDomains(2)
	if len(got) != 2 || got[0].Domain != "a.acme.example" || got[1].Domain != "b.acme.example" {
		t.Fatalf("WorkspaceDomains(2) = %+v", got)
	}
	if got := a.f.WorkspaceDomains(0); got != nil {
		t.Fatalf("WorkspaceDomains(0) = %+v, want none", got)
	}
	if got := a.f.WorkspaceDomains(1); len(got) != 1 || got[0].Domain != "s.example" {
		t.Fatalf("WorkspaceDomains(1) = %+v", got)
	}
	for d, want := range map[string]bool{"b.acme.example": true, "a.acme.example": false, "s.example": false, "no.example": false, "": false} {
		if a.f.DomainVerified(d) != want {
			t.Errorf("DomainVerified(%q) = %v, want %v", d, !want, want)
		}
	}
	if d, ok := a.f.Domain("b.acme.example"); !ok || d.Workspace != 2 || !d.Verified || d.VerifiedMs != 3 {
		t.Fatalf("Domain = %+v, %v", d, ok)
	}
}

func TestNormalizeDomain(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"example.com", "example.com"},
		{"Example.COM", "example.com"},
		{"  go.example.com.  ", "go.example.com"},
		{"go.example.com:443", "go.example.com"},
		{"Bücher.example", "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"ÉCOLE.fr:8443", "xn--cole-9oa.fr"},
		{"a-b.c-d.example", "a-b.c-d.example"},
	} {
		got, err := NormalizeDomain(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", ".", "localhost", "example", "127.0.0.1", "[::1]:80", "::1", "10.0.0.1:80",
		"example.com:0", "example.com:99999", "example.com:http", "a..example", ".example.com",
		"exa mple.com", "under_score.example", "-a.example", "a-.example", "a.123",
		"http://example.com", "example.com/path", strings.Repeat("a", 64) + ".example",
		strings.Repeat("abcdefghi.", 26) + "example",
	} {
		if got, err := NormalizeDomain(in); err == nil {
			t.Errorf("NormalizeDomain(%q) = %q, want an error", in, got)
		} else if !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("NormalizeDomain(%q): %v does not wrap ErrInvalidCommand", in, err)
		}
	}
}

// FuzzNormalizeDomain: whatever comes in, NormalizeDomain never panics,
// what it returns passes CheckCustomDomain and is a fixed point.
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", "Bücher.example:443", "a..b", "[::1]:80", "xn--zz.example", "é.", "a.b.c.d.e.f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizeDomain(s)
		if err != nil {
			return
		}
		if err := CheckCustomDomain(d); err != nil {
			t.Fatalf("NormalizeDomain(%q) = %q, which CheckCustomDomain refuses: %v", s, d, err)
		}
		if again, err := NormalizeDomain(d); err != nil || again != d {
			t.Fatalf("NormalizeDomain(%q) = %q, then %q, %v", s, d, again, err)
		}
	})
}
