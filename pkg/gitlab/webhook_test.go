package gitlab_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// hookFixture is the shape of testdata/hooks/*.json.
type hookFixture struct {
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func loadHook(t testing.TB, name string) (http.Header, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "hooks", name))
	if err != nil {
		t.Fatal(err)
	}
	var f hookFixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	h := http.Header{}
	for k, v := range f.Headers {
		h.Set(k, v)
	}
	return h, f.Body
}

func ptr[T any](v T) *T { return &v }

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

const issueURL = "https://gitlab.example.com/acme/support/-/issues/7"

var (
	ada   = sdesk.Author{ID: 501, Name: "Ada Lovelace", Username: "ada", AvatarURL: "https://gitlab.example.com/uploads/-/system/user/avatar/501/avatar.png"}
	grace = sdesk.Author{ID: 502, Name: "Grace Hopper", Username: "grace", AvatarURL: "https://gitlab.example.com/uploads/-/system/user/avatar/502/avatar.png"}
	own   = sdesk.Author{ID: 100, Name: "sdesk", Username: "sdesk-bot", AvatarURL: "https://gitlab.example.com/uploads/-/system/user/avatar/100/avatar.png"}
	bot   = sdesk.Author{ID: 77, Name: "GitLab Support Bot", Username: "support-bot", AvatarURL: "https://gitlab.example.com/uploads/-/system/user/avatar/77/avatar.png"}
)

func noteEvent(key string, n sdesk.NoteEvent) sdesk.Event {
	n.IssueIID = 7
	n.URL = issueURL + "#note_" + strconv.Itoa(n.NoteID)
	return sdesk.Event{Key: key, Kind: "Confidential Note Hook", ProjectID: 4242, ProjectPath: "acme/support", Note: &n}
}

func issueEvent(key string, is sdesk.IssueEvent) sdesk.Event {
	is.IID, is.ID, is.URL = 7, 90007, issueURL
	if is.Title == "" {
		is.Title = "Printer on fire"
	}
	return sdesk.Event{Key: key, Kind: "Confidential Issue Hook", ProjectID: 4242, ProjectPath: "acme/support", Issue: &is}
}

