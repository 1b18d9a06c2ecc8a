package fsm

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

// Workspaces, keys of workspaces and domains survive a snapshot.
func TestSnapshotRoundTripWorkspaces(t *testing.T) {
	f := goldenStateOf(t, goldenLogV7())
	g := New()
	if err := g.Restore(io.NopCloser(&persist(t, f).Buffer)); err != nil {
		t.Fatal(err)
	}
	if got, want := g.State(), f.State(); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
	if len(g.Workspaces()) != 3 || len(g.WorkspaceDomains(2)) != 1 || !g.DomainVerified("go.acme.example") {
		t.Fatalf("restored workspaces %+v, domains %+v", g.Workspaces(), g.State().Domains)
	}
	// The counter survives: the deleted workspace 3's ID and the others'
	// are not given again.
	a := &applier{t: t, f: g, index: 1000}
	if r := a.ws(CreateWorkspace{Name: "next", AtMs: 99}); r.Err != nil || r.Workspace.ID != 5 {
		t.Fatalf("create after restore: %+v", r)
	}
}

func TestRestoreRejectsBadVersion7Snapshots(t *testing.T) {
	const hash = `"hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="`
	def := `{"id":1,"name":"default","limits":{}}`
	dom := func(fields string) string {
		return `{"version":7,"last_workspace_id":1,"workspaces":[` + def + `],"domains":[{"domain":"a.example","workspace":1,"challenge":"` + challenge + `","created_ms":1` + fields + `}]}`
	}
	tests := map[string]string{
		"v6 with workspaces":         `{"version":6,"workspaces":[` + def + `]}`,
		"v6 with last ID":            `{"version":6,"last_workspace_id":3}`,
		"v6 with domains":            `{"version":6,"domains":[{"domain":"a.example","workspace":1,"challenge":"` + challenge + `"}]}`,
		"no default workspace":       `{"version":7,"last_workspace_id":2,"workspaces":[{"id":2,"name":"acme","limits":{}}]}`,
		"default renamed":            `{"version":7,"last_workspace_id":1,"workspaces":[{"id":1,"name":"main","limits":{}}]}`,
		"workspace above last ID":    `{"version":7,"last_workspace_id":1,"workspaces":[` + def + `,{"id":2,"name":"acme","limits":{}}]}`,
		"duplicate workspace ID":     `{"version":7,"last_workspace_id":2,"workspaces":[` + def + `,{"id":2,"name":"a","limits":{}},{"id":2,"name":"b","limits":{}}]}`,
		"duplicate workspace name":   `{"version":7,"last_workspace_id":3,"workspaces":[` + def + `,{"id":2,"name":"a","limits":{}},{"id":3,"name":"a","limits":{}}]}`,
		"bad workspace name":         `{"version":7,"last_workspace_id":2,"workspaces":[` + def + `,{"id":2,"name":"A","limits":{}}]}`,
		"workspace ID zero":          `{"version":7,"last_workspace_id":2,"workspaces":[` + def + `,{"id":0,"name":"a","limits":{}}]}`,
		"negative limit":             `{"version":7,"last_workspace_id":2,"workspaces":[` + def + `,{"id":2,"name":"a","limits":{"max_links":-1}}]}`,
		"negative last ID":           `{"version":7,"last_workspace_id":-1}`,
		"viewer of no workspace":     `{"version":7,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"viewer",` + hash + `,"created_ms":1}]}`,
		"live key of gone workspace": `{"version":7,"last_workspace_id":2,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"viewer",` + hash + `,"created_ms":1,"workspace":2}]}`,
		"key of never-given ID":      `{"version":7,"last_workspace_id":2,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"viewer",` + hash + `,"created_ms":1,"revoked_ms":2,"workspace":7}]}`,
		"domain of no workspace":     strings.Replace(dom(""), `"workspace":1`, `"workspace":3`, 1),
		"domain not normalised":      strings.Replace(dom(""), `"a.example"`, `"A.example"`, 1),
		"domain short challenge":     strings.Replace(dom(""), challenge, "abc", 1),
		"verified without time":      dom(`,"verified":true`),
		"time without verified":      dom(`,"verified_ms":5`),
		"domain bad settings":        dom(`,"settings":{"redirect_status":200}`),
		"duplicate domain":           strings.Replace(dom(""), `}]}`, `},{"domain":"a.example","workspace":1,"challenge":"`+challenge+`","created_ms":2}]}`, 1),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			a := newApplier(t)
			a.ws(CreateWorkspace{Name: "before", AtMs: 1})
			before := a.f.State()
			if err := a.f.Restore(io.NopCloser(strings.NewReader(data))); err == nil {
				t.Fatal("Restore accepted a bad snapshot")
			}
			if !reflect.DeepEqual(a.f.State(), before) {
				t.Fatal("a failed Restore changed the state")
			}
		})
	}
}

// What a version 7 snapshot may leave out is read tolerantly: no
// workspace list is the default workspace alone; a revoked key may
// outlive its workspace.
func TestRestoreVersion7Tolerant(t *testing.T) {
	const hash = `"hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="`
	f := New()
	data := `{"version":7,"last_workspace_id":4,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"viewer",` + hash + `,"created_ms":1,"revoked_ms":2,"workspace":3}]}`
	if err := f.Restore(io.NopCloser(strings.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if ws := f.Workspaces(); !reflect.DeepEqual(ws, []Workspace{defaultWorkspace()}) || f.State().LastWorkspaceID != 4 {
		t.Fatalf("workspaces %+v, last ID %d", ws, f.State().LastWorkspaceID)
	}
}

// A state that snapshot format 6 says whole is snapshotted in format 6,
// which the release before workspaces restores; anything of workspaces
// makes it format 7. Either way the snapshot restores to the same state.
func TestSnapshotFormatFollowsTheState(t *testing.T) {
	tests := []struct {
		name string
		log  []Command
		want int
	}{
		{"new", nil, 6},
		{"keys of before", []Command{AddKey{Key: testKey("AAAAAAAAAAAA", "admin", 1)}, AddKey{Key: testKey("BBBBBBBBBBBB", "viewer", 2)}}, 6},
		{"viewer of the default, said", []Command{AddKey{Key: withWorkspace(testKey("AAAAAAAAAAAA", "viewer", 1), 1)}}, 6},
		{"admin of the default", []Command{AddKey{Key: withWorkspace(testKey("AAAAAAAAAAAA", "admin", 1), 1)}}, 7},
		{"default limits", []Command{UpdateWorkspace{ID: 1, Limits: &WorkspaceLimits{MaxLinks: 1}}}, 7},
		{"a workspace", []Command{CreateWorkspace{Name: "a", AtMs: 1}}, 7},
		{"a deleted workspace", []Command{CreateWorkspace{Name: "a", AtMs: 1}, DeleteWorkspace{ID: 2}}, 7},
		{"a domain", []Command{AddDomain{Domain: "a.example", Workspace: 1, Challenge: challenge, AtMs: 1}}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goldenStateOf(t, tt.log)
			sink := persist(t, f)
			if want := `{"version":` + string(rune('0'+tt.want)) + `,`; !strings.HasPrefix(sink.String(), want) {
				t.Fatalf("snapshot %s, want format %d", sink.String(), tt.want)
			}
			g := New()
			if err := g.Restore(io.NopCloser(&sink.Buffer)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.State(), f.State()) {
				t.Fatalf("restored %+v, want %+v", g.State(), f.State())
			}
		})
	}
}
