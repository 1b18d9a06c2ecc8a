package geoip_test

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/geoip"
	"github.com/shortify/shortify/internal/geoip/geoiptest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

var networks = map[string]string{
	"81.2.69.0/24":    "GB",
	"2.125.160.0/20":  "de", // lower case in the file: upper-cased
	"2001:db8::/32":   "FR",
	"203.0.113.0/24":  "", // present, no located country
	"198.51.100.0/24": "X1",
}

// syncBuffer is a log sink the poller writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func open(t *testing.T, path string, interval time.Duration) (*geoip.DB, *syncBuffer) {
	t.Helper()
	logs := new(syncBuffer)
	db, err := geoip.Open(path, geoip.Options{Interval: interval, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, logs
}

func TestCountry(t *testing.T) {
	layouts := map[string]geoiptest.Layout{
		"GeoLite2-Country": geoiptest.GeoLite2Country,
		"GeoLite2-City":    geoiptest.GeoLite2City,
		"DB-IP Lite":       geoiptest.DBIPCountry,
	}
	tests := []struct {
		addr string
		want string
	}{
		{addr: "81.2.69.142", want: "GB"},
		{addr: "::ffff:81.2.69.142", want: "GB"},
		{addr: "2.125.160.216", want: "DE"},
		{addr: "2001:db8::1", want: "FR"},
		{addr: "2001:db8::1%eth0", want: "FR"},
		{addr: "203.0.113.9", want: ""},  // no country: MaxMind layouts fall back to registered_country (below)
		{addr: "198.51.100.1", want: ""}, // not two letters
		{addr: "192.0.2.1", want: ""},    // not in the database
		{addr: "2001:db9::1", want: ""},
	}
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			db, _ := open(t, geoiptest.Write(t, t.TempDir(), layout, networks), -1)
			for _, tt := range tests {
				want := tt.want
				if layout != geoiptest.DBIPCountry && tt.addr == "203.0.113.9" {
					want = "ZZ" // the registered_country fallback
				}
				if got := db.Country(netip.MustParseAddr(tt.addr)); got != want {
					t.Errorf("Country(%s) = %q, want %q", tt.addr, got, want)
				}
			}
			if got := db.Country(netip.Addr{}); got != "" {
				t.Errorf("Country(zero) = %q", got)
			}
		})
	}
	var nilDB *geoip.DB
	if got := nilDB.Country(netip.MustParseAddr("81.2.69.142")); got != "" {
		t.Errorf("nil DB: %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	good := geoiptest.Build(t, geoiptest.GeoLite2Country, networks)
	files := map[string][]byte{
		"empty":     {},
		"text":      []byte("not a database\n"),
		"truncated": good[:len(good)/2],
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if db, err := geoip.Open(p, geoip.Options{}); err == nil {
			_ = db.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if _, err := geoip.Open(filepath.Join(dir, "missing"), geoip.Options{}); err == nil {
		t.Error("missing file: Open succeeded")
	}
}

func TestReload(t *testing.T) {
	path := geoiptest.Write(t, t.TempDir(), geoiptest.GeoLite2Country, map[string]string{"81.2.69.0/24": "GB"})
	db, logs := open(t, path, 5*time.Millisecond)
	gb := netip.MustParseAddr("81.2.69.142")
	if got := db.Country(gb); got != "GB" {
		t.Fatalf("before: %q", got)
	}

	// geoipupdate's way: a new file renamed over the old one.
	geoiptest.Replace(t, path, geoiptest.Build(t, geoiptest.GeoLite2City, map[string]string{"81.2.69.0/24": "IE"}))
	testenv.WaitFor(t, "the new database", 5*time.Second, func() bool { return db.Country(gb) == "IE" })

	// A corrupt file keeps the old database, and is logged.
	geoiptest.Replace(t, path, []byte("garbage, not a database"))
	testenv.WaitFor(t, "the failed reload logged", 5*time.Second, func() bool {
		return strings.Contains(logs.String(), "does not load")
	})
	if got := db.Country(gb); got != "IE" {
		t.Fatalf("after a corrupt file: %q, want the old IE", got)
	}

	// An in-place overwrite (no rename) is picked up too: the data is in
	// memory, so the overwrite cannot fault a lookup.
	if err := os.WriteFile(path, geoiptest.Build(t, geoiptest.DBIPCountry, map[string]string{"81.2.69.0/24": "NL"}), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the overwritten database", 5*time.Second, func() bool { return db.Country(gb) == "NL" })

	// The file removed: the old database stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the removal logged", 5*time.Second, func() bool {
		return strings.Contains(logs.String(), "file gone")
	})
	if got := db.Country(gb); got != "NL" {
		t.Fatalf("after removal: %q", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	if got := db.Country(gb); got != "NL" {
		t.Fatalf("after Close: %q", got)
	}
}

// TestCheck drives the reload by hand, without the poller.
func TestCheck(t *testing.T) {
	path := geoiptest.Write(t, t.TempDir(), geoiptest.GeoLite2Country, map[string]string{"81.2.69.0/24": "GB"})
	db, _ := open(t, path, -1)
	if db.Check() {
		t.Fatal("Check reloaded an unchanged file")
	}
	geoiptest.Replace(t, path, geoiptest.Build(t, geoiptest.GeoLite2Country, map[string]string{"81.2.69.0/24": "IE", "10.0.0.0/8": "US"}))
	if !db.Check() || db.Reloads() != 1 {
		t.Fatalf("Check did not reload a changed file (reloads %d)", db.Reloads())
	}
	if db.Check() {
		t.Fatal("Check reloaded twice")
	}
}

// TestConcurrent runs lookups while the file is replaced (go test -race).
func TestConcurrent(t *testing.T) {
	path := geoiptest.Write(t, t.TempDir(), geoiptest.GeoLite2Country, map[string]string{"81.2.69.0/24": "GB"})
	db, _ := open(t, path, time.Millisecond)
	gb := netip.MustParseAddr("81.2.69.142")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c := db.Country(gb); c != "GB" && c != "IE" {
					t.Errorf("Country = %q", c)
					return
				}
			}
		})
	}
	geoiptest.Replace(t, path, geoiptest.Build(t, geoiptest.GeoLite2Country, map[string]string{"81.2.69.0/24": "IE"}))
	testenv.WaitFor(t, "the new database", 5*time.Second, func() bool { return db.Country(gb) == "IE" })
	close(stop)
	wg.Wait()
}

func FuzzCountry(f *testing.F) {
	dir := f.TempDir()
	db, err := geoip.Open(geoiptest.Write(f, dir, geoiptest.GeoLite2City, networks), geoip.Options{Interval: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{81, 2, 69, 142})
	f.Add(netip.MustParseAddr("2001:db8::1").AsSlice())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			a = netip.Addr{}
		}
		c := db.Country(a)
		if c != "" && (len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
			t.Fatalf("Country(%v) = %q", a, c)
		}
	})
}

func BenchmarkCountry(b *testing.B) {
	for name, layout := range map[string]geoiptest.Layout{"country": geoiptest.GeoLite2Country, "city": geoiptest.GeoLite2City} {
		b.Run(name, func(b *testing.B) {
			db, err := geoip.Open(geoiptest.Write(b, b.TempDir(), layout, networks), geoip.Options{Interval: -1})
			if err != nil {
				b.Fatal(err)
			}
			a := netip.MustParseAddr("81.2.69.142")
			b.ReportAllocs()
			for b.Loop() {
				if db.Country(a) != "GB" {
					b.Fatal("wrong country")
				}
			}
		})
	}
}
