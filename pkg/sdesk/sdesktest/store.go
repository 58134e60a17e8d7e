// Package sdesktest holds the contract suite that every sdesk.Store
// implementation runs from its own tests, and a model-based fuzz target
// for its mapping states and queries:
//
//	func TestStore(t *testing.T) {
//		sdesktest.TestStore(t, func(t *testing.T) sdesk.Store { return newStore(t) })
//	}
//
//	func FuzzMappings(f *testing.F) {
//		sdesktest.FuzzMappings(f, func(t *testing.T) sdesk.Store { return newStore(t) })
//	}
package sdesktest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestStore runs the sdesk.Store contract against the stores made by
// newStore, which must return a fresh, empty store for each call (a new
// table, a new file) and release it with t.Cleanup. The subtests run in
// parallel.
func TestStore(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	t.Run("Mapping", func(t *testing.T) { testMapping(t, newStore) })
	t.Run("MappingState", func(t *testing.T) { testMappingState(t, newStore) })
	t.Run("Mappings", func(t *testing.T) { testMappings(t, newStore) })
	t.Run("Claim", func(t *testing.T) { testClaim(t, newStore) })
	t.Run("ClaimJob", func(t *testing.T) { testClaimJob(t, newStore) })
	t.Run("Job", func(t *testing.T) { testJob(t, newStore) })
	t.Run("NoteMessages", func(t *testing.T) { testNoteMessages(t, newStore) })
}

// base is a fixed time with nanoseconds, in a non-UTC zone, so that the
// suite checks sub-second precision and zone handling.
var base = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))

func mapping(iid int, thread, reporter string) sdesk.Mapping {
	return sdesk.Mapping{
		IssueIID:   iid,
		IssueURL:   fmt.Sprintf("https://gitlab.example.com/g/p/-/issues/%d", iid),
		ThreadID:   thread,
		GuildID:    "100000000000000001",
		ChannelID:  "100000000000000002",
		ReporterID: reporter,
		Title:      fmt.Sprintf("Issue %d", iid),
		CreatedAt:  base.Add(time.Duration(iid) * time.Minute),
	}
}

// sameTime reports whether two times are equal to the millisecond.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// checkMapping compares a mapping read back with the one expected: a
// want.State of "" is sdesk.StateOpened, CreatedAt is compared to the
// millisecond, StateAt exactly (it decides which state wins).
func checkMapping(t *testing.T, what string, got, want sdesk.Mapping) {
	t.Helper()
	g, w := got, want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	g.StateAt, w.StateAt = time.Time{}, time.Time{}
	if w.State == "" {
		w.State = sdesk.StateOpened
	}
	if g != w {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	if !sameTime(got.CreatedAt, want.CreatedAt) {
		t.Errorf("%s: got CreatedAt %v, want %v", what, got.CreatedAt, want.CreatedAt)
	}
	if !got.StateAt.Equal(want.StateAt) {
		t.Errorf("%s: got StateAt %v, want %v", what, got.StateAt, want.StateAt)
	}
}

func mustPutMapping(t *testing.T, s sdesk.Store, m sdesk.Mapping) {
	t.Helper()
	if err := s.PutMapping(t.Context(), m); err != nil {
		t.Fatalf("PutMapping(%d, %q): got error %v, want nil", m.IssueIID, m.ThreadID, err)
	}
}

// checkStored checks that exactly want is stored for its issue and its
// thread.
func checkStored(t *testing.T, s sdesk.Store, want sdesk.Mapping) {
	t.Helper()
	ctx := t.Context()
	got, err := s.MappingByIssue(ctx, want.IssueIID)
	if err != nil {
		t.Errorf("MappingByIssue(%d): got error %v, want nil", want.IssueIID, err)
	} else {
		checkMapping(t, fmt.Sprintf("MappingByIssue(%d)", want.IssueIID), got, want)
	}
	got, err = s.MappingByThread(ctx, want.ThreadID)
	if err != nil {
		t.Errorf("MappingByThread(%q): got error %v, want nil", want.ThreadID, err)
	} else {
		checkMapping(t, fmt.Sprintf("MappingByThread(%q)", want.ThreadID), got, want)
	}
}

func checkNoIssue(t *testing.T, s sdesk.Store, iid int) {
	t.Helper()
	if m, err := s.MappingByIssue(t.Context(), iid); !errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("MappingByIssue(%d): got %+v, %v, want ErrNotFound", iid, m, err)
	}
}

func checkNoThread(t *testing.T, s sdesk.Store, thread string) {
	t.Helper()
	if m, err := s.MappingByThread(t.Context(), thread); !errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("MappingByThread(%q): got %+v, %v, want ErrNotFound", thread, m, err)
	}
}

