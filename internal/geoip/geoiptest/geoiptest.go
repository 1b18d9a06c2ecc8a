// Package geoiptest writes small MaxMind-format databases for tests, with
// the record layouts of the real ones, so that tests exercise the real
// reader rather than a fake.
package geoiptest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Layout is the record shape of one database product.
type Layout int

const (
	// GeoLite2Country is MaxMind's country database: country and
	// registered_country, each with geoname_id, iso_code and names.
	GeoLite2Country Layout = iota
	// GeoLite2City adds city, location, subdivisions, postal to it.
	GeoLite2City
	// DBIPCountry is DB-IP Lite country: country with iso_code, names,
	// is_in_european_union, and continent.
	DBIPCountry
)

// Build returns a database mapping each CIDR network to its country code
// (an empty code: the network is present with a record that has no
// country, only registered_country "ZZ" for MaxMind layouts).
func Build(tb testing.TB, layout Layout, networks map[string]string) []byte {
	tb.Helper()
	dbType := map[Layout]string{GeoLite2Country: "GeoLite2-Country", GeoLite2City: "GeoLite2-City", DBIPCountry: "DBIP-Country-Lite"}[layout]
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IPVersion: 6,
		IncludeReservedNetworks: true, // tests use documentation and private ranges
	})
	if err != nil {
		tb.Fatal(err)
	}
	for cidr, code := range networks {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.Insert(n, record(layout, code)); err != nil {
			tb.Fatalf("insert %s: %v", cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Write builds a database and writes it to a new file in dir (atomically,
// by renaming, as geoipupdate does), returning its path.
func Write(tb testing.TB, dir string, layout Layout, networks map[string]string) string {
	tb.Helper()
	path := filepath.Join(dir, "GeoLite2-Country.mmdb")
	Replace(tb, path, Build(tb, layout, networks))
	return path
}

// Replace writes b to path through a temporary file and a rename.
func Replace(tb testing.TB, path string, b []byte) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

func names(s string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(s), "de": mmdbtype.String(s)}
}

func record(layout Layout, code string) mmdbtype.Map {
	country := mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": names("Country " + code)}
	switch layout {
	case DBIPCountry:
		return mmdbtype.Map{
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": names("Country " + code),
				"is_in_european_union": mmdbtype.Bool(true)},
		}
	}
	country["geoname_id"] = mmdbtype.Uint32(2921044)
	m := mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": names("Europe")},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("ZZ"), "geoname_id": mmdbtype.Uint32(1), "names": names("Registered")},
	}
	if code != "" {
		m["country"] = country
		m["registered_country"] = country
	}
	if layout == GeoLite2City {
		m["city"] = mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950159), "names": names("Berlin")}
		m["location"] = mmdbtype.Map{"latitude": mmdbtype.Float64(52.52), "longitude": mmdbtype.Float64(13.40),
			"accuracy_radius": mmdbtype.Uint16(100), "time_zone": mmdbtype.String("Europe/Berlin")}
		m["postal"] = mmdbtype.Map{"code": mmdbtype.String("10115")}
		m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BE"), "names": names("Berlin")}}
	}
	return m
}
