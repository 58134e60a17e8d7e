package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
)

// Uploads of the notes below, and their files.
const (
	upShot = "0123456789abcdef0123456789abcdef" // shot.png, attached
	upLog  = "00112233445566778899aabbccddeeff" // app.log, attached
	upDump = "fedcba9876543210fedcba9876543210" // dump.bin, too large to attach
)

// sendNote delivers note_plain with its own note ID and body, and returns
// the one message it made.
func (h *hookEnv) sendNote(t *testing.T, id int, note string) discordfake.Message {
	t.Helper()
	hdr, body := fixture(t, "note_plain")
	hdr.Set("Idempotency-Key", fmt.Sprintf("uploads-%d", id))
	attrs(body)["id"] = float64(id)
	attrs(body)["note"] = note
	before := len(h.Discord.Messages(h.thread))
	h.deliver(t, hdr, body)
	msgs := h.Discord.Messages(h.thread)
	if len(msgs) != before+1 {
		t.Fatalf("note %d: got %d new messages, want 1", id, len(msgs)-before)
	}
	return msgs[len(msgs)-1]
}

// TestNoteUploadLinksByVersion: a note's uploads, linked in the old or the
// new (/-/project/<id>/uploads/...) form, relative or absolute, are
// downloaded through the API and attached; the links sdesk writes, such as
// the one of a file too large to attach, are in the form the configured
// GitLab serves: under the project's ID on 17.5, under its path on 16.11.
// The version is asked once, and only for a note that links an upload
// (issue 13).
func TestNoteUploadLinksByVersion(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake image bytes")
	for _, tt := range []struct {
		version string
		base    func(e *e2e.Env) string
		// shot and log are how the new-form links of shot.png (relative)
		// and app.log (absolute) are shown: as sdesk's file links where
		// the GitLab serves that form, else as the note wrote them, made
		// absolute.
		shot, log func(e *e2e.Env) string
	}{
		{"17.5.0", func(e *e2e.Env) string { return e.GitLab.URL() + "/-/project/4242" },
			func(e *e2e.Env) string {
				return "[shot.png](" + e.GitLab.URL() + "/-/project/4242/uploads/" + upShot + "/shot.png)"
			},
			func(e *e2e.Env) string {
				return "the log ([app.log](" + e.GitLab.URL() + "/-/project/4242/uploads/" + upLog + "/app.log))"
			}},
		{"16.11.0", func(e *e2e.Env) string { return e.GitLab.URL() + "/acme/support" },
			func(*e2e.Env) string {
				return "shot (<https://gitlab.example.com/-/project/4242/uploads/" + upShot + "/shot.png>)"
			},
			func(e *e2e.Env) string {
				return "the log (<" + e.GitLab.URL() + "/-/project/4242/uploads/" + upLog + "/app.log>)"
			}},
	} {
		t.Run(tt.version, func(t *testing.T) {
			h := newHookEnv(t, "bolt", nil)
			h.GitLab.SetVersion(tt.version)
			h.GitLab.AddUpload(upShot, "shot.png", png)
			h.GitLab.AddUpload(upLog, "app.log", []byte("log line\n"))
			h.GitLab.AddUpload(upDump, "dump.bin", bytes.Repeat([]byte{0xAB}, 10<<20+1))
			base := tt.base(h.Env)

			h.sendNote(t, 7101, "No files here.")
			if n := h.GitLab.CountRequests("GET", "/version"); n != 0 {
				t.Errorf("GET /version after a note without uploads: got %d, want 0", n)
			}

			m := h.sendNote(t, 7102, "New form: ![shot](/-/project/4242/uploads/"+upShot+"/shot.png)\n"+
				"New form, absolute: [the log]("+h.GitLab.URL()+"/-/project/4242/uploads/"+upLog+"/app.log)\n"+
				"Old form: [dump.bin](/uploads/"+upDump+"/dump.bin)")
			var names []string
			for _, f := range m.Files {
				names = append(names, f.Name)
			}
			if got, want := strings.Join(names, ","), "shot.png,app.log"; got != want {
				t.Errorf("files: got %s, want %s (dump.bin is over 10 MiB: a link only)", got, want)
			} else if !bytes.Equal(m.Files[0].Data, png) {
				t.Errorf("shot.png: got %q, want the uploaded bytes", m.Files[0].Data)
			}
			wantDesc := "New form: " + tt.shot(h.Env) + "\n" +
				"New form, absolute: " + tt.log(h.Env) + "\n" +
				"Old form: [dump.bin](" + base + "/uploads/" + upDump + "/dump.bin)"
			if got := fmt.Sprint(m.Embeds[0]["description"]); got != wantDesc {
				t.Errorf("description\ngot  %q\nwant %q", got, wantDesc)
			}
			if n := h.GitLab.CountRequests("GET", "/projects/:id/uploads/:secret/:filename"); n != 3 {
				t.Errorf("downloads through the API: got %d, want 3", n)
			}

			m = h.sendNote(t, 7103, "Again: ![](/uploads/"+upDump+"/dump.bin)")
			if want := "Again: [dump.bin](" + base + "/uploads/" + upDump + "/dump.bin)"; fmt.Sprint(m.Embeds[0]["description"]) != want {
				t.Errorf("second note: got %q, want %q", m.Embeds[0]["description"], want)
			}
			if n := h.GitLab.CountRequests("GET", "/version"); n != 1 {
				t.Errorf("GET /version: got %d, want 1 (kept after the first)", n)
			}
		})
	}
}

// TestNoteUploadLinksFallBack: a version that cannot be read gives the ID
// form; an uploads URL that cannot be had at all leaves the links under
// the project's web URL, said at INFO, and the note is delivered.
func TestNoteUploadLinksFallBack(t *testing.T) {
	t.Run("version unreadable", func(t *testing.T) {
		h := newHookEnv(t, "bolt", nil)
		h.GitLab.FailNext("GET", "/version", http.StatusNotFound, 1)
		m := h.sendNote(t, 7201, "![](/uploads/"+upDump+"/dump.bin)")
		if want := "[dump.bin](" + h.GitLab.URL() + "/-/project/4242/uploads/" + upDump + "/dump.bin)"; fmt.Sprint(m.Embeds[0]["description"]) != want {
			t.Errorf("description: got %q, want %q", m.Embeds[0]["description"], want)
		}
	})
	t.Run("uploads URL unknown", func(t *testing.T) {
		// A numeric GITLAB_PROJECT needs no look-up to match webhooks; the
		// path form of GitLab 16.11 needs one, which fails.
		h := newHookEnv(t, "bolt", map[string]string{"GITLAB_PROJECT": "4242"})
		h.GitLab.SetVersion("16.11.0")
		h.GitLab.FailNext("GET", "/projects/:id", http.StatusForbidden, 1)
		m := h.sendNote(t, 7302, "![](/uploads/"+upDump+"/dump.bin)")
		if want := "[dump.bin](https://gitlab.example.com/acme/support/uploads/" + upDump + "/dump.bin)"; fmt.Sprint(m.Embeds[0]["description"]) != want {
			t.Errorf("description: got %q, want %q", m.Embeds[0]["description"], want)
		}
		if !strings.Contains(h.logs.String(), `"level":"INFO","msg":"upload links under the project URL: uploads URL unknown"`) {
			t.Errorf("logs: want the fallback at INFO\n%s", h.logs)
		}
	})
}