func testMapping(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := mapping(7, "200000000000000007", "300000000000000001")
		mustPutMapping(t, s, m)
		checkStored(t, s, m)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutMapping(t, s, mapping(1, "200000000000000001", "300000000000000001"))
		checkNoIssue(t, s, 2)
		checkNoThread(t, s, "200000000000000002")
	})

	t.Run("PutSameAgain", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := mapping(3, "200000000000000003", "300000000000000001")
		mustPutMapping(t, s, first)
		again := first
		again.Title = "Renamed"
		again.IssueURL = "https://gitlab.example.com/g/moved/-/issues/3"
		again.CreatedAt = first.CreatedAt.Add(time.Hour)
		mustPutMapping(t, s, again)
		want := again
		want.CreatedAt = first.CreatedAt // the first write's time is kept
		checkStored(t, s, want)
	})

	// Conflict checks the refusals of PutMapping through the two lookups:
	// the mappings already stored are unchanged, and the issue and thread of
	// the refused mapping, if new, are not stored under either key.
	t.Run("Conflict", func(t *testing.T) {
		const alice, mallory = "300000000000000001", "300000000000000009"
		existing := []sdesk.Mapping{
			mapping(1, "200000000000000001", alice),
			mapping(2, "200000000000000002", alice),
		}
		tests := []struct {
			name string
			put  sdesk.Mapping
		}{
			{"issue mapped to another thread", mapping(1, "200000000000000009", alice)},
			{"issue mapped to another thread and reporter", mapping(1, "200000000000000009", mallory)},
			{"thread mapped to another issue", mapping(9, "200000000000000001", alice)},
			{"thread mapped to another issue of another reporter", mapping(9, "200000000000000001", mallory)},
			{"issue and thread mapped elsewhere", mapping(1, "200000000000000002", alice)},
			{"issue belongs to another reporter", mapping(1, "200000000000000001", mallory)},
			{"issue belongs to no reporter", mapping(1, "200000000000000001", "")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				for _, m := range existing {
					mustPutMapping(t, s, m)
				}
				put := tt.put
				put.Title = "must not be written"
				put.IssueURL = "https://gitlab.example.com/must/not/-/issues/0"
				err := s.PutMapping(t.Context(), put)
				if !errors.Is(err, sdesk.ErrConflict) {
					t.Fatalf("PutMapping(%d, %q, reporter %q): got error %v, want ErrConflict", put.IssueIID, put.ThreadID, put.ReporterID, err)
				}
				newIssue, newThread := true, true
				for _, m := range existing {
					checkStored(t, s, m)
					newIssue = newIssue && m.IssueIID != put.IssueIID
					newThread = newThread && m.ThreadID != put.ThreadID
				}
				if newIssue {
					checkNoIssue(t, s, put.IssueIID)
				}
				if newThread {
					checkNoThread(t, s, put.ThreadID)
				}
			})
		}
	})
}

func testClaim(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	claim := func(t *testing.T, s sdesk.Store, key string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.Claim(t.Context(), key, ttl)
		if err != nil {
			t.Fatalf("Claim(%q): got error %v, want nil", key, err)
		}
		if got != want {
			t.Fatalf("Claim(%q): got %v, want %v", key, got, want)
		}
	}

	t.Run("FirstWins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		claim(t, s, "event-1", time.Hour, true)
		claim(t, s, "event-1", time.Hour, false)
		claim(t, s, "event-2", time.Hour, true)
		claim(t, s, "event-1", time.Hour, false)
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 16
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  int
			errs []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				ok, err := s.Claim(t.Context(), "race", time.Hour)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if ok {
					won++
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Errorf("Claim from %d goroutines: got errors %v, want none", n, errs)
		}
		if won != 1 {
			t.Errorf("Claim from %d goroutines: got %d winners, want 1", n, won)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		claim(t, s, "short", time.Second, true)
		claim(t, s, "short", time.Second, false)
		// Backends may round the expiry up to whole seconds.
		time.Sleep(2100 * time.Millisecond)
		claim(t, s, "short", time.Hour, true)
		claim(t, s, "short", time.Hour, false)
	})

	t.Run("Release", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		claim(t, s, "k", time.Hour, true)
		if err := s.Release(t.Context(), "k"); err != nil {
			t.Fatalf("Release(%q): got error %v, want nil", "k", err)
		}
		claim(t, s, "k", time.Hour, true)
		claim(t, s, "k", time.Hour, false)
		if err := s.Release(t.Context(), "never-claimed"); err != nil {
			t.Errorf("Release(%q): got error %v, want nil", "never-claimed", err)
		}
	})
}

func testClaimJob(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	claimJob := func(t *testing.T, s sdesk.Store, key string, j sdesk.Job, want bool) {
		t.Helper()
		got, err := s.ClaimJob(t.Context(), key, time.Hour, j)
		if err != nil {
			t.Fatalf("ClaimJob(%q, %q): got error %v, want nil", key, j.ID, err)
		}
		if got != want {
			t.Fatalf("ClaimJob(%q, %q): got %v, want %v", key, j.ID, got, want)
		}
	}

	t.Run("FirstWinsAndStoresItsJob", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := job("gitlab:e1", sdesk.JobPending, base)
		claimJob(t, s, "event:e1", first, true)
		second := first
		second.Payload = []byte(`{"second":true}`)
		claimJob(t, s, "event:e1", second, false)
		got, err := s.GetJob(t.Context(), first.ID)
		if err != nil {
			t.Fatalf("GetJob(%q): got error %v, want the first job", first.ID, err)
		}
		checkJob(t, "GetJob after two ClaimJob", got, first)
		checkList(t, s, sdesk.JobPending, []string{first.ID})
	})

	t.Run("SharesClaimsWithClaim", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		if ok, err := s.Claim(t.Context(), "event:e2", time.Hour); err != nil || !ok {
			t.Fatalf("Claim(%q): got %v, %v, want true, nil", "event:e2", ok, err)
		}
		j := job("gitlab:e2", sdesk.JobPending, base)
		claimJob(t, s, "event:e2", j, false)
		if _, err := s.GetJob(t.Context(), j.ID); !errors.Is(err, sdesk.ErrNotFound) {
			t.Errorf("GetJob(%q) after a lost ClaimJob: got error %v, want ErrNotFound", j.ID, err)
		}
		if err := s.Release(t.Context(), "event:e2"); err != nil {
			t.Fatal(err)
		}
		claimJob(t, s, "event:e2", j, true)
		if ok, err := s.Claim(t.Context(), "event:e2", time.Hour); err != nil || ok {
			t.Errorf("Claim(%q) after ClaimJob: got %v, %v, want false, nil", "event:e2", ok, err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 8
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			won  []string
			errs []error
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				j := job("gitlab:race", sdesk.JobPending, base)
				j.Payload = fmt.Appendf(nil, `{"writer":%d}`, i)
				ok, err := s.ClaimJob(t.Context(), "event:race", time.Hour, j)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if ok {
					won = append(won, string(j.Payload))
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Errorf("ClaimJob from %d goroutines: got errors %v, want none", n, errs)
		}
		if len(won) != 1 {
			t.Fatalf("ClaimJob from %d goroutines: got %d winners, want 1", n, len(won))
		}
		got, err := s.GetJob(t.Context(), "gitlab:race")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload) != won[0] {
			t.Errorf("stored job: got payload %s, want the winner's %s", got.Payload, won[0])
		}
	})
}

