package bolt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
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

// buckets returns the names of the top-level buckets of the file at path,
// sorted, and the keys of each bucket nested in "reporters".
func buckets(t *testing.T, path string) (names []string, reporters map[string][]uint64) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open(%q): got error %v, want nil", path, err)
	}
	defer db.Close()
	reporters = map[string][]uint64{}
	err = db.View(func(tx *bbolt.Tx) error {
		if err := tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, string(name))
			return nil
		}); err != nil {
			return err
		}
		old := tx.Bucket([]byte("reporters"))
		if old == nil {
			return nil
		}
		return old.ForEachBucket(func(user []byte) error {
			return old.Bucket(user).ForEach(func(k, _ []byte) error {
				reporters[string(user)] = append(reporters[string(user)], binary.BigEndian.Uint64(k))
				return nil
			})
		})
	})
	if err != nil {
		t.Fatalf("read %q: got error %v, want nil", path, err)
	}
	slices.Sort(names)
	return names, reporters
}

// TestBuckets checks the buckets named in the package documentation: a new
// file has exactly those, whatever was written.
func TestBuckets(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sdesk.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	if err := s.PutMapping(ctx, sdesk.Mapping{IssueIID: 1, ThreadID: "2", ReporterID: "3", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	if err := s.PutJob(ctx, sdesk.Job{ID: "j", Status: sdesk.JobPending, CreatedAt: time.Now()}); err != nil {
		t.Fatalf("PutJob: got error %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	got, _ := buckets(t, path)
	want := []string{"claims", "expiry", "issues", "jobs", "jobs_by_status", "notes", "threads"}
	if !slices.Equal(got, want) {
		t.Errorf("buckets: got %q, want %q", got, want)
	}
}

// TestOldReporterBucketIsIgnored opens a file as earlier versions wrote it,
// with the "reporters" bucket (reporter -> issue list): the store works on
// it, still refuses conflicting mappings, and leaves the old bucket as it
// was.
func TestOldReporterBucketIsIgnored(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sdesk.db")
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	old := sdesk.Mapping{IssueIID: 1, IssueURL: "https://gitlab.example.com/g/p/-/issues/1", ThreadID: "201",
		GuildID: "100", ChannelID: "101", ReporterID: "301", Title: "old", CreatedAt: created}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open: got error %v, want nil", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		iid := binary.BigEndian.AppendUint64(nil, 1)
		rec := `{"iid":1,"issue_url":"https://gitlab.example.com/g/p/-/issues/1","thread_id":"201",` +
			`"guild_id":"100","channel_id":"101","reporter_id":"301","title":"old","created_at":"2025-03-04T05:06:07Z"}`
		for name, kv := range map[string][2][]byte{
			"issues":  {iid, []byte(rec)},
			"threads": {[]byte("201"), iid},
		} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		r, err := tx.CreateBucket([]byte("reporters"))
		if err != nil {
			return err
		}
		list, err := r.CreateBucket([]byte("301"))
		if err != nil {
			return err
		}
		return list.Put(iid, nil)
	})
	if err != nil {
		t.Fatalf("write the old layout: got error %v, want nil", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("bbolt Close: got error %v, want nil", err)
	}

	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open of an old file: got error %v, want nil", err)
	}
	for _, get := range []func() (sdesk.Mapping, error){
		func() (sdesk.Mapping, error) { return s.MappingByIssue(ctx, 1) },
		func() (sdesk.Mapping, error) { return s.MappingByThread(ctx, "201") },
	} {
		if got, err := get(); err != nil || !sameMapping(got, old) {
			t.Errorf("old mapping: got %+v, %v, want %+v, nil", got, err, old)
		}
	}
	if got, err := s.Mappings(ctx, sdesk.MappingQuery{ReporterID: "301", State: sdesk.StateOpened}); err != nil || len(got) != 1 || !sameMapping(got[0], old) {
		t.Errorf("Mappings of reporter 301, opened: got %+v, %v, want the old mapping, opened", got, err)
	}
	second := sdesk.Mapping{IssueIID: 2, ThreadID: "202", ReporterID: "301", Title: "new", CreatedAt: created}
	for _, tt := range []struct {
		m        sdesk.Mapping
		conflict bool
	}{
		{old, false},
		{second, false},
		{sdesk.Mapping{IssueIID: 1, ThreadID: "201", ReporterID: "309"}, true},
		{sdesk.Mapping{IssueIID: 3, ThreadID: "201", ReporterID: "301"}, true},
	} {
		err := s.PutMapping(ctx, tt.m)
		if got := errors.Is(err, sdesk.ErrConflict); got != tt.conflict || (err != nil && !got) {
			t.Errorf("PutMapping(%d, %q, %q): got error %v, want conflict %v", tt.m.IssueIID, tt.m.ThreadID, tt.m.ReporterID, err, tt.conflict)
		}
	}
	if got, err := s.MappingByThread(ctx, "202"); err != nil || got.IssueIID != 2 {
		t.Errorf("MappingByThread(%q): got %+v, %v, want issue 2", "202", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: got error %v, want nil", err)
	}
	_, reporters := buckets(t, path)
	if want := map[string][]uint64{"301": {1}}; !maps.EqualFunc(reporters, want, slices.Equal) {
		t.Errorf("old reporters bucket: got %v, want it unchanged, %v", reporters, want)
	}
}

// TestMappingWithoutState opens a file whose mapping records were written
// before states were kept (no state, no state_at): they read as opened,
// are listed, keep opened and their creation time when PutMapping writes
// them again with another state, and take SetMappingState.
func TestMappingWithoutState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sdesk.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bbolt.Open: got error %v, want nil", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		issues, err := tx.CreateBucket([]byte("issues"))
		if err != nil {
			return err
		}
		threads, err := tx.CreateBucket([]byte("threads"))
		if err != nil {
			return err
		}
		for iid := uint64(1); iid <= 2; iid++ {
			k := binary.BigEndian.AppendUint64(nil, iid)
			rec := fmt.Sprintf(`{"iid":%d,"thread_id":"20%d","reporter_id":"301","title":"old","created_at":"2025-03-04T05:06:0%dZ"}`, iid, iid, iid)
			if err := issues.Put(k, []byte(rec)); err != nil {
				return err
			}
			if err := threads.Put(fmt.Appendf(nil, "20%d", iid), k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("write the old records: got error %v, want nil", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("bbolt Close: got error %v, want nil", err)
	}

	s := open(t, path)
	created := func(iid int) time.Time { return time.Date(2025, 3, 4, 5, 6, iid, 0, time.UTC) }
	old := func(iid int) sdesk.Mapping {
		return sdesk.Mapping{IssueIID: iid, ThreadID: fmt.Sprintf("20%d", iid), ReporterID: "301", Title: "old",
			CreatedAt: created(iid), State: sdesk.StateOpened}
	}
	list := func(q sdesk.MappingQuery, want ...sdesk.Mapping) {
		t.Helper()
		got, err := s.Mappings(ctx, q)
		if err != nil || len(got) != len(want) {
			t.Fatalf("Mappings(%+v): got %+v, %v, want %+v", q, got, err, want)
		}
		for i := range got {
			if !sameMapping(got[i], want[i]) {
				t.Errorf("Mappings(%+v)[%d]: got %+v, want %+v", q, i, got[i], want[i])
			}
		}
	}
	list(sdesk.MappingQuery{ReporterID: "301", State: sdesk.StateOpened}, old(2), old(1))

	rewrite := old(1)
	rewrite.Title, rewrite.CreatedAt = "new", time.Now()
	rewrite.State, rewrite.StateAt = sdesk.StateClosed, time.Now()
	if err := s.PutMapping(ctx, rewrite); err != nil {
		t.Fatalf("PutMapping: got error %v, want nil", err)
	}
	one := old(1)
	one.Title = "new"
	list(sdesk.MappingQuery{State: sdesk.StateOpened}, old(2), one)

	at := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	if err := s.SetMappingState(ctx, 2, sdesk.StateClosed, at); err != nil {
		t.Fatalf("SetMappingState: got error %v, want nil", err)
	}
	two := old(2)
	two.State, two.StateAt = sdesk.StateClosed, at
	list(sdesk.MappingQuery{State: sdesk.StateClosed}, two)
	list(sdesk.MappingQuery{ReporterID: "301"}, two, one)
}

// FuzzPutMapping checks PutMapping against a model of its rules, over a
// sequence of writes among four issues, four threads and three reporters
// (one of them none): a write is refused with ErrConflict exactly when its
// issue is mapped to another thread or reporter or its thread to another
// issue; after every write, refused or not, each issue and each thread
// reads back exactly as the model says (a refused write left nothing, an
// accepted one changed every field but CreatedAt).
func FuzzPutMapping(f *testing.F) {
	f.Add([]byte{0x00, 'a', 0x04, 'b', 0x10, 'c', 0x01, 'd', 0x21, 'e', 0x05, 'f'})
	f.Add([]byte{0x00, 'a', 0x00, 'b', 0x05, 'c', 0x01, 'd', 0x04, 'e'})
	f.Add([]byte{0x20, 'a', 0x20, 'b', 0x00, 'c', 0x31, 'd'})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		s := open(t, filepath.Join(t.TempDir(), "sdesk.db"))
		ctx := context.Background()
		threads := []string{"201", "202", "203", "204"}
		reporters := []string{"301", "302", ""}
		base := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
		byIssue := map[int]sdesk.Mapping{}
		byThread := map[string]int{}
		for i := 0; i+1 < len(ops); i += 2 {
			b := ops[i]
			m := sdesk.Mapping{
				IssueIID:   1 + int(b%4),
				ThreadID:   threads[(b>>2)%4],
				ReporterID: reporters[int(b>>4)%3],
				GuildID:    "100",
				ChannelID:  "101",
				Title:      fmt.Sprintf("title %02x", ops[i+1]),
				IssueURL:   fmt.Sprintf("https://gitlab.example.com/g/p/-/issues/%d#%02x", 1+b%4, ops[i+1]),
				CreatedAt:  base.Add(time.Duration(i) * time.Second),
			}
			old, issueTaken := byIssue[m.IssueIID]
			iid, threadTaken := byThread[m.ThreadID]
			conflict := issueTaken && (old.ThreadID != m.ThreadID || old.ReporterID != m.ReporterID) ||
				threadTaken && iid != m.IssueIID
			err := s.PutMapping(ctx, m)
			if conflict != errors.Is(err, sdesk.ErrConflict) || (err != nil && !conflict) {
				t.Fatalf("write %d: PutMapping(%+v): got error %v, want conflict %v", i/2, m, err, conflict)
			}
			if !conflict {
				if issueTaken {
					m.CreatedAt = old.CreatedAt
				}
				byIssue[m.IssueIID] = m
				byThread[m.ThreadID] = m.IssueIID
			}
			for iid := 1; iid <= 4; iid++ {
				got, err := s.MappingByIssue(ctx, iid)
				want, ok := byIssue[iid]
				if !ok {
					if !errors.Is(err, sdesk.ErrNotFound) {
						t.Fatalf("write %d: MappingByIssue(%d): got %+v, %v, want ErrNotFound", i/2, iid, got, err)
					}
				} else if err != nil || !sameMapping(got, want) {
					t.Fatalf("write %d: MappingByIssue(%d): got %+v, %v, want %+v", i/2, iid, got, err, want)
				}
			}
			for _, thread := range threads {
				got, err := s.MappingByThread(ctx, thread)
				iid, ok := byThread[thread]
				if !ok {
					if !errors.Is(err, sdesk.ErrNotFound) {
						t.Fatalf("write %d: MappingByThread(%q): got %+v, %v, want ErrNotFound", i/2, thread, got, err)
					}
				} else if want := byIssue[iid]; err != nil || !sameMapping(got, want) {
					t.Fatalf("write %d: MappingByThread(%q): got %+v, %v, want %+v", i/2, thread, got, err, want)
				}
			}
		}
	})
}

// sameMapping reports whether got is want (whose State "" is opened), the
// times equal in any zone.
func sameMapping(got, want sdesk.Mapping) bool {
	if want.State == "" {
		want.State = sdesk.StateOpened
	}
	cg, cw, sg, sw := got.CreatedAt, want.CreatedAt, got.StateAt, want.StateAt
	got.CreatedAt, want.CreatedAt, got.StateAt, want.StateAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return got == want && cg.Equal(cw) && sg.Equal(sw)
}

func FuzzMappings(f *testing.F) {
	sdesktest.FuzzMappings(f, func(t *testing.T) sdesk.Store {
		return open(t, filepath.Join(t.TempDir(), "sdesk.db"))
	})
}

// BenchmarkMappings measures Mappings over 5,000 mappings of 100
// reporters (one in four closed): a member's first page of reports, and
// every open mapping (as for staff).
func BenchmarkMappings(b *testing.B) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "sdesk.db"))
	if err != nil {
		b.Fatalf("Open: got error %v, want nil", err)
	}
	defer s.Close()
	ctx := context.Background()
	base := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	const n = 5000
	for iid := 1; iid <= n; iid++ {
		m := sdesk.Mapping{
			IssueIID: iid, IssueURL: fmt.Sprintf("https://gitlab.example.com/g/p/-/issues/%d", iid),
			ThreadID: fmt.Sprintf("2%017d", iid), GuildID: "100000000000000001", ChannelID: "100000000000000002",
			ReporterID: fmt.Sprintf("3%017d", iid%100), Title: fmt.Sprintf("Issue %d: something is broken", iid),
			CreatedAt: base.Add(time.Duration(iid) * time.Minute),
		}
		if iid%4 == 0 {
			m.State = sdesk.StateClosed
		}
		if err := s.PutMapping(ctx, m); err != nil {
			b.Fatalf("PutMapping(%d): got error %v, want nil", iid, err)
		}
	}
	for _, bm := range []struct {
		name string
		q    sdesk.MappingQuery
		want int
	}{
		{"reporter", sdesk.MappingQuery{ReporterID: fmt.Sprintf("3%017d", 7), Limit: 10}, 10},
		{"reporter-open-count", sdesk.MappingQuery{ReporterID: fmt.Sprintf("3%017d", 7), State: sdesk.StateOpened}, 50},
		{"open", sdesk.MappingQuery{State: sdesk.StateOpened}, n * 3 / 4},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.Mappings(ctx, bm.q)
				if err != nil || len(got) != bm.want {
					b.Fatalf("Mappings(%+v): got %d mappings, %v, want %d", bm.q, len(got), err, bm.want)
				}
			}
		})
	}
}
