package app_test

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// replyVars: a 1 MB limit, so an oversized file is small.
var replyVars = map[string]string{"SDESK_MAX_ATTACHMENT_MB": "1"}

// replyDone waits until the job of a reply interaction edited its deferred
// answer, and returns that answer.
func (h *hookEnv) replyDone(t *testing.T, in e2e.Interaction) discordfake.Message {
	t.Helper()
	var m discordfake.Message
	e2e.Eventually(t, "the reply's answer", func() bool {
		var ok bool
		m, ok = h.Discord.OriginalResponse(in.Token)
		return ok && (m.Content != "" || len(m.Embeds) > 0)
	})
	return m
}

// notes returns the bodies of issue 7's notes, checking each the way every
// note sdesk writes must be: gfm.Check passes, sdesk's attribution line is
// the last paragraph before its marker, and no link points to Discord's
// CDN (the fake's, or Discord's own hosts): Discord's signed links expire
// in about a day, so files are copied, never linked.
func (h *hookEnv) notes(t *testing.T) []string {
	t.Helper()
	is, ok := h.GitLab.Issue(7)
	if !ok {
		t.Fatal("issue 7 is gone")
	}
	cdn := h.Discord.URL()
	if u, err := url.Parse(cdn); err == nil {
		cdn = u.Host + discordfake.AttachmentsPath
	}
	var out []string
	for _, n := range is.Notes {
		if err := gfm.Check(n.Body); err != nil {
			t.Errorf("note %d breaks a gfm rule: %v\n%s", n.ID, err, n.Body)
		}
		lines := strings.Split(n.Body, "\n")
		if k := len(lines); k < 3 || !strings.HasPrefix(lines[k-3], "— **") || !strings.HasPrefix(lines[k-1], "<!-- sdesk:v1 reply ") {
			t.Errorf("note %d does not end with the attribution and the marker:\n%s", n.ID, n.Body)
		}
		for _, host := range []string{cdn, "cdn.discordapp.com", "media.discordapp.net"} {
			if strings.Contains(n.Body, host) {
				t.Errorf("note %d links Discord's CDN (%s):\n%s", n.ID, host, n.Body)
			}
		}
		out = append(out, n.Body)
	}
	return out
}

// linked checks that a note links every upload (and embeds each image),
// and that the uploads hold the files' bytes.
func linked(t *testing.T, body string, uploads []gitlabfake.Upload, want map[string][]byte) {
	t.Helper()
	if len(uploads) != len(want) {
		t.Fatalf("uploads: got %d, want %d", len(uploads), len(want))
	}
	for _, u := range uploads {
		data, ok := want[u.Filename]
		if !ok || !bytes.Equal(u.Data, data) {
			t.Errorf("upload %s: unexpected name or bytes", u.Filename)
		}
		if link := "/uploads/" + u.Secret + "/" + u.Filename + ")"; !strings.Contains(body, link) {
			t.Errorf("note does not link %s:\n%s", link, body)
		}
	}
}

