package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Real traffic of peer integrations, replayed (issues 8 and 13): each case
// failed before its fix, on both stores.

// messageText is what a thread message shows: content and embed texts.
func messageText(m map[string]any) string {
	var parts []string
	for _, k := range []string{"title", "description"} {
		if v, ok := m[k].(string); ok {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

func threadTexts(h *hookEnv) []string {
	th, _ := h.Discord.Thread(h.thread)
	var out []string
	for _, m := range th.Messages {
		text := m.Content
		for _, e := range m.Embeds {
			text += " " + messageText(e)
		}
		out = append(out, text)
	}
	return out
}

// TestWorkItemClose: newer GitLab sends an issue closed in the work-item
// view as object_kind "work_item": it closes the thread like an issue
// event.
func TestWorkItemClose(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			hdr, body := fixture(t, "work_item_close")
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if !th.Archived || len(th.Messages) != 1 || !strings.Contains(th.Messages[0].Content, "was closed by") {
				t.Errorf("thread: archived %v, messages %q; want the close message and the thread archived", th.Archived, threadTexts(h))
			}
		})
	}
}

// TestEditOfOwnNoteNotEchoed: a maintainer who edits sdesk's own note (to
// redact a phone number) makes no new message: the note's author is sdesk.
func TestEditOfOwnNoteNotEchoed(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			start := len(h.Discord.Requests())
			hdr, body := fixture(t, "note_edit_by_other")
			h.deliver(t, hdr, body)
			if got := h.calls(start); len(got) != 0 {
				t.Errorf("Discord calls: got %v, want none", got)
			}
		})
	}
}

// TestEditByOtherShowsAuthor: an edit of someone's note by another user
// edits the note's messages, still credited to its author.
func TestEditByOtherShowsAuthor(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			hdr, body := fixture(t, "note_plain")
			attrs := body["object_attributes"].(map[string]any)
			id, ok := h.GitLab.AddNote(7, 501, attrs["note"].(string), false) // GitLab names user 501 "user501"
			if !ok {
				t.Fatal("AddNote: no issue 7")
			}
			attrs["id"] = float64(id)
			h.deliver(t, hdr, body) // the note, by its author
			attrs["action"] = "update"
			attrs["note"] = "Could you send us the printer model? (edited by staff)"
			attrs["updated_at"] = "2024-05-14T10:30:00Z"
			body["user"] = map[string]any{"id": 777, "name": "Grace Editor", "username": "grace", "avatar_url": "https://gitlab.example.com/g.png"}
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if len(th.Messages) != 1 || th.Messages[0].Edits != 1 {
				t.Fatalf("messages: got %q, want the one message edited", threadTexts(h))
			}
			e := th.Messages[0].Embeds[0]
			name, _ := e["author"].(map[string]any)["name"].(string)
			if !strings.Contains(name, "user501") || strings.Contains(name, "Grace") {
				t.Errorf("author: got %q, want the note's author user501 (from GitLab), not the editor", name)
			}
			if !strings.Contains(messageText(e), "edited by staff") {
				t.Errorf("text: got %q, want the edited note", messageText(e))
			}
		})
	}
}

// TestRateLimitedRenameDoesNotStall: Discord's third rename in 10 minutes
// gets a 429 of about 600 s. The rename waits for a later title change;
// the messages of the event are posted at once and the job is done.
func TestRateLimitedRenameDoesNotStall(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			h.Discord.FailNext("PATCH", "/channels/*", 429, `{"message":"You are being rate limited.","retry_after":598.4,"global":false}`, 1)
			hdr, body := fixture(t, "issue_title")
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if len(th.Messages) != 1 || !strings.Contains(th.Messages[0].Content, "Title changed") {
				t.Errorf("messages: got %q, want the title line", threadTexts(h))
			}
			if th.Name != "#7 Printer on fire" {
				t.Errorf("thread name: got %q, want the old name kept", th.Name)
			}
			j, err := h.app.Store.GetJob(t.Context(), jobID(t, hdr, body))
			if err != nil || j.Status != sdesk.JobDone {
				t.Errorf("job: got %+v, %v; want done", j, err)
			}
		})
	}
}

