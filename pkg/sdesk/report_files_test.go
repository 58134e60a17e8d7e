package sdesk_test

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// submitFiles submits a report with files and returns its job.
func (w *world) submitFiles(t *testing.T, id string, files ...sdesk.Attachment) sdesk.Job {
	t.Helper()
	if err := w.svc.SubmitReport(context.Background(), sdesk.ReportRequest{
		InteractionID: id, Token: "tok-" + id, GuildID: guild, User: reporter,
		Title: "Crash on start", Description: "It crashes.", Files: files,
	}); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	defer w.queue.mu.Unlock()
	return w.queue.jobs[len(w.queue.jobs)-1]
}

// TestReportFilesNeverSinkTheReport: a file that cannot be copied (empty,
// at a URL sdesk may not fetch, refused by GitLab on every try) is named as
// not uploaded; the report is made all the same, at the latest on the
// job's last attempt, and the other files are copied.
func TestReportFilesNeverSinkTheReport(t *testing.T) {
	for _, tt := range []struct {
		name     string
		bad      func(w *world) sdesk.Attachment
		attempts int
		want     string // in the description
	}{
		{"empty file", func(w *world) sdesk.Attachment {
			return w.discord.AddAttachment("empty.log", "text/plain", nil)
		}, 1, `empty\.log: not uploaded, the file is empty`},
		{"URL off Discord's CDN", func(w *world) sdesk.Attachment {
			return sdesk.Attachment{ID: "1300000000000000081", Filename: "x.log", URL: "https://cdn.discord.example/attachments/1/2/x.log?ex=1&is=2&hm=3", Size: 3}
		}, 1, `x\.log: not uploaded, it could not be fetched from Discord`},
		{"GitLab refuses it on every try", func(w *world) sdesk.Attachment {
			w.gitlab.FailNext("POST", "/projects/:id/uploads", 500, 1000)
			return w.discord.AddAttachment("crash.log", "text/plain", []byte("trace"))
		}, sdesk.DefaultMaxAttempts, `crash\.log: not uploaded, GitLab did not take it`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			bad := tt.bad(w)
			j := w.submitFiles(t, "1300000000000000070", bad)
			for range tt.attempts {
				_ = w.svc.RunJob(ctx, j)
			}
			got, _ := w.store.GetJob(ctx, j.ID)
			if issues, threads := w.count(t); issues != 1 || threads != 1 || got.Status != sdesk.JobDone || got.Attempts != tt.attempts {
				t.Fatalf("after %d attempts: %d issues, %d threads, job %s (%s); want the report made by attempt %d",
					got.Attempts, issues, threads, got.Status, got.Error, tt.attempts)
			}
			is, _ := w.gitlab.Issue(1)
			if !strings.Contains(is.Description, tt.want) {
				t.Errorf("description lacks %q:\n%s", tt.want, is.Description)
			}
			if resp, _ := w.discord.OriginalResponse("tok-" + j.ID); !strings.Contains(resp.Content, "Not uploaded: ") {
				t.Errorf("answer: got %q, want the file named as not uploaded", resp.Content)
			}
		})
	}
}

// TestLongFileNamesFitTheMessages: the names of files that did not reach
// GitLab, however long and full of characters Discord escapes, leave the
// thread's first message and the reporter's answer within Discord's 2000
// characters: both are posted.
func TestLongFileNamesFitTheMessages(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.svc.MaxAttachmentBytes = 1 << 20
	var files []sdesk.Attachment
	for range sdesk.MaxReportFiles {
		a := w.discord.AddAttachment(strings.Repeat("[_]*", 63)+".log", "text/plain", []byte("x"))
		a.Size = 2 << 20 // over the limit, as Discord reports it
		files = append(files, a)
	}
	j := w.submitFiles(t, "1300000000000000060", files...)
	if err := w.svc.RunJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	threads := w.discord.Threads()
	if len(threads) != 1 {
		t.Fatalf("threads: %v", threads)
	}
	msgs := w.discord.Messages(threads[0])
	if len(msgs) != 1 || utf8.RuneCountInString(msgs[0].Content) > 2000 || !strings.Contains(msgs[0].Content, "larger than the 1.0 MB limit") {
		t.Errorf("first message: got %d messages, want one naming the files", len(msgs))
	}
	if resp, ok := w.discord.OriginalResponse("tok-" + j.ID); !ok || !strings.Contains(resp.Content, "Issue #1 created") {
		t.Errorf("the reporter's answer: got %q, want it to name the issue", resp.Content)
	}
}

