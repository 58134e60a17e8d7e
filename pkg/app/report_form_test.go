package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// formVars: two categories, and a 1 MB limit so an oversized file is small.
var formVars = map[string]string{
	"SDESK_CATEGORIES":        "Bug=bug; Feature request=feature",
	"SDESK_MAX_ATTACHMENT_MB": "1",
}

// child returns the component inside the Label of a modal whose child has
// customID, or nil.
func child(comps []map[string]any, customID string) map[string]any {
	for _, c := range comps {
		if c["type"] != float64(18) {
			continue
		}
		if ch, ok := c["component"].(map[string]any); ok && ch["custom_id"] == customID {
			return ch
		}
	}
	return nil
}

// TestReportFormModal: /report opens a modal of Label components: two
// required text inputs, the category select with the configured options,
// and an optional file upload of up to 5 files.
func TestReportFormModal(t *testing.T) {
	for _, tt := range []struct {
		name       string
		vars       map[string]string
		categories []string // option values; nil: no select
	}{
		{"categories", formVars, []string{"bug", "feature"}},
		{"none configured", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, "bolt", tt.vars)
			resp := h.Interact(h.url, h.Command(e2e.Reporter, e2e.ChannelID, "report", nil))
			if resp.Type != 9 || resp.Data.CustomID != "report" {
				t.Fatalf("got %s, want the report modal", resp.Raw)
			}
			comps := resp.Data.Components
			for _, c := range comps {
				if c["type"] != float64(18) || c["label"] == "" {
					t.Errorf("top-level component %v: want a Label (type 18) with a label", c)
				}
			}
			for _, id := range []string{"title", "description"} {
				ti := child(comps, id)
				if ti == nil || ti["type"] != float64(4) || ti["required"] != true {
					t.Errorf("%s: got %v, want a required text input", id, ti)
				}
			}
			sel := child(comps, "category")
			var got []string
			if sel != nil {
				if sel["type"] != float64(3) {
					t.Errorf("category: got type %v, want a string select (3)", sel["type"])
				}
				opts, _ := sel["options"].([]any)
				for _, o := range opts {
					got = append(got, o.(map[string]any)["value"].(string))
				}
			}
			if !slices.Equal(got, tt.categories) {
				t.Errorf("category options: got %v, want %v", got, tt.categories)
			}
			up := child(comps, "files")
			if up == nil || up["type"] != float64(19) || up["max_values"] != float64(5) || up["required"] == true {
				t.Errorf("files: got %v, want an optional file upload (19) of at most 5", up)
			}
		})
	}
}

// TestReportFormFiles: a report with a category and files: the issue gets
// both labels and the uploads embedded or linked, the thread's first
// message carries the same files, and a file over the limit and one
// Discord no longer serves are named, in the issue and to the reporter.
func TestReportFormFiles(t *testing.T) {
	h := newHookEnv(t, "bolt", formVars)
	png := []byte("\x89PNG\r\n\x1a\nscreenshot bytes")
	logData := []byte("2026-11-29 error: printer on fire\n")
	shot := h.Discord.AddAttachment("shot.png", "image/png", png)
	logf := h.Discord.AddAttachment("app log @all.txt", "text/plain; charset=utf-8", logData)
	big := h.Discord.AddAttachment("video.mp4", "video/mp4", bytes.Repeat([]byte{1}, 1<<20+1))

	in := h.ReportForm(e2e.Reporter, e2e.Form{Title: "Printer", Description: "It burns.", Category: "feature",
		Files: []sdesk.Attachment{shot, logf, big}})
	if resp := h.Interact(h.url, in); resp.Type != 5 || !resp.Ephemeral() {
		t.Fatalf("submit: got %s, want a deferred ephemeral answer", resp.Raw)
	}
	answer := h.ReportDone(t, in)
	if !strings.HasPrefix(answer, "Issue #8 created") || !strings.Contains(answer, "larger than the 1.0 MB limit: video.mp4") {
		t.Errorf("answer: got %q, want issue #8 and video.mp4 named as too large", answer)
	}
	is, ok := h.GitLab.Issue(8)
	if !ok {
		t.Fatal("issue 8 was not created")
	}
	if !slices.Contains(is.Labels, "discord") || !slices.Contains(is.Labels, "feature") {
		t.Errorf("labels: got %v, want discord and feature", is.Labels)
	}
	if err := gfm.Check(is.Description); err != nil {
		t.Errorf("description breaks a gfm rule: %v", err)
	}
	uploads := h.GitLab.Uploads()
	if len(uploads) != 2 {
		t.Fatalf("uploads: got %d, want 2 (the large file is not uploaded)", len(uploads))
	}
	byName := map[string][]byte{}
	for _, u := range uploads {
		byName[u.Filename] = u.Data
		link := "/uploads/" + u.Secret + "/" + u.Filename + ")"
		if !strings.Contains(is.Description, link) {
			t.Errorf("description does not link %s:\n%s", link, is.Description)
		}
	}
	if !bytes.Equal(byName["shot.png"], png) || !bytes.Equal(byName["app_log__all.txt"], logData) {
		t.Errorf("uploaded files: got %v", keys(byName))
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`!\[shot\\\.png\]\(/uploads/[0-9a-f]{32}/shot\.png\)`),
		regexp.MustCompile(`video\\\.mp4 \(1\.0 MB\): not uploaded, larger than the 1\.0 MB limit`),
	} {
		if !want.MatchString(is.Description) {
			t.Errorf("description lacks %s:\n%s", want, is.Description)
		}
	}
	thread := e2e.ThreadOf(answer)
	msgs := h.Discord.Messages(thread)
	if len(msgs) == 0 {
		t.Fatal("no first message")
	}
	first := msgs[0]
	var names []string
	for _, f := range first.Files {
		names = append(names, f.Name)
	}
	if len(first.Files) != 2 || !bytes.Equal(first.Files[0].Data, png) || !bytes.Equal(first.Files[1].Data, logData) {
		t.Errorf("first message files: got %v, want shot.png and the log", names)
	}
	if !strings.Contains(first.Content, "video.mp4") {
		t.Errorf("first message: got %q, want video.mp4 named as not uploaded", first.Content)
	}
	footer, _ := json.Marshal(first.Embeds)
	if !strings.Contains(string(footer), "Feature request") {
		t.Errorf("first message embed: got %s, want the category", footer)
	}
	if n := h.Discord.AttachmentDownloads(big.ID); n != 0 {
		t.Errorf("the oversized file was downloaded %d times, want 0 (its size is known)", n)
	}
}

