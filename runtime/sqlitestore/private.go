package sqlitestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// makePrivate makes the database file and its WAL and shared-memory files
// readable and writable by their owner only, since they hold health data:
// a file created with a looser umask, or by another tool, is tightened when
// the store opens it. Files that do not exist are left alone; SQLite creates
// them with the database file's mode.
func makePrivate(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlitestore: %w", err)
		}
		mode := info.Mode().Perm()
		if mode&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, mode&0o700); err != nil {
			return fmt.Errorf("sqlitestore: %s can be read by other users (mode %#o) and could not be made private: %w; run the store as the file's owner, or chmod 600 it",
				p, mode, err)
		}
	}
	return nil
}
