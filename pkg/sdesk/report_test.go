package sdesk_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const (
	supportChannel = "1200000000000000002"
	guild          = "1200000000000000003"
)

// queue records enqueued jobs without running them.
type queue struct {
	mu   sync.Mutex
	jobs []sdesk.Job
}

func (q *queue) Enqueue(_ context.Context, j sdesk.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	return nil
}

type world struct {
	svc     *sdesk.Service
	store   sdesk.Store
	queue   *queue
	discord *discordfake.Server
	gitlab  *gitlabfake.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "sdesk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	df, gf := discordfake.New(t), gitlabfake.New(t)
	dc, err := discord.NewClient(discord.ClientConfig{BotToken: df.Token(), ApplicationID: "1200000000000000001", APIURL: df.URL()})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := gitlab.NewClient(gitlab.ClientConfig{BaseURL: gf.URL(), Token: gf.Token(), Project: gf.ProjectPath()})
	if err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	svc := &sdesk.Service{Store: st, Discord: dc, GitLab: gc, Queue: q, SupportChannelID: supportChannel, IssueLabels: []string{"discord"}}
	return &world{svc: svc, store: st, queue: q, discord: df, gitlab: gf}
}

var reporter = sdesk.User{ID: "1210000000000000001", Username: "reporter"}

func (w *world) submit(t *testing.T, id string) sdesk.Job {
	t.Helper()
	err := w.svc.SubmitReport(context.Background(), sdesk.ReportRequest{
		InteractionID: id, Token: "tok-" + id, GuildID: guild, User: reporter,
		Title: "Crash on start", Description: "It crashes.",
	})
	if err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	defer w.queue.mu.Unlock()
	return w.queue.jobs[len(w.queue.jobs)-1]
}

func (w *world) count(t *testing.T) (issues, threads int) {
	t.Helper()
	return len(w.gitlab.Issues()), len(w.discord.Threads())
}

func TestSubmitReportValidates(t *testing.T) {
	long := strings.Repeat("x", sdesk.MaxTitle+1)
	tests := []struct {
		name string
		req  sdesk.ReportRequest
		want string
	}{
		{"empty title", sdesk.ReportRequest{GuildID: guild, Title: " ", Description: "d"}, "the title is empty"},
		{"long title", sdesk.ReportRequest{GuildID: guild, Title: long, Description: "d"}, "the title has 256 characters"},
		{"empty description", sdesk.ReportRequest{GuildID: guild, Title: "t"}, "the description is empty"},
		{"outside a server", sdesk.ReportRequest{Title: "t", Description: "d"}, "inside a server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			err := w.svc.SubmitReport(context.Background(), tt.req)
			var ue *sdesk.UserError
			if !errors.As(err, &ue) || !strings.Contains(ue.Message, tt.want) {
				t.Errorf("got %v, want a user error containing %q", err, tt.want)
			}
			if jobs, _ := w.store.ListJobs(context.Background(), sdesk.JobPending); len(jobs) != 0 {
				t.Errorf("jobs: got %d, want none stored", len(jobs))
			}
		})
	}
}

func TestReportRetries(t *testing.T) {
	t.Run("GitLab 502 then success: one issue", func(t *testing.T) {
		w := newWorld(t)
		w.gitlab.FailNext("POST", "/projects/:id/issues", 502, 1)
		j := w.submit(t, "1300000000000000001")
		// A 502 may come after GitLab acted: the adapter does not repeat the
		// create; the job looks for the issue by its marker before it tries
		// again, within the same attempt.
		if err := w.svc.RunJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		if got, _ := w.store.GetJob(context.Background(), j.ID); got.Attempts != 1 {
			t.Errorf("attempts: got %d, want 1", got.Attempts)
		}
		if issues, threads := w.count(t); issues != 1 || threads != 1 {
			t.Errorf("got %d issues and %d threads, want 1 and 1", issues, threads)
		}
		// One search before creating again, one after for an issue the
		// first create might still have made.
		if got := w.gitlab.CountRequests("GET", "/projects/:id/issues"); got != 2 {
			t.Errorf("marker searches: got %d, want 2", got)
		}
	})
	t.Run("Discord 429 honours retry_after", func(t *testing.T) {
		w := newWorld(t)
		w.discord.FailNext("POST", "/channels/*/threads", 429, `{"message":"You are being rate limited.","retry_after":0.4,"global":false}`, 1)
		if err := w.svc.RunJob(context.Background(), w.submit(t, "1300000000000000002")); err != nil {
			t.Fatal(err)
		}
		var times []time.Time
		for _, r := range w.discord.Requests() {
			if r.Method == "POST" && strings.HasSuffix(r.Path, "/threads") {
				times = append(times, r.Time)
			}
		}
		if len(times) != 2 || times[1].Sub(times[0]) < 400*time.Millisecond {
			t.Errorf("thread creates: got %d, want 2 at least 0.4 s apart", len(times))
		}
		if _, threads := w.count(t); threads != 1 {
			t.Errorf("threads: got %d, want 1", threads)
		}
	})
}

