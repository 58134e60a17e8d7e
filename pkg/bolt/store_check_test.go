package bolt_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/sdesk/sdesk/pkg/bolt"
)

// errAny stands for any error in a test table.
var errAny = errors.New("any error")

func TestCheck(t *testing.T) {
	const wait = 200 * time.Millisecond
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to check
		want  error                                 // nil: Check passes
	}{
		{"a file Open made", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "sdesk.db")
			s, err := bolt.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil},
		{"no file yet", func(t *testing.T, dir string) string { return filepath.Join(dir, "sdesk.db") }, bolt.ErrNoFile},
		{"no directory", func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "sdesk.db") }, os.ErrNotExist},
		{"a directory", func(t *testing.T, dir string) string { return dir }, errAny},
		{"not a database", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "notes.txt")
			if err := os.WriteFile(p, bytes.Repeat([]byte("not bbolt\n"), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, berrors.ErrInvalid},
		{"held by another Open", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "sdesk.db")
			open(t, p)
			return p
		}, bolt.ErrLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before, _ := os.ReadFile(path)
			entries, _ := os.ReadDir(dir)
			start := time.Now()
			err := bolt.Check(path, wait)
			if took := time.Since(start); took > wait+2*time.Second {
				t.Errorf("Check took %s, want at most about %s", took, wait)
			}
			switch {
			case tt.want == errAny:
				if err == nil {
					t.Error("got nil, want an error")
				}
			case tt.want == nil && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("got %v, want an error matching %v", err, tt.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("Check changed the file")
			}
			if left, _ := os.ReadDir(dir); len(left) != len(entries) {
				t.Errorf("Check left files behind: %d entries before, %d after", len(entries), len(left))
			}
		})
	}
}
