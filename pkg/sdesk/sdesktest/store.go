// Package sdesktest holds the contract suite that every sdesk.Store
// implementation runs from its own tests:
//
//	func TestStore(t *testing.T) {
//		sdesktest.TestStore(t, func(t *testing.T) sdesk.Store { return newStore(t) })
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

func checkMapping(t *testing.T, what string, got, want sdesk.Mapping) {
	t.Helper()
	g, w := got, want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if g != w {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	if !sameTime(got.CreatedAt, want.CreatedAt) {
		t.Errorf("%s: got CreatedAt %v, want %v", what, got.CreatedAt, want.CreatedAt)
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
