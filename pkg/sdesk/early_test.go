package sdesk_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

func noteEvent(report string, iid, noteID int, body string) sdesk.Event {
	no := false
	return sdesk.Event{
		Key: fmt.Sprintf("note:%d:test", noteID), Kind: "Note Hook", Report: report,
		Note: &sdesk.NoteEvent{
			IssueIID: iid, NoteID: noteID, Body: body, Internal: &no, Action: "create",
			Author: sdesk.Author{ID: 77, Name: "Triage Bot", Username: "triage"},
			Actor:  sdesk.Author{ID: 77, Name: "Triage Bot", Username: "triage"},
		},
	}
}

// TestEarlyEventsWait: notes made on a new issue before its thread exists
// (a triage bot, quick staff) are kept, and delivered in order after the
// report's own first message once the thread exists (issue 8, "lost at
// birth").
func TestEarlyEventsWait(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rep := w.submit(t, "1300000000000000020")
	// The issue is made, the thread is not (Discord down for a moment).
	w.discord.FailNext("POST", "/channels/*/threads", 503, "", 3) // every try of the first attempt
	if err := w.svc.RunJob(ctx, rep); err == nil {
		t.Fatal("first attempt: got success, want the thread step to fail")
	}
	queued := len(w.queue.jobs)
	for n, body := range []string{"first early note", "second early note"} {
		if err := w.svc.HandleEvent(ctx, noteEvent(rep.ID, 1, 500+n, body)); err != nil {
			t.Fatalf("HandleEvent: %v", err)
		}
	}
	pending, err := w.store.ListJobs(ctx, sdesk.JobPending)
	if err != nil {
		t.Fatal(err)
	}
	parked := 0
	for _, j := range pending {
		if j.Kind == sdesk.JobGitLabEvent {
			parked++
			if j.Attempts != 0 {
				t.Errorf("parked job %s: got %d attempts, want none counted", j.ID, j.Attempts)
			}
		}
	}
	// The first is parked at once; the second, behind it, goes to the
	// queue, where it would park too.
	if parked != 2 || len(w.queue.jobs)-queued > 1 {
		t.Fatalf("parked: got %d stored, %d queued, want 2 stored and at most the second queued", parked, len(w.queue.jobs)-queued)
	}
	// An event of an issue sdesk did not make is not kept.
	if err := w.svc.HandleEvent(ctx, noteEvent("", 99, 900, "elsewhere")); err != nil {
		t.Fatal(err)
	}

	// The report's job delivers them itself, in order (in Lambda, queued
	// jobs would run as separate invocations, in any order).
	if err := w.svc.RunJob(ctx, rep); err != nil {
		t.Fatalf("report retry: %v", err)
	}
	m, err := w.store.MappingByIssue(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, msg := range w.discord.Messages(m.ThreadID) {
		text := msg.Content
		for _, e := range msg.Embeds {
			if d, ok := e["description"].(string); ok {
				text += " " + d
			}
		}
		got = append(got, text)
	}
	want := []string{"New report", "first early note", "second early note"}
	if len(got) != len(want) {
		t.Fatalf("thread messages: got %q, want %q in order", got, want)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("message %d: got %q, want %q", i, got[i], want[i])
		}
	}
	if left, _ := w.store.ListJobs(ctx, sdesk.JobPending); len(left) != 0 {
		t.Errorf("pending jobs: got %d, want none", len(left))
	}
}

// TestParkedEventOfFailedReport: when the report that made the issue has
// failed for good, its events wait (an operator's retry completes the
// report) and an operator is told so at WARN.
func TestParkedEventOfFailedReport(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	logs := captureLogs(w)
	rep := w.submit(t, "1300000000000000021")
	w.discord.FailNext("POST", "/channels/*/threads", 503, "", 3*sdesk.DefaultMaxAttempts) // every try of every attempt
	for range sdesk.DefaultMaxAttempts {
		_ = w.svc.RunJob(ctx, rep)
	}
	if !w.svc.Failed(ctx, rep.ID) {
		t.Fatal("report: want failed for good")
	}
	if err := w.svc.HandleEvent(ctx, noteEvent(rep.ID, 1, 600, "waiting note")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"event waits: the report that made its issue failed`) {
		t.Errorf("logs: want a WARN line telling the operator to retry the report; got\n%s", logs)
	}
	// The operator retries the report: it completes and delivers the note.
	j, _ := w.store.GetJob(ctx, rep.ID)
	j.Status, j.Attempts = sdesk.JobPending, 0
	if err := w.store.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RunJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	m, _ := w.store.MappingByIssue(ctx, 1)
	msgs := w.discord.Messages(m.ThreadID)
	if len(msgs) != 2 || !strings.Contains(fmt.Sprint(msgs[1].Embeds), "waiting note") {
		t.Errorf("thread: got %d messages, want the report and the waiting note", len(msgs))
	}
}