func TestParseWebhookFixtures(t *testing.T) {
	const thread = "4d7c1f0e9b8a7d6c5b4a39281706f5e4d3c2b1a0"
	tests := []struct {
		file string
		want sdesk.Event
	}{
		{"note_plain.json", noteEvent("5f1e3c2a-7b8d-4e9f-a0b1-c2d3e4f5a601", sdesk.NoteEvent{
			NoteID: 6001, Body: "Could you send us the printer model, please?", Internal: ptr(false), Action: "create",
			DiscussionID: "38842b131b6d800151c4f3461858a9485efa1ed0", Author: ada, UpdatedAt: utc("2024-05-14T10:05:00Z"),
		})},
		{"note_thread_start.json", noteEvent("5f1e3c2a-7b8d-4e9f-a0b1-c2d3e4f5a602", sdesk.NoteEvent{
			NoteID: 6002, Body: "Starting a thread about the toner.", Internal: ptr(false), Action: "create",
			Type: "DiscussionNote", DiscussionID: thread, Author: ada, UpdatedAt: utc("2024-05-14T10:06:00Z"),
		})},
		{"note_thread_reply.json", noteEvent("5f1e3c2a-7b8d-4e9f-a0b1-c2d3e4f5a603", sdesk.NoteEvent{
			NoteID: 6003, Body: "The toner is fine, it is the fuser.", Internal: ptr(false), Action: "create",
			Type: "DiscussionNote", DiscussionID: thread, Author: grace, UpdatedAt: utc("2024-05-14T10:07:00Z"),
		})},
		{"note_internal.json", noteEvent("5f1e3c2a-7b8d-4e9f-a0b1-c2d3e4f5a604", sdesk.NoteEvent{
			NoteID: 6004, Body: "Internal: this customer is on the legacy plan, do not promise a replacement.", Internal: ptr(true), Action: "create",
			DiscussionID: "5a29caacec6ac4b2e3fbfb756b0c26d2c2811d49", Author: grace, UpdatedAt: utc("2024-05-14T10:08:00Z"),
		})},
		{"note_internal_nofield.json", noteEvent("note:6005:2024-05-14T10:09:00Z", sdesk.NoteEvent{
			NoteID: 6005, Body: "Written on an older GitLab: is this note internal? Ask the API.",
			DiscussionID: "c6d40030cb7360238c1fa61d3748058a370220fc", Author: grace, UpdatedAt: utc("2024-05-14T10:09:00Z"),
		})},
		{"note_own_user.json", noteEvent("5f1e3c2a-7b8d-4e9f-a0b1-c2d3e4f5a606", sdesk.NoteEvent{
			NoteID: 6006, Body: "**Ada (Discord)** wrote:\n\nIt is a LaserJet 4.", Internal: ptr(false), Action: "create",
			DiscussionID: "785ac7958ec1a00901f576aebea557717df0c483", Author: own, UpdatedAt: utc("2024-05-14T10:10:00Z"),
		})},
		{"note_edit.json", noteEvent("5f1e3c2a-7b8d-4e9f-a0b1-c2d3e4f5a609", sdesk.NoteEvent{
			NoteID: 6001, Body: "Could you send us the printer model and serial number, please?", Internal: ptr(false), Action: "update",
			DiscussionID: "38842b131b6d800151c4f3461858a9485efa1ed0", Author: ada, UpdatedAt: utc("2024-05-14T10:15:00Z"),
		})},
		{"issue_open.json", issueEvent("9a8b7c6d-0000-4000-8000-000000000001", sdesk.IssueEvent{
			State: "opened", Action: "open", Author: own, UpdatedAt: utc("2024-05-14T10:00:00Z"),
			Changes: sdesk.IssueChanges{
				Title:        &sdesk.Change[string]{Previous: "", Current: "Printer on fire"},
				Labels:       &sdesk.Change[[]string]{Previous: []string{}, Current: []string{"discord"}},
				Confidential: &sdesk.Change[bool]{Previous: false, Current: true},
			},
		})},
		{"issue_close.json", issueEvent("9a8b7c6d-0000-4000-8000-000000000002", sdesk.IssueEvent{
			State: "closed", Action: "close", Author: ada, UpdatedAt: utc("2024-05-16T09:00:00Z"),
		})},
		{"issue_reopen.json", issueEvent("issue:90007:2024-05-16T10:00:00Z:reopen", sdesk.IssueEvent{
			State: "opened", Action: "reopen", Author: grace, UpdatedAt: utc("2024-05-16T10:00:00Z"),
		})},
		{"issue_title.json", issueEvent("9a8b7c6d-0000-4000-8000-000000000004", sdesk.IssueEvent{
			Title: "Printer on fire (LaserJet 4)", State: "opened", Action: "update", Author: ada, UpdatedAt: utc("2024-05-14T11:00:00Z"),
			Changes: sdesk.IssueChanges{Title: &sdesk.Change[string]{Previous: "Printer on fire", Current: "Printer on fire (LaserJet 4)"}},
		})},
		{"issue_labels.json", issueEvent("9a8b7c6d-0000-4000-8000-000000000005", sdesk.IssueEvent{
			State: "opened", Action: "update", Author: ada, UpdatedAt: utc("2024-05-14T11:05:00Z"),
			Changes: sdesk.IssueChanges{Labels: &sdesk.Change[[]string]{Previous: []string{"discord"}, Current: []string{"discord", "bug"}}},
		})},
		{"issue_assignees.json", issueEvent("9a8b7c6d-0000-4000-8000-000000000006", sdesk.IssueEvent{
			State: "opened", Action: "update", Author: ada, UpdatedAt: utc("2024-05-14T11:10:00Z"),
			Changes: sdesk.IssueChanges{Assignees: &sdesk.Change[[]string]{Previous: []string{"Grace Hopper"}, Current: []string{"Grace Hopper", "Ada Lovelace"}}},
		})},
		{"issue_moved.json", issueEvent("9a8b7c6d-0000-4000-8000-000000000007", sdesk.IssueEvent{
			State: "closed", Action: "close", Author: grace, UpdatedAt: utc("2024-05-17T08:00:00Z"),
			Changes: sdesk.IssueChanges{MovedToID: &sdesk.Change[int]{Previous: 0, Current: 91234}},
		})},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h, body := loadHook(t, tt.file)
			got, err := gitlab.ParseWebhook(h, body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(tt.want, "", " ")
				t.Errorf("ParseWebhook:\n got %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestParseWebhookSupportBotReplies(t *testing.T) {
	tests := []struct {
		file, quoteMarker string
	}{
		{"note_support_bot.json", "\n> Ada Lovelace commented:"},
		{"note_support_bot_outlook.json", "-----Original Message-----\r\nFrom: "},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h, body := loadHook(t, tt.file)
			ev, err := gitlab.ParseWebhook(h, body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			n := ev.Note
			if n == nil || n.Author != bot || n.Internal == nil || *n.Internal || n.IssueIID != 7 {
				t.Fatalf("got %+v, want a non-internal note on #7 by the Support Bot", n)
			}
			if !strings.Contains(n.Body, tt.quoteMarker) {
				t.Errorf("body %q lacks the quoted e-mail %q", n.Body, tt.quoteMarker)
			}
		})
	}
	h, body := loadHook(t, "note_support_bot.json")
	ev, _ := gitlab.ParseWebhook(h, body)
	if want := utc("2024-05-14T10:30:00Z"); !ev.Note.UpdatedAt.Equal(want) || ev.Note.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt: got %v, want %v in UTC", ev.Note.UpdatedAt, want)
	}
}

func TestParseWebhookKeyWithoutHeader(t *testing.T) {
	tests := []struct{ file, want string }{
		{"note_plain.json", "note:6001:2024-05-14T10:05:00Z"},
		{"note_edit.json", "note:6001:2024-05-14T10:15:00Z"},
		{"issue_close.json", "issue:90007:2024-05-16T09:00:00Z:close"},
		{"issue_title.json", "issue:90007:2024-05-14T11:00:00Z:update"},
	}
	for _, tt := range tests {
		h, body := loadHook(t, tt.file)
		h.Del("Idempotency-Key")
		ev, err := gitlab.ParseWebhook(h, body)
		if err != nil || ev.Key != tt.want {
			t.Errorf("%s without Idempotency-Key: got key %q, %v; want %q", tt.file, ev.Key, err, tt.want)
		}
	}
}

func TestParseWebhookRejects(t *testing.T) {
	noteBody := func(edit func(map[string]any)) []byte {
		_, b := loadHook(t, "note_plain.json")
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, _ := json.Marshal(m)
		return out
	}
	attrs := func(m map[string]any) map[string]any { return m["object_attributes"].(map[string]any) }
	tests := []struct {
		name    string
		kind    string
		body    []byte
		wantErr error
	}{
		{"push hook", "Push Hook", []byte(`{"object_kind":"push"}`), gitlab.ErrIgnored},
		{"merge request hook", "Merge Request Hook", []byte(`{}`), gitlab.ErrIgnored},
		{"note on a merge request", "Note Hook", noteBody(func(m map[string]any) { attrs(m)["noteable_type"] = "MergeRequest" }), gitlab.ErrIgnored},
		{"note on a snippet", "Confidential Note Hook", noteBody(func(m map[string]any) { attrs(m)["noteable_type"] = "Snippet"; delete(m, "issue") }), gitlab.ErrIgnored},
		{"system note", "Note Hook", noteBody(func(m map[string]any) { attrs(m)["system"] = true }), gitlab.ErrIgnored},
		{"work item under issue hook", "Issue Hook", []byte(`{"object_kind":"work_item","object_attributes":{"id":1,"iid":2}}`), gitlab.ErrIgnored},
		{"no event header", "", []byte(`{}`), gitlab.ErrMalformed},
		{"not JSON", "Note Hook", []byte(`{"object_kind":`), gitlab.ErrMalformed},
		{"JSON array", "Issue Hook", []byte(`[1,2]`), gitlab.ErrMalformed},
		{"no object_attributes", "Issue Hook", []byte(`{"object_kind":"issue"}`), gitlab.ErrMalformed},
		{"issue without iid", "Issue Hook", []byte(`{"object_kind":"issue","object_attributes":{"id":5}}`), gitlab.ErrMalformed},
		{"note without issue", "Note Hook", noteBody(func(m map[string]any) { delete(m, "issue") }), gitlab.ErrMalformed},
		{"note id as string", "Note Hook", noteBody(func(m map[string]any) { attrs(m)["id"] = "6001" }), gitlab.ErrMalformed},
		{"bad time", "Note Hook", noteBody(func(m map[string]any) { attrs(m)["updated_at"] = "yesterday" }), gitlab.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.kind != "" {
				h.Set("X-Gitlab-Event", tt.kind)
			}
			ev, err := gitlab.ParseWebhook(h, tt.body)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want an error wrapping %v", err, tt.wantErr)
			}
			if ev.Note != nil || ev.Issue != nil {
				t.Errorf("got event %+v with an error, want none", ev)
			}
		})
	}
}

