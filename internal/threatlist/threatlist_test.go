package threatlist

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	long := "http://long.example/" + strings.Repeat("a", MaxLineLength)
	for _, tc := range []struct {
		name    string
		format  Format
		in      string
		max     int
		want    []Entry
		skipped int
		trunc   bool
	}{
		{"urlhaus", URLhaus, "################\n# URLhaus\n#\nhttp://1.2.3.4:8080/bins/x.sh\r\nhttps://Evil.EXAMPLE/a#frag\n\nftp://nope.example/\n",
			0, []Entry{{URL, "1.2.3.4:8080/bins/x.sh"}, {URL, "evil.example/a"}}, 1, false},
		{"openphish", OpenPhish, "https://login.bank.example.phish.test/\nhttps://login.bank.example.phish.test/\nnot a url\n",
			0, []Entry{{URL, "login.bank.example.phish.test"}}, 1, false},
		{"phishtank", PhishTank, "phish_id,url,phish_detail_url,online,target\n1,\"http://a.test/x?a=1,b=2\",http://www.phishtank.com/x,yes,Other\n2,http://b.test/,x,yes,Other\n3\n",
			0, []Entry{{URL, "a.test/x?a=1,b=2"}, {URL, "b.test"}}, 1, false},
		{"plain", Plain, "# mine\nEvil.Example.\nhttps://x.test/p\nbad host/\nbücher.example\n",
			0, []Entry{{Host, "evil.example"}, {URL, "x.test/p"}, {Host, "xn--bcher-kva.example"}}, 1, false},
		{"cap", Plain, "a.test\nb.test\nc.test\n", 2, []Entry{{Host, "a.test"}, {Host, "b.test"}}, 0, true},
		{"long line", URLhaus, long + "\nhttp://ok.test/\n", 0, []Entry{{URL, "ok.test"}}, 1, false},
		{"no newline at end", OpenPhish, "http://ok.test/x", 0, []Entry{{URL, "ok.test/x"}}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(strings.NewReader(tc.in), tc.format, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Entries) != len(tc.want) {
				t.Fatalf("entries %v, want %v", l.Entries, tc.want)
			}
			for i := range tc.want {
				if l.Entries[i] != tc.want[i] {
					t.Errorf("entry %d = %v, want %v", i, l.Entries[i], tc.want[i])
				}
			}
			if l.Skipped != tc.skipped || l.Truncated != tc.trunc {
				t.Errorf("skipped %d truncated %v, want %d %v", l.Skipped, l.Truncated, tc.skipped, tc.trunc)
			}
		})
	}
}

func TestParsePhishTankWithoutURLColumn(t *testing.T) {
	if _, err := Parse(strings.NewReader("id,link\n1,http://a.test/\n"), PhishTank, 0); err != ErrNoURLColumn {
		t.Fatalf("err = %v, want ErrNoURLColumn", err)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error("ParseFormat(csv) accepted")
	}
}

func TestSetMatch(t *testing.T) {
	s := NewSet([]Sourced{
		{Entry{Host, "evil.example"}, "plain"},
		{Entry{Host, "2001:db8::1"}, "plain"},
		{Entry{URL, "shared.example/phish/login"}, "openphish"},
		{Entry{URL, "shared.example"}, "urlhaus"},
		{Entry{Host, "evil.example"}, "second"},
	})
	for _, tc := range []struct {
		target, source, matched string
	}{
		{"https://evil.example/x", "plain", "evil.example"},
		{"https://a.b.evil.example:8443/x?y#z", "plain", "evil.example"},
		{"https://notevil.example/", "", ""},
		{"http://shared.example/phish/login#top", "openphish", "shared.example/phish/login"},
		{"https://shared.example/phish/login/", "openphish", "shared.example/phish/login"},
		{"https://shared.example/phish/other", "", ""},
		{"https://shared.example/", "urlhaus", "shared.example"},
		{"https://shared.example", "urlhaus", "shared.example"},
		{"http://[2001:db8::1]:80/x", "plain", "2001:db8::1"},
		{"not a url", "", ""},
	} {
		hit, ok := s.Match(tc.target)
		if hit.Source != tc.source || hit.Value != tc.matched || ok != (tc.source != "") {
			t.Errorf("Match(%q) = %+v %v, want %q %q", tc.target, hit, ok, tc.source, tc.matched)
		}
	}
	if got := s.Len(); got != 4 {
		t.Errorf("Len = %d, want 4", got)
	}
	var empty *Set
	if _, ok := empty.Match("https://evil.example/"); ok || empty.Len() != 0 {
		t.Error("the nil Set matched")
	}
	if src, ok := s.MatchHost("www.evil.example"); !ok || src != "plain" {
		t.Errorf("MatchHost = %q %v", src, ok)
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	s := NewSet([]Sourced{{Entry{Host, "evil.example"}, "a"}, {Entry{URL, "x.example/y"}, "b"}})
	if n := testing.AllocsPerRun(100, func() { s.Match("https://a.b.c.example/path?q=1") }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

func BenchmarkSetMatch(b *testing.B) {
	entries := make([]Sourced, 0, 100_000)
	for i := range 50_000 {
		entries = append(entries, Sourced{Entry{Host, "h" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ".example"}, "f"})
	}
	s := NewSet(entries)
	for b.Loop() {
		s.Match("https://www.some.host.example/path/to/page?q=1")
	}
}