// captureLogs points the service's logger at a buffer of JSON lines.
func captureLogs(w *world) *e2e.LogBuffer {
	logs := &e2e.LogBuffer{}
	w.svc.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return logs
}

// deadlineGitLab reports whether CreateIssue was given a deadline.
type deadlineGitLab struct {
	sdesk.GitLab
	saw chan bool
}

func (g deadlineGitLab) CreateIssue(ctx context.Context, in sdesk.NewIssue) (sdesk.Issue, error) {
	_, ok := ctx.Deadline()
	g.saw <- ok
	return g.GitLab.CreateIssue(ctx, in)
}

// TestAttemptHasADeadline: a job attempt run without a deadline (the pool
// of sdesk serve) still gets one, so no wait on Discord or GitLab, a rate
// limit included, can hold it for ever (issue 8: a rename stalled an
// issue's jobs for ten minutes).
func TestAttemptHasADeadline(t *testing.T) {
	w := newWorld(t)
	saw := make(chan bool, 1)
	w.svc.GitLab = deadlineGitLab{GitLab: w.svc.GitLab, saw: saw}
	rep := w.submit(t, "1300000000000000050")
	if err := w.svc.RunJob(context.Background(), rep); err != nil {
		t.Fatal(err)
	}
	if !<-saw {
		t.Error("CreateIssue: got a context without a deadline")
	}
}

// TestEditOvertakesParkedCreate: a note made before the thread existed is
// parked; its edit arrives once the thread exists, before the parked
// create has run. The note is one message, showing the edited text (the
// chaos run saw two messages, the last one stale).
func TestEditOvertakesParkedCreate(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rep := w.submit(t, "1300000000000000090")
	w.discord.FailNext("POST", "/channels/*/threads", 503, "", 3) // every try of the first attempt
	if err := w.svc.RunJob(ctx, rep); err == nil {
		t.Fatal("first attempt: got success, want the thread step to fail")
	}
	create := noteEvent(rep.ID, 1, 800, "original text")
	if err := w.svc.HandleEvent(ctx, create); err != nil {
		t.Fatal(err)
	}
	// The thread now exists (as the report job makes it), and the edit
	// comes before the parked create is delivered.
	th, err := w.svc.Discord.CreatePrivateThread(ctx, supportChannel, "#1 Crash on start")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.PutMapping(ctx, sdesk.Mapping{IssueIID: 1, ThreadID: th, GuildID: guild, ChannelID: supportChannel, ReporterID: reporter.ID, Title: "Crash on start"}); err != nil {
		t.Fatal(err)
	}
	edit := noteEvent(rep.ID, 1, 800, "edited text")
	edit.Key = "note:800:edit"
	edit.Note.Action = "update"
	if err := w.svc.HandleEvent(ctx, edit); err != nil {
		t.Fatal(err)
	}
	// HandleEvent queues the edit behind the parked create; in Lambda, or
	// while the report's job delivers parked events itself, the two can
	// still run the other way round: the edit first.
	if err := w.svc.RunJob(ctx, sdesk.Job{ID: "gitlab:" + edit.Key}); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.RunJob(ctx, sdesk.Job{ID: "gitlab:" + create.Key}); err != nil {
		t.Fatal(err)
	}
	msgs := w.discord.Messages(th)
	if len(msgs) != 1 {
		t.Fatalf("messages: got %d, want the note once", len(msgs))
	}
	if text := fmt.Sprint(msgs[0].Embeds); !strings.Contains(text, "edited text") {
		t.Errorf("message: got %s, want the edited text", text)
	}
}
