package fsm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
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
