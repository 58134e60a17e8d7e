package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestProtocolRelativeAvatar: a protocol-relative avatar
// (//host/path, as a Gravatar plain_url may be configured) is a relative
// URL: made absolute against GITLAB_URL's scheme, not left out (issue 13
// item 1).
func TestProtocolRelativeAvatar(t *testing.T) {
	h := newHookEnv(t, "bolt", nil, func(a *app.App) { a.Service.GitLabURL = "https://gitlab.example.com" })
	hdr, body := fixture(t, "note_plain")
	body["user"].(map[string]any)["avatar_url"] = "//secure.gravatar.com/avatar/0123abcd?s=80&d=identicon"
	h.deliver(t, hdr, body)
	th, _ := h.Discord.Thread(h.thread)
	if len(th.Messages) != 1 {
		t.Fatalf("messages: got %d, want the comment", len(th.Messages))
	}
	author, _ := th.Messages[0].Embeds[0]["author"].(map[string]any)
	if got, _ := author["icon_url"].(string); got != "https://secure.gravatar.com/avatar/0123abcd?s=80&d=identicon" {
		t.Errorf("icon: got %q, want the https URL", got)
	}
}

// TestEditedLongNoteKeepsItsFile: a long note past the cap carries
// the whole comment as a file; when it is edited, the file must carry the
// edited comment, not the old one (issue 13 item 6).
func TestEditedLongNoteKeepsItsFile(t *testing.T) {
	para := strings.Repeat("log line with some words in it, ", 120) + "\n\n"
	h := newHookEnv(t, "bolt", map[string]string{"SDESK_MAX_MESSAGES_PER_EVENT": "3"})
	hdr, body := fixture(t, "note_plain")
	attrs(body)["note"] = strings.Repeat(para, 6)
	h.deliver(t, hdr, body)
	e2e.Eventually(t, "the comment", func() bool { return len(h.Discord.Messages(h.thread)) == 3 })
	edited := "EDITED\n\n" + strings.Repeat(para, 7)
	attrs(body)["action"] = "update"
	attrs(body)["note"] = edited
	attrs(body)["updated_at"] = "2024-05-14T11:00:00Z"
	h.deliver(t, hdr, body)
	e2e.Eventually(t, "the edit", func() bool {
		msgs := h.Discord.Messages(h.thread)
		return len(msgs) == 3 && strings.Contains(fmt.Sprint(msgs[0].Embeds[0]["description"]), "EDITED")
	})
	time.Sleep(200 * time.Millisecond)
	msgs := h.Discord.Messages(h.thread)
	last := msgs[len(msgs)-1]
	var file string
	for _, f := range last.Files {
		if strings.HasSuffix(f.Name, ".md") {
			file = string(f.Data)
		}
	}
	if file != edited {
		t.Errorf("attached comment after the edit: got %d bytes (starts %.20q), want the edited comment (%d bytes)", len(file), file, len(edited))
	}
}

// TestIssueEventFanOutCap: the cap is per GitLab event, issue events
// included (issue 13 item 6: "one GitLab event produces at most
// SDESK_MAX_MESSAGES_PER_EVENT Discord messages").
func TestIssueEventFanOutCap(t *testing.T) {
	h := newHookEnv(t, "bolt", map[string]string{"SDESK_MAX_MESSAGES_PER_EVENT": "1"})
	hdr, body := fixture(t, "work_item_close")
	var labels, people []any
	for i := range 24 {
		labels = append(labels, map[string]any{"id": i, "title": fmt.Sprintf("team::%02d-%s", i, strings.Repeat("x", 80))})
		people = append(people, map[string]any{"id": 600 + i, "name": fmt.Sprintf("Person %02d %s", i, strings.Repeat("y", 60)), "username": fmt.Sprintf("p%d", i)})
	}
	body["changes"] = map[string]any{
		"labels":    map[string]any{"previous": []any{}, "current": labels},
		"assignees": map[string]any{"previous": []any{}, "current": people},
	}
	h.deliver(t, hdr, body)
	th, _ := h.Discord.Thread(h.thread)
	if !th.Archived {
		t.Error("thread not archived")
	}
	if n := len(th.Messages); n > 1 {
		t.Errorf("messages: got %d for one event, want at most SDESK_MAX_MESSAGES_PER_EVENT=1", n)
	}
}

