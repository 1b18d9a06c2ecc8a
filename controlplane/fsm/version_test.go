package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The commands of a "future" release, as its Encode writes them, meet this
// release's FSM. Each future type is a version-1 command plus what the
// next release might add.

// futureBlock is AllocateBlock with a field a newer release added and that
// this one may ignore: a note for logs, no effect on the state.
type futureBlock struct {
	Node string `json:"node"`
	Size uint64 `json:"size"`
	Note string `json:"note,omitempty"`
}

func (futureBlock) Type() CommandType { return TypeAllocateBlock }

// futureLease is AcquireLease with a field a newer release added and that
// changes the lease: it is tagged, so an older node must not ignore it.
type futureLease struct {
	Node     string `json:"node"`
	NowMs    int64  `json:"now_ms"`
	TTLMs    int64  `json:"ttl_ms"`
	JitterMs int64  `json:"jitter_ms,omitempty" fsm:"since=3"`
}

func (futureLease) Type() CommandType { return TypeAcquireLease }

// futureKey nests a tagged field in a record, as AddKey nests KeyEntry.
type futureKey struct {
	Key struct {
		ID     string   `json:"id"`
		Scopes []string `json:"scopes,omitempty" fsm:"since=4"`
	} `json:"key"`
}

func (futureKey) Type() CommandType { return TypeAddKey }

func encode(t *testing.T, c Command) []byte {
	t.Helper()
	data, err := Encode(c)
	if err != nil {
		t.Fatalf("Encode(%#v): %v", c, err)
	}
	return data
}

// A field an older node may ignore: it applies the command, answers what
// a reference FSM answers for the command without the field, and ends in
// the same state; its snapshot restores to that state.
func TestFutureIgnorableFieldApplies(t *testing.T) {
	old, ref := newApplier(t), newApplier(t)
	for i, c := range []futureBlock{
		{Node: "a", Size: 10, Note: "from release 2"},
		{Node: "b", Size: 3, Note: "x"},
		{Node: "a", Size: 0, Note: "refused like any empty block"},
	} {
		data := encode(t, c)
		if bytes.Contains(data, []byte(minVersionMember)) {
			t.Fatalf("an ignorable field raised the version: %s", data)
		}
		got := old.raw(data)
		want := ref.apply(AllocateBlock{Node: c.Node, Size: c.Size})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("command %d: the older FSM answered %#v, the reference %#v", i, got, want)
		}
	}
	if err := old.f.Err(); err != nil {
		t.Fatalf("FSM halted: %v", err)
	}
	if !reflect.DeepEqual(old.f.State(), ref.f.State()) {
		t.Fatalf("state %+v, reference %+v", old.f.State(), ref.f.State())
	}
	restored := New()
	if err := restored.Restore(readCloser(persist(t, old.f))); err != nil {
		t.Fatalf("restore the snapshot: %v", err)
	}
	if !reflect.DeepEqual(restored.State(), ref.f.State()) {
		t.Fatal("restored state differs from the reference")
	}
}

// A tagged field left at its zero value does not raise the version: the
// command is what a version-1 proposer would have sent.
func TestFutureTaggedFieldUnsetApplies(t *testing.T) {
	old, ref := newApplier(t), newApplier(t)
	data := encode(t, futureLease{Node: "a", NowMs: 100, TTLMs: 50})
	if want := encode(t, AcquireLease{Node: "a", NowMs: 100, TTLMs: 50}); !bytes.Equal(data, want) {
		t.Fatalf("wire form %s, want %s", data, want)
	}
	if got, want := old.raw(data), ref.apply(AcquireLease{Node: "a", NowMs: 100, TTLMs: 50}); !reflect.DeepEqual(got, want) {
		t.Fatalf("answered %#v, want %#v", got, want)
	}
}

