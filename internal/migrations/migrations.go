// Package migrations reads versioned schema migrations (NNNN_name.sql files
// embedded in a binary) in order. Each store applies them with its own
// bookkeeping table through ApplyPostgres or ApplySQLite, the one applier of
// each dialect, so that every store names, orders and records its
// migrations the same way.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one schema change.
type Migration struct {
	// Version orders migrations; it is unique and positive.
	Version int
	// Name is the file name's descriptive part.
	Name string
	// SQL is the file's content.
	SQL string
}

// Load reads dir/NNNN_name.sql from fsys in version order. It refuses a
// file whose name does not have that form, and versions that are not
// strictly increasing (two files of one version would make the order of
// deployment decide the schema).
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: read %s: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries { // ReadDir sorts by file name
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 || name == "" || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migrations: file %q: want NNNN_name.sql", e.Name())
		}
		if len(ms) > 0 && version <= ms[len(ms)-1].Version {
			return nil, fmt.Errorf("migrations: file %q: version %d is not above %d", e.Name(), version, ms[len(ms)-1].Version)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(b)})
	}
	return ms, nil
}
