package controlplane

import (
	"context"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/workspace"
)

// TestServiceDomainMirror: the leader mirrors the FSM's custom domains
// into the link database, where the edges read them: a verified domain
// appears, a deleted one leaves within about a second.
func TestServiceDomainMirror(t *testing.T) {
	for _, store := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }}, // the default, under data_dir
		{"postgres", func(t *testing.T) string { return testenv.Schema(t) }},
	} {
		t.Run(store.name, func(t *testing.T) {
			key := newKey(t)
			a := &App{DataDir: t.TempDir(), RaftBind: testenv.FreeAddr(t), InitialAPIKey: key.Secret, Database: store.dsn(t),
				PublicURL: "https://sho.rt"}
			wantValid(t, a)
			svc := openTestService(t, a)
			defer svc.Destruct()
			ctx := context.Background()
			mirror, err := domainmirror.Open(ctx, svc.cfg.Database, false)
			if err != nil {
				t.Fatal(err)
			}
			defer mirror.Close()
			entries := func() []domainmirror.Entry {
				snap, err := mirror.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return snap.Entries
			}

			d := "go.acme.example"
			settings := fsm.DomainSettings{RootRedirect: "https://acme.example/", RedirectStatus: 308}
			if _, err := svc.node.AddDomain(ctx, fsm.AddDomain{Domain: d, Workspace: workspace.DefaultID,
				Challenge: "abcdefghijklmnopqrstuvwxyz234567", Settings: settings, AtMs: time.Now().UnixMilli()}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.node.VerifyDomain(ctx, fsm.VerifyDomain{Domain: d, Workspace: workspace.DefaultID, AtMs: time.Now().UnixMilli()}); err != nil {
				t.Fatal(err)
			}
			want := domainmirror.Entry{Domain: d, WorkspaceID: workspace.DefaultID, Verified: true,
				RootRedirect: settings.RootRedirect, RedirectStatus: 308}
			testenv.WaitFor(t, "the verified domain in the mirror", 30*time.Second, func() bool {
				es := entries()
				return len(es) == 1 && es[0] == want
			})

			if _, err := svc.node.DeleteDomain(ctx, fsm.DeleteDomain{Domain: d, Workspace: workspace.DefaultID}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			testenv.WaitFor(t, "the deleted domain leaves the mirror", 5*time.Second, func() bool { return len(entries()) == 0 })
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("the deleted domain left the mirror after %s, want about a second at most", took)
			}
		})
	}
}
