package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/sdesk"
	"github.com/sdesk/sdesk/pkg/sdesk/sdesktest"
)

func open(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): got error %v, want nil", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: got error %v, want nil", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	sdesktest.TestStore(t, func(t *testing.T) sdesk.Store {
		return open(t, filepath.Join(t.TempDir(), "sdesk.db"))
	})
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sdesk.db")
	open(t, path)
	start := time.Now()
	s, err := bolt.Open(path)
	if err == nil {
		s.Close()
		t.Fatalf("second Open(%q): got nil error, want ErrLocked", path)
	}
	if !errors.Is(err, bolt.ErrLocked) {
		t.Errorf("second Open: got error %v, want ErrLocked", err)
	}
	if want := "bolt: open " + path + ": database is locked by another process"; err.Error() != want {
		t.Errorf("second Open: got error %q, want %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open: took %v, want a prompt failure", d)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sdesk.db")
	ctx := context.Background()
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	m := sdesk.Mapping{IssueIID: 1, ThreadID: "2", ReporterID: "3", Title: "t", CreatedAt: time.Now()}
	if err := s.PutMapping(ctx, m); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	if ok, err := s.Claim(ctx, "k", time.Hour); !ok || err != nil {
		t.Fatalf("Claim: got %v, %v, want true, nil", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	s = open(t, path)
	got, err := s.MappingByThread(ctx, "2")
	if err != nil || got.IssueIID != 1 {
		t.Errorf("MappingByThread after reopen: got %+v, %v, want issue 1", got, err)
	}
	if ok, err := s.Claim(ctx, "k", time.Hour); ok || err != nil {
		t.Errorf("Claim after reopen: got %v, %v, want false, nil", ok, err)
	}
}

// TestExpiredRecordsAreSwept checks that expired claims and jobs do not stay
// in the file: the next write transaction deletes them and their index
// entries.
func TestExpiredRecordsAreSwept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sdesk.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	if ok, err := s.Claim(ctx, "short", 50*time.Millisecond); !ok || err != nil {
		t.Fatalf("Claim: got %v, %v, want true, nil", ok, err)
	}
	j := sdesk.Job{ID: "j", Status: sdesk.JobDone, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(50 * time.Millisecond)}
	if err := s.PutJob(ctx, j); err != nil {
		t.Fatalf("PutJob: got error %v, want nil", err)
	}
	if ok, err := s.Claim(ctx, "long", time.Hour); !ok || err != nil {
		t.Fatalf("Claim: got %v, %v, want true, nil", ok, err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := s.PutNoteMessages(ctx, 1, 1, []string{"m"}); err != nil {
		t.Fatalf("PutNoteMessages: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}

	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open: got error %v, want nil", err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for _, tt := range []struct {
			bucket string
			want   int
		}{
			{"claims", 1}, // "long"
			{"jobs", 0},
			{"expiry", 1}, // "long"
		} {
			b := tx.Bucket([]byte(tt.bucket))
			if b == nil {
				t.Errorf("bucket %s: got none, want one", tt.bucket)
				continue
			}
			if got := b.Stats().KeyN; got != tt.want {
				t.Errorf("bucket %s: got %d keys, want %d", tt.bucket, got, tt.want)
			}
		}
		if b := tx.Bucket([]byte("jobs_by_status")).Bucket([]byte("#done")); b != nil && b.Stats().KeyN != 0 {
			t.Errorf("bucket jobs_by_status/#done: got %d keys, want 0", b.Stats().KeyN)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sdesk.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.PutNoteMessages(ctx, 1, 1, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("PutNoteMessages with canceled context: got %v, want context.Canceled", err)
	}
	if _, err := s.NoteMessages(ctx, 1, 1); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "bolt: ") {
		t.Errorf("NoteMessages with canceled context: got %v, want a bolt: error wrapping context.Canceled", err)
	}
}
