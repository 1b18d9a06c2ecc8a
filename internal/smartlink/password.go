package smartlink

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The argon2id parameters of new hashes: RFC 9106's second recommended
// option scaled to OWASP's minimum (19 MiB, 2 passes, 1 lane), about 20-40
// ms per check on one core. Hashes carry their parameters, so raising
// these later leaves old hashes valid.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters a stored hash may ask for, so that a damaged
// or hostile row cannot make one check take a gigabyte.
const (
	maxArgonMemory = 256 * 1024
	maxArgonTime   = 10
)

// HashPassword returns the argon2id hash of pw in the PHC string form
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash). A password is 1 to MaxPassword
// bytes; others are a *FieldError for "password" wrapping
// ErrPasswordTooLong when too long.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", fieldErr("password", "is empty; send null to remove the password")
	}
	if len(pw) > MaxPassword {
		return "", fmt.Errorf("%w (%w)", &FieldError{Field: "password", Problem: fmt.Sprintf("longer than %d bytes", MaxPassword)}, ErrPasswordTooLong)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("smartlink: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash (from HashPassword), in
// time that does not depend on where they differ. A malformed hash, or one
// whose parameters exceed the bounds, matches nothing.
func CheckPassword(hash, pw string) bool {
	if len(pw) > MaxPassword {
		return false
	}
	p, ok := parseHash(hash)
	if !ok {
		return false
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseHash(s string) (argonHash, bool) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return argonHash{}, false
	}
	var h argonHash
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); n != 3 || err != nil {
		return argonHash{}, false
	}
	if h.memory < 8 || h.memory > maxArgonMemory || h.time < 1 || h.time > maxArgonTime || h.threads < 1 || h.threads > 4 {
		return argonHash{}, false
	}
	var err error
	b64 := base64.RawStdEncoding
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return argonHash{}, false
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return argonHash{}, false
	}
	return h, true
}

// ValidHash reports whether s is a hash CheckPassword can check: what the
// stores accept in Options.PasswordHash.
func ValidHash(s string) bool {
	_, ok := parseHash(s)
	return ok
}
