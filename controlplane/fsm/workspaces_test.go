package fsm

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/workspace"
)

func (a *applier) ws(c Command) *WorkspaceResult { return applyAs[*WorkspaceResult](a, c) }

func (a *applier) dom(c Command) *DomainEntryResult { return applyAs[*DomainEntryResult](a, c) }

// challenge is a valid domain challenge.
const challenge = "abcdefghijklmnop0123"

// The default workspace is there from the start, with ID 1.
func TestDefaultWorkspaceAlwaysExists(t *testing.T) {
	f := New()
	w, ok := f.Workspace(workspace.DefaultID)
	if !ok || w.Name != workspace.DefaultName {
		t.Fatalf("new FSM: default workspace %+v, %v", w, ok)
	}
	if got := f.State(); got.LastWorkspaceID != 1 || !reflect.DeepEqual(got.Workspaces, []Workspace{defaultWorkspace()}) {
		t.Fatalf("new FSM state: %+v", got)
	}
	if w, ok := f.WorkspaceByName("default"); !ok || w.ID != 1 {
		t.Fatalf("WorkspaceByName(default) = %+v, %v", w, ok)
	}
}

func TestWorkspaceCommands(t *testing.T) {
	limits := WorkspaceLimits{MaxLinks: 100, CreatesPerMinute: 10, MaxDomains: 2}
	// setup makes workspace 2 "acme" holding a domain and a live key, and
	// workspace 3 "empty" holding only a revoked key.
	setup := func(a *applier) {
		a.ws(CreateWorkspace{Name: "acme", AtMs: 5})
		a.ws(CreateWorkspace{Name: "empty", AtMs: 6})
		a.dom(AddDomain{Domain: "go.acme.example", Workspace: 2, Challenge: challenge, AtMs: 7})
		a.apply(AddKey{Key: KeyEntry{ID: "AAAAAAAAAAAA", Name: "k", Role: "creator", Hash: key(1), CreatedMs: 1, Workspace: 2}})
		a.apply(AddKey{Key: KeyEntry{ID: "BBBBBBBBBBBB", Name: "k", Role: "viewer", Hash: key(1), CreatedMs: 1, Workspace: 3}})
		a.apply(RevokeKey{ID: "BBBBBBBBBBBB", AtMs: 8})
	}
	tests := []struct {
		name    string
		cmd     Command
		wantErr error
		want    Workspace // the answer's record when wantErr is nil
		check   func(t *testing.T, f *FSM)
	}{
		{name: "create", cmd: CreateWorkspace{Name: "beta-2", Limits: limits, AtMs: 9},
			want: Workspace{ID: 4, Name: "beta-2", CreatedMs: 9, Limits: limits}},
		{name: "create: name taken", cmd: CreateWorkspace{Name: "acme", AtMs: 9}, wantErr: ErrWorkspaceExists},
		{name: "create: default name taken", cmd: CreateWorkspace{Name: "default", AtMs: 9}, wantErr: ErrWorkspaceExists},
		{name: "create: upper case", cmd: CreateWorkspace{Name: "Acme", AtMs: 9}, wantErr: ErrInvalidCommand},
		{name: "create: empty name", cmd: CreateWorkspace{AtMs: 9}, wantErr: ErrInvalidCommand},
		{name: "create: name too long", cmd: CreateWorkspace{Name: strings.Repeat("a", 64), AtMs: 9}, wantErr: ErrInvalidCommand},
		{name: "create: longest name", cmd: CreateWorkspace{Name: strings.Repeat("a", 63), AtMs: 9},
			want: Workspace{ID: 4, Name: strings.Repeat("a", 63), CreatedMs: 9}},
		{name: "create: underscore", cmd: CreateWorkspace{Name: "a_b", AtMs: 9}, wantErr: ErrInvalidCommand},
		{name: "create: negative limit", cmd: CreateWorkspace{Name: "x", Limits: WorkspaceLimits{MaxLinks: -1}, AtMs: 9}, wantErr: ErrInvalidCommand},
		{name: "rename", cmd: UpdateWorkspace{ID: 2, Name: "acme-corp"},
			want: Workspace{ID: 2, Name: "acme-corp", CreatedMs: 5},
			check: func(t *testing.T, f *FSM) {
				if _, ok := f.WorkspaceByName("acme"); ok {
					t.Error("the old name still finds the workspace")
				}
			}},
		{name: "rename to its own name", cmd: UpdateWorkspace{ID: 2, Name: "acme"}, want: Workspace{ID: 2, Name: "acme", CreatedMs: 5}},
		{name: "rename: taken", cmd: UpdateWorkspace{ID: 2, Name: "empty"}, wantErr: ErrWorkspaceExists},
		{name: "rename: bad name", cmd: UpdateWorkspace{ID: 2, Name: "a b"}, wantErr: ErrInvalidCommand},
		{name: "rename the default", cmd: UpdateWorkspace{ID: 1, Name: "main"}, wantErr: ErrInvalidCommand},
		{name: "set limits", cmd: UpdateWorkspace{ID: 2, Limits: &limits}, want: Workspace{ID: 2, Name: "acme", CreatedMs: 5, Limits: limits}},
		{name: "set the default's limits", cmd: UpdateWorkspace{ID: 1, Limits: &limits}, want: Workspace{ID: 1, Name: "default", Limits: limits}},
		{name: "set bad limits", cmd: UpdateWorkspace{ID: 2, Limits: &WorkspaceLimits{MaxDomains: -3}}, wantErr: ErrInvalidCommand},
		{name: "rename and bad limits change nothing", cmd: UpdateWorkspace{ID: 2, Name: "new", Limits: &WorkspaceLimits{MaxDomains: -3}}, wantErr: ErrInvalidCommand},
		{name: "update unknown", cmd: UpdateWorkspace{ID: 9, Name: "x"}, wantErr: ErrUnknownWorkspace},
		{name: "delete with only a revoked key", cmd: DeleteWorkspace{ID: 3}, want: Workspace{ID: 3, Name: "empty", CreatedMs: 6},
			check: func(t *testing.T, f *FSM) {
				if _, ok := f.Workspace(3); ok {
					t.Error("workspace 3 still there")
				}
				// Its ID is never given again.
				a := &applier{t: t, f: f, index: 100}
				if r := a.ws(CreateWorkspace{Name: "empty", AtMs: 10}); r.Err != nil || r.Workspace.ID != 4 {
					t.Errorf("create after delete: %+v", r)
				}
			}},
		{name: "delete holding a domain", cmd: DeleteWorkspace{ID: 2}, wantErr: ErrWorkspaceNotEmpty},
		{name: "delete the default", cmd: DeleteWorkspace{ID: 1}, wantErr: ErrInvalidCommand},
		{name: "delete unknown", cmd: DeleteWorkspace{ID: 42}, wantErr: ErrUnknownWorkspace},
		{name: "delete zero", cmd: DeleteWorkspace{}, wantErr: ErrUnknownWorkspace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			setup(a)
			before := a.f.State()
			r := a.ws(tt.cmd)
			checkErr(t, r.Err, tt.wantErr)
			if tt.wantErr != nil {
				if !reflect.DeepEqual(a.f.State(), before) {
					t.Fatal("a refused command changed the state")
				}
				return
			}
			if r.Workspace != tt.want {
				t.Fatalf("answered %+v, want %+v", r.Workspace, tt.want)
			}
			if _, isDelete := tt.cmd.(DeleteWorkspace); !isDelete {
				if got, ok := a.f.Workspace(tt.want.ID); !ok || got != tt.want {
					t.Fatalf("stored %+v, want %+v", got, tt.want)
				}
			}
			if tt.check != nil {
				tt.check(t, a.f)
			}
		})
	}
}