// TestReplyFiles: every entry point that answers on an issue takes files:
// /reply's file options, the reply form's File Upload, "Send to GitLab"
// (a message's attachments) and "Send to GitLab" of a forward (the
// forwarded message's). Each file is fetched from Discord's CDN once,
// uploaded to the project, and embedded (an image) or linked in one
// note, which links nothing on Discord's CDN (issue 10, item 1).
func TestReplyFiles(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nscreenshot bytes")
	logData := []byte("2026-11-29 error: printer on fire\n")
	for _, tt := range []struct {
		name      string
		ephemeral bool
		in        func(h *hookEnv, shot, log sdesk.Attachment) e2e.Interaction
	}{
		{"/reply", false, func(h *hookEnv, shot, log sdesk.Attachment) e2e.Interaction {
			return h.CommandFiles(e2e.Reporter, h.thread, "reply", map[string]string{"message": "See the files."},
				map[string]sdesk.Attachment{"file": shot, "file3": log})
		}},
		{"reply form", false, func(h *hookEnv, shot, log sdesk.Attachment) e2e.Interaction {
			return h.ReplyForm(e2e.Staff, h.thread, 7, "See the files.", []sdesk.Attachment{shot, log})
		}},
		{"Send to GitLab", true, func(h *hookEnv, shot, log sdesk.Attachment) e2e.Interaction {
			return h.SendToGitLab(e2e.Staff, h.thread, &e2e.Message{Author: e2e.Reporter, Content: "See the files.", Files: []sdesk.Attachment{shot, log}})
		}},
		{"Send to GitLab of a forward", true, func(h *hookEnv, shot, log sdesk.Attachment) e2e.Interaction {
			return h.SendToGitLab(e2e.Reporter, h.thread, &e2e.Message{Author: e2e.Reporter,
				Forward: &e2e.Message{Content: "See the files.", Files: []sdesk.Attachment{shot, log}}})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, "bolt", replyVars)
			shot := h.Discord.AddAttachment("shot.png", "image/png", png)
			log := h.Discord.AddAttachment("app.log", "text/plain", logData)
			in := tt.in(h, shot, log)
			if resp := h.Interact(h.url, in); resp.Type != 5 || resp.Ephemeral() != tt.ephemeral {
				t.Fatalf("answer: got %s, want a deferred answer (ephemeral: %v)", resp.Raw, tt.ephemeral)
			}
			answer := h.replyDone(t, in)
			notes := h.notes(t)
			if len(notes) != 1 {
				t.Fatalf("notes: got %d, want 1", len(notes))
			}
			if !strings.Contains(notes[0], "> See the files.") {
				t.Errorf("note lacks the text:\n%s", notes[0])
			}
			linked(t, notes[0], h.GitLab.Uploads(), map[string][]byte{"shot.png": png, "app.log": logData})
			if !regexp.MustCompile(`!\[shot\\\.png\]\(/uploads/[0-9a-f]{32}/shot\.png\)`).MatchString(notes[0]) {
				t.Errorf("note does not embed the image:\n%s", notes[0])
			}
			for _, a := range []sdesk.Attachment{shot, log} {
				if n := h.Discord.AttachmentDownloads(a.ID); n != 1 {
					t.Errorf("%s downloaded %d times, want 1", a.Filename, n)
				}
			}
			if answer.Content != "" || len(answer.Embeds) != 1 || !strings.Contains(fmt.Sprint(answer.Embeds[0]["url"]), issueURL+"#note_") {
				t.Errorf("answer: got %q %v, want an embed linking the note and no missing files", answer.Content, answer.Embeds)
			}
		})
	}
}

// TestReplyModalHasFiles: the Reply button opens a form with the answer
// and an optional File Upload of up to 5 files.
func TestReplyModalHasFiles(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	resp := h.Interact(h.url, h.Button(e2e.Reporter, h.thread, "reply/7"))
	if resp.Type != 9 || resp.Data.CustomID != "replyto/7" {
		t.Fatalf("got %s, want the reply modal", resp.Raw)
	}
	if ti := child(resp.Data.Components, "message"); ti == nil || ti["type"] != float64(4) || ti["required"] != true {
		t.Errorf("message: got %v, want a required text input", ti)
	}
	if up := child(resp.Data.Components, "files"); up == nil || up["type"] != float64(19) || up["max_values"] != float64(5) || up["required"] == true {
		t.Errorf("files: got %v, want an optional file upload (19) of at most 5", up)
	}
}

