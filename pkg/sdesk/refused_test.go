package sdesk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestThreadRefusedForGood: when Discord refuses the report's thread for
// good, the job makes one attempt, the reporter is told why in plain words,
// the issue gets a note, an operator one WARN line; the reporter's next
// /report completes the same report on the same issue (issue 13).
func TestThreadRefusedForGood(t *testing.T) {
	for _, tt := range []struct {
		name, body, why string
	}{
		{"too many active threads", `{"message":"Maximum number of active threads reached","code":160006}`, "too many open threads"},
		{"missing access", `{"message":"Missing Access","code":50001}`, "may not use the support channel"},
		{"missing permissions", `{"message":"Missing Permissions","code":50013}`, "lacks a permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			logs := captureLogs(w)
			status := 400
			if !strings.Contains(tt.body, "160006") {
				status = 403
			}
			w.discord.FailNext("POST", "/channels/*/threads", status, tt.body, 1)
			rep := w.submit(t, "1300000000000000040")
			if err := w.svc.RunJob(ctx, rep); err != nil {
				t.Fatalf("RunJob: %v, want the failure recorded", err)
			}
			j, _ := w.store.GetJob(ctx, rep.ID)
			if j.Status != sdesk.JobFailed || j.Attempts != 1 {
				t.Errorf("job: got %s after %d attempts, want failed after 1", j.Status, j.Attempts)
			}
			is, _ := w.gitlab.Issue(1)
			if len(is.Notes) != 1 || !strings.Contains(is.Notes[0].Body, tt.why) {
				t.Errorf("issue notes: got %+v, want one saying %q", is.Notes, tt.why)
			}
			resp, _ := w.discord.OriginalResponse("tok-" + rep.ID)
			if !strings.Contains(resp.Content, "issue #1") || !strings.Contains(resp.Content, tt.why) {
				t.Errorf("reporter told: got %q, want the issue and %q", resp.Content, tt.why)
			}
			if n := strings.Count(logs.String(), `"level":"WARN","msg":"job failed for good:`); n != 1 {
				t.Errorf("WARN lines: got %d, want 1\n%s", n, logs)
			}

			// The reporter tries again: the same report completes.
			again := sdesk.ReportRequest{InteractionID: "1300000000000000041", Token: "tok-again", GuildID: guild, User: reporter,
				Title: "Still broken", Description: "Any news?"}
			if err := w.svc.SubmitReport(ctx, again); err != nil {
				t.Fatal(err)
			}
			w.queue.mu.Lock()
			next := w.queue.jobs[len(w.queue.jobs)-1]
			w.queue.mu.Unlock()
			if next.ID != rep.ID {
				t.Fatalf("queued: got job %s, want the refused report %s resumed", next.ID, rep.ID)
			}
			if err := w.svc.RunJob(ctx, next); err != nil {
				t.Fatal(err)
			}
			if issues, threads := w.count(t); issues != 1 || threads != 1 {
				t.Errorf("got %d issues and %d threads, want 1 and 1", issues, threads)
			}
			if _, err := w.store.MappingByIssue(ctx, 1); err != nil {
				t.Errorf("mapping: %v", err)
			}
			is, _ = w.gitlab.Issue(1)
			if len(is.Notes) != 2 || !strings.Contains(is.Notes[1].Body, "Any news?") {
				t.Errorf("issue notes: got %d, want the refusal and the new text", len(is.Notes))
			}
			if resp, _ := w.discord.OriginalResponse("tok-again"); !strings.Contains(resp.Content, "Issue #1 created") {
				t.Errorf("new answer: got %q, want the thread of issue #1", resp.Content)
			}
		})
	}
}
