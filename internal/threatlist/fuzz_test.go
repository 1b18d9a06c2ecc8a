package threatlist

import (
	"bytes"
	"testing"
)

// FuzzParse feeds every format arbitrary bytes: Parse must not panic, keep
// within the cap, and produce only entries that match themselves.
func FuzzParse(f *testing.F) {
	f.Add([]byte("# c\nhttp://a.test/x\n"), uint8(0))
	f.Add([]byte("phish_id,url\n1,\"http://b.test/\"\"q\"\"\"\n"), uint8(2))
	f.Add([]byte("evil.example\nhttps://x.test/\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		ft := Formats[int(format)%len(Formats)]
		l, err := Parse(bytes.NewReader(data), ft, 50)
		if err != nil {
			return
		}
		if len(l.Entries) > 50 {
			t.Fatalf("%d entries past the cap", len(l.Entries))
		}
		s := NewSet(nil)
		for _, e := range l.Entries {
			s = NewSet([]Sourced{{e, "f"}})
			target := "http://" + e.Value
			if _, ok := s.Match(target); !ok {
				t.Fatalf("entry %v does not match %q", e, target)
			}
		}
	})
}

// FuzzSplitCSV checks that splitting never panics and that a line without
// quotes splits at every comma.
func FuzzSplitCSV(f *testing.F) {
	f.Add("a,b,\"c,d\"")
	f.Add("\"\"\"")
	f.Fuzz(func(t *testing.T, line string) {
		fields := splitCSV(line)
		if !bytes.ContainsAny([]byte(line), "\"") && len(fields) != bytes.Count([]byte(line), []byte(","))+1 {
			t.Fatalf("%q split into %d fields", line, len(fields))
		}
	})
}