// TestReplyFileTooLarge: a file over SDESK_MAX_ATTACHMENT_MB is not
// downloaded; the note names it as not uploaded, and so does the answer
// to the user. The other file goes through.
func TestReplyFileTooLarge(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   func(h *hookEnv, small, big sdesk.Attachment) e2e.Interaction
	}{
		{"/reply", func(h *hookEnv, small, big sdesk.Attachment) e2e.Interaction {
			return h.CommandFiles(e2e.Reporter, h.thread, "reply", map[string]string{"message": "Two files."},
				map[string]sdesk.Attachment{"file": small, "file2": big})
		}},
		{"Send to GitLab", func(h *hookEnv, small, big sdesk.Attachment) e2e.Interaction {
			return h.SendToGitLab(e2e.Reporter, h.thread, &e2e.Message{Author: e2e.Reporter, Content: "Two files.", Files: []sdesk.Attachment{small, big}})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, "bolt", replyVars)
			small := h.Discord.AddAttachment("notes.txt", "text/plain", []byte("small"))
			big := h.Discord.AddAttachment("video.mp4", "video/mp4", bytes.Repeat([]byte{1}, 1<<20+1))
			in := tt.in(h, small, big)
			h.Interact(h.url, in)
			answer := h.replyDone(t, in)
			if !strings.Contains(answer.Content, "larger than the 1.0 MB limit: video.mp4") {
				t.Errorf("answer: got %q, want video.mp4 named as too large", answer.Content)
			}
			notes := h.notes(t)
			if len(notes) != 1 {
				t.Fatalf("notes: got %d, want 1", len(notes))
			}
			if !strings.Contains(notes[0], `video\.mp4 (1.0 MB): not uploaded, larger than the 1.0 MB limit`) {
				t.Errorf("note does not name the large file:\n%s", notes[0])
			}
			linked(t, notes[0], h.GitLab.Uploads(), map[string][]byte{"notes.txt": []byte("small")})
			if n := h.Discord.AttachmentDownloads(big.ID); n != 0 {
				t.Errorf("the oversized file was downloaded %d times, want 0", n)
			}
		})
	}
}

// TestSendWhatIsVisible: "Send to GitLab" sends what Discord shows: a
// forward's text and files (message_snapshots; its own content is
// empty), stickers by name, and an embed-only message as readable lines
// (issue 10, item 2). Each becomes one note.
func TestSendWhatIsVisible(t *testing.T) {
	embed := map[string]any{
		"type": "rich", "title": "Build failed", "url": "https://ci.example.com/builds/7",
		"description": "Step 3 of 5: tests",
		"fields":      []any{map[string]any{"name": "Status", "value": "red"}},
		"footer":      map[string]any{"text": "CI bot"},
		"image":       map[string]any{"url": "https://cdn.discordapp.com/attachments/1/2/chart.png?ex=1&is=2&hm=3"},
	}
	for _, tt := range []struct {
		name  string
		msg   func(h *hookEnv) *e2e.Message
		want  []string
		files map[string][]byte
	}{
		{"forward with text and a file", func(h *hookEnv) *e2e.Message {
			f := h.Discord.AddAttachment("trace.txt", "text/plain", []byte("trace"))
			return &e2e.Message{Author: e2e.Reporter, Forward: &e2e.Message{Content: "Words I forwarded.", Files: []sdesk.Attachment{f}}}
		}, []string{"**Forwarded message**\n\n> Words I forwarded.\n\n**Files from Discord**"}, map[string][]byte{"trace.txt": []byte("trace")}},
		{"forward of stickers and an embed", func(*hookEnv) *e2e.Message {
			return &e2e.Message{Author: e2e.Reporter, Forward: &e2e.Message{Stickers: []string{"wave"}, Embeds: []map[string]any{embed}}}
		}, []string{"**Forwarded message**\n\nSticker: wave\n\n**Embed**\n\n> Build failed"}, nil},
		{"Discord markup read as names", func(*hookEnv) *e2e.Message {
			return &e2e.Message{Author: e2e.Reporter, Mentions: []e2e.User{e2e.Staff},
				Content: "<@" + e2e.Staff.ID + "> asked for logs in <#1400000000000000001> <:sadparrot:1120000000000000001> since <t:1764410400:f>, <@1400000000000000002>"}
		}, []string{"> @\u200dmoderator asked for logs in #unknown-channel :sadparrot: since 2025-11-29 10:00 UTC, @\u200dunknown-user"}, nil},
		{"stickers", func(*hookEnv) *e2e.Message {
			return &e2e.Message{Author: e2e.Reporter, Stickers: []string{"wave", "thumbs up"}}
		}, []string{"Stickers: wave, thumbs up\n\n---"}, nil},
		{"embed only", func(*hookEnv) *e2e.Message {
			return &e2e.Message{Author: e2e.Reporter, Embeds: []map[string]any{embed}}
		}, []string{"**Embed**\n\n> Build failed\n> https://ci.example.com/builds/7\n> Step 3 of 5: tests\n> Status: red\n> CI bot\n\n---"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHookEnv(t, "bolt", nil)
			in := h.SendToGitLab(e2e.Reporter, h.thread, tt.msg(h))
			if resp := h.Interact(h.url, in); resp.Type != 5 || !resp.Ephemeral() {
				t.Fatalf("answer: got %s, want a deferred ephemeral answer", resp.Raw)
			}
			answer := h.replyDone(t, in)
			notes := h.notes(t)
			if len(notes) != 1 {
				t.Fatalf("notes: got %d, want 1", len(notes))
			}
			for _, w := range tt.want {
				if !strings.Contains(notes[0], w) {
					t.Errorf("note lacks %q:\n%s", w, notes[0])
				}
			}
			linked(t, notes[0], h.GitLab.Uploads(), tt.files)
			if d := fmt.Sprint(answer.Embeds); len(answer.Embeds) != 1 || strings.TrimSpace(fmt.Sprint(answer.Embeds[0]["description"])) == "" {
				t.Errorf("answer: got %s, want an embed showing what was sent", d)
			}
		})
	}
}

