package discord_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// thread is the channel of member's interactions, mapped to issue 3 with
// ann (member's user) as its reporter.
const thread = "1200000000000000006"

func (e *routerEnv) mapThread(t testing.TB) {
	t.Helper()
	err := e.router.Service.Store.PutMapping(context.Background(), sdesk.Mapping{IssueIID: 3, IssueURL: "https://gitlab.example.com/g/p/-/issues/3",
		ThreadID: thread, GuildID: "1200000000000000005", ChannelID: "1200000000000000002", ReporterID: "1200000000000000007", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

// reply returns the ThreadRequest of the only job enqueued.
func (q *queue) reply(t *testing.T) sdesk.ThreadRequest {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) != 1 || q.jobs[0].Kind != sdesk.JobReply {
		t.Fatalf("jobs: got %+v, want one reply job", q.jobs)
	}
	var r sdesk.ThreadRequest
	if err := json.Unmarshal(q.jobs[0].Payload, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReplyCommandDefinition: /reply takes its required message, then up
// to three optional files: options of type ATTACHMENT (11).
func TestReplyCommandDefinition(t *testing.T) {
	var got []byte
	for _, c := range discord.Commands {
		if c.Def.CommandName() == "reply" {
			got, _ = json.Marshal(c.Def)
		}
	}
	var def struct {
		Options []map[string]any `json:"options"`
	}
	if err := json.Unmarshal(got, &def); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"type": 3.0, "name": "message", "description": "Your answer", "required": true, "max_length": 4000.0},
		{"type": 11.0, "name": "file", "description": "A screenshot or log file to attach"},
		{"type": 11.0, "name": "file2", "description": "Another file to attach"},
		{"type": 11.0, "name": "file3", "description": "Another file to attach"},
	}
	if !reflect.DeepEqual(def.Options, want) {
		t.Errorf("options:\ngot  %v\nwant %v", def.Options, want)
	}
}

// png and log are resolved attachments as Discord describes them.
var (
	pngAtt = sdesk.Attachment{ID: "1400000000000000001", Filename: "screen.png", Size: 241394, ContentType: "image/png",
		URL: "https://cdn.discordapp.com/ephemeral-attachments/2/1400000000000000001/screen.png?ex=68dc7ce1&is=68db2b61&hm=59"}
	logAtt = sdesk.Attachment{ID: "1400000000000000002", Filename: "app.log", Size: 12,
		URL: "https://cdn.discordapp.com/ephemeral-attachments/2/1400000000000000002/app.log?ex=1&is=2&hm=3"}
)

// TestReplyDecode: what each entry point sends becomes the request the
// service stores: /reply's text and file options (from
// resolved.attachments), the reply form's text and File Upload, and
// "Send to GitLab" of a message (content, stickers, embeds' text,
// attachments) and of a forward (message_snapshots), with the names the
// resolved data and the message's mentions give.
func TestReplyDecode(t *testing.T) {
	ann := sdesk.User{ID: "1200000000000000007", Username: "ann", RoleIDs: nil}
	tests := []struct {
		name string
		body string
		want sdesk.ThreadRequest
	}{
		{"/reply with two files and a mention",
			`"type":2,` + member + `,"data":{"id":"1","name":"reply","type":1,"options":[` +
				`{"name":"message","type":3,"value":"hi <@1500000000000000001> in <#1500000000000000003> for <@&1500000000000000002>"},` +
				`{"name":"file","type":11,"value":"1400000000000000002"},{"name":"file3","type":11,"value":"1400000000000000001"},` +
				`{"name":"file2","type":11,"value":"1400000000000000009"}],` +
				`"resolved":{"attachments":` + attachmentsJSON + `,` +
				`"users":{"1500000000000000001":{"id":"1500000000000000001","username":"bob","global_name":"Bob B"},"1500000000000000004":{"id":"1500000000000000004","username":"cy"}},` +
				`"members":{"1500000000000000001":{"nick":"Bobby","roles":[]}},` +
				`"roles":{"1500000000000000002":{"id":"1500000000000000002","name":"Support"}},` +
				`"channels":{"1500000000000000003":{"id":"1500000000000000003","name":"general","type":0}}}}`,
			sdesk.ThreadRequest{Text: "hi <@1500000000000000001> in <#1500000000000000003> for <@&1500000000000000002>", Files: []sdesk.Attachment{logAtt, pngAtt},
				Names: sdesk.Names{Users: map[string]string{"1500000000000000001": "Bobby", "1500000000000000004": "cy"},
					Roles: map[string]string{"1500000000000000002": "Support"}, Channels: map[string]string{"1500000000000000003": "general"}}}},
		{"reply form with files",
			`"type":5,` + member + `,"data":{"custom_id":"replyto/3","components":[` +
				`{"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"message","value":"see attached"}},` +
				`{"type":18,"id":3,"component":{"type":19,"id":4,"custom_id":"files","values":["1400000000000000001","1400000000000000002"]}}],` +
				`"resolved":{"attachments":` + attachmentsJSON + `}}`,
			sdesk.ThreadRequest{IID: 3, Text: "see attached", Files: []sdesk.Attachment{pngAtt, logAtt}}},
		{"Send to GitLab of a message",
			`"type":2,` + member + `,"data":{"id":"1","name":"Send to GitLab","type":3,"target_id":"1600000000000000001","resolved":{"messages":{"1600000000000000001":{` +
				`"id":"1600000000000000001","channel_id":"1200000000000000006","type":0,"content":"look <@1500000000000000001>",` +
				`"author":{"id":"1500000000000000001","username":"bob"},` +
				`"mentions":[{"id":"1500000000000000001","username":"bob","global_name":"Bob B"}],"mention_roles":["1500000000000000002"],` +
				`"mention_channels":[{"id":"1500000000000000003","guild_id":"1","type":0,"name":"general"}],` +
				`"attachments":[` + attachmentJSON(pngAtt) + `],` +
				`"sticker_items":[{"id":"1","name":"wave","format_type":1}],` +
				`"embeds":[{"type":"rich","author":{"name":"CI"},"title":"Build 7","url":"https://ci.example.com/7","description":"failed",` +
				`"fields":[{"name":"Step","value":"tests"},{"name":"","value":"alone"}],"footer":{"text":"today"},"image":{"url":"https://cdn.discordapp.com/x.png"}},` +
				`{"type":"image","url":"https://cdn.discordapp.com/y.png"},{"type":"rich","title":"CDN link","url":"https://cdn.discordapp.com/z.png"}]}}}}`,
			sdesk.ThreadRequest{MessageID: "1600000000000000001", Text: "look <@1500000000000000001>", MessageAuthor: "bob",
				Stickers: []string{"wave"}, Embeds: []string{"CI\nBuild 7\nhttps://ci.example.com/7\nfailed\nStep: tests\nalone\ntoday", "CDN link"},
				Files: []sdesk.Attachment{pngAtt},
				Names: sdesk.Names{Users: map[string]string{"1500000000000000001": "Bob B"}, Channels: map[string]string{"1500000000000000003": "general"}}}},
		{"Send to GitLab of a forward",
			`"type":2,` + member + `,"data":{"id":"1","name":"Send to GitLab","type":3,"target_id":"1600000000000000002","resolved":{"messages":{"1600000000000000002":{` +
				`"id":"1600000000000000002","channel_id":"1200000000000000006","type":0,"content":"","author":{"id":"1200000000000000007","username":"ann"},` +
				`"attachments":[],"embeds":[],"mentions":[],"mention_roles":[],` +
				`"message_reference":{"type":1,"channel_id":"1700000000000000001","message_id":"1700000000000000002","guild_id":"1200000000000000005"},` +
				`"message_snapshots":[{"message":{"type":0,"content":"the original words","timestamp":"2026-11-29T12:00:00.000000+00:00",` +
				`"attachments":[` + attachmentJSON(logAtt) + `],"embeds":[{"type":"rich","description":"an embed"}],` +
				`"mentions":[{"id":"1500000000000000004","username":"cy"}],"mention_roles":[],"stickers":[{"id":"2","name":"old sticker","format_type":1}]}}]}}}}`,
			sdesk.ThreadRequest{MessageID: "1600000000000000002",
				Forwarded: []sdesk.Shown{{Text: "the original words", Stickers: []string{"old sticker"}, Embeds: []string{"an embed"}}},
				Files:     []sdesk.Attachment{logAtt},
				Names:     sdesk.Names{Users: map[string]string{"1500000000000000004": "cy"}}}},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRouter(t, nil)
			e.mapThread(t)
			id := "13000000000000005" + string(rune('0'+n)) + "0"
			a, raw := interact(t, e.router, `{"id":"`+id+`","token":"tok",`+tt.body+`}`)
			if a.Type != 5 {
				t.Fatalf("answer: got %s, want a deferred answer", raw)
			}
			got := e.queue.reply(t)
			want := tt.want
			want.InteractionID, want.Token, want.ChannelID, want.User = id, "tok", thread, ann
			want.IID, want.IssueURL = 3, "https://gitlab.example.com/g/p/-/issues/3"
			if !reflect.DeepEqual(got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("request:\ngot  %s\nwant %s", g, w)
			}
			if tt.name == "/reply with two files and a mention" && !strings.Contains(e.logs.String(), "1400000000000000009") {
				t.Errorf("logs: got %s, want a WARN line naming the undescribed attachment", e.logs.String())
			}
		})
	}
}