// realDelivery is the shape of shared/fixtures/gitlab/*.json.
type realDelivery struct {
	Headers map[string]string `json:"headers"`
	BodyRaw string            `json:"bodyRaw"`
}

// TestParseWebhookRealDeliveries decodes deliveries captured from
// gitlab.com (GitLab 13.11), when the shared fixtures are present.
func TestParseWebhookRealDeliveries(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "fixtures", "gitlab")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no real deliveries at %s", dir)
	}
	const (
		project = 25738723
		member  = 4979036
		support = 1257257
	)
	type want struct {
		note   bool
		author int
		action string
		body   string
		typ    string
		key    string
		check  func(t *testing.T, ev sdesk.Event)
	}
	tests := map[string]want{
		"1_issue_create.json": {author: support, action: "open", key: "issue:84931329:2021-04-09T12:41:52Z:open", check: func(t *testing.T, ev sdesk.Event) {
			c := ev.Issue.Changes
			if c.Title == nil || c.Title.Current != "Test 6" || c.Confidential == nil || !c.Confidential.Current {
				t.Errorf("changes: got %+v, want title and confidential", c)
			}
		}},
		"2_issue_comment.json": {note: true, author: member, body: "Response", key: "note:548419381:2021-04-09T12:43:44Z"},
		"3_issue_thread.json":  {note: true, author: member, body: "Thread", typ: "DiscussionNote"},
		"4_issue_response_to_thread.json": {note: true, author: member, body: "Response to Thread", typ: "DiscussionNote", check: func(t *testing.T, ev sdesk.Event) {
			if ev.Note.DiscussionID != "bf77e2d89c50eb2f65d31769429e295300d76d5b" {
				t.Errorf("discussion: got %q, want the thread's", ev.Note.DiscussionID)
			}
		}},
		"5_issue_assign.json": {author: member, action: "update", check: func(t *testing.T, ev sdesk.Event) {
			if a := ev.Issue.Changes.Assignees; a == nil || len(a.Previous) != 0 || !reflect.DeepEqual(a.Current, []string{"jack1142"}) {
				t.Errorf("assignees: got %+v, want [] -> [jack1142]", a)
			}
		}},
		"6_issue_label.json": {author: member, action: "update", check: func(t *testing.T, ev sdesk.Event) {
			if l := ev.Issue.Changes.Labels; l == nil || !reflect.DeepEqual(l.Current, []string{"Red-DiscordBot"}) {
				t.Errorf("labels: got %+v, want [] -> [Red-DiscordBot]", l)
			}
		}},
		"7_issue_comment_by_author.json": {note: true, author: support, check: func(t *testing.T, ev sdesk.Event) {
			if ev.Note.Author.Username != "support-bot" || !strings.HasPrefix(ev.Note.Body, "Response ---- On Pt") {
				t.Errorf("got %+v, want the Support Bot's e-mail reply", ev.Note)
			}
		}},
		"8_issue_close.json": {author: member, action: "close", key: "issue:84931329:2021-04-09T12:50:59Z:close", check: func(t *testing.T, ev sdesk.Event) {
			if ev.Issue.State != "closed" {
				t.Errorf("state: got %q, want closed", ev.Issue.State)
			}
		}},
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skipf("no deliveries in %s", dir)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var d realDelivery
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			for k, v := range d.Headers {
				h.Set(k, v)
			}
			ev, err := gitlab.ParseWebhook(h, []byte(d.BodyRaw))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if ev.ProjectID != project || ev.IssueIID() != 6 || ev.Kind != h.Get("X-Gitlab-Event") {
				t.Errorf("got project %d issue %d kind %q, want %d, 6, the header", ev.ProjectID, ev.IssueIID(), ev.Kind, project)
			}
			w, ok := tests[name]
			if !ok {
				return
			}
			if w.note {
				n := ev.Note
				if n == nil || ev.Issue != nil {
					t.Fatalf("got %+v, want a note event", ev)
				}
				if n.Author.ID != w.author || n.Internal != nil || n.Action != "" || n.Type != w.typ || (w.body != "" && n.Body != w.body) {
					t.Errorf("note: got %+v, want author %d, no internal, no action, type %q, body %q", n, w.author, w.typ, w.body)
				}
			} else {
				is := ev.Issue
				if is == nil || ev.Note != nil {
					t.Fatalf("got %+v, want an issue event", ev)
				}
				if is.Author.ID != w.author || is.Action != w.action || is.Title != "Test 6" {
					t.Errorf("issue: got %+v, want author %d, action %q, title Test 6", is, w.author, w.action)
				}
			}
			if w.key != "" && ev.Key != w.key {
				t.Errorf("key: got %q, want %q", ev.Key, w.key)
			}
			if w.check != nil {
				w.check(t, ev)
			}
		})
	}
}