// TestLongLabelListsFit: a close that lists 24 long labels made a message
// over 2000 characters, which Discord refused, and the close message and
// the archive were lost with it. Messages are now built within the limits,
// with the lists cut with "…and N more".
func TestLongLabelListsFit(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			hdr, body := fixture(t, "work_item_close")
			var labels []any
			for i := range 24 {
				labels = append(labels, map[string]any{"id": i, "title": fmt.Sprintf("team::%02d-%s", i, strings.Repeat("x", 80))})
			}
			body["changes"] = map[string]any{"labels": map[string]any{"previous": []any{}, "current": labels}}
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if !th.Archived {
				t.Error("thread: not archived")
			}
			all := strings.Join(threadTexts(h), "\n")
			if !strings.Contains(all, "was closed by") || !strings.Contains(all, "more") {
				t.Errorf("messages: got %q, want the close line and a list cut with …and N more", all)
			}
			for _, m := range th.Messages {
				if n := utf8.RuneCountInString(m.Content); n > 2000 {
					t.Errorf("message of %d runes: over Discord's 2000", n)
				}
			}
		})
	}
}

// TestPermanentDiscordErrorEndsStep: a thread deleted in Discord (10003)
// ends the note's step with one WARN line; the job is done, not failed
// and retried.
func TestPermanentDiscordErrorEndsStep(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			h.Discord.FailNext("POST", "/channels/*/messages", 404, `{"message":"Unknown Channel","code":10003}`, 5)
			hdr, body := fixture(t, "note_plain")
			start := len(h.Discord.Requests())
			h.deliver(t, hdr, body)
			if got := h.calls(start); len(got) != 1 {
				t.Errorf("Discord calls: got %v, want one attempt only", got)
			}
			j, err := h.app.Store.GetJob(t.Context(), jobID(t, hdr, body))
			if err != nil || j.Status != sdesk.JobDone || j.Attempts != 1 {
				t.Errorf("job: got %+v, %v; want done after one attempt", j, err)
			}
			if n := strings.Count(h.logs.String(), `"level":"WARN","msg":"step skipped: the channel or thread is gone`); n != 1 {
				t.Errorf("WARN lines: got %d, want 1 that names the fix", n)
			}
		})
	}
}