// TestReportFormRefusals: a category that is not configured (a tampered
// submit) and more files than the form takes are refused ephemerally;
// nothing reaches GitLab.
func TestReportFormRefusals(t *testing.T) {
	h := newHookEnv(t, "bolt", formVars)
	var six []sdesk.Attachment
	for range 6 {
		six = append(six, h.Discord.AddAttachment("a.txt", "text/plain", []byte("a")))
	}
	for _, tt := range []struct {
		name string
		form e2e.Form
		want string
	}{
		{"unknown category", e2e.Form{Title: "T", Description: "D", Category: "secret-label"}, "category is not offered"},
		{"six files", e2e.Form{Title: "T", Description: "D", Category: "bug", Files: six}, "at most 5"},
		{"no category while offered", e2e.Form{Title: "T", Description: "D"}, "please choose a category"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.GitLab.Issues())
			resp := h.Interact(h.url, h.ReportForm(e2e.Reporter, tt.form))
			if !resp.Ephemeral() || !strings.Contains(resp.Data.Content, tt.want) {
				t.Errorf("got %s, want an ephemeral refusal with %q", resp.Raw, tt.want)
			}
			if n := len(h.GitLab.Issues()); n != before {
				t.Errorf("issues: got %d, want %d", n, before)
			}
		})
	}
	if n := len(h.GitLab.Uploads()); n != 0 {
		t.Errorf("uploads: got %d, want 0", n)
	}
}

// TestReportFormExpiredFile: a file whose Discord link no longer works is
// named in the issue as missing; the report is made.
func TestReportFormExpiredFile(t *testing.T) {
	h := newHookEnv(t, "bolt", formVars)
	gone := h.Discord.AddAttachment("gone.png", "image/png", []byte("png"))
	h.Discord.ExpireAttachments()
	in := h.ReportForm(e2e.Reporter, e2e.Form{Title: "T", Description: "D", Category: "bug", Files: []sdesk.Attachment{gone}})
	h.Interact(h.url, in)
	answer := h.ReportDone(t, in)
	if !strings.HasPrefix(answer, "Issue #8 created") || !strings.Contains(answer, "Not uploaded: gone.png (it could not be fetched from Discord).") {
		t.Errorf("answer: got %q", answer)
	}
	is, _ := h.GitLab.Issue(8)
	if !strings.Contains(is.Description, `gone\.png: not uploaded, it could not be fetched from Discord`) {
		t.Errorf("description:\n%s", is.Description)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestReportFormFilesOverDiscordLimit: when Discord refuses the first
// message's files as over the server's upload limit (413, code 40005), the
// message goes without them and says they are on the issue.
func TestReportFormFilesOverDiscordLimit(t *testing.T) {
	h := newHookEnv(t, "bolt", formVars)
	shot := h.Discord.AddAttachment("shot.png", "image/png", []byte("png bytes"))
	h.Discord.FailNext("POST", "/channels/*/messages", 413, `{"message":"Request entity too large","code":40005}`, 1)
	in := h.ReportForm(e2e.Reporter, e2e.Form{Title: "T", Description: "D", Category: "bug", Files: []sdesk.Attachment{shot}})
	h.Interact(h.url, in)
	answer := h.ReportDone(t, in)
	msgs := h.Discord.Messages(e2e.ThreadOf(answer))
	if len(msgs) != 1 || len(msgs[0].Files) != 0 || !strings.Contains(msgs[0].Content, "they are on the GitLab issue") {
		var got []string
		for _, m := range msgs {
			got = append(got, fmt.Sprintf("%q with %d files", m.Content, len(m.Files)))
		}
		t.Fatalf("thread messages: got %v, want one without files that points to the issue", got)
	}
	if n := len(h.GitLab.Uploads()); n != 1 {
		t.Errorf("uploads: got %d, want 1", n)
	}
}
