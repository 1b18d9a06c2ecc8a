package fsm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzRestore: whatever a snapshot holds, Restore never panics, and a
// state it accepts goes through a snapshot of its own unchanged (what it
// accepts, it can write and read back).
func FuzzRestore(f *testing.F) {
	for _, name := range []string{"snapshot-v6.json", "snapshot-v7.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":7,"last_workspace_id":3,"workspaces":[{"id":1,"name":"default","limits":{}},{"id":3,"name":"x","limits":{"max_domains":2}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := New()
		if err := a.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			return
		}
		b := New()
		if err := b.Restore(io.NopCloser(&persist(t, a).Buffer)); err != nil {
			t.Fatalf("a restored state's own snapshot does not restore: %v", err)
		}
		if !reflect.DeepEqual(a.State(), b.State()) {
			t.Fatalf("snapshot round trip changed the state:\n%+v\n%+v", a.State(), b.State())
		}
	})
}