func job(id string, status sdesk.JobStatus, created time.Time) sdesk.Job {
	return sdesk.Job{
		ID:        id,
		Kind:      sdesk.JobReport,
		Payload:   []byte(`{"id":"` + id + `"}`),
		Status:    status,
		CreatedAt: created,
		UpdatedAt: created,
	}
}

func checkJob(t *testing.T, what string, got, want sdesk.Job) {
	t.Helper()
	if got.ID != want.ID || got.Kind != want.Kind || got.Status != want.Status || got.Orphaned != want.Orphaned ||
		got.Attempts != want.Attempts || got.Error != want.Error || got.ErrorRef != want.ErrorRef {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("%s: got Payload %q, want %q", what, got.Payload, want.Payload)
	}
	if len(got.Steps) != len(want.Steps) || !maps.Equal(got.Steps, want.Steps) {
		t.Errorf("%s: got Steps %v, want %v", what, got.Steps, want.Steps)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
	} {
		if !sameTime(f.got, f.want) || f.got.IsZero() != f.want.IsZero() {
			t.Errorf("%s: got %s %v, want %v", what, f.name, f.got, f.want)
		}
	}
}

func mustPutJob(t *testing.T, s sdesk.Store, j sdesk.Job) {
	t.Helper()
	if err := s.PutJob(t.Context(), j); err != nil {
		t.Fatalf("PutJob(%q): got error %v, want nil", j.ID, err)
	}
}

func checkList(t *testing.T, s sdesk.Store, status sdesk.JobStatus, want []string) {
	t.Helper()
	jobs, err := s.ListJobs(t.Context(), status)
	if err != nil {
		t.Errorf("ListJobs(%q): got error %v, want nil", status, err)
		return
	}
	got := []string{}
	for _, j := range jobs {
		got = append(got, j.ID)
		if j.Status != status {
			t.Errorf("ListJobs(%q): got job %q with status %q", status, j.ID, j.Status)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListJobs(%q): got %v, want %v", status, got, want)
	}
}

func checkNoJob(t *testing.T, s sdesk.Store, id string) {
	t.Helper()
	if j, err := s.GetJob(t.Context(), id); !errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("GetJob(%q): got %+v, %v, want ErrNotFound", id, j, err)
	}
}

