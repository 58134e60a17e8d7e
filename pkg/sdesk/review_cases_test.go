package sdesk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestReplayOfResumingReport: the /report that resumed a refused
// report is itself an interaction; replayed (same signed modal submit,
// within Discord's 5 minutes) after the resumed job finished, it must not
// make a second issue and thread (issue 8 item 8, issue 13 item 4).
func TestReplayOfResumingReport(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.discord.FailNext("POST", "/channels/*/threads", 400, `{"message":"Maximum number of active threads reached","code":160006}`, 1)
	rep := w.submit(t, "1300000000000000040")
	if err := w.svc.RunJob(ctx, rep); err != nil {
		t.Fatal(err)
	}
	again := sdesk.ReportRequest{InteractionID: "1300000000000000041", Token: "tok-again", GuildID: guild, User: reporter,
		Title: "Still broken", Description: "Any news?"}
	if err := w.svc.SubmitReport(ctx, again); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	next := w.queue.jobs[len(w.queue.jobs)-1]
	queued := len(w.queue.jobs)
	w.queue.mu.Unlock()
	if err := w.svc.RunJob(ctx, next); err != nil {
		t.Fatal(err)
	}
	// The same modal submit, replayed.
	if err := w.svc.SubmitReport(ctx, again); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	extra := append([]sdesk.Job(nil), w.queue.jobs[queued:]...)
	w.queue.mu.Unlock()
	for _, j := range extra {
		_ = w.svc.RunJob(ctx, j)
	}
	if issues, threads := w.count(t); issues != 1 || threads != 1 {
		t.Errorf("after a replay of the resuming /report: got %d issues and %d threads, want 1 and 1 (queued %d new jobs)", issues, threads, len(extra))
	}
}

// renameFails is Discord whose thread renames fail (an outage: 5xx after
// the adapter's retries); every other call goes through.
type renameFails struct{ sdesk.Discord }

func (d renameFails) EditThread(ctx context.Context, id string, e sdesk.ThreadEdit) error {
	if e.Name != nil {
		return errors.New("discord: edit thread: 5 attempts: 502 Bad Gateway")
	}
	return d.Discord.EditThread(ctx, id, e)
}

// TestFailingRenameDoesNotBlockClose: a rename is cosmetic; when it
// fails (not rate-limited: an outage) in a close event that also changes
// the title, the thread must still be archived (issue 8 item 6: "a
// cosmetic step that fails never blocks a state change").
func TestFailingRenameDoesNotBlockClose(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rep := w.submit(t, "1300000000000000060")
	if err := w.svc.RunJob(ctx, rep); err != nil {
		t.Fatal(err)
	}
	m, err := w.store.MappingByIssue(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.svc.Discord = renameFails{w.svc.Discord}
	ev := sdesk.Event{Key: "issue:1:review-close", Kind: "Issue Hook", Issue: &sdesk.IssueEvent{
		IID: 1, ID: 1001, Title: "Crash on start (fixed)", State: "closed", Action: "close",
		Author:  sdesk.Author{ID: 5, Name: "Staff"},
		Changes: sdesk.IssueChanges{Title: &sdesk.Change[string]{Previous: "Crash on start", Current: "Crash on start (fixed)"}},
	}}
	_ = w.svc.HandleEvent(ctx, ev)
	for range sdesk.DefaultMaxAttempts {
		_ = w.svc.RunJob(ctx, sdesk.Job{ID: "gitlab:" + ev.Key})
	}
	th, _ := w.discord.Thread(m.ThreadID)
	j, _ := w.store.GetJob(ctx, "gitlab:"+ev.Key)
	if !th.Archived {
		t.Errorf("thread not archived after a failing rename: job %s after %d attempts (%s)", j.Status, j.Attempts, j.Error)
	}
}

// renameLimited answers the first rename with Discord's long rate limit.
type renameLimited struct {
	sdesk.Discord
	hit *bool
}

func (d renameLimited) EditThread(ctx context.Context, id string, e sdesk.ThreadEdit) error {
	if e.Name != nil && !*d.hit {
		*d.hit = true
		return &sdesk.RateLimitedError{Op: "discord: edit thread", After: 598 * time.Second}
	}
	return d.Discord.EditThread(ctx, id, e)
}

// TestDeferredRenameCatchesUp: a rename Discord rate-limits for minutes is
// deferred, not lost: the issue's next event renames the thread to the
// latest title (issue 8 item 5).
func TestDeferredRenameCatchesUp(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rep := w.submit(t, "1300000000000000070")
	if err := w.svc.RunJob(ctx, rep); err != nil {
		t.Fatal(err)
	}
	m, _ := w.store.MappingByIssue(ctx, 1)
	hit := false
	w.svc.Discord = renameLimited{Discord: w.svc.Discord, hit: &hit}
	title := sdesk.Event{Key: "issue:1:title", Kind: "Issue Hook", Issue: &sdesk.IssueEvent{
		IID: 1, ID: 1001, Title: "Crash on start (v2)", State: "opened", Action: "update",
		Changes: sdesk.IssueChanges{Title: &sdesk.Change[string]{Previous: "Crash on start", Current: "Crash on start (v2)"}},
	}}
	if err := w.svc.HandleEvent(ctx, title); err != nil {
		t.Fatal(err)
	}
	th, _ := w.discord.Thread(m.ThreadID)
	if th.Name != "#1 Crash on start" || len(th.Messages) != 2 {
		t.Fatalf("after the limited rename: name %q, %d messages; want the old name and the title line posted", th.Name, len(th.Messages))
	}
	labels := sdesk.Event{Key: "issue:1:labels", Kind: "Issue Hook", Issue: &sdesk.IssueEvent{
		IID: 1, ID: 1001, Title: "Crash on start (v2)", State: "opened", Action: "update",
		Changes: sdesk.IssueChanges{Labels: &sdesk.Change[[]string]{Previous: nil, Current: []string{"bug"}}},
	}}
	if err := w.svc.HandleEvent(ctx, labels); err != nil {
		t.Fatal(err)
	}
	if th, _ = w.discord.Thread(m.ThreadID); th.Name != "#1 Crash on start (v2)" {
		t.Errorf("after the next event: name %q, want the deferred rename done", th.Name)
	}
	if m2, _ := w.store.MappingByIssue(ctx, 1); m2.Title != "Crash on start (v2)" {
		t.Errorf("mapping title: got %q", m2.Title)
	}
}