// TestFirstMessageOverUploadLimitPostedOnce: Discord refuses the first
// message's files (413, 40005); the message without them is posted but
// every answer to it is lost, so the attempt fails; on the next attempt
// the file cannot be fetched back from GitLab. The thread still gets one
// first message, not two (the fallback reuses the message's nonce, which
// the 413 left unused).
func TestFirstMessageOverUploadLimitPostedOnce(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.svc.StaffRoleID = "1200000000000000099"
	a := w.discord.AddAttachment("shot.png", "image/png", []byte("\x89PNG...."))
	w.discord.FailNext("POST", "/channels/*/messages", 413, `{"message":"Request entity too large","code":40005}`, 1)
	w.discord.FailNextAfterEffect("POST", "/channels/*/messages", 502, "", 5) // the fallback and its retries
	w.gitlab.FailNext("GET", "/projects/:id/uploads/:secret/:filename", 500, 100)
	j := w.submitFiles(t, "1300000000000000091", a)
	for range sdesk.DefaultMaxAttempts {
		_ = w.svc.RunJob(ctx, j)
	}
	th := w.discord.Threads()
	if len(th) != 1 {
		t.Fatalf("threads: %v", th)
	}
	if msgs := w.discord.Messages(th[0]); len(msgs) != 1 {
		t.Errorf("first message posted %d times, want once", len(msgs))
	}
}

// TestResumedReportKeepsItsFiles: a /report that completes a report whose
// thread Discord refused brings its own files and category: the files are
// copied and linked in the note that carries its text, which names the
// category; nothing of the second submission is dropped.
func TestResumedReportKeepsItsFiles(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.svc.Categories = []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}, {Label: "Crash", GitLabLabel: "crash"}}
	w.discord.FailNext("POST", "/channels/*/threads", 403, `{"message":"Missing Access","code":50001}`, 1)
	if err := w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: "1300000000000000040", Token: "tok-first", GuildID: guild,
		User: reporter, Title: "Crash", Description: "It crashes.", Category: "bug"}); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	first := w.queue.jobs[len(w.queue.jobs)-1]
	w.queue.mu.Unlock()
	if err := w.svc.RunJob(ctx, first); err != nil {
		t.Fatal(err)
	}
	a := w.discord.AddAttachment("trace.log", "text/plain", []byte("stack trace here"))
	if err := w.svc.SubmitReport(ctx, sdesk.ReportRequest{InteractionID: "1300000000000000041", Token: "tok-again", GuildID: guild,
		User: reporter, Title: "Still broken", Description: "Here is the log.", Category: "crash", Files: []sdesk.Attachment{a}}); err != nil {
		t.Fatal(err)
	}
	w.queue.mu.Lock()
	next := w.queue.jobs[len(w.queue.jobs)-1]
	w.queue.mu.Unlock()
	if err := w.svc.RunJob(ctx, next); err != nil {
		t.Fatal(err)
	}
	ups := w.gitlab.Uploads()
	if len(ups) != 1 || string(ups[0].Data) != "stack trace here" {
		t.Fatalf("uploads: got %d, want the second report's file", len(ups))
	}
	is, _ := w.gitlab.Issue(1)
	var note string
	for _, n := range is.Notes {
		if strings.Contains(n.Body, "Still broken") {
			note = n.Body
		}
	}
	for _, want := range []string{"/uploads/" + ups[0].Secret + "/trace.log)", "Category: Crash"} {
		if !strings.Contains(note, want) {
			t.Errorf("follow-up note lacks %q:\n%s", want, note)
		}
	}
}

// TestSlowFileLeavesTimeForTheReport: on the job's last attempt a file
// whose download never ends is given up before the attempt's deadline, so
// the report is still made, the file named as not uploaded.
func TestSlowFileLeavesTimeForTheReport(t *testing.T) {
	w := newWorld(t)
	w.svc.MaxAttempts = 1 // this attempt is the last
	a := w.discord.AddAttachment("slow.log", "text/plain", []byte("never arrives"))
	w.discord.LoseNext("GET", "/attachments/*/*/*", 100)
	j := w.submitFiles(t, "1300000000000000095", a)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = w.svc.RunJob(ctx, j)
	got, _ := w.store.GetJob(context.Background(), j.ID)
	if issues, threads := w.count(t); issues != 1 || threads != 1 || got.Status != sdesk.JobDone {
		t.Fatalf("%d issues, %d threads, job %s (%s); want the report made within the attempt", issues, threads, got.Status, got.Error)
	}
	is, _ := w.gitlab.Issue(1)
	if !strings.Contains(is.Description, `slow\.log: not uploaded`) {
		t.Errorf("description does not name the slow file:\n%s", is.Description)
	}
}