// TestRelativeAvatar: self-managed GitLab sends a relative avatar_url; the
// icon is made absolute against GITLAB_URL, a malformed one is left out,
// and the comment is posted either way.
func TestRelativeAvatar(t *testing.T) {
	for _, tt := range []struct {
		name, avatar, gitlabURL, want string
	}{
		{"relative", "/uploads/-/system/user/avatar/12/avatar.png", "https://gitlab.example.com", "https://gitlab.example.com/uploads/-/system/user/avatar/12/avatar.png"},
		{"relative under a subpath", "/uploads/-/system/user/avatar/12/a.png", "https://example.com/gitlab", "https://example.com/gitlab/uploads/-/system/user/avatar/12/a.png"},
		{"subpath already in it", "/gitlab/uploads/-/system/user/avatar/12/a.png", "https://example.com/gitlab", "https://example.com/gitlab/uploads/-/system/user/avatar/12/a.png"},
		{"malformed", "http://bad host/a.png", "https://gitlab.example.com", ""},
		{"not http", "ftp://gitlab.example.com/a.png", "https://gitlab.example.com", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, "bolt", nil, func(a *app.App) { a.Service.GitLabURL = tt.gitlabURL })
			hdr, body := fixture(t, "note_plain")
			body["user"].(map[string]any)["avatar_url"] = tt.avatar
			h.deliver(t, hdr, body)
			th, _ := h.Discord.Thread(h.thread)
			if len(th.Messages) != 1 {
				t.Fatalf("messages: got %d, want the comment", len(th.Messages))
			}
			author, _ := th.Messages[0].Embeds[0]["author"].(map[string]any)
			if got, _ := author["icon_url"].(string); got != tt.want {
				t.Errorf("icon: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBoundedFanOut: one GitLab event makes at most
// SDESK_MAX_MESSAGES_PER_EVENT messages; a longer comment ends with a
// message that says where the rest is and carries the whole comment as a
// Markdown file. A 90 kB note became 23 messages before.
func TestBoundedFanOut(t *testing.T) {
	para := strings.Repeat("log line with some words in it, ", 120) + "\n\n" // ~3.8k runes: one message each
	for _, tt := range []struct {
		name     string
		body     string
		max      string
		wantMsgs int
		wantFile bool
	}{
		{"90 kB log", strings.Repeat(para, 24), "5", 5, true},
		{"exactly at the cap", strings.Repeat(para, 3), "3", 3, false},
		{"just over the cap", strings.Repeat(para, 4), "3", 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, "bolt", map[string]string{"SDESK_MAX_MESSAGES_PER_EVENT": tt.max})
			hdr, body := fixture(t, "note_plain")
			body["object_attributes"].(map[string]any)["note"] = tt.body
			h.deliver(t, hdr, body)
			e2e.Eventually(t, "the comment", func() bool { th, _ := h.Discord.Thread(h.thread); return len(th.Messages) >= tt.wantMsgs })
			time.Sleep(100 * time.Millisecond)
			th, _ := h.Discord.Thread(h.thread)
			if len(th.Messages) != tt.wantMsgs {
				t.Fatalf("messages: got %d, want %d", len(th.Messages), tt.wantMsgs)
			}
			last := th.Messages[len(th.Messages)-1]
			var file *string
			for _, f := range last.Files {
				if strings.HasSuffix(f.Name, ".md") {
					s := string(f.Data)
					file = &s
				}
			}
			if got := file != nil; got != tt.wantFile {
				t.Fatalf("last message carries the comment file: got %v, want %v", got, tt.wantFile)
			}
			if tt.wantFile {
				if *file != tt.body {
					t.Errorf("file: got %d bytes, want the whole comment (%d bytes)", len(*file), len(tt.body))
				}
				if text := messageText(last.Embeds[0]); !strings.Contains(text, "attached file") || !strings.Contains(text, "read it in GitLab") {
					t.Errorf("last message: got %q, want where the rest is", text)
				}
			}
		})
	}
}

// TestDeferredEventKeepsItsPlace: an event deferred past its budget (a slow
// Discord) is not overtaken by the next event, which would
// otherwise run at once: the thread gets them in order (issue 8, item 5).
func TestDeferredEventKeepsItsPlace(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil, func(a *app.App) { a.Service.EventBudget = 300 * time.Millisecond })
			h.Discord.SetDelay(time.Second)
			hdr, first := fixture(t, "note_plain")
			first["object_attributes"].(map[string]any)["note"] = "first comment"
			h.deliver(t, hdr, first)
			h.Discord.SetDelay(0)
			_, second := fixture(t, "note_plain")
			attrs := second["object_attributes"].(map[string]any)
			attrs["id"] = attrs["id"].(float64) + 1
			attrs["note"] = "second comment"
			h.deliver(t, hdr, second)
			e2e.Eventually(t, "both comments", func() bool { return len(threadTexts(h)) >= 2 })
			got := threadTexts(h)
			if len(got) != 2 || !strings.Contains(got[0], "first comment") || !strings.Contains(got[1], "second comment") {
				t.Errorf("thread: got %q, want the first comment, then the second", got)
			}
			if !strings.Contains(h.logs.String(), "event queued behind an earlier event of its issue") {
				t.Errorf("logs: want the second event queued behind the first")
			}
		})
	}
}
