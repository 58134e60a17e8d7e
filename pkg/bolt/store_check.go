package bolt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNoFile is wrapped by Check when the file does not exist yet but its
// directory can hold it: Open will create it.
var ErrNoFile = errors.New("the file does not exist yet")

// Check tells whether Open would succeed on path, without changing the
// file (an empty file is set up as a new database, as Open would). An
// existing file is opened for writing, as Open does, and closed again: if another process holds it (a running `sdesk serve`), Check
// gives up after wait with an error wrapping ErrLocked; a file that is not
// a bbolt database, or a damaged one, fails as bbolt reports it
// (berrors.ErrInvalid, ErrVersionMismatch, ErrChecksum); a file that may
// not be written fails with os.ErrPermission. A missing file gives an
// error wrapping ErrNoFile when its directory exists and a file can be
// created in it (a probe file is created and removed again), else the
// directory's error (os.ErrNotExist, os.ErrPermission...).
func Check(path string, wait time.Duration) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("bolt: check %s: is a directory", path)
	case errors.Is(err, os.ErrNotExist):
		dir := filepath.Dir(path)
		probe, err := os.CreateTemp(dir, ".sdesk-check-*")
		if err != nil {
			return fmt.Errorf("bolt: check %s: cannot create files in %s: %w", path, dir, err)
		}
		name := probe.Name()
		_ = probe.Close()
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("bolt: check %s: remove probe file: %w", path, err)
		}
		return fmt.Errorf("bolt: check %s: %w", path, ErrNoFile)
	case err != nil:
		return fmt.Errorf("bolt: check %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: wait})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("bolt: check %s: %w", path, ErrLocked)
	}
	if err != nil {
		return fmt.Errorf("bolt: check %s: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("bolt: check %s: close: %w", path, err)
	}
	return nil
}