// A workspace holding a live key is not deleted; once the key is revoked
// and the domain gone, it is.
func TestDeleteWorkspaceOnceEmpty(t *testing.T) {
	a := newApplier(t)
	a.ws(CreateWorkspace{Name: "acme", AtMs: 1})
	a.apply(AddKey{Key: KeyEntry{ID: "AAAAAAAAAAAA", Name: "k", Role: "admin", Hash: key(1), CreatedMs: 1, Workspace: 2}})
	a.dom(AddDomain{Domain: "acme.example", Workspace: 2, Challenge: challenge, AtMs: 2})
	if r := a.ws(DeleteWorkspace{ID: 2}); !errors.Is(r.Err, ErrWorkspaceNotEmpty) {
		t.Fatalf("with a domain and a key: %v", r.Err)
	}
	a.dom(DeleteDomain{Domain: "acme.example", Workspace: 2})
	if r := a.ws(DeleteWorkspace{ID: 2}); !errors.Is(r.Err, ErrWorkspaceNotEmpty) || !strings.Contains(r.Err.Error(), "1 unrevoked API keys") {
		t.Fatalf("with a key: %v", r.Err)
	}
	a.apply(RevokeKey{ID: "AAAAAAAAAAAA", AtMs: 3})
	if r := a.ws(DeleteWorkspace{ID: 2}); r.Err != nil {
		t.Fatalf("empty: %v", r.Err)
	}
}

func TestCheckWorkspaceName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "acme-2": true, "0": true, "a--b": true, strings.Repeat("z", 63): true,
		"": false, strings.Repeat("z", 64): false, "Acme": false, "a.b": false, "a b": false, "é": false, "a_b": false, "-": false, "-a": false, "a-": false,
	} {
		if err := CheckWorkspaceName(name); (err == nil) != ok {
			t.Errorf("CheckWorkspaceName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
