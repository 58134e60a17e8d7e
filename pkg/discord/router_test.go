package discord_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// queue records the jobs the service enqueues.
type queue struct {
	mu   sync.Mutex
	jobs []sdesk.Job
}

func (q *queue) Enqueue(_ context.Context, j sdesk.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	return nil
}

// report returns the ReportRequest of the only job enqueued.
func (q *queue) report(t *testing.T) sdesk.ReportRequest {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) != 1 || q.jobs[0].Kind != sdesk.JobReport {
		t.Fatalf("jobs: got %+v, want one report job", q.jobs)
	}
	var r sdesk.ReportRequest
	if err := json.Unmarshal(q.jobs[0].Payload, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

type routerEnv struct {
	router *discord.Router
	queue  *queue
	logs   *e2e.LogBuffer
}

func newRouter(tb testing.TB, categories []sdesk.Category) *routerEnv {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "sdesk.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	logs := &e2e.LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	q := &queue{}
	svc := &sdesk.Service{Store: st, Queue: q, Logger: logger, Categories: categories}
	return &routerEnv{router: &discord.Router{Service: svc, Logger: logger}, queue: q, logs: logs}
}

// answer is an interaction response as JSON.
type answer struct {
	Type int `json:"type"`
	Data struct {
		Content    string           `json:"content"`
		Flags      int              `json:"flags"`
		CustomID   string           `json:"custom_id"`
		Title      string           `json:"title"`
		Components []map[string]any `json:"components"`
		Choices    []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"choices"`
		AllowedMentions *struct {
			Parse []string `json:"parse"`
			Roles []string `json:"roles"`
			Users []string `json:"users"`
		} `json:"allowed_mentions"`
	} `json:"data"`
}

func interact(t testing.TB, r *discord.Router, body string) (answer, []byte) {
	t.Helper()
	raw, err := json.Marshal(r.Interact(context.Background(), []byte(body)))
	if err != nil {
		t.Fatalf("encode answer: %v", err)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	return a, raw
}

const member = `"guild_id":"1200000000000000005","channel_id":"1200000000000000006","member":{"user":{"id":"1200000000000000007","username":"ann"},"roles":[]}`

func TestInteractPing(t *testing.T) {
	e := newRouter(t, nil)
	if _, raw := interact(t, e.router, `{"id":"1","type":1,"token":"t","application_id":"2"}`); string(raw) != `{"type":1}` {
		t.Errorf("answer: got %s, want {\"type\":1}", raw)
	}
}

// TestInteractUnsupported: what disgo cannot decode (a component type it
// does not know; shapes on which disgo v0.19 panics) and forms sdesk did
// not build get an ephemeral "not supported", never a panic (a 500).
func TestInteractUnsupported(t *testing.T) {
	tests := []struct{ name, body string }{
		{"garbage", `{"type":2,"id":`},
		{"button of an unknown component type", `{"id":"1300000000000000001","type":3,"token":"t",` + member + `,"message":{"id":"1","channel_id":"1200000000000000006"},"data":{"custom_id":"reply/3","component_type":99}}`},
		{"unknown component in a modal submit", `{"id":"1300000000000000002","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":99,"custom_id":"title","value":"x"}]}}`},
		{"unknown component in a label", `{"id":"1300000000000000003","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":18,"component":{"type":4,"custom_id":"title","value":"t"}},{"type":18,"component":{"type":4,"custom_id":"description","value":"d"}},{"type":18,"component":{"type":99,"custom_id":"x"}}]}}`},
		{"label without a component", `{"id":"1300000000000000004","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":18}]}}`},
		{"label holding a button", `{"id":"1300000000000000005","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":18,"component":{"type":2,"custom_id":"b","style":1}}]}}`},
		{"action row holding a label", `{"id":"1300000000000000006","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":1,"components":[{"type":18}]}]}}`},
		{"button at the top of a modal submit", `{"id":"1300000000000000007","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":2,"custom_id":"b","style":1}]}}`},
		{"report form without a description", `{"id":"1300000000000000008","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":18,"component":{"type":4,"custom_id":"title","value":"x"}}]}}`},
		{"no member and no user", `{"id":"1300000000000000009","type":3,"token":"t","channel_id":"1","message":{"id":"1","channel_id":"1"},"data":{"custom_id":"nope","component_type":2}}`},
		{"unknown button", `{"id":"1300000000000000010","type":3,"token":"t",` + member + `,"message":{"id":"1","channel_id":"1200000000000000006"},"data":{"custom_id":"nope/3","component_type":2}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRouter(t, nil)
			a, raw := interact(t, e.router, tt.body)
			if a.Type != 4 || a.Data.Flags&64 == 0 || a.Data.Content != "This action is not supported." {
				t.Errorf("answer: got %s, want an ephemeral \"not supported\"", raw)
			}
			if len(e.queue.jobs) != 0 {
				t.Errorf("jobs: got %d, want 0", len(e.queue.jobs))
			}
		})
	}
}

