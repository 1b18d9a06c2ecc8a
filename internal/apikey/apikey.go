// Package apikey makes and checks Shortify's API keys. A key reads
//
//	sk_<id>_<secret>
//
// where id (12 Base62 characters) names the key in listings and logs and
// secret (32 Base62 characters, about 190 bits) is shown once, at
// creation. Only the SHA-256 of the whole key is stored: a fast hash is
// enough because the secret is random and long (a slow password hash
// protects guessable secrets, and would cost every API call), and a
// stored hash is useless for calling the API. Keys are compared in
// constant time.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/shortify/shortify/internal/base62"
)

// Lengths of a key's parts.
const (
	IDLen     = 12
	SecretLen = 32
	prefix    = "sk_"
	// Len is the length of a whole key.
	Len = len(prefix) + IDLen + 1 + SecretLen
)

// ErrMalformed is returned by Parse for anything that is not a key.
var ErrMalformed = errors.New("apikey: malformed key (want sk_<12 characters>_<32 characters>)")

// Role is what a key may do. Each role may do everything the roles below
// it may.
type Role string

// The roles, from least to most powerful.
const (
	// Viewer reads links, QR codes and statistics.
	Viewer Role = "viewer"
	// Creator also creates, updates and deletes links.
	Creator Role = "creator"
	// Admin also manages keys, the cluster, blocklists and partitions.
	Admin Role = "admin"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Viewer, Creator, Admin:
		return r, nil
	}
	return "", fmt.Errorf("apikey: unknown role %q (want viewer, creator or admin)", s)
}

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Creator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Allows reports whether a key of role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

// Key is a freshly made key: ID is public, Secret is the whole key to hand
// to its user once, Hash is what to store.
type Key struct {
	ID     string
	Secret string
	Hash   [sha256.Size]byte
}

// New makes a random key.
func New() (Key, error) {
	id, err := randomBase62(IDLen)
	if err != nil {
		return Key{}, err
	}
	secret, err := randomBase62(SecretLen)
	if err != nil {
		return Key{}, err
	}
	whole := prefix + id + "_" + secret
	return Key{ID: id, Secret: whole, Hash: Hash(whole)}, nil
}

// Parse checks a key's form and returns its ID.
func Parse(key string) (id string, err error) {
	if len(key) != Len || !strings.HasPrefix(key, prefix) || key[len(prefix)+IDLen] != '_' {
		return "", ErrMalformed
	}
	id = key[len(prefix) : len(prefix)+IDLen]
	secret := key[len(prefix)+IDLen+1:]
	if !isBase62(id) || !isBase62(secret) {
		return "", ErrMalformed
	}
	return id, nil
}

// Hash is the stored form of a key.
func Hash(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// Matches reports in constant time whether key hashes to stored.
func Matches(key string, stored [sha256.Size]byte) bool {
	h := Hash(key)
	return subtle.ConstantTimeCompare(h[:], stored[:]) == 1
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(base62.Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// randomBase62 draws n uniform Base62 characters.
func randomBase62(n int) (string, error) { return base62.Random(n), nil }