func testJob(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		tests := []struct {
			name string
			job  sdesk.Job
		}{
			{"minimal", sdesk.Job{ID: "1", Kind: sdesk.JobClose, Status: sdesk.JobPending, CreatedAt: base, UpdatedAt: base}},
			{"full", sdesk.Job{
				ID:   "1234567890123456789",
				Kind: sdesk.JobGitLabEvent,
				// Not valid UTF-8 and not JSON: stored as bytes.
				Payload:   []byte{0, 1, 2, 0xff, 0xfe, '{', '"', '\n'},
				Steps:     map[string]string{"issue": "42", "thread": "200000000000000042", "empty": ""},
				Status:    sdesk.JobFailed,
				Attempts:  3,
				Error:     "gitlab: 502 Bad Gateway",
				ErrorRef:  "E-7F3A",
				CreatedAt: base,
				UpdatedAt: base.Add(90*time.Second + 987654321),
				ExpiresAt: time.Now().Add(24 * time.Hour),
				Orphaned:  true,
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := newStore(t)
				mustPutJob(t, s, tt.job)
				got, err := s.GetJob(t.Context(), tt.job.ID)
				if err != nil {
					t.Fatalf("GetJob(%q): got error %v, want nil", tt.job.ID, err)
				}
				checkJob(t, "GetJob", got, tt.job)
				jobs, err := s.ListJobs(t.Context(), tt.job.Status)
				if err != nil || len(jobs) != 1 {
					t.Fatalf("ListJobs(%q): got %d jobs, %v, want 1, nil", tt.job.Status, len(jobs), err)
				}
				checkJob(t, "ListJobs", jobs[0], tt.job)
			})
		}
	})

	t.Run("Replace", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		j := job("r", sdesk.JobPending, base)
		j.SetStep("issue", "1")
		mustPutJob(t, s, j)
		j.SetStep("thread", "2")
		j.Attempts = 2
		j.Error = "discord: 503"
		j.Payload = []byte(`{"v":2}`)
		j.UpdatedAt = base.Add(time.Minute)
		mustPutJob(t, s, j)
		got, err := s.GetJob(t.Context(), "r")
		if err != nil {
			t.Fatalf("GetJob(%q): got error %v, want nil", "r", err)
		}
		checkJob(t, "GetJob after replace", got, j)
		checkList(t, s, sdesk.JobPending, []string{"r"})
	})

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		mustPutJob(t, s, job("present", sdesk.JobPending, base))
		checkNoJob(t, s, "missing")
	})

	t.Run("ListByStatus", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		whole := base.Truncate(time.Second)
		// Written out of order; ids sort differently from creation times,
		// and a whole-second time sorts before a later fractional one.
		for _, j := range []sdesk.Job{
			job("a", sdesk.JobPending, whole.Add(2*time.Second)),
			job("b", sdesk.JobPending, whole.Add(100*time.Millisecond)),
			job("c", sdesk.JobPending, whole),
			job("d", sdesk.JobDone, whole),
			job("e", sdesk.JobPending, whole.Add(-time.Hour)),
		} {
			mustPutJob(t, s, j)
		}
		checkList(t, s, sdesk.JobPending, []string{"e", "c", "b", "a"})
		checkList(t, s, sdesk.JobDone, []string{"d"})
		checkList(t, s, sdesk.JobFailed, []string{})

		moved := job("b", sdesk.JobFailed, whole.Add(100*time.Millisecond))
		mustPutJob(t, s, moved)
		checkList(t, s, sdesk.JobPending, []string{"e", "c", "a"})
		checkList(t, s, sdesk.JobFailed, []string{"b"})
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		now := time.Now()
		old := job("old", sdesk.JobDone, base)
		old.ExpiresAt = now.Add(-time.Second)
		live := job("live", sdesk.JobDone, base.Add(time.Second))
		live.ExpiresAt = now.Add(time.Hour)
		forever := job("forever", sdesk.JobDone, base.Add(2*time.Second))
		for _, j := range []sdesk.Job{old, live, forever} {
			mustPutJob(t, s, j)
		}
		checkNoJob(t, s, "old")
		checkList(t, s, sdesk.JobDone, []string{"live", "forever"})
		got, err := s.GetJob(t.Context(), "live")
		if err != nil {
			t.Fatalf("GetJob(%q): got error %v, want nil", "live", err)
		}
		checkJob(t, "GetJob", got, live)

		// Replacing an expired job makes it visible again.
		old.ExpiresAt = time.Time{}
		mustPutJob(t, s, old)
		checkList(t, s, sdesk.JobDone, []string{"old", "live", "forever"})
	})
}

func testNoteMessages(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	get := func(t *testing.T, s sdesk.Store, iid, note int, want []string) {
		t.Helper()
		got, err := s.NoteMessages(t.Context(), iid, note)
		if err != nil {
			t.Errorf("NoteMessages(%d, %d): got error %v, want nil", iid, note, err)
			return
		}
		if !slices.Equal(got, want) {
			t.Errorf("NoteMessages(%d, %d): got %q, want %q", iid, note, got, want)
		}
	}
	put := func(t *testing.T, s sdesk.Store, iid, note int, ids []string) {
		t.Helper()
		if err := s.PutNoteMessages(t.Context(), iid, note, ids); err != nil {
			t.Fatalf("PutNoteMessages(%d, %d): got error %v, want nil", iid, note, err)
		}
	}
	notFound := func(t *testing.T, s sdesk.Store, iid, note int) {
		t.Helper()
		if got, err := s.NoteMessages(t.Context(), iid, note); !errors.Is(err, sdesk.ErrNotFound) {
			t.Errorf("NoteMessages(%d, %d): got %q, %v, want ErrNotFound", iid, note, got, err)
		}
	}

	t.Run("PutGetOverwrite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		// Order matters: a long note is split over several messages.
		put(t, s, 4, 1001, []string{"500000000000000003", "500000000000000001", "500000000000000002"})
		put(t, s, 4, 1002, []string{"500000000000000009"})
		put(t, s, 5, 1001, []string{"500000000000000005"})
		get(t, s, 4, 1001, []string{"500000000000000003", "500000000000000001", "500000000000000002"})
		get(t, s, 4, 1002, []string{"500000000000000009"})
		get(t, s, 5, 1001, []string{"500000000000000005"})

		put(t, s, 4, 1001, []string{"500000000000000007"})
		get(t, s, 4, 1001, []string{"500000000000000007"})
		get(t, s, 4, 1002, []string{"500000000000000009"})
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		put(t, s, 4, 1001, []string{"500000000000000001"})
		notFound(t, s, 4, 1002)
		notFound(t, s, 5, 1001)
	})

	t.Run("BesideMapping", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := mapping(4, "200000000000000004", "300000000000000001")
		mustPutMapping(t, s, m)
		put(t, s, 4, 1001, []string{"500000000000000001"})
		checkStored(t, s, m)
		get(t, s, 4, 1001, []string{"500000000000000001"})
	})
}

func mustSetState(t *testing.T, s sdesk.Store, iid int, state string, at time.Time) {
	t.Helper()
	if err := s.SetMappingState(t.Context(), iid, state, at); err != nil {
		t.Fatalf("SetMappingState(%d, %q, %v): got error %v, want nil", iid, state, at, err)
	}
}

func threadOf(iid int) string { return fmt.Sprintf("2%017d", iid) }

// iids returns the issue IIDs of ms, in order.
func iids(ms []sdesk.Mapping) []int {
	out := []int{}
	for _, m := range ms {
		out = append(out, m.IssueIID)
	}
	return out
}