// TestEphemeralPingsNobody: an ephemeral answer carries allowed_mentions
// with empty lists, whatever its text.
func TestEphemeralPingsNobody(t *testing.T) {
	raw, err := json.Marshal(discord.Ephemeral("<@&1> @everyone"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":4,"data":{"content":"\u003c@\u00261\u003e @everyone","allowed_mentions":{"parse":[],"roles":[],"users":[],"replied_user":false},"flags":64}}`
	if string(raw) != want {
		t.Errorf("got %s, want %s", raw, want)
	}
}

// TestReportModal checks the /report form against Discord's component
// reference: Labels (type 18) holding Title and Description (Text Input,
// type 4), Category (String Select, type 3) only when categories exist,
// and an optional File Upload (type 19).
func TestReportModal(t *testing.T) {
	title := `{"type":18,"label":"Title","component":{"type":4,"custom_id":"title","style":1,"min_length":1,"max_length":255,"required":true,"placeholder":"What went wrong, in a few words"}}`
	desc := `{"type":18,"label":"Description","component":{"type":4,"custom_id":"description","style":2,"min_length":1,"max_length":4000,"required":true,"placeholder":"What happened, what you expected, steps to reproduce"}}`
	files := `{"type":18,"label":"Screenshots or logs","description":"Optional: up to 5 files","component":{"type":19,"custom_id":"files","min_values":0,"max_values":5,"required":false}}`
	category := `{"type":18,"label":"Category","component":{"type":3,"custom_id":"category","placeholder":"Choose what the problem is about","options":[{"label":"Bug","value":"bug"},{"label":"Billing question","value":"support::billing"}],"required":true}}`
	tests := []struct {
		name       string
		categories []sdesk.Category
		want       string
	}{
		{"no categories", nil, "[" + title + "," + desc + "," + files + "]"},
		{"two categories", []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}, {Label: "Billing question", GitLabLabel: "support::billing"}},
			"[" + title + "," + desc + "," + category + "," + files + "]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRouter(t, tt.categories)
			a, raw := interact(t, e.router, `{"id":"1300000000000000020","type":2,"token":"t",`+member+`,"data":{"id":"1","name":"report","type":1}}`)
			if a.Type != 9 || a.Data.CustomID != "report" || a.Data.Title != "Report a problem" {
				t.Fatalf("answer: got %s, want the report modal", raw)
			}
			var want []map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Data.Components, want) {
				got, _ := json.Marshal(a.Data.Components)
				t.Errorf("components:\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// A report form with 30 categories offers Discord's maximum of 25.
func TestReportModalCategoriesCapped(t *testing.T) {
	var cats []sdesk.Category
	for n := range 30 {
		cats = append(cats, sdesk.Category{Label: fmt.Sprint("C", n), GitLabLabel: fmt.Sprint("c", n)})
	}
	e := newRouter(t, cats)
	a, raw := interact(t, e.router, `{"id":"1300000000000000021","type":2,"token":"t",`+member+`,"data":{"id":"1","name":"report","type":1}}`)
	if len(a.Data.Components) != 4 {
		t.Fatalf("answer: got %s, want four labels", raw)
	}
	sel, _ := a.Data.Components[2]["component"].(map[string]any)
	if opts, _ := sel["options"].([]any); len(opts) != 25 {
		t.Errorf("options: got %d, want 25", len(opts))
	}
}

// labels is a submitted report form of Labels: title, description, an
// optional category select and an optional file upload.
func labels(title, desc string, category []string, files []string) string {
	cs := []string{
		fmt.Sprintf(`{"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"title","value":%q}}`, title),
		fmt.Sprintf(`{"type":18,"id":3,"component":{"type":4,"id":4,"custom_id":"description","value":%q}}`, desc),
	}
	if category != nil {
		v, _ := json.Marshal(category)
		cs = append(cs, fmt.Sprintf(`{"type":18,"id":5,"component":{"type":3,"id":6,"custom_id":"category","values":%s}}`, v))
	}
	if files != nil {
		v, _ := json.Marshal(files)
		cs = append(cs, fmt.Sprintf(`{"type":18,"id":7,"component":{"type":19,"id":8,"custom_id":"files","values":%s}}`, v))
	}
	return "[" + strings.Join(cs, ",") + "]"
}

const resolved = `"resolved":{"attachments":{
"1400000000000000001":{"id":"1400000000000000001","filename":"screen.png","size":241394,"content_type":"image/png","ephemeral":true,
 "url":"https://cdn.discordapp.com/ephemeral-attachments/2/1400000000000000001/screen.png?ex=68dc7ce1&is=68db2b61&hm=59",
 "proxy_url":"https://media.discordapp.net/ephemeral-attachments/2/1400000000000000001/screen.png?ex=68dc7ce1&is=68db2b61&hm=59"},
"1400000000000000002":{"id":"1400000000000000002","filename":"app.log","size":12,
 "url":"https://cdn.discordapp.com/ephemeral-attachments/2/1400000000000000002/app.log?ex=1&is=2&hm=3",
 "proxy_url":"https://media.discordapp.net/ephemeral-attachments/2/1400000000000000002/app.log?ex=1&is=2&hm=3"}}}`

// TestReportSubmit decodes the report form, in the Label shape (with a
// category and files, resolved attachments) and in the old ActionRow →
// TextInput shape, into the ReportRequest the service stores.
func TestReportSubmit(t *testing.T) {
	png := sdesk.Attachment{ID: "1400000000000000001", Filename: "screen.png", Size: 241394, ContentType: "image/png",
		URL: "https://cdn.discordapp.com/ephemeral-attachments/2/1400000000000000001/screen.png?ex=68dc7ce1&is=68db2b61&hm=59"}
	log := sdesk.Attachment{ID: "1400000000000000002", Filename: "app.log", Size: 12,
		URL: "https://cdn.discordapp.com/ephemeral-attachments/2/1400000000000000002/app.log?ex=1&is=2&hm=3"}
	cats := []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}, {Label: "Billing", GitLabLabel: "support::billing"}}
	tests := []struct {
		name       string
		data       string
		wantCat    string
		wantFiles  []sdesk.Attachment
		wantLogged string // a WARN line naming this
	}{
		{"labels, category and two files", `"components":` + labels("Login fails", "Nothing happens", []string{"support::billing"}, []string{"1400000000000000001", "1400000000000000002"}) + `,` + resolved,
			"support::billing", []sdesk.Attachment{png, log}, ""},
		{"labels, no category chosen, no files", `"components":` + labels("Login fails", "Nothing happens", []string{}, []string{}),
			"", nil, ""},
		{"labels without a category select", `"components":` + labels("Login fails", "Nothing happens", nil, nil),
			"", nil, ""},
		{"a file without a resolved attachment is dropped", `"components":` + labels("Login fails", "Nothing happens", []string{"bug"}, []string{"1400000000000000002", "1400000000000000009"}) + `,` + resolved,
			"bug", []sdesk.Attachment{log}, "1400000000000000009"},
		{"old action rows", `"components":[{"type":1,"components":[{"type":4,"custom_id":"title","value":"Login fails"}]},{"type":1,"components":[{"type":4,"custom_id":"description","value":"Nothing happens"}]}]`,
			"", nil, ""},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offered := cats
			if tt.wantCat == "" {
				offered = nil // a report without a category is refused while some are offered
			}
			e := newRouter(t, offered)
			id := fmt.Sprint(1300000000000000100 + n)
			a, raw := interact(t, e.router, `{"id":"`+id+`","type":5,"token":"tok-`+id+`",`+member+`,"data":{"custom_id":"report",`+tt.data+`}}`)
			if a.Type != 5 || a.Data.Flags != 64 {
				t.Fatalf("answer: got %s, want a deferred ephemeral answer", raw)
			}
			got := e.queue.report(t)
			want := sdesk.ReportRequest{InteractionID: id, Token: "tok-" + id, GuildID: "1200000000000000005",
				User:  sdesk.User{ID: "1200000000000000007", Username: "ann"},
				Title: "Login fails", Description: "Nothing happens", Category: tt.wantCat, Files: tt.wantFiles}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("report:\ngot  %+v\nwant %+v", got, want)
			}
			if logs := e.logs.String(); tt.wantLogged != "" && (!strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, tt.wantLogged)) {
				t.Errorf("logs: got %s, want a WARN line naming %q", logs, tt.wantLogged)
			}
		})
	}
}

