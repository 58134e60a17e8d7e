package app_test

import (
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestResendRetriesFailedFiles: the first "Send to GitLab" of a message
// with a file fails for good while GitLab is down (its last attempt
// records the file as "GitLab did not take it", then the note fails).
// GitLab recovers and the user sends the message again: the failed job
// runs again, trying the file again from this send's fresh link, so the
// one note the message becomes carries the file.
func TestResendRetriesFailedFiles(t *testing.T) {
	h := newHookEnv(t, "bolt", replyVars)
	logData := []byte("error: printer on fire\n")
	f := h.Discord.AddAttachment("app.log", "text/plain", logData)
	h.GitLab.FailNext("POST", "/projects/:id/uploads", 500, 1000)
	h.GitLab.FailNext("POST", "/projects/:id/issues/:iid/notes", 403, 1)
	msg := &e2e.Message{Author: e2e.Reporter, Content: "With a log.", Files: []sdesk.Attachment{f}}
	first := h.SendToGitLab(e2e.Reporter, h.thread, msg)
	h.Interact(h.url, first)
	if got := h.replyDone(t, first); !strings.Contains(got.Content, "Sorry, that did not work") {
		t.Fatalf("first send: got %q %v, want the apology", got.Content, got.Embeds)
	}
	h.GitLab.ClearFaults() // GitLab is back

	second := h.SendToGitLab(e2e.Reporter, h.thread, msg)
	if resp := h.Interact(h.url, second); resp.Type != 5 {
		t.Fatalf("second send: got %s, want it to run the failed send again", resp.Raw)
	}
	got := h.replyDone(t, second)
	notes := h.notes(t)
	if len(notes) != 1 {
		t.Fatalf("notes: got %d, want 1", len(notes))
	}
	if n := len(h.GitLab.Uploads()); n != 1 || strings.Contains(notes[0], "not uploaded") {
		t.Errorf("the send after GitLab recovered uploaded %d files; note:\n%s\nanswer: %q", n, notes[0], got.Content)
	}
}
