package apitest

import (
	"sync/atomic"
	"testing"

	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/snowflake"
)

// Issuer is the control plane's ID and code source without Raft: a real
// codegen codec and Snowflake generator over a local counter, so that
// links created through the API in tests get real IDs and codes.
type Issuer struct {
	codec *codegen.Codec
	ids   *snowflake.Generator
	next  atomic.Uint64
}

// NewIssuer returns an Issuer with a fresh codec key.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	key, err := codegen.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := codegen.New(key)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := snowflake.New(1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Issuer{codec: codec, ids: ids}
}

// NewID is the API's Issuer method of that name.
func (i *Issuer) NewID() (int64, error) { return i.ids.Next() }

// NextCode is the API's Issuer method of that name.
func (i *Issuer) NextCode() (string, error) { return i.codec.Code(i.next.Add(1) - 1) }
