package outbox

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
)

// Migration is one versioned step of a database schema. Stores apply
// migrations in version order, each in its own transaction, and record them
// per component, so applying the same list twice changes nothing.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// LoadMigrations reads the files named NNNN_name.sql in dir of fsys, in
// version order. Versions must start at 1 and have no gaps, so a missing
// file is caught when the binary is built and tested, not in production.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			return nil, fmt.Errorf("migration %s: name must look like 0001_create_tables.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration: %w", err)
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: expected version %d; versions start at 1 and have no gaps", m.Version, m.Name, i+1)
		}
	}
	return ms, nil
}

// Column is a column that a table created by an older schema may lack.
// Generated metric packages list their field columns this way, so that a
// field added to a metric reaches existing databases: ApplySchema adds the
// columns that are missing and leaves the rest alone.
type Column struct {
	Table      string
	Name       string
	Definition string // the column's type and constraints, e.g. "REAL"
}
