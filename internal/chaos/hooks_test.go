package chaos_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sdesk/sdesk/internal/chaos"
	"github.com/sdesk/sdesk/pkg/gitlab"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

var (
	project = chaos.Project{ID: 4242, Path: "acme/support", Base: "http://127.0.0.1:9"}
	t0      = time.Date(2024, 5, 14, 10, 0, 0, 0, time.UTC)
	issue7  = gitlabfake.Issue{ID: 90007, IID: 7, Title: "Printer on fire", Description: "It burns.", Labels: []string{"discord"},
		Confidential: true, State: "opened", AuthorID: 100, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}
)

func parse(t *testing.T, h chaos.Hook) (http.Header, map[string]any) {
	t.Helper()
	hdr := http.Header{}
	hdr.Set("X-Gitlab-Event", h.Event)
	var body map[string]any
	if err := json.Unmarshal(h.Body, &body); err != nil {
		t.Fatalf("hook body: %v", err)
	}
	return hdr, body
}

func TestNoteHook(t *testing.T) {
	tests := []struct {
		name      string
		spec      chaos.NoteSpec
		event     string
		internal  bool
		authorID  int
		actorName string
	}{
		{"public create", chaos.NoteSpec{ID: 6001, Body: "Note N0003: hello", Author: chaos.StaffA, Actor: chaos.StaffA, Action: "create", Created: t0, Updated: t0},
			"Confidential Note Hook", false, chaos.StaffA.ID, chaos.StaffA.Name},
		{"internal", chaos.NoteSpec{ID: 6002, Body: "Internal I0004", Internal: true, Author: chaos.StaffB, Actor: chaos.StaffB, Action: "create", Created: t0, Updated: t0},
			"Confidential Note Hook", true, chaos.StaffB.ID, chaos.StaffB.Name},
		{"edit by another user", chaos.NoteSpec{ID: 6001, Body: "Note N0003 (E0009): hello", Author: chaos.StaffA, Actor: chaos.StaffB, Action: "update", Created: t0, Updated: t0.Add(time.Minute)},
			"Confidential Note Hook", false, chaos.StaffA.ID, chaos.StaffB.Name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := chaos.NoteHook(project, issue7, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if h.Event != tt.event {
				t.Errorf("event: got %q, want %q", h.Event, tt.event)
			}
			hdr, body := parse(t, h)
			ev, err := gitlab.ParseWebhook(hdr, h.Body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			n := ev.Note
			if n == nil || n.IssueIID != 7 || n.NoteID != tt.spec.ID || n.Body != tt.spec.Body || n.Internal == nil || *n.Internal != tt.internal ||
				n.Action != tt.spec.Action || n.Author.ID != tt.authorID || n.Actor.Name != tt.actorName || !n.UpdatedAt.Equal(tt.spec.Updated) {
				t.Errorf("parsed: got %+v, want note %d on #7 %q internal=%v %s by %d acted by %s", n, tt.spec.ID, tt.spec.Body, tt.internal, tt.spec.Action, tt.authorID, tt.actorName)
			}
			if ev.ProjectID != project.ID || ev.ProjectPath != project.Path {
				t.Errorf("project: got %d %q", ev.ProjectID, ev.ProjectPath)
			}
			is := body["issue"].(map[string]any)
			if is["iid"] != float64(7) || is["id"] != float64(90007) || is["title"] != "Printer on fire" || is["url"] != project.IssueURL(7) {
				t.Errorf("embedded issue: got %v", is)
			}
		})
	}
}

func TestIssueHook(t *testing.T) {
	closed := issue7
	closed.State = "closed"
	closed.Labels = []string{"discord", "L0005"}
	tests := []struct {
		name   string
		is     gitlabfake.Issue
		spec   chaos.IssueSpec
		kind   string
		action string
		check  func(t *testing.T, ev sdesk.IssueEvent)
	}{
		{"labels", closed, chaos.IssueSpec{Action: "update", Actor: chaos.StaffA, PrevUpdated: t0,
			Changes: map[string]any{"labels": chaos.Change(chaos.Labels(project, []string{"discord"}), chaos.Labels(project, closed.Labels))}},
			"issue", "update", func(t *testing.T, ev sdesk.IssueEvent) {
				if ev.Changes.Labels == nil || !slices.Equal(ev.Changes.Labels.Current, []string{"discord", "L0005"}) || !slices.Equal(ev.Changes.Labels.Previous, []string{"discord"}) {
					t.Errorf("labels: got %+v", ev.Changes.Labels)
				}
			}},
		{"close as a work item", closed, chaos.IssueSpec{Action: "close", Actor: chaos.Bot, PrevUpdated: t0, WorkItem: true,
			Changes: map[string]any{"state_id": chaos.Change(1, 2)}},
			"work_item", "close", func(t *testing.T, ev sdesk.IssueEvent) {
				if ev.State != "closed" || ev.Author.Username != chaos.Bot.Username {
					t.Errorf("got state %s by %+v, want closed by the bot", ev.State, ev.Author)
				}
			}},
		{"open", issue7, chaos.IssueSpec{Action: "open", Actor: chaos.Bot, Changes: chaos.OpenChanges(project, issue7)},
			"issue", "open", func(t *testing.T, ev sdesk.IssueEvent) {
				if ev.Changes.Title == nil || ev.Changes.Title.Current != "Printer on fire" {
					t.Errorf("title change: got %+v", ev.Changes.Title)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := chaos.IssueHook(project, tt.is, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			hdr, body := parse(t, h)
			if h.Event != "Confidential Issue Hook" || body["object_kind"] != tt.kind {
				t.Errorf("got %q with object_kind %v, want Confidential Issue Hook with %s", h.Event, body["object_kind"], tt.kind)
			}
			ev, err := gitlab.ParseWebhook(hdr, h.Body)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if ev.Issue == nil || ev.Issue.IID != 7 || ev.Issue.ID != 90007 || ev.Issue.Action != tt.action || ev.Issue.URL != project.IssueURL(7) {
				t.Fatalf("parsed: got %+v, want #7 %s", ev.Issue, tt.action)
			}
			tt.check(t, *ev.Issue)
			changes := body["changes"].(map[string]any)
			if _, ok := changes["updated_at"]; !ok {
				t.Errorf("changes: got %v, want updated_at", changes)
			}
		})
	}
}

// Two different changes of one issue at the same updated_at are two
// events; the same hook built twice is one event (its key is the same).
func TestIssueHookIdentity(t *testing.T) {
	key := func(spec chaos.IssueSpec) string {
		h, err := chaos.IssueHook(project, issue7, spec)
		if err != nil {
			t.Fatal(err)
		}
		hdr, _ := parse(t, h)
		ev, err := gitlab.ParseWebhook(hdr, h.Body)
		if err != nil {
			t.Fatal(err)
		}
		return ev.Key
	}
	a := chaos.IssueSpec{Action: "update", Actor: chaos.StaffA, PrevUpdated: t0, Changes: map[string]any{"title": chaos.Change("a", "b")}}
	b := chaos.IssueSpec{Action: "update", Actor: chaos.StaffA, PrevUpdated: t0, Changes: map[string]any{"title": chaos.Change("b", "c")}}
	first, again := key(a), key(a)
	if first != again {
		t.Error("the same hook built twice has two keys")
	}
	if first == key(b) {
		t.Error("two different changes have one key")
	}
}

// jsonText is s as JSON carries it: valid UTF-8, each invalid byte
// replaced by U+FFFD (encoding/json).
func jsonText(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// FuzzNoteHook: whatever a note or title says, the harness's hook is a
// delivery GitLab could send, and sdesk's parser reads back exactly what
// the harness put in.
func FuzzNoteHook(f *testing.F) {
	f.Add("Note N0001: hello", "Printer on fire", "L0001", 6001, false)
	f.Add("```\n/close\n```\n@all \u200b \"quoted\" \\ </script>", "#7 \x00 title", "a,b", 1, true)
	f.Add("", " ", "", 2147483647, false)
	f.Fuzz(func(t *testing.T, text, title, label string, id int, internal bool) {
		if id <= 0 {
			id = -id + 1
		}
		if id <= 0 {
			id = 1
		}
		is := issue7
		is.Title = title
		is.Labels = []string{label}
		h, err := chaos.NoteHook(project, is, chaos.NoteSpec{ID: id, Body: text, Internal: internal, Author: chaos.StaffA, Actor: chaos.StaffA, Action: "create", Created: t0, Updated: t0})
		if err != nil {
			t.Fatal(err)
		}
		hdr := http.Header{}
		hdr.Set("X-Gitlab-Event", h.Event)
		ev, err := gitlab.ParseWebhook(hdr, h.Body)
		if err != nil {
			t.Fatalf("ParseWebhook: %v", err)
		}
		want := jsonText(text)
		if n := ev.Note; n == nil || n.Body != want || n.NoteID != id || n.Internal == nil || *n.Internal != internal || n.IssueIID != 7 {
			t.Errorf("note: got %+v, want %q (id %d, internal %v) on #7", ev.Note, want, id, internal)
		}

		ih, err := chaos.IssueHook(project, is, chaos.IssueSpec{Action: "update", Actor: chaos.StaffB, PrevUpdated: t0,
			Changes: map[string]any{"title": chaos.Change("old", title), "labels": chaos.Change(chaos.Labels(project, nil), chaos.Labels(project, is.Labels))}})
		if err != nil {
			t.Fatal(err)
		}
		hdr.Set("X-Gitlab-Event", ih.Event)
		iev, err := gitlab.ParseWebhook(hdr, ih.Body)
		if err != nil {
			t.Fatalf("ParseWebhook issue: %v", err)
		}
		wantTitle, wantLabel := jsonText(title), jsonText(label)
		c := iev.Issue.Changes
		if iev.Issue.Title != wantTitle || c.Title == nil || c.Title.Current != wantTitle || c.Labels == nil || !slices.Equal(c.Labels.Current, []string{wantLabel}) {
			t.Errorf("issue: got title %q changes %+v %q, want %q and label %q", iev.Issue.Title, c.Title, c.Labels.Current, wantTitle, wantLabel)
		}
	})
}