// TestReportSubmitRefusedByTheDomain: the router passes a category that is
// not offered and too many files on; the domain refuses them with a
// message for the user.
func TestReportSubmitRefusedByTheDomain(t *testing.T) {
	six := []string{"1400000000000000001", "1400000000000000002", "1400000000000000001", "1400000000000000002", "1400000000000000001", "1400000000000000002"}
	tests := []struct{ name, data, want string }{
		{"category not offered", `"components":` + labels("t", "d", []string{"secret"}, nil), "category is not offered"},
		{"six files", `"components":` + labels("t", "d", []string{"bug"}, six) + `,` + resolved, "6 files"},
		{"no category while offered", `"components":` + labels("t", "d", []string{}, nil), "please choose a category"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRouter(t, []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}})
			a, raw := interact(t, e.router, `{"id":"1300000000000000200","type":5,"token":"t",`+member+`,"data":{"custom_id":"report",`+tt.data+`}}`)
			if a.Type != 4 || a.Data.Flags&64 == 0 || !strings.Contains(a.Data.Content, tt.want) {
				t.Errorf("answer: got %s, want an ephemeral message containing %q", raw, tt.want)
			}
		})
	}
}

// TestReplyButtonOutsideAReport: the Reply button in a thread that is not
// a report's gets an ephemeral refusal, not the modal.
func TestReplyButtonOutsideAReport(t *testing.T) {
	e := newRouter(t, nil)
	a, raw := interact(t, e.router, `{"id":"1300000000000000300","type":3,"token":"t",`+member+`,"message":{"id":"1","channel_id":"1200000000000000006"},"data":{"custom_id":"reply/3","component_type":2}}`)
	if a.Type != 4 || a.Data.Flags&64 == 0 {
		t.Errorf("answer: got %s, want an ephemeral refusal", raw)
	}
}