// attachmentsJSON is resolved.attachments describing pngAtt and logAtt.
var attachmentsJSON = `{"1400000000000000001":` + attachmentJSON(pngAtt) + `,"1400000000000000002":` + attachmentJSON(logAtt) + `}`

func attachmentJSON(a sdesk.Attachment) string {
	m := map[string]any{"id": a.ID, "filename": a.Filename, "size": a.Size, "url": a.URL, "proxy_url": a.URL}
	if a.ContentType != "" {
		m["content_type"] = a.ContentType
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestReplyModalFiles: the Reply button opens the reply form with the
// answer's text input and the optional File Upload.
func TestReplyModalFiles(t *testing.T) {
	e := newRouter(t, nil)
	e.mapThread(t)
	a, raw := interact(t, e.router, `{"id":"1300000000000000600","type":3,"token":"t",`+member+`,"message":{"id":"1","channel_id":"`+thread+`"},"data":{"custom_id":"reply/3","component_type":2}}`)
	if a.Type != 9 || a.Data.CustomID != "replyto/3" || len(a.Data.Components) != 2 {
		t.Fatalf("answer: got %s, want the reply form with two fields", raw)
	}
	files, _ := json.Marshal(a.Data.Components[1])
	want := `{"component":{"custom_id":"files","max_values":5,"min_values":0,"required":false,"type":19},"description":"Optional: up to 5 files","label":"Screenshots or logs","type":18}`
	if string(files) != want {
		t.Errorf("file field:\ngot  %s\nwant %s", files, want)
	}
}

// TestReplyFormTooManyFiles: a reply form with more files than its File
// Upload takes is refused; nothing is stored.
func TestReplyFormTooManyFiles(t *testing.T) {
	e := newRouter(t, nil)
	e.mapThread(t)
	six := `["1400000000000000001","1400000000000000002","1400000000000000001","1400000000000000002","1400000000000000001","1400000000000000002"]`
	a, raw := interact(t, e.router, `{"id":"1300000000000000700","type":5,"token":"t",`+member+`,"data":{"custom_id":"replyto/3","components":[`+
		`{"type":18,"component":{"type":4,"custom_id":"message","value":"x"}},{"type":18,"component":{"type":19,"custom_id":"files","values":`+six+`}}],`+
		`"resolved":{"attachments":`+attachmentsJSON+`}}}`)
	if a.Type != 4 || a.Data.Flags&64 == 0 || !strings.Contains(a.Data.Content, "6 files") {
		t.Errorf("answer: got %s, want an ephemeral refusal naming 6 files", raw)
	}
	if len(e.queue.jobs) != 0 {
		t.Errorf("jobs: got %d, want 0", len(e.queue.jobs))
	}
}
