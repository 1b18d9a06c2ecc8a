package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// version2Commands are the commands CommandVersion 2 added (new types, and
// AddKey setting the new KeyEntry.Workspace), each valid on a state where
// workspaces 2 (holding a.example) and 3 exist.
func version2Commands() []Command {
	limits := WorkspaceLimits{MaxLinks: 5}
	return []Command{
		CreateWorkspace{Name: "new", AtMs: 1},
		UpdateWorkspace{ID: 2, Limits: &limits},
		DeleteWorkspace{ID: 3},
		AddDomain{Domain: "b.example", Workspace: 2, Challenge: challenge, AtMs: 1},
		VerifyDomain{Domain: "a.example", Workspace: 2, AtMs: 2},
		SetDomainSettings{Domain: "a.example", Workspace: 2, Settings: DomainSettings{RedirectStatus: 301}},
		DeleteDomain{Domain: "a.example", Workspace: 2},
		AddKey{Key: withWorkspace(testKey("KKKKKKKKKKKK", "admin", 1), 2)},
		AddKey{Key: withWorkspace(testKey("KKKKKKKKKKKK", "viewer", 1), 1)},
	}
}

// An older node (CommandVersion 1) that meets a version-2 command halts
// as decision 0002 says, rather than skipping it; this release applies it.
func TestVersion2CommandsHaltAnOlderNode(t *testing.T) {
	for _, c := range version2Commands() {
		t.Run(fmt.Sprintf("%s %+v", c.Type(), c), func(t *testing.T) {
			data := encode(t, c)
			if !bytes.Contains(data, []byte(`"_min_version":2`)) {
				t.Fatalf("Encode wrote no _min_version 2: %s", data)
			}

			old := &applier{t: t, f: newAtVersion(1)}
			old.block(AllocateBlock{Node: "a", Size: 5})
			before := old.f.State()
			ae, ok := old.raw(data).(*ApplyError)
			if !ok || ae.Need != 2 || ae.Type != c.Type() || !errors.Is(ae, ErrNeedsNewerVersion) {
				t.Fatalf("the older node answered %#v, want an *ApplyError needing version 2", ae)
			}
			for _, want := range []string{c.Type().String() + " command", "needs command version 2", "applies version 1", "upgrade this node"} {
				if !strings.Contains(ae.Error(), want) {
					t.Errorf("error %q does not say %q", ae, want)
				}
			}
			if !reflect.DeepEqual(old.f.State(), before) {
				t.Fatal("the older node changed its state")
			}

			cur := newApplier(t)
			cur.ws(CreateWorkspace{Name: "acme", AtMs: 1})
			cur.dom(AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, AtMs: 1})
			cur.ws(CreateWorkspace{Name: "spare", AtMs: 1})
			if r, ok := cur.raw(data).(response); !ok || r.businessErr() != nil {
				t.Fatalf("this release answered %#v", r)
			}
			if _, err := Decode(data); err != nil {
				t.Fatalf("Decode: %v", err)
			}
		})
	}
}

// A new command type without its _min_version (a writer that did not say)
// still halts an older node: it does not know the type.
func TestVersion2TypeUnknownToAnOlderNode(t *testing.T) {
	old := &applier{t: t, f: newAtVersion(1)}
	ae, ok := old.raw(append([]byte{byte(TypeCreateWorkspace)}, `{"name":"x","at_ms":1}`...)).(*ApplyError)
	if !ok || !errors.Is(ae, ErrNeedsNewerVersion) || !strings.Contains(ae.Error(), "unknown command type 13") {
		t.Fatalf("the older node answered %#v", ae)
	}
}

// Keys in the form before workspaces (what the API makes this session:
// admin keys, viewer and creator keys of the default workspace) keep the
// version-1 wire form, so that older nodes apply them during an upgrade
// and end in the same key ring as a newer node, up to the workspace the
// newer node records.
func TestLegacyKeysStillApplyOnAnOlderNode(t *testing.T) {
	old, cur := &applier{t: t, f: newAtVersion(1)}, newApplier(t)
	for _, k := range []KeyEntry{testKey("AAAAAAAAAAAA", "admin", 1), testKey("BBBBBBBBBBBB", "viewer", 2), testKey("CCCCCCCCCCCC", "creator", 3)} {
		data := encode(t, AddKey{Key: k})
		if bytes.Contains(data, []byte(minVersionMember)) {
			t.Fatalf("a key of no workspace raised the version: %s", data)
		}
		for _, a := range []*applier{old, cur} {
			if r := a.raw(data).(*KeyResult); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	if err := old.f.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old.f.APIKeys(), cur.f.APIKeys()) {
		t.Fatalf("key rings differ:\n%+v\n%+v", old.f.APIKeys(), cur.f.APIKeys())
	}
}