// TestReplyAnswerTokenExpired: the note of a reply is made, then
// Discord refuses the deferred answer for good (401, code 50027: the
// token expired). The note exists once, the job is done after one attempt,
// one WARN line says so (issue 8 item 7).
func TestReplyAnswerTokenExpired(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			h.Discord.FailNext("PATCH", "/webhooks/*/*/messages/@original", 401, `{"message":"Invalid Webhook Token","code":50027}`, 5)
			ctx := context.Background()
			r := sdesk.ThreadRequest{InteractionID: "1300000000000000777", Token: "tok-expired", ChannelID: h.thread, User: sdesk.User{ID: e2e.Reporter.ID, Username: e2e.Reporter.Username}, Text: "It is a LaserJet 4."}
			if _, err := h.app.Service.SubmitReply(ctx, r); err != nil {
				t.Fatal(err)
			}
			var j sdesk.Job
			e2e.Eventually(t, "the reply job to end", func() bool {
				var err error
				j, err = h.app.Store.GetJob(ctx, r.InteractionID)
				return err == nil && j.Status != sdesk.JobPending
			})
			if j.Status != sdesk.JobDone || j.Attempts != 1 {
				t.Errorf("job: got %s after %d attempts, want done after 1", j.Status, j.Attempts)
			}
			if is, _ := h.GitLab.Issue(7); len(is.Notes) != 1 {
				t.Errorf("notes: got %d, want the reply once", len(is.Notes))
			}
			if n := strings.Count(h.logs.String(), `"level":"WARN"`); n != 1 {
				t.Errorf("WARN lines: got %d, want 1\n%s", n, h.logs)
			}
		})
	}
}

// TestWebhookProjectLookupHasADeadline: the first webhook resolves
// GITLAB_PROJECT to its ID. GitLab rate-limits that look-up (429,
// Retry-After 60): the webhook must still be answered within GitLab's
// 10 s (issue 8 item 5: every wait on GitLab has a deadline, at every
// entry point).
func TestWebhookProjectLookupHasADeadline(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	h.GitLab.SetRetryAfter(60 * time.Second)
	h.GitLab.FailNext("GET", "/projects/:id", 429, 4)
	hdr, body := fixture(t, "note_plain")
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.url+"/gitlab", bytes.NewReader(raw))
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Gitlab-Token", e2e.WebhookSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("webhook not answered within 12 s (GitLab gives up after 10 s): %v", err)
	}
	resp.Body.Close()
	// The look-up gave up within its own deadline instead of waiting out
	// the 60 s Retry-After: GitLab gets a 503 it can resend.
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status: got %d, want 503", resp.StatusCode)
	}
}

// TestCloseAfterRateLimitedRename: Discord's rename limit (two per
// 10 minutes) must not stop the close that follows: the archive is not a
// rename, and Discord would take it (issue 8 "Stalled", item 5 and item 6).
func TestCloseAfterRateLimitedRename(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			h.Discord.FailNext("PATCH", "/channels/*", 429, `{"message":"You are being rate limited.","retry_after":598.4,"global":false}`, 1)
			hdr, body := fixture(t, "issue_title")
			h.deliver(t, hdr, body)
			ch, cb := fixture(t, "issue_close")
			h.deliver(t, ch, cb)
			id := jobID(t, ch, cb)
			var j sdesk.Job
			e2e.Eventually(t, "the close job to end", func() bool {
				var err error
				j, err = h.app.Store.GetJob(context.Background(), id)
				return err == nil && j.Status != sdesk.JobPending
			})
			th, _ := h.Discord.Thread(h.thread)
			if !th.Archived {
				t.Errorf("thread not archived after a rate-limited rename: close job %s after %d attempts (%s)", j.Status, j.Attempts, j.Error)
			}
		})
	}
}