// What an older node must not apply: it halts with an error that names
// the entry, the command and the version it needs, keeps the state it had
// (so it never diverges), and applies nothing after it.
func TestFutureCommandHalts(t *testing.T) {
	var k futureKey
	k.Key.ID = "abc"
	k.Key.Scopes = []string{"links:read"}
	tests := []struct {
		name     string
		data     []byte
		typ      CommandType
		need     int
		contains []string
	}{
		{"tagged field set", encode(t, futureLease{Node: "a", NowMs: 100, TTLMs: 50, JitterMs: 7}),
			TypeAcquireLease, 3, []string{"acquire-lease command", "needs command version 3", "applies version 2", "upgrade this node"}},
		{"nested tagged field set", encode(t, k),
			TypeAddKey, 4, []string{"add-key command", "needs command version 4", "upgrade this node"}},
		// A command type added by release 3, as its Encode writes it.
		{"new command type", append([]byte{200}, `{"_min_version":3,"node":"a"}`...),
			200, 3, []string{"command-type(200) command", "needs command version 3", "unknown command type 200", "upgrade this node"}},
		// A newer type whose writer did not say its version.
		{"new command type, no version", append([]byte{201}, `{"node":"a"}`...),
			201, 0, []string{"command-type(201) command", "unknown command type 201", "upgrade this node"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newApplier(t)
			a.block(AllocateBlock{Node: "a", Size: 5})
			before := a.f.State()
			beforeSnap := persist(t, a.f).Bytes()

			resp := a.raw(tc.data)
			ae, ok := resp.(*ApplyError)
			if !ok {
				t.Fatalf("Apply answered %#v, want an *ApplyError", resp)
			}
			if ae.Index != a.index || ae.Type != tc.typ || ae.Need != tc.need || !errors.Is(ae, ErrNeedsNewerVersion) {
				t.Fatalf("ApplyError %+v, want index %d, type %d, need %d, wrapping ErrNeedsNewerVersion", ae, a.index, tc.typ, tc.need)
			}
			for _, s := range tc.contains {
				if !strings.Contains(ae.Error(), s) {
					t.Errorf("error %q does not say %q", ae, s)
				}
			}
			select {
			case <-a.f.Halted():
			default:
				t.Fatal("Halted not closed")
			}
			if r := a.raw(encode(t, AllocateBlock{Node: "a", Size: 1})); r != any(ae) {
				t.Fatalf("after the halt Apply answered %#v", r)
			}
			if !reflect.DeepEqual(a.f.State(), before) {
				t.Fatal("the halted FSM changed its state")
			}
			if _, err := a.f.Snapshot(); err == nil {
				t.Fatal("the halted FSM took a snapshot")
			}
			// The snapshot taken before the halt still restores: after the
			// upgrade the node starts from it and replays the entry.
			restored := New()
			if err := restored.Restore(readCloser(bytes.NewReader(beforeSnap))); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(restored.State(), before) {
				t.Fatal("snapshot from before the halt restored a different state")
			}

			// The leader's check of forwarded commands refuses it too, so
			// an older leader never puts it into its log.
			if _, err := Decode(tc.data); !errors.Is(err, ErrNeedsNewerVersion) {
				t.Fatalf("Decode: %v, want ErrNeedsNewerVersion", err)
			}
		})
	}
}

// Decode accepts a newer command with an ignorable field and Encode gives
// the canonical form of this version, which every version applies alike.
func TestDecodeFutureIgnorableField(t *testing.T) {
	c, err := Decode(encode(t, futureBlock{Node: "a", Size: 2, Note: "n"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (AllocateBlock{Node: "a", Size: 2}); c != want {
		t.Fatalf("Decode = %#v, want %#v", c, want)
	}
}

// Version-1 commands keep the wire form they always had: logs written
// before command versions still apply, and older nodes still read ours.
func TestVersion1WireFormUnchanged(t *testing.T) {
	for c, want := range map[Command]string{
		AllocateBlock{Node: "a", Size: 1}:     "\x05{\"node\":\"a\",\"size\":1}",
		DeregisterNode{ID: "n"}:               "\x07{\"id\":\"n\"}",
		SetDomainBlocked{Domain: "x.example"}: "\x0a{\"domain\":\"x.example\",\"blocked\":false}",
	} {
		if got := string(encode(t, c)); got != want {
			t.Errorf("Encode(%#v) = %q, want %q", c, got, want)
		}
	}
}

// Every command type this version knows: the reserved member is no field
// of any, every fsm tag parses and names a version this one has, and no
// type claims a version above CommandVersion.
func TestCommandTypesFollowTheRule(t *testing.T) {
	for typ, cmd := range commands {
		c, err := cmd.decode([]byte("{}"))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if c.Type() != typ {
			t.Fatalf("table entry %s decodes a %s", typ, c.Type())
		}
		if cmd.since < 1 || cmd.since > CommandVersion {
			t.Errorf("%s: since %d, want 1..%d", typ, cmd.since, CommandVersion)
		}
		checkFields(t, typ, reflect.TypeOf(c))
	}
}

func checkFields(t *testing.T, typ CommandType, rt reflect.Type) {
	t.Helper()
	for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Array {
		rt = rt.Elem()
	}
	if rt.Kind() != reflect.Struct {
		return
	}
	for i := range rt.NumField() {
		f := rt.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); strings.EqualFold(name, minVersionMember) {
			t.Errorf("%s: field %s uses the reserved member %s", typ, f.Name, minVersionMember)
		}
		since, err := sinceTag(f)
		if err != nil || since > CommandVersion {
			t.Errorf("%s: field %s: since %d, err %v (CommandVersion is %d)", typ, f.Name, since, err, CommandVersion)
		}
		checkFields(t, typ, f.Type)
	}
}

// A snapshot written by a newer release is refused with what to do.
func TestRestoreNewerSnapshotSaysUpgrade(t *testing.T) {
	f := New()
	err := f.Restore(readCloser(strings.NewReader(`{"version":99,"next_sequence":1}`)))
	if err == nil || !strings.Contains(err.Error(), "newer release") || !strings.Contains(err.Error(), "upgrade this node") {
		t.Fatalf("Restore: %v, want a newer-release error", err)
	}
}
