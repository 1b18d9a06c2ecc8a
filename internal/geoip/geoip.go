// Package geoip resolves the country of an IP address from a MaxMind-format
// database (.mmdb): MaxMind GeoLite2-Country or GeoLite2-City, or DB-IP
// Lite country, all of which keep the code at country.iso_code.
//
// The database is read into memory rather than mapped: geoipupdate
// replaces the file by renaming, but an operator copying a new file over
// the old one in place would make a mapped reader fault (SIGBUS) on the
// pages that changed. A country database is a few MB; a city one tens.
//
// A DB polls the file (which file it is, its modification time and size)
// and loads a changed file on the side; lookups keep using the old
// database until the new one has loaded, and a file that does not load
// (truncated, not a database, gone) keeps the old one and is logged.
// Close stops the poller.
package geoip

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DefaultInterval is how often a DB checks its file for a new version.
// Database updates come weekly at most; a few seconds is plenty.
const DefaultInterval = 5 * time.Second

// Options tunes a DB; the zero Options is the default.
type Options struct {
	// Interval is how often the file is checked for changes; 0 means
	// DefaultInterval, negative never (no goroutine).
	Interval time.Duration
	// Logger receives reloads and failed reloads; nil means slog.Default().
	Logger *slog.Logger
}

// DB looks up countries. It is safe for concurrent use.
type DB struct {
	path   string
	logger *slog.Logger
	cur    atomic.Pointer[maxminddb.Reader]
	reload atomic.Uint64 // successful reloads, for tests and logs

	checking sync.Mutex  // serializes Check (the poller's and callers')
	last     fileVersion // guarded by checking
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
}

// fileVersion is what tells one version of the file from the next: the
// file itself (a rename puts a new one in place; file times are coarse, so
// two versions written within milliseconds may share a modification time),
// its modification time and its size.
type fileVersion struct {
	fi os.FileInfo // nil: none
}

func versionOf(fi os.FileInfo) fileVersion { return fileVersion{fi} }

// same reports whether v and w are the same version of the file.
func (v fileVersion) same(w fileVersion) bool {
	if v.fi == nil || w.fi == nil {
		return v.fi == nil && w.fi == nil
	}
	return os.SameFile(v.fi, w.fi) && v.fi.ModTime().Equal(w.fi.ModTime()) && v.fi.Size() == w.fi.Size()
}

// Open loads the database at path and starts watching it.
func Open(path string, opts Options) (*DB, error) {
	db := &DB{path: path, logger: opts.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	if db.logger == nil {
		db.logger = slog.Default()
	}
	r, v, err := load(path)
	if err != nil {
		return nil, err
	}
	db.cur.Store(r)
	db.last = v // before the poller starts: no lock needed
	interval := opts.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	if interval < 0 {
		close(db.done)
		return db, nil
	}
	go db.poll(interval)
	return db, nil
}

// load reads and parses the file. The version is taken before the read,
// so that a file replaced during the read is seen as changed next time.
func load(path string) (*maxminddb.Reader, fileVersion, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fileVersion{}, fmt.Errorf("geoip: %w", err)
	}
	v := versionOf(fi)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, v, fmt.Errorf("geoip: %w", err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, v, fmt.Errorf("geoip: %s is not a MaxMind database: %w", path, err)
	}
	if err := check(r); err != nil {
		return nil, v, fmt.Errorf("geoip: %s: %w", path, err)
	}
	return r, v, nil
}

// check looks up one address, to catch a data section that is cut short
// early (OpenBytes reads only the metadata at the end of the file).
func check(r *maxminddb.Reader) error {
	var rec record
	for _, a := range []netip.Addr{netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2001:4860::1")} {
		if a.Is6() && r.Metadata.IPVersion == 4 {
			continue
		}
		if err := r.Lookup(a).Decode(&rec); err != nil {
			return fmt.Errorf("lookup of %s: %w", a, err)
		}
	}
	return nil
}

// Close stops watching the file; lookups still answer from the last
// database. It is safe to call more than once.
func (db *DB) Close() error {
	db.closing.Do(func() {
		select {
		case <-db.done: // no poller
		default:
			close(db.stop)
		}
	})
	<-db.done
	return nil
}

func (db *DB) poll(interval time.Duration) {
	defer close(db.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			db.Check()
		}
	}
}

// Check loads the file now if it changed since the last load or failed
// attempt; the poller calls it. It reports whether a new database is in
// use. It is safe to call while the poller runs.
func (db *DB) Check() bool {
	db.checking.Lock()
	defer db.checking.Unlock()
	fi, err := os.Stat(db.path)
	if err != nil {
		if db.last.fi != nil {
			db.logger.Error("geoip: database file gone; keeping the loaded one", "path", db.path, "error", err)
			db.last = fileVersion{}
		}
		return false
	}
	if versionOf(fi).same(db.last) {
		return false
	}
	r, v, err := load(db.path)
	db.last = v // a bad version is not retried until the file changes again
	if err != nil {
		db.logger.Error("geoip: new database file does not load; keeping the loaded one", "path", db.path, "error", err)
		return false
	}
	db.cur.Store(r)
	db.reload.Add(1)
	db.logger.Info("geoip: database reloaded", "path", db.path,
		"type", r.Metadata.DatabaseType, "built", r.Metadata.BuildTime().UTC())
	return true
}

// Reloads returns how many times a changed file was loaded.
func (db *DB) Reloads() uint64 { return db.reload.Load() }

// record is the part of a country, city or DB-IP record we read.
// registered_country is the fallback MaxMind leaves for networks with no
// located country (some anycast and satellite ranges).
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the ISO 3166-1 alpha-2 code (upper case) of a's country,
// or "" when the address is not in the database, has no country, or the
// database is nil. Codes that are not two letters are dropped.
func (db *DB) Country(a netip.Addr) string {
	if db == nil || !a.IsValid() {
		return ""
	}
	rec := records.Get().(*record)
	defer records.Put(rec)
	*rec = record{}
	if err := db.cur.Load().Lookup(a.Unmap().WithZone("")).Decode(rec); err != nil {
		return ""
	}
	if c := normalize(rec.Country.ISOCode); c != "" {
		return c
	}
	return normalize(rec.RegisteredCountry.ISOCode)
}

// records recycles the decoding targets: one passed to Decode (an any)
// escapes, and would cost an allocation per lookup. The strings decoded
// into it come from the reader's string cache.
var records = sync.Pool{New: func() any { return new(record) }}

// normalize keeps two ASCII letters, upper-cased: databases write upper
// case, but a hand-built one need not.
func normalize(s string) string {
	if len(s) != 2 {
		return ""
	}
	a, b := s[0]&^0x20, s[1]&^0x20
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return ""
	}
	if a == s[0] && b == s[1] {
		return s
	}
	return string([]byte{a, b})
}