// checkMappings checks which mappings Mappings(q) returns, by IID and in
// order.
func checkMappings(t *testing.T, s sdesk.Store, q sdesk.MappingQuery, want []int) {
	t.Helper()
	got, err := s.Mappings(t.Context(), q)
	if err != nil {
		t.Errorf("Mappings(%+v): got error %v, want nil", q, err)
		return
	}
	if !slices.Equal(iids(got), want) {
		t.Errorf("Mappings(%+v): got issues %v, want %v", q, iids(got), want)
	}
}

func testMappingState(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	const alice = "300000000000000001"

	t.Run("DefaultsToOpened", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := mapping(1, threadOf(1), alice)
		mustPutMapping(t, s, m)
		want := m
		want.State, want.StateAt = sdesk.StateOpened, time.Time{}
		checkStored(t, s, want)
		checkMappings(t, s, sdesk.MappingQuery{State: sdesk.StateOpened}, []int{1})
		checkMappings(t, s, sdesk.MappingQuery{State: sdesk.StateClosed}, []int{})
	})

	// FirstWriteKeeps: PutMapping writes State and StateAt only when the
	// mapping is new; a rewrite keeps them (and CreatedAt), whatever it
	// carries, and so keeps what SetMappingState wrote.
	t.Run("FirstWriteKeeps", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		first := mapping(2, threadOf(2), alice)
		first.State, first.StateAt = sdesk.StateClosed, base.Add(time.Hour)
		mustPutMapping(t, s, first)
		checkStored(t, s, first)

		again := first
		again.Title, again.CreatedAt = "Renamed", first.CreatedAt.Add(time.Hour)
		again.State, again.StateAt = sdesk.StateOpened, base.Add(2*time.Hour)
		mustPutMapping(t, s, again)
		want := again
		want.CreatedAt, want.State, want.StateAt = first.CreatedAt, first.State, first.StateAt
		checkStored(t, s, want)
		checkMappings(t, s, sdesk.MappingQuery{State: sdesk.StateOpened}, []int{})

		mustSetState(t, s, 2, sdesk.StateOpened, base.Add(3*time.Hour))
		again.Title, again.State, again.StateAt = "Renamed again", sdesk.StateClosed, time.Time{}
		mustPutMapping(t, s, again)
		want.Title, want.State, want.StateAt = again.Title, sdesk.StateOpened, base.Add(3*time.Hour)
		checkStored(t, s, want)
		checkMappings(t, s, sdesk.MappingQuery{State: sdesk.StateOpened}, []int{2})
	})

	// NewerWins: events arrive out of order; a state of an earlier time
	// than the stored one is ignored, one of the same or a later time is
	// applied, to the nanosecond and whatever the zone.
	t.Run("NewerWins", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := mapping(3, threadOf(3), alice)
		mustPutMapping(t, s, m)
		t0 := base.Add(time.Hour)
		west := time.FixedZone("PST", -8*3600)
		steps := []struct {
			name      string
			state     string
			at        time.Time
			wantState string
			wantAt    time.Time
		}{
			{"the zero time over the zero time: applied", sdesk.StateClosed, time.Time{}, sdesk.StateClosed, time.Time{}},
			{"first change", sdesk.StateOpened, t0, sdesk.StateOpened, t0},
			{"back", sdesk.StateClosed, t0, sdesk.StateClosed, t0},
			{"a second older: ignored", sdesk.StateOpened, t0.Add(-time.Second), sdesk.StateClosed, t0},
			{"a nanosecond older: ignored", sdesk.StateOpened, t0.Add(-time.Nanosecond), sdesk.StateClosed, t0},
			{"the zero time: ignored", sdesk.StateOpened, time.Time{}, sdesk.StateClosed, t0},
			{"the same time: applied", sdesk.StateOpened, t0, sdesk.StateOpened, t0},
			{"the same again", sdesk.StateOpened, t0, sdesk.StateOpened, t0},
			{"a nanosecond newer: applied", sdesk.StateClosed, t0.Add(time.Nanosecond), sdesk.StateClosed, t0.Add(time.Nanosecond)},
			{"newer in another zone: applied", sdesk.StateOpened, t0.Add(time.Minute).In(west), sdesk.StateOpened, t0.Add(time.Minute)},
			// Later on the wall clock, earlier in time.
			{"older in another zone: ignored", sdesk.StateClosed, t0.In(west), sdesk.StateOpened, t0.Add(time.Minute)},
		}
		for _, st := range steps {
			if err := s.SetMappingState(t.Context(), 3, st.state, st.at); err != nil {
				t.Fatalf("%s: SetMappingState(3, %q, %v): got error %v, want nil", st.name, st.state, st.at, err)
			}
			want := m
			want.State, want.StateAt = st.wantState, st.wantAt
			checkStored(t, s, want)
			other := sdesk.StateClosed
			if st.wantState == sdesk.StateClosed {
				other = sdesk.StateOpened
			}
			checkMappings(t, s, sdesk.MappingQuery{State: st.wantState}, []int{3})
			checkMappings(t, s, sdesk.MappingQuery{State: other}, []int{})
			checkMappings(t, s, sdesk.MappingQuery{ReporterID: alice, State: st.wantState}, []int{3})
			checkMappings(t, s, sdesk.MappingQuery{ReporterID: alice, State: other}, []int{})
			if t.Failed() {
				t.Fatalf("after step %q", st.name)
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := mapping(1, threadOf(1), alice)
		mustPutMapping(t, s, m)
		for _, iid := range []int{2, 0, -1} {
			if err := s.SetMappingState(t.Context(), iid, sdesk.StateClosed, base); !errors.Is(err, sdesk.ErrNotFound) {
				t.Errorf("SetMappingState(%d) of an unmapped issue: got error %v, want ErrNotFound", iid, err)
			}
			if iid > 0 {
				checkNoIssue(t, s, iid)
			}
		}
		checkStored(t, s, m)
		checkMappings(t, s, sdesk.MappingQuery{}, []int{1})
		checkMappings(t, s, sdesk.MappingQuery{State: sdesk.StateClosed}, []int{})
	})

	// UnknownState: a state other than opened and closed is refused by
	// both writes, and nothing is written.
	t.Run("UnknownState", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		m := mapping(1, threadOf(1), alice)
		mustPutMapping(t, s, m)
		for _, state := range []string{"", "locked", "Opened", "closed "} {
			err := s.SetMappingState(t.Context(), 1, state, base.Add(time.Hour))
			if err == nil || errors.Is(err, sdesk.ErrNotFound) {
				t.Errorf("SetMappingState(1, %q): got error %v, want an error that is not ErrNotFound", state, err)
			}
		}
		checkStored(t, s, m)
		bad := mapping(2, threadOf(2), alice)
		bad.State = "locked"
		if err := s.PutMapping(t.Context(), bad); err == nil || errors.Is(err, sdesk.ErrConflict) {
			t.Errorf("PutMapping with state %q: got error %v, want an error that is not ErrConflict", bad.State, err)
		}
		checkNoIssue(t, s, 2)
		checkNoThread(t, s, bad.ThreadID)
		checkMappings(t, s, sdesk.MappingQuery{}, []int{1})
		checkMappings(t, s, sdesk.MappingQuery{State: "locked"}, []int{})
	})
}