func sign(secret []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	secret := []byte("a 24-byte signing secret")
	token := "whsec_" + base64.StdEncoding.EncodeToString(secret)
	now := time.Unix(1715680000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"object_kind":"note"}`)
	good := sign(secret, "msg_1", ts, body)
	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		token   string
		now     time.Time
		wantErr string // "" for success
	}{
		{"valid", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, token, now, ""},
		{"valid among several", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1,AAAA v1a,xyz v1," + good}, body, token, now, ""},
		{"valid 4 minutes old", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, token, now.Add(4 * time.Minute), ""},
		{"missing id", map[string]string{"webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, token, now, "missing webhook-id"},
		{"missing timestamp", map[string]string{"webhook-id": "msg_1", "webhook-signature": "v1," + good}, body, token, now, "missing webhook-timestamp"},
		{"missing signature", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts}, body, token, now, "missing webhook-signature"},
		{"stale", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, token, now.Add(6 * time.Minute), "stale"},
		{"future", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, token, now.Add(-6 * time.Minute), "stale"},
		{"timestamp not a number", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": "soon", "webhook-signature": "v1," + good}, body, token, now, "unix seconds"},
		{"body changed", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, []byte(`{"object_kind":"issue"}`), token, now, "bad signature"},
		{"id changed", map[string]string{"webhook-id": "msg_2", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, token, now, "bad signature"},
		{"wrong key", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, "whsec_" + base64.StdEncoding.EncodeToString([]byte("other")), now, "bad signature"},
		{"no v1 entry", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v2," + good}, body, token, now, "no v1"},
		{"bad token", map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": "v1," + good}, body, "whsec_!!!", now, "signing token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			err := gitlab.VerifySignature(h, tt.body, tt.token, tt.now)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (!errors.Is(err, gitlab.ErrSignature) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an ErrSignature mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckToken(t *testing.T) {
	tests := []struct {
		got, want string
		ok        bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cret", "s3cre", false},
		{"S3cret", "s3cret", false},
		{"", "", false},
		{"", "s3cret", false},
		{"s3cret", "", false},
	}
	for _, tt := range tests {
		if ok := gitlab.CheckToken(tt.got, tt.want); ok != tt.ok {
			t.Errorf("CheckToken(%q, %q): got %v, want %v", tt.got, tt.want, ok, tt.ok)
		}
	}
}

func FuzzParseWebhook(f *testing.F) {
	f.Add("Note Hook", "", []byte(`{"object_kind":"note","object_attributes":{"id":1,"noteable_type":"Issue"},"issue":{"iid":2}}`))
	f.Fuzz(func(t *testing.T, kind, key string, body []byte) {
		h := http.Header{}
		h.Set("X-Gitlab-Event", kind)
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		ev, err := gitlab.ParseWebhook(h, body)
		if err != nil {
			if !errors.Is(err, gitlab.ErrIgnored) && !errors.Is(err, gitlab.ErrMalformed) {
				t.Errorf("error %v wraps neither ErrIgnored nor ErrMalformed", err)
			}
			return
		}
		if (ev.Note == nil) == (ev.Issue == nil) {
			t.Errorf("got Note=%v Issue=%v, want exactly one", ev.Note, ev.Issue)
		}
		if ev.Key == "" || ev.IssueIID() <= 0 {
			t.Errorf("got key %q and issue %d, want a key and an issue", ev.Key, ev.IssueIID())
		}
	})
}
