package fsm

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/shortify/shortify/internal/workspace"
)

// The API key ring.
//
// Keys live in the FSM so that every node authenticates every key without
// a database round trip, and a revocation reaches all nodes through the
// log. Only hashes are stored (see internal/apikey): a snapshot or a
// backup never holds a usable key.

// Bounds of key records.
const (
	KeyIDLen      = 12
	KeyHashLen    = 32
	MaxKeyNameLen = 100
	// MaxKeys bounds the ring: it is replicated and snapshotted whole.
	MaxKeys = 10_000
)

// ErrKeyExists answers AddKey for an ID that is taken, and AddKey with
// OnlyIfNone when the ring is not empty.
var ErrKeyExists = fmt.Errorf("API key exists")

// ErrUnknownKey answers RevokeKey for an ID the ring does not hold.
var ErrUnknownKey = fmt.Errorf("no such API key")

// KeyEntry is one API key's record.
type KeyEntry struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Hash      []byte `json:"hash"`
	CreatedMs int64  `json:"created_ms"`
	RevokedMs int64  `json:"revoked_ms,omitempty"`
	// Workspace is the workspace the key acts in, with its role there;
	// 0 for an admin key makes it an instance admin (every workspace and
	// the instance's settings). In AddKey, 0 for a viewer or creator key
	// means the default workspace: that is what the keys from before
	// workspaces become, replayed or restored (see upgradeKey).
	Workspace int64 `json:"workspace,omitempty" fsm:"since=2"`
}

// Revoked tells whether the key was revoked.
func (k KeyEntry) Revoked() bool { return k.RevokedMs != 0 }

// InstanceAdmin tells whether the key is an instance admin: an admin key
// of no workspace.
func (k KeyEntry) InstanceAdmin() bool { return k.Role == "admin" && k.Workspace == 0 }

// upgradeKey gives a key of the form before workspaces (no workspace) the
// workspace it has since: admin keys become instance admins, viewer and
// creator keys belong to the default workspace.
func upgradeKey(k KeyEntry) KeyEntry {
	if k.Workspace == 0 && k.Role != "admin" {
		k.Workspace = workspace.DefaultID
	}
	return k
}

func (k KeyEntry) check() error {
	switch {
	case len(k.ID) != KeyIDLen:
		return fmt.Errorf("%w: key ID of %d bytes, want %d", ErrInvalidCommand, len(k.ID), KeyIDLen)
	case len(k.Hash) != KeyHashLen:
		return fmt.Errorf("%w: key hash of %d bytes, want %d", ErrInvalidCommand, len(k.Hash), KeyHashLen)
	case k.Name == "" || len(k.Name) > MaxKeyNameLen:
		return fmt.Errorf("%w: key name of %d bytes, want 1..%d", ErrInvalidCommand, len(k.Name), MaxKeyNameLen)
	case k.Role != "viewer" && k.Role != "creator" && k.Role != "admin":
		return fmt.Errorf("%w: key role %q", ErrInvalidCommand, k.Role)
	case k.Workspace < 0:
		return fmt.Errorf("%w: key workspace %d", ErrInvalidCommand, k.Workspace)
	}
	return nil
}

// AddKey stores a new API key's record. With OnlyIfNone it is refused
// (ErrKeyExists) unless the ring is empty: that is how the first admin
// key is set once, however many nodes start at the same time. A key's
// workspace must exist (ErrUnknownWorkspace). Response: *KeyResult.
type AddKey struct {
	Key        KeyEntry `json:"key"`
	OnlyIfNone bool     `json:"only_if_none,omitempty"`
}

// RevokeKey marks a key revoked at AtMs. Revoking twice keeps the first
// time. Response: *KeyResult.
type RevokeKey struct {
	ID   string `json:"id"`
	AtMs int64  `json:"at_ms"`
}

// Type implements Command.
func (AddKey) Type() CommandType { return TypeAddKey }

// Type implements Command.
func (RevokeKey) Type() CommandType { return TypeRevokeKey }

// KeyResult answers AddKey and RevokeKey.
type KeyResult struct {
	// Err is nil, ErrInvalidCommand, ErrKeyExists, ErrUnknownKey or
	// ErrUnknownWorkspace.
	Err error `json:"-"`
}

func (r *KeyResult) businessErr() error     { return r.Err }
func (r *KeyResult) setBusinessErr(e error) { r.Err = e }

func (s *state) addKey(c *AddKey) any {
	if err := c.Key.check(); err != nil {
		return &KeyResult{Err: err}
	}
	k := upgradeKey(c.Key)
	if _, ok := s.workspaces[k.Workspace]; k.Workspace != 0 && !ok {
		return &KeyResult{Err: fmt.Errorf("%w: %d", ErrUnknownWorkspace, k.Workspace)}
	}
	if c.OnlyIfNone && len(s.keys) > 0 {
		return &KeyResult{Err: fmt.Errorf("%w: the key ring is not empty", ErrKeyExists)}
	}
	if _, ok := s.keys[c.Key.ID]; ok {
		return &KeyResult{Err: fmt.Errorf("%w: %s", ErrKeyExists, c.Key.ID)}
	}
	if len(s.keys) >= MaxKeys {
		return &KeyResult{Err: fmt.Errorf("%w: the key ring holds %d keys already", ErrInvalidCommand, MaxKeys)}
	}
	if s.keys == nil {
		s.keys = make(map[string]KeyEntry)
	}
	k.Hash = slices.Clone(k.Hash)
	k.RevokedMs = 0
	s.keys[k.ID] = k
	return &KeyResult{}
}

func (s *state) revokeKey(c *RevokeKey) any {
	k, ok := s.keys[c.ID]
	if !ok {
		return &KeyResult{Err: fmt.Errorf("%w: %s", ErrUnknownKey, c.ID)}
	}
	if c.AtMs <= 0 {
		return &KeyResult{Err: fmt.Errorf("%w: revocation time %d", ErrInvalidCommand, c.AtMs)}
	}
	if !k.Revoked() {
		k.RevokedMs = c.AtMs
		s.keys[c.ID] = k
	}
	return &KeyResult{}
}

// sortedKeys returns the ring ordered by creation time, then ID.
func (s *state) sortedKeys() []KeyEntry {
	if len(s.keys) == 0 {
		return nil
	}
	out := make([]KeyEntry, 0, len(s.keys))
	for _, k := range s.keys {
		k.Hash = slices.Clone(k.Hash)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b KeyEntry) int {
		return cmp.Or(cmp.Compare(a.CreatedMs, b.CreatedMs), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// APIKey returns the record of the API key with the ID.
func (f *FSM) APIKey(id string) (KeyEntry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	k, ok := f.s.keys[id]
	return k, ok
}

// APIKeys returns every API key record, oldest first.
func (f *FSM) APIKeys() []KeyEntry {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.sortedKeys()
}