func testMappings(t *testing.T, newStore func(t *testing.T) sdesk.Store) {
	const alice, bob, carol = "300000000000000001", "300000000000000002", "300000000000000003"

	// Selections: six mappings of three reporters, written out of order;
	// two pairs created at the same time (the IID decides), a whole second
	// before a later fraction of it, and one created earlier in time but
	// later on its zone's wall clock.
	t.Run("Selections", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		t0 := base.Truncate(time.Second)
		t1 := t0.Add(100 * time.Millisecond)
		t2 := t0.Add(2 * time.Second)
		west := time.FixedZone("PST", -8*3600)
		fixture := []struct {
			iid      int
			reporter string
			created  time.Time
			state    string
		}{
			{4, alice, t2, sdesk.StateClosed},
			{1, alice, t0, ""},
			{6, bob, t2, sdesk.StateOpened},
			{2, bob, t1, ""},
			{5, carol, t0.Add(-time.Second).In(west), ""},
			{3, alice, t1, ""},
		}
		want := map[int]sdesk.Mapping{}
		for _, f := range fixture {
			m := mapping(f.iid, threadOf(f.iid), f.reporter)
			m.CreatedAt, m.State = f.created, f.state
			if f.iid == 4 {
				m.StateAt = t2.Add(time.Hour)
			}
			mustPutMapping(t, s, m)
			want[f.iid] = m
		}
		mustSetState(t, s, 2, sdesk.StateClosed, base.Add(time.Hour))
		m := want[2]
		m.State, m.StateAt = sdesk.StateClosed, base.Add(time.Hour)
		want[2] = m

		tests := []struct {
			name string
			q    sdesk.MappingQuery
			want []int
		}{
			{"all", sdesk.MappingQuery{}, []int{6, 4, 3, 2, 1, 5}},
			{"opened", sdesk.MappingQuery{State: sdesk.StateOpened}, []int{6, 3, 1, 5}},
			{"closed", sdesk.MappingQuery{State: sdesk.StateClosed}, []int{4, 2}},
			{"unknown state", sdesk.MappingQuery{State: "locked"}, []int{}},
			{"reporter", sdesk.MappingQuery{ReporterID: alice}, []int{4, 3, 1}},
			{"reporter, opened", sdesk.MappingQuery{ReporterID: alice, State: sdesk.StateOpened}, []int{3, 1}},
			{"reporter, closed", sdesk.MappingQuery{ReporterID: alice, State: sdesk.StateClosed}, []int{4}},
			{"other reporter, closed", sdesk.MappingQuery{ReporterID: bob, State: sdesk.StateClosed}, []int{2}},
			{"reporter without mappings", sdesk.MappingQuery{ReporterID: "300000000000000009"}, []int{}},
			{"limit 0: all", sdesk.MappingQuery{Limit: 0}, []int{6, 4, 3, 2, 1, 5}},
			{"limit 1", sdesk.MappingQuery{Limit: 1}, []int{6}},
			{"limit past the end", sdesk.MappingQuery{Limit: 100}, []int{6, 4, 3, 2, 1, 5}},
			{"offset and limit", sdesk.MappingQuery{Offset: 2, Limit: 2}, []int{3, 2}},
			{"offset to the last", sdesk.MappingQuery{Offset: 5}, []int{5}},
			{"offset at the end", sdesk.MappingQuery{Offset: 6}, []int{}},
			{"offset past the end", sdesk.MappingQuery{Offset: 100, Limit: 10}, []int{}},
			{"reporter, offset and limit", sdesk.MappingQuery{ReporterID: alice, Offset: 1, Limit: 1}, []int{3}},
			{"opened, offset and limit", sdesk.MappingQuery{State: sdesk.StateOpened, Offset: 1, Limit: 2}, []int{3, 1}},
			{"reporter, closed, offset past the end", sdesk.MappingQuery{ReporterID: bob, State: sdesk.StateClosed, Offset: 1}, []int{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { checkMappings(t, s, tt.q, tt.want) })
		}

		// The mappings come back whole.
		got, err := s.Mappings(t.Context(), sdesk.MappingQuery{})
		if err != nil {
			t.Fatalf("Mappings: got error %v, want nil", err)
		}
		for _, g := range got {
			checkMapping(t, fmt.Sprintf("Mappings: issue %d", g.IssueIID), g, want[g.IssueIID])
		}

		// State changes move mappings between the selections; a stale one
		// (issue 4 was closed as of t2+1h) moves nothing.
		mustSetState(t, s, 1, sdesk.StateClosed, base.Add(time.Hour))
		mustSetState(t, s, 4, sdesk.StateOpened, t2)
		mustSetState(t, s, 2, sdesk.StateOpened, base.Add(2*time.Hour))
		after := []struct {
			name string
			q    sdesk.MappingQuery
			want []int
		}{
			{"all", sdesk.MappingQuery{}, []int{6, 4, 3, 2, 1, 5}},
			{"opened", sdesk.MappingQuery{State: sdesk.StateOpened}, []int{6, 3, 2, 5}},
			{"closed", sdesk.MappingQuery{State: sdesk.StateClosed}, []int{4, 1}},
			{"reporter, closed", sdesk.MappingQuery{ReporterID: alice, State: sdesk.StateClosed}, []int{4, 1}},
			{"reporter, opened", sdesk.MappingQuery{ReporterID: alice, State: sdesk.StateOpened}, []int{3}},
			{"other reporter, opened", sdesk.MappingQuery{ReporterID: bob, State: sdesk.StateOpened}, []int{6, 2}},
		}
		for _, tt := range after {
			t.Run("after changes: "+tt.name, func(t *testing.T) { checkMappings(t, s, tt.q, tt.want) })
		}
	})

	// Pages: enough mappings that a store reading a few at a time must
	// read on; each selection read whole and ten at a time.
	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const n = 37
		var all []sdesk.Mapping
		for i := range n {
			iid := (i*7)%n + 1 // every IID once, out of order
			m := mapping(iid, threadOf(iid), []string{alice, bob}[iid%2])
			m.CreatedAt = base.Add(time.Duration(iid/3) * time.Second) // groups of up to three
			mustPutMapping(t, s, m)
			if iid%4 == 0 {
				mustSetState(t, s, iid, sdesk.StateClosed, base)
				m.State, m.StateAt = sdesk.StateClosed, base
			}
			all = append(all, m)
		}
		for _, q := range []sdesk.MappingQuery{
			{},
			{ReporterID: alice},
			{ReporterID: bob},
			{State: sdesk.StateOpened},
			{State: sdesk.StateClosed},
			{ReporterID: alice, State: sdesk.StateOpened},
			{ReporterID: bob, State: sdesk.StateClosed},
		} {
			want := iids(selectMappings(all, q))
			checkMappings(t, s, q, want)
			for off := 0; off < len(want)+10; off += 10 {
				page := q
				page.Offset, page.Limit = off, 10
				checkMappings(t, s, page, want[min(off, len(want)):min(off+10, len(want))])
			}
		}
	})
}