// TestSendOnce: a message becomes one note, however often it is sent
// (issue 10, item 3). Sent again after its note exists, the answer is
// ephemeral, links the note and writes nothing; sent again while the first
// send is at work, it says so; sent many times at once, one send makes
// the note.
func TestSendOnce(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	link := regexp.MustCompile(regexp.QuoteMeta(issueURL) + `#note_([0-9]+)`)

	msg := &e2e.Message{Author: e2e.Reporter, Content: "Only once, please."}
	first := h.SendToGitLab(e2e.Reporter, h.thread, msg)
	if resp := h.Interact(h.url, first); resp.Type != 5 {
		t.Fatalf("first send: got %s, want a deferred answer", resp.Raw)
	}
	h.replyDone(t, first)
	is, _ := h.GitLab.Issue(7)
	if len(is.Notes) != 1 {
		t.Fatalf("notes: got %d, want 1", len(is.Notes))
	}
	again := h.Interact(h.url, h.SendToGitLab(e2e.Staff, h.thread, msg))
	m := link.FindStringSubmatch(again.Data.Content)
	if again.Type != 4 || !again.Ephemeral() || m == nil || m[1] != fmt.Sprint(is.Notes[0].ID) || !strings.Contains(again.Data.Content, "already on GitLab") {
		t.Errorf("second send: got %s, want an ephemeral answer linking note %d", again.Raw, is.Notes[0].ID)
	}
	if replay := h.Interact(h.url, first); replay.Type != 5 {
		t.Errorf("replay of the first send: got %s, want its deferred answer again", replay.Raw)
	}

	// While the first send is at work: GitLab's answers are slow.
	h.GitLab.SetDelay(1500 * time.Millisecond)
	slow := &e2e.Message{Author: e2e.Reporter, Content: "Slowly."}
	firstSlow := h.SendToGitLab(e2e.Reporter, h.thread, slow)
	h.Interact(h.url, firstSlow)
	during := h.Interact(h.url, h.SendToGitLab(e2e.Reporter, h.thread, slow))
	if during.Type != 4 || !during.Ephemeral() || !strings.Contains(during.Data.Content, "being sent to GitLab right now") {
		t.Errorf("send while the first is at work: got %s, want an ephemeral \"being sent\"", during.Raw)
	}
	h.replyDone(t, firstSlow)
	h.GitLab.SetDelay(0)

	// Many at once.
	crowd := &e2e.Message{Author: e2e.Reporter, Content: "Pressed by everyone."}
	var ins []e2e.Interaction
	for n := range 6 {
		u := e2e.Reporter
		if n%2 == 1 {
			u = e2e.Staff
		}
		ins = append(ins, h.SendToGitLab(u, h.thread, crowd))
	}
	h.replyDone(t, h.sendAll(t, ins))
	time.Sleep(300 * time.Millisecond) // a second job would have run by now

	count := map[string]int{}
	for _, b := range h.notes(t) {
		for _, text := range []string{"Only once, please.", "Slowly.", "Pressed by everyone."} {
			if strings.Contains(b, text) {
				count[text]++
			}
		}
	}
	for _, text := range []string{"Only once, please.", "Slowly.", "Pressed by everyone."} {
		if count[text] != 1 {
			t.Errorf("notes with %q: got %d, want 1", text, count[text])
		}
	}
	if n := h.GitLab.CountRequests("POST", "/projects/:id/issues/:iid/notes"); n != 3 {
		t.Errorf("note creations: got %d, want 3", n)
	}
}

