package fsm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func testKey(id, role string, created int64) KeyEntry {
	return KeyEntry{ID: id, Name: "key " + id, Role: role, Hash: bytes.Repeat([]byte{byte(created)}, KeyHashLen), CreatedMs: created}
}

func TestKeyRing(t *testing.T) {
	a := newApplier(t)
	f := a.f
	apply := func(_ *testing.T, _ *FSM, c Command) any { return a.apply(c) }
	first := testKey("AAAAAAAAAAAA", "admin", 1)
	if r := apply(t, f, &AddKey{Key: first, OnlyIfNone: true}).(*KeyResult); r.Err != nil {
		t.Fatalf("first key: %v", r.Err)
	}
	// A second "first admin key" from another node starting at once is
	// refused, so there is exactly one.
	if r := apply(t, f, &AddKey{Key: testKey("BBBBBBBBBBBB", "admin", 2), OnlyIfNone: true}).(*KeyResult); !errors.Is(r.Err, ErrKeyExists) {
		t.Fatalf("second initial key: %v", r.Err)
	}
	if r := apply(t, f, &AddKey{Key: testKey("CCCCCCCCCCCC", "viewer", 3)}).(*KeyResult); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(t, f, &AddKey{Key: testKey("CCCCCCCCCCCC", "admin", 4)}).(*KeyResult); !errors.Is(r.Err, ErrKeyExists) {
		t.Fatalf("duplicate ID: %v", r.Err)
	}
	for name, bad := range map[string]KeyEntry{
		"short ID": testKey("A", "admin", 5),
		"bad role": testKey("DDDDDDDDDDDD", "root", 5),
		"no hash":  {ID: "DDDDDDDDDDDD", Name: "x", Role: "admin", CreatedMs: 5},
		"no name":  {ID: "DDDDDDDDDDDD", Role: "admin", Hash: make([]byte, 32), CreatedMs: 5},
	} {
		if r := apply(t, f, &AddKey{Key: bad}).(*KeyResult); !errors.Is(r.Err, ErrInvalidCommand) {
			t.Errorf("%s: %v", name, r.Err)
		}
	}
	if r := apply(t, f, &RevokeKey{ID: "CCCCCCCCCCCC", AtMs: 10}).(*KeyResult); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(t, f, &RevokeKey{ID: "CCCCCCCCCCCC", AtMs: 20}).(*KeyResult); r.Err != nil {
		t.Fatal(r.Err)
	}
	if k, _ := f.APIKey("CCCCCCCCCCCC"); k.RevokedMs != 10 {
		t.Errorf("revoking twice moved the time to %d", k.RevokedMs)
	}
	if r := apply(t, f, &RevokeKey{ID: "ZZZZZZZZZZZZ", AtMs: 10}).(*KeyResult); !errors.Is(r.Err, ErrUnknownKey) {
		t.Errorf("unknown key: %v", r.Err)
	}
	keys := f.APIKeys()
	if len(keys) != 2 || keys[0].ID != "AAAAAAAAAAAA" || keys[1].ID != "CCCCCCCCCCCC" {
		t.Fatalf("APIKeys = %+v", keys)
	}

	// The ring survives a snapshot and restore.
	sink := persist(t, f)
	g := New()
	if err := g.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if got, want := g.State(), f.State(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restore %+v, want %+v", got, want)
	}
}

// Keys get a workspace: admin keys of none are instance admins; viewer
// and creator keys of none (the form before workspaces, which older
// proposers and the replayed log write) belong to the default workspace;
// a key of a workspace that does not exist is refused.
func TestKeyWorkspaces(t *testing.T) {
	tests := []struct {
		name          string
		key           KeyEntry
		wantErr       error
		wantWorkspace int64
		instanceAdmin bool
	}{
		{name: "admin of none is an instance admin", key: testKey("AAAAAAAAAAAA", "admin", 1), instanceAdmin: true},
		{name: "viewer of none joins the default", key: testKey("AAAAAAAAAAAA", "viewer", 1), wantWorkspace: 1},
		{name: "creator of none joins the default", key: testKey("AAAAAAAAAAAA", "creator", 1), wantWorkspace: 1},
		{name: "admin of the default workspace", key: withWorkspace(testKey("AAAAAAAAAAAA", "admin", 1), 1), wantWorkspace: 1},
		{name: "viewer of a workspace", key: withWorkspace(testKey("AAAAAAAAAAAA", "viewer", 1), 2), wantWorkspace: 2},
		{name: "admin of a workspace", key: withWorkspace(testKey("AAAAAAAAAAAA", "admin", 1), 2), wantWorkspace: 2},
		{name: "unknown workspace", key: withWorkspace(testKey("AAAAAAAAAAAA", "creator", 1), 3), wantErr: ErrUnknownWorkspace},
		{name: "negative workspace", key: withWorkspace(testKey("AAAAAAAAAAAA", "admin", 1), -1), wantErr: ErrInvalidCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			a.ws(CreateWorkspace{Name: "acme", AtMs: 1})
			r := applyAs[*KeyResult](a, AddKey{Key: tt.key})
			checkErr(t, r.Err, tt.wantErr)
			k, ok := a.f.APIKey(tt.key.ID)
			if tt.wantErr != nil {
				if ok {
					t.Fatal("a refused key was stored")
				}
				return
			}
			if k.Workspace != tt.wantWorkspace || k.InstanceAdmin() != tt.instanceAdmin {
				t.Fatalf("stored workspace %d, instance admin %v; want %d, %v", k.Workspace, k.InstanceAdmin(), tt.wantWorkspace, tt.instanceAdmin)
			}
		})
	}
}

func withWorkspace(k KeyEntry, ws int64) KeyEntry {
	k.Workspace = ws
	return k
}

// The keys of a snapshot from before workspaces are upgraded as the
// replayed log upgrades them: the initial admin key and every admin key
// become instance admins, viewer and creator keys (revoked or not) join
// the default workspace.
func TestKeyUpgradeFromVersion6Snapshot(t *testing.T) {
	v6 := `{"version":6,"keys":[` +
		`{"id":"AAAAAAAAAAAA","name":"initial admin","role":"admin","hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","created_ms":1},` +
		`{"id":"BBBBBBBBBBBB","name":"v","role":"viewer","hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","created_ms":2},` +
		`{"id":"CCCCCCCCCCCC","name":"c","role":"creator","hash":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=","created_ms":3,"revoked_ms":4}]}`
	f := New()
	if err := f.Restore(readCloser(strings.NewReader(v6))); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"AAAAAAAAAAAA": 0, "BBBBBBBBBBBB": 1, "CCCCCCCCCCCC": 1}
	for _, k := range f.APIKeys() {
		if k.Workspace != want[k.ID] || k.InstanceAdmin() != (k.ID == "AAAAAAAAAAAA") {
			t.Errorf("key %s (%s): workspace %d, instance admin %v", k.ID, k.Role, k.Workspace, k.InstanceAdmin())
		}
	}
	// A version-6 snapshot cannot carry a workspace yet.
	bad := strings.Replace(v6, `"created_ms":2}`, `"created_ms":2,"workspace":5}`, 1)
	if err := New().Restore(readCloser(strings.NewReader(bad))); err == nil {
		t.Fatal("a version-6 snapshot with a key workspace restored")
	}
}