func TestJobRunTwice(t *testing.T) {
	t.Run("after it finished", func(t *testing.T) {
		w := newWorld(t)
		j := w.submit(t, "1300000000000000003")
		for range 2 {
			if err := w.svc.RunJob(context.Background(), j); err != nil {
				t.Fatal(err)
			}
		}
		if issues, threads := w.count(t); issues != 1 || threads != 1 {
			t.Errorf("got %d issues and %d threads, want 1 and 1", issues, threads)
		}
	})
	t.Run("at the same time, with a lease", func(t *testing.T) {
		w := newWorld(t)
		w.svc.LeaseTTL = time.Minute
		w.gitlab.SetDelay(300 * time.Millisecond)
		j := w.submit(t, "1300000000000000004")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = w.svc.RunJob(context.Background(), j) }()
		}
		wg.Wait()
		if issues, threads := w.count(t); issues != 1 || threads != 1 {
			t.Errorf("got %d issues and %d threads, want 1 and 1", issues, threads)
		}
		busy := 0
		for _, err := range errs {
			if errors.Is(err, sdesk.ErrJobBusy) {
				busy++
			} else if err != nil {
				t.Errorf("run: %v", err)
			}
		}
		if busy > 1 {
			t.Errorf("busy runs: got %d, want at most 1", busy)
		}
	})
	t.Run("an attempt ends before its lease does", func(t *testing.T) {
		w := newWorld(t)
		w.svc.LeaseTTL = 2 * time.Second // the attempt gets 1 s
		w.gitlab.SetDelay(3 * time.Second)
		j := w.submit(t, "1300000000000000008")
		err := w.svc.RunJob(context.Background(), j)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("RunJob with GitLab slower than the lease: got %v, want the attempt cut at its deadline", err)
		}
		got, err := w.store.GetJob(context.Background(), j.ID)
		if err != nil || got.Status != sdesk.JobPending || got.Attempts != 1 {
			t.Errorf("job: got %+v, %v, want pending after 1 attempt", got, err)
		}
	})
	t.Run("thread created but its answer lost", func(t *testing.T) {
		w := newWorld(t)
		j := w.submit(t, "1300000000000000007")
		if err := w.svc.RunJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		// Forget the recorded thread: the next run must find it, not make
		// another.
		got, _ := w.store.GetJob(context.Background(), j.ID)
		delete(got.Steps, "thread")
		got.Status = sdesk.JobPending
		if err := w.store.PutJob(context.Background(), got); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.RunJob(context.Background(), got); err != nil {
			t.Fatal(err)
		}
		if issues, threads := w.count(t); issues != 1 || threads != 1 {
			t.Errorf("got %d issues and %d threads, want 1 and 1", issues, threads)
		}
	})
	t.Run("died after creating the issue, before recording it", func(t *testing.T) {
		w := newWorld(t)
		j := w.submit(t, "1300000000000000005")
		// The first attempt's create reached GitLab but its answer was lost.
		w.gitlab.SetDelay(2 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if err := w.svc.RunJob(ctx, j); err == nil {
			t.Fatal("first attempt: got success, want a timeout")
		}
		cancel()
		w.gitlab.SetDelay(0)
		if err := w.svc.RunJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		if issues, threads := w.count(t); issues != 1 || threads != 1 {
			t.Errorf("got %d issues and %d threads, want 1 and 1 (found by its marker)", issues, threads)
		}
	})
}

func TestReportFailsForGood(t *testing.T) {
	w := newWorld(t)
	w.gitlab.FailNext("POST", "/projects/:id/issues", 500, 10)
	j := w.submit(t, "1300000000000000006")
	for i := range sdesk.DefaultMaxAttempts {
		err := w.svc.RunJob(context.Background(), j)
		if last := i == sdesk.DefaultMaxAttempts-1; last != (err == nil) {
			t.Fatalf("attempt %d: got %v", i+1, err)
		}
	}
	got, err := w.store.GetJob(context.Background(), j.ID)
	if err != nil || got.Status != sdesk.JobFailed || got.ErrorRef == "" || got.Attempts != sdesk.DefaultMaxAttempts {
		t.Fatalf("job: got %+v, %v, want failed after %d attempts with a reference", got, err, sdesk.DefaultMaxAttempts)
	}
	msg, _ := w.discord.OriginalResponse("tok-" + j.ID)
	if !strings.Contains(msg.Content, got.ErrorRef) || strings.Contains(msg.Content, "500") {
		t.Errorf("apology: got %q, want the reference %s and no error text", msg.Content, got.ErrorRef)
	}
	if !w.svc.Failed(context.Background(), j.ID) {
		t.Error("Failed: got false, want true")
	}
}

func TestReplyNoteOnce(t *testing.T) {
	w := newWorld(t)
	rep := w.submit(t, "1300000000000000008")
	if err := w.svc.RunJob(context.Background(), rep); err != nil {
		t.Fatal(err)
	}
	m, err := w.store.MappingByIssue(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.SubmitReply(context.Background(), sdesk.ThreadRequest{
		InteractionID: "1300000000000000009", Token: "tok-r", ChannelID: m.ThreadID, User: reporter, Text: "More detail.",
	}); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	j := w.queue.jobs[len(w.queue.jobs)-1]
	w.queue.mu.Unlock()
	// The note is created but the answer is lost (GitLab answers after the
	// client gave up); the next attempt finds the note by its marker.
	w.gitlab.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if err := w.svc.RunJob(ctx, j); err == nil {
		t.Fatal("first attempt: got success, want a timeout")
	}
	cancel()
	w.gitlab.SetDelay(0)
	if err := w.svc.RunJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	is, _ := w.gitlab.Issue(1)
	if len(is.Notes) != 1 || !strings.Contains(is.Notes[0].Body, "More detail.") {
		t.Errorf("notes: got %d, want the reply once", len(is.Notes))
	}
}