// selectMappings is the model of Store.Mappings: the mappings q selects
// from ms, newest first (CreatedAt, then IssueIID, descending), after
// q.Offset, at most q.Limit (0: all). A State of "" in ms is opened.
func selectMappings(ms []sdesk.Mapping, q sdesk.MappingQuery) []sdesk.Mapping {
	out := []sdesk.Mapping{}
	for _, m := range ms {
		state := m.State
		if state == "" {
			state = sdesk.StateOpened
		}
		if (q.ReporterID == "" || m.ReporterID == q.ReporterID) && (q.State == "" || state == q.State) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b sdesk.Mapping) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return b.IssueIID - a.IssueIID
	})
	out = out[min(q.Offset, len(out)):]
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// FuzzMappings checks PutMapping, SetMappingState and Mappings of the
// stores newStore makes against a model, over a sequence of operations
// (three bytes each) on seven issues of three reporters (one of them
// none), with creation and state times that often tie:
//
//   - PutMapping is refused with ErrConflict exactly when the issue is
//     mapped to another reporter; otherwise a new mapping gets its State
//     ("" is opened) and StateAt, and a rewrite changes every field but
//     CreatedAt, State and StateAt;
//   - SetMappingState is ErrNotFound exactly for an unmapped issue, and
//     applies a state exactly when its time is not before the stored one;
//   - Mappings returns exactly the model's selection, whole, in its order
//     (CreatedAt then IssueIID, descending), after Offset, at most Limit.
//
// After the last operation every issue reads back as the model says.
func FuzzMappings(f *testing.F, newStore func(t *testing.T) sdesk.Store) {
	// put: 0, iid-1 + 6*reporter, created | state<<2 | stateAt<<4 | zone<<6
	// set: 1, iid-1 + 8*closed, at (0: the zero time) | zone<<3
	// query: 2, reporter | state<<2, offset | limit<<3
	f.Add([]byte{0, 0, 0x00, 0, 1, 0x01, 0, 8, 0x01, 2, 0x00, 0x00, 1, 8, 0x03, 1, 0, 0x02, 2, 0x04, 0x00, 2, 0x08, 0x00, 2, 0x09, 0x00})
	f.Add([]byte{0, 6, 0x08, 0, 1, 0x1a, 0, 14, 0x31, 0, 3, 0x42, 1, 9, 0x01, 1, 1, 0x0b, 2, 0x01, 0x09, 0, 1, 0x04, 2, 0x00, 0x11})
	f.Add([]byte{0, 2, 0x00, 0, 3, 0x00, 0, 4, 0x40, 0, 5, 0x00, 2, 0x00, 0x0a, 2, 0x00, 0x1b, 1, 6, 0x01, 2, 0x06, 0x00, 0, 6, 0x00})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 3*40 {
			ops = ops[:3*40]
		}
		s := newStore(t)
		ctx := t.Context()
		reporters := []string{"301", "302", ""}
		west := time.FixedZone("PST", -8*3600)
		at := func(n byte, zone bool) time.Time {
			tm := base.Add(time.Duration(n) * 500 * time.Millisecond)
			if zone {
				tm = tm.In(west)
			}
			return tm
		}
		model := map[int]sdesk.Mapping{}
		for i := 0; i+2 < len(ops); i += 3 {
			op, a, b := ops[i]%3, ops[i+1], ops[i+2]
			switch op {
			case 0:
				m := mapping(1+int(a%6), "", reporters[int(a/6)%3])
				m.ThreadID = threadOf(m.IssueIID)
				m.Title = fmt.Sprintf("title %d", i)
				m.CreatedAt = at(b&3, b&0x40 != 0)
				m.State = []string{"", sdesk.StateOpened, sdesk.StateClosed, sdesk.StateClosed}[b>>2&3]
				if n := b >> 4 & 3; n > 0 {
					m.StateAt = at(n, false)
				}
				old, exists := model[m.IssueIID]
				conflict := exists && old.ReporterID != m.ReporterID
				err := s.PutMapping(ctx, m)
				if conflict != errors.Is(err, sdesk.ErrConflict) || (err != nil && !conflict) {
					t.Fatalf("op %d: PutMapping(%+v): got error %v, want conflict %v", i/3, m, err, conflict)
				}
				if conflict {
					break
				}
				if exists {
					m.CreatedAt, m.State, m.StateAt = old.CreatedAt, old.State, old.StateAt
				} else if m.State == "" {
					m.State = sdesk.StateOpened
				}
				model[m.IssueIID] = m
			case 1:
				iid := 1 + int(a%8)%7
				state := sdesk.StateOpened
				if a&8 != 0 {
					state = sdesk.StateClosed
				}
				when := time.Time{}
				if n := b & 7; n > 0 {
					when = at(n, b&8 != 0)
				}
				err := s.SetMappingState(ctx, iid, state, when)
				old, exists := model[iid]
				if !exists {
					if !errors.Is(err, sdesk.ErrNotFound) {
						t.Fatalf("op %d: SetMappingState(%d) of an unmapped issue: got error %v, want ErrNotFound", i/3, iid, err)
					}
					break
				}
				if err != nil {
					t.Fatalf("op %d: SetMappingState(%d, %q, %v): got error %v, want nil", i/3, iid, state, when, err)
				}
				if !old.StateAt.After(when) {
					old.State, old.StateAt = state, when
					model[iid] = old
				}
			case 2:
				q := sdesk.MappingQuery{
					ReporterID: []string{"", "301", "302", "309"}[a&3],
					State:      []string{"", sdesk.StateOpened, sdesk.StateClosed, ""}[a>>2&3],
					Offset:     int(b & 7),
					Limit:      int(b >> 3 & 7),
				}
				checkModel(t, fmt.Sprintf("op %d", i/3), s, model, q)
			}
		}
		for _, q := range []sdesk.MappingQuery{{}, {State: sdesk.StateOpened}, {State: sdesk.StateClosed}} {
			checkModel(t, "at the end", s, model, q)
		}
		for iid := 1; iid <= 7; iid++ {
			got, err := s.MappingByIssue(ctx, iid)
			want, ok := model[iid]
			switch {
			case !ok && !errors.Is(err, sdesk.ErrNotFound):
				t.Fatalf("at the end: MappingByIssue(%d): got %+v, %v, want ErrNotFound", iid, got, err)
			case ok && (err != nil || !equalMapping(got, want)):
				t.Fatalf("at the end: MappingByIssue(%d): got %+v, %v, want %+v", iid, got, err, want)
			}
		}
	})
}

// checkModel checks Mappings(q) against the model's selection, mapping by
// mapping.
func checkModel(t *testing.T, what string, s sdesk.Store, model map[int]sdesk.Mapping, q sdesk.MappingQuery) {
	t.Helper()
	want := selectMappings(slices.Collect(maps.Values(model)), q)
	got, err := s.Mappings(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: Mappings(%+v): got error %v, want nil", what, q, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: Mappings(%+v): got issues %v, want %v", what, q, iids(got), iids(want))
	}
	for i := range got {
		if !equalMapping(got[i], want[i]) {
			t.Fatalf("%s: Mappings(%+v)[%d]: got %+v, want %+v", what, q, i, got[i], want[i])
		}
	}
}

// equalMapping reports whether two mappings are equal, their times to the
// nanosecond in any zone.
func equalMapping(a, b sdesk.Mapping) bool {
	ta, tb, sa, sb := a.CreatedAt, b.CreatedAt, a.StateAt, b.StateAt
	a.CreatedAt, b.CreatedAt, a.StateAt, b.StateAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b && ta.Equal(tb) && sa.Equal(sb)
}
