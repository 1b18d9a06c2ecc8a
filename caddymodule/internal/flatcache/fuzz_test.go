package flatcache

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzOperations runs a sequence of operations, read from the input, on a
// cache large enough never to evict and on a plain map, and checks that
// the two agree after every step: what Set, Replace, Delete and Clear do
// to one key never shows on another, across many compactions of the
// shard's bytes (one shard, so that every key shares the buffer).
//
// Each operation is two bytes: op (low 3 bits: which; the rest: the
// length of the string) and the key (one of 32).
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 8, 1, 3, 1, 1, 1, 3, 1})
	f.Add([]byte{0x80, 2, 0xf8, 2, 2, 2, 3, 2, 4, 0, 3, 2})
	f.Add([]byte(strings.Repeat("\x00\x05\xf0\x06\x02\x05\x01\x06", 40)))
	f.Fuzz(func(t *testing.T, ops []byte) {
		c, _ := newCache(t, 1024, 1)
		type want struct {
			v val
			s string
		}
		model := map[string]want{}
		for i := 0; i+1 < len(ops); i += 2 {
			op, n := ops[i]&7, int(ops[i]>>3)
			key := "k" + strconv.Itoa(int(ops[i+1]%32))
			if ops[i+1]%32 == 31 {
				key = "" // the empty key too
			}
			v := val{id: int64(i), state: uint8(n % 10)}
			s := strings.Repeat(string(rune('a'+n%26)), n*3)
			switch op {
			case 0, 5, 6: // Set, the most common
				c.Set(key, v, s)
				if v.state == 9 { // newCache's Lifetime: not stored
					delete(model, key)
				} else {
					model[key] = want{v, s}
				}
			case 1:
				c.Delete(key)
				delete(model, key)
			case 2:
				_, had := model[key]
				if got := c.Replace(key, v, s); got != had {
					t.Fatalf("step %d: Replace(%q) = %v, want %v", i/2, key, got, had)
				}
				if had {
					if v.state == 9 {
						delete(model, key)
					} else {
						model[key] = want{v, s}
					}
				}
			case 3, 7: // reads are checked below, after every step
			case 4:
				if n == 0 {
					c.Clear()
					clear(model)
				}
			}
			gv, gs, ok := c.Get(key)
			w, had := model[key]
			if ok != had || gv != w.v || gs != w.s {
				t.Fatalf("step %d (op %d): Get(%q) = %+v %q %v; want %+v %q %v", i/2, op, key, gv, gs, ok, w.v, w.s, had)
			}
		}
		if c.Len() != len(model) {
			t.Fatalf("Len %d, want %d", c.Len(), len(model))
		}
		for k, w := range model {
			if gv, gs, ok := c.Peek(k); !ok || gv != w.v || gs != w.s {
				t.Fatalf("at the end: Peek(%q) = %+v %q %v; want %+v %q", k, gv, gs, ok, w.v, w.s)
			}
		}
	})
}