// FuzzInteract: whatever a verified body holds, Interact answers without
// panicking, with an answer of a type sdesk sends (1 Pong only for a ping;
// 4 message, 5 deferred, 9 modal), and every message answer is ephemeral
// and pings nobody ("parse":[], no roles, no users).
func FuzzInteract(f *testing.F) {
	f.Add(`{"type":1,"id":"1","token":"t"}`)
	f.Add(`{"id":"1300000000000000020","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"report","type":1}}`)
	f.Add(`{"id":"1300000000000000021","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"Send to GitLab","type":3,"target_id":"5","resolved":{"messages":{"5":{"id":"5","channel_id":"6","content":"hi","author":{"id":"8","username":"bob"},"attachments":[{"id":"9","filename":"a","url":"https://cdn.discordapp.com/a","size":1}]}}}}}`)
	f.Add(`{"id":"1300000000000000022","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":` + labels("t", "d", []string{"bug"}, []string{"1400000000000000001"}) + `,` + resolved + `}}`)
	f.Add(`{"id":"1300000000000000023","type":5,"token":"t",` + member + `,"data":{"custom_id":"report","components":[{"type":18}]}}`)
	f.Add(`{"id":"1300000000000000024","type":3,"token":"t",` + member + `,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"close/1","component_type":2}}`)
	f.Add(`{"id":"1300000000000000025","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"reply","type":1,"options":[{"name":"message","type":3,"value":7}]}}`)
	f.Add(`{"id":"1300000000000000026","type":4,"token":"t",` + member + `,"data":{"id":"1","name":"reply","type":1}}`)
	f.Add(`{"id":"1300000000000000027","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"reply","type":1,"options":[{"name":"message","type":3,"value":"hi"},{"name":"file","type":11,"value":"1400000000000000001"},{"name":"file2","type":11,"value":"x"}],"resolved":{"attachments":` + attachmentsJSON + `,"users":{"5":{"id":"5","username":"u"}},"roles":{"6":{"id":"6","name":"r"}}}}}`)
	f.Add(`{"id":"1300000000000000028","type":5,"token":"t",` + member + `,"data":{"custom_id":"replyto/3","components":[{"type":18,"component":{"type":4,"custom_id":"message","value":"x"}},{"type":18,"component":{"type":19,"custom_id":"files","values":["1400000000000000001"]}}],"resolved":{"attachments":` + attachmentsJSON + `}}}`)
	f.Add(`{"id":"1300000000000000029","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"Send to GitLab","type":3,"target_id":"5","resolved":{"messages":{"5":{"id":"5","channel_id":"6","content":"","author":{"id":"8","username":"bob"},"attachments":[],"sticker_items":[{"id":"1","name":"wave","format_type":1}],"embeds":[{"title":"t","url":"https://cdn.discordapp.com/x"}],"message_reference":{"type":1},"message_snapshots":[{"message":{"content":"fwd","attachments":[{"id":"9","filename":"a","url":"https://cdn.discordapp.com/a","size":1}],"mentions":[{"id":"7","username":"c"}]}}]}}}}}`)
	f.Add(`{"id":"1300000000000000030","type":4,"token":"t",` + member + `,"data":{"id":"1","name":"close","type":1,"options":[{"name":"issue","type":4,"value":"1","focused":true}]}}`)
	f.Add(`{"id":"1300000000000000031","type":4,"token":"t",` + member + `,"data":{"id":"1","name":"status","type":1,"options":[{"name":"issue","type":4,"value":12,"focused":true}]}}`)
	f.Add(`{"id":"1300000000000000032","type":3,"token":"t",` + member + `,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"issues/1","component_type":2}}`)
	f.Add(`{"id":"1300000000000000033","type":3,"token":"t",` + member + `,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"issues/all/0","component_type":2}}`)
	f.Add(`{"id":"1300000000000000034","type":3,"token":"t",` + member + `,"message":{"id":"1","channel_id":"1"},"data":{"custom_id":"panel/report","component_type":2}}`)
	f.Add(`{"id":"1300000000000000035","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"close","type":1,"options":[{"name":"reason","type":3,"value":"done"},{"name":"issue","type":4,"value":3}]}}`)
	f.Add(`{"id":"1300000000000000036","type":2,"token":"t",` + member + `,"data":{"id":"1","name":"issues","type":1,"options":[{"name":"all","type":5,"value":true}]}}`)
	e := newRouter(f, []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}})
	e.mapThread(f) // replies and sends reach the service's checks and the store
	f.Fuzz(func(t *testing.T, body string) {
		a, raw := interact(t, e.router, body)
		var head struct {
			Type json.RawMessage `json:"type"`
		}
		_ = json.Unmarshal([]byte(body), &head)
		ping := string(head.Type) == "1"
		switch {
		case a.Type == 1 && !ping:
			t.Fatalf("a Pong for a body that is not a ping: %s", raw)
		case a.Type == 1:
		case a.Type == 4:
			am := a.Data.AllowedMentions
			if a.Data.Flags&64 == 0 || am == nil || am.Parse == nil || len(am.Parse)+len(am.Roles)+len(am.Users) != 0 {
				t.Fatalf("message answer not ephemeral or may ping: %s", raw)
			}
		case a.Type == 5, a.Type == 9:
		case a.Type == 7:
			// A page of /issues replaces the message of a button.
			am := a.Data.AllowedMentions
			if string(head.Type) != "3" || am == nil || am.Parse == nil || len(am.Parse)+len(am.Roles)+len(am.Users) != 0 {
				t.Fatalf("message update for a body that is not a component, or it may ping: %s", raw)
			}
		case a.Type == 8:
			if string(head.Type) != "4" || a.Data.Choices == nil || len(a.Data.Choices) > 25 {
				t.Fatalf("autocomplete answer for a body that is not an autocomplete, or with no list or over 25 choices: %s", raw)
			}
			for _, c := range a.Data.Choices {
				if n := len([]rune(c.Name)); n < 1 || n > 100 {
					t.Fatalf("choice name of %d characters, want 1 to 100: %s", n, raw)
				}
			}
		default:
			t.Fatalf("answer type %d (%s), want 1, 4, 5, 7, 8 or 9", a.Type, raw)
		}
	})
}