// sendAll sends interactions at once and returns the one that was taken:
// the only deferred answer; the others must be ephemeral answers saying
// the message is being sent or is on GitLab.
func (h *hookEnv) sendAll(t *testing.T, ins []e2e.Interaction) e2e.Interaction {
	t.Helper()
	resps := make([]e2e.Response, len(ins))
	var wg sync.WaitGroup
	for n := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[n] = h.Interact(h.url, ins[n])
		}()
	}
	wg.Wait()
	taken := -1
	for n, r := range resps {
		switch {
		case r.Type == 5 && taken < 0:
			taken = n
		case r.Type == 4 && r.Ephemeral() && (strings.Contains(r.Data.Content, "being sent") || strings.Contains(r.Data.Content, "already on GitLab")):
		default:
			t.Errorf("concurrent send %d: got %s, want one deferred answer and ephemeral refusals", n, r.Raw)
		}
	}
	if taken < 0 {
		t.Fatal("no concurrent send was taken")
	}
	return ins[taken]
}

// TestSendAgainAfterFailure: when the first send of a message failed for
// good (GitLab refused the note), sending it again is not refused as a
// duplicate: the failed send runs again for one new interaction, however
// many come at once, and makes the one note.
func TestSendAgainAfterFailure(t *testing.T) {
	h := newHookEnv(t, "bolt", nil)
	h.GitLab.FailNext("POST", "/projects/:id/issues/:iid/notes", 403, 1)
	msg := &e2e.Message{Author: e2e.Reporter, Content: "Try me twice."}
	first := h.SendToGitLab(e2e.Reporter, h.thread, msg)
	h.Interact(h.url, first)
	if got := h.replyDone(t, first); !strings.Contains(got.Content, "Sorry, that did not work") {
		t.Fatalf("first send: got %q, want the apology", got.Content)
	}
	// Sent again, five times at once: one send runs the failed one again.
	var ins []e2e.Interaction
	for range 5 {
		ins = append(ins, h.SendToGitLab(e2e.Reporter, h.thread, msg))
	}
	second := h.sendAll(t, ins)
	if got := h.replyDone(t, second); len(got.Embeds) != 1 {
		t.Errorf("answer: got %q %v, want the sent message", got.Content, got.Embeds)
	}
	if notes := h.notes(t); len(notes) != 1 || !strings.Contains(notes[0], "Try me twice.") {
		t.Errorf("notes: got %q, want the message once", notes)
	}
	again := h.Interact(h.url, h.SendToGitLab(e2e.Reporter, h.thread, msg))
	if !strings.Contains(again.Data.Content, "already on GitLab") {
		t.Errorf("third send: got %s, want the note's link", again.Raw)
	}
}
