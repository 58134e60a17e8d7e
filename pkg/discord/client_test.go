package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	disgo "github.com/disgoorg/disgo/discord"
	"github.com/disgoorg/disgo/rest"

	"github.com/sdesk/sdesk/pkg/discord"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const appID = "100000000000000001"

func newClient(t *testing.T, fake *discordfake.Server, mod ...func(*discord.ClientConfig)) *discord.Client {
	t.Helper()
	cfg := discord.ClientConfig{BotToken: fake.Token(), ApplicationID: appID, APIURL: fake.URL()}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := discord.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func retries(n int) func(*discord.ClientConfig) {
	return func(c *discord.ClientConfig) { c.MaxRetries = n }
}

// newThread creates a thread through the client.
func newThread(t *testing.T, c *discord.Client) string {
	t.Helper()
	id, err := c.CreatePrivateThread(context.Background(), "200000000000000002", "Issue #1")
	if err != nil {
		t.Fatalf("CreatePrivateThread: %v", err)
	}
	return id
}

func lastRequest(t *testing.T, fake *discordfake.Server) discordfake.Request {
	t.Helper()
	reqs := fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request recorded")
	}
	return reqs[len(reqs)-1]
}

// field returns one top-level field of a JSON document, raw.
func field(t *testing.T, doc []byte, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return string(m[name])
}

func TestNewClientConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  discord.ClientConfig
		ok   bool
	}{
		{"complete", discord.ClientConfig{BotToken: "t", ApplicationID: "1"}, true},
		{"token with Bot prefix", discord.ClientConfig{BotToken: "Bot t", ApplicationID: "1"}, true},
		{"no token", discord.ClientConfig{ApplicationID: "1"}, false},
		{"no application", discord.ClientConfig{BotToken: "t"}, false},
		{"relative API URL", discord.ClientConfig{BotToken: "t", ApplicationID: "1", APIURL: "/api/v10"}, false},
		{"ftp API URL", discord.ClientConfig{BotToken: "t", ApplicationID: "1", APIURL: "ftp://x/api"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := discord.NewClient(tt.cfg)
			if got := err == nil; got != tt.ok {
				t.Errorf("NewClient(%+v) error = %v, want ok %v", tt.cfg, err, tt.ok)
			}
		})
	}
}

func TestCreatePrivateThread(t *testing.T) {
	long := strings.Repeat("é", 150)
	tests := []struct {
		name, in, want string
	}{
		{"short name", "Issue #7: printer on fire", "Issue #7: printer on fire"},
		{"name cut to 100 runes", long, strings.Repeat("é", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			id, err := c.CreatePrivateThread(context.Background(), "200000000000000002", tt.in)
			if err != nil {
				t.Fatalf("CreatePrivateThread: %v", err)
			}
			th, ok := fake.Thread(id)
			if !ok {
				t.Fatalf("thread %s not in the fake", id)
			}
			if th.Name != tt.want || th.ParentID != "200000000000000002" || th.Type != 12 || th.Invitable || th.AutoArchiveDuration != 10080 {
				t.Errorf("thread = %+v, want name %q, parent 200000000000000002, type 12, not invitable, 10080 min", th, tt.want)
			}
			r := lastRequest(t, fake)
			if r.Method != http.MethodPost || r.Path != "/channels/200000000000000002/threads" {
				t.Errorf("request = %s %s, want POST /channels/200000000000000002/threads", r.Method, r.Path)
			}
			if got := field(t, r.JSON, "invitable"); got != "false" {
				t.Errorf("invitable on the wire = %s, want false", got)
			}
		})
	}
}

func TestCreatePrivateThreadEmptyName(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	if _, err := c.CreatePrivateThread(context.Background(), "2", ""); !errors.Is(err, discord.ErrLimit) {
		t.Errorf("err = %v, want ErrLimit", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
}

func TestAddThreadMember(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	th := newThread(t, c)
	if err := c.AddThreadMember(context.Background(), th, "300000000000000003"); err != nil {
		t.Fatalf("AddThreadMember: %v", err)
	}
	got, _ := fake.Thread(th)
	want := []string{fake.BotUserID(), "300000000000000003"}
	if !reflect.DeepEqual(got.Members, want) {
		t.Errorf("members = %v, want %v", got.Members, want)
	}
	r := lastRequest(t, fake)
	if r.Method != http.MethodPut || r.Path != "/channels/"+th+"/thread-members/300000000000000003" {
		t.Errorf("request = %s %s", r.Method, r.Path)
	}
}

func TestAddThreadMemberUnknownThread(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	err := c.AddThreadMember(context.Background(), "999", "3")
	if !discord.IsNotFound(err) || discord.APICode(err) != 10003 {
		t.Errorf("err = %v (status %d, code %d), want 404 Unknown Channel", err, discord.StatusCode(err), discord.APICode(err))
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (404 is not retried)", n)
	}
}

func TestSendMessage(t *testing.T) {
	buttons := func(n int) []sdesk.Button {
		out := make([]sdesk.Button, n)
		for i := range out {
			out[i] = sdesk.Button{Label: fmt.Sprintf("B%d", i), CustomID: fmt.Sprintf("b/%d", i), Style: sdesk.ButtonSecondary}
		}
		return out
	}
	tests := []struct {
		name     string
		msg      sdesk.Message
		wantRows []int // buttons per action row
	}{
		{name: "content", msg: sdesk.Message{Content: "hello <@&1> @everyone"}},
		{name: "embed", msg: sdesk.Message{Embeds: []sdesk.Embed{{
			Title: "Issue #1", URL: "https://gitlab.example/i/1", Description: "text",
			AuthorName: "Ann", AuthorURL: "https://gitlab.example/ann", AuthorIcon: "https://gitlab.example/ann.png",
			Footer: "1/2", Color: 0x3366ff,
		}}}},
		{name: "seven buttons in rows of five", msg: sdesk.Message{Content: "x", Buttons: buttons(7)}, wantRows: []int{5, 2}},
		{name: "five buttons in one row", msg: sdesk.Message{Content: "x", Buttons: buttons(5)}, wantRows: []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			th := newThread(t, c)
			id, err := c.SendMessage(context.Background(), th, tt.msg)
			if err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			msgs := fake.Messages(th)
			if len(msgs) != 1 || msgs[0].ID != id {
				t.Fatalf("messages = %+v, want one with ID %s", msgs, id)
			}
			got := msgs[0]
			if got.Content != tt.msg.Content {
				t.Errorf("content = %q, want %q", got.Content, tt.msg.Content)
			}
			if len(got.Embeds) != len(tt.msg.Embeds) {
				t.Fatalf("embeds = %v, want %d", got.Embeds, len(tt.msg.Embeds))
			}
			for i, e := range tt.msg.Embeds {
				g := got.Embeds[i]
				author, _ := g["author"].(map[string]any)
				footer, _ := g["footer"].(map[string]any)
				if g["title"] != e.Title || g["url"] != e.URL || g["description"] != e.Description ||
					g["color"] != float64(e.Color) || g["type"] != "rich" ||
					author["name"] != e.AuthorName || author["url"] != e.AuthorURL || author["icon_url"] != e.AuthorIcon ||
					footer["text"] != e.Footer {
					t.Errorf("embed %d = %v, want %+v", i, g, e)
				}
			}
			var rows []int
			n := 0
			for _, row := range got.Components {
				cs, _ := row["components"].([]any)
				rows = append(rows, len(cs))
				for _, comp := range cs {
					b := comp.(map[string]any)
					want := tt.msg.Buttons[n]
					if b["type"] != float64(2) || b["label"] != want.Label || b["custom_id"] != want.CustomID || b["style"] != float64(want.Style) {
						t.Errorf("button %d = %v, want %+v", n, b, want)
					}
					n++
				}
			}
			if !reflect.DeepEqual(rows, tt.wantRows) {
				t.Errorf("rows = %v, want %v", rows, tt.wantRows)
			}
		})
	}
}

func TestSendMessageRefusesEmpty(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	for _, m := range []sdesk.Message{{}, {MentionRoles: []string{"3"}}} {
		if _, err := c.SendMessage(context.Background(), "2", m); err == nil {
			t.Errorf("SendMessage(%+v) succeeded, want an error", m)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
}

// TestAllowedMentionsOnTheWire checks the raw JSON of every message-bearing
// request: "parse":[] (never null or absent) and the roles as given.
func TestAllowedMentionsOnTheWire(t *testing.T) {
	methods := []struct {
		name string
		call func(c *discord.Client, th, msgID string, m sdesk.Message) error
	}{
		{"SendMessage", func(c *discord.Client, th, _ string, m sdesk.Message) error {
			_, err := c.SendMessage(context.Background(), th, m)
			return err
		}},
		{"EditMessage", func(c *discord.Client, th, msgID string, m sdesk.Message) error {
			return c.EditMessage(context.Background(), th, msgID, m)
		}},
		{"EditResponse", func(c *discord.Client, _, _ string, m sdesk.Message) error {
			return c.EditResponse(context.Background(), "tok", m)
		}},
	}
	mentions := []struct {
		name  string
		roles []string
		files bool
		want  string
	}{
		{"no roles", nil, false, `{"parse":[],"roles":[],"users":[],"replied_user":false}`},
		{"one role", []string{"400000000000000004"}, false, `{"parse":[],"roles":["400000000000000004"],"users":[],"replied_user":false}`},
		{"two roles, multipart", []string{"4", "5"}, true, `{"parse":[],"roles":["4","5"],"users":[],"replied_user":false}`},
	}
	for _, m := range methods {
		for _, mt := range mentions {
			t.Run(m.name+"/"+mt.name, func(t *testing.T) {
				fake := discordfake.New(t)
				c := newClient(t, fake)
				th := newThread(t, c)
				msgID, err := c.SendMessage(context.Background(), th, sdesk.Message{Content: "first"})
				if err != nil {
					t.Fatal(err)
				}
				msg := sdesk.Message{Content: "<@&4> <@1> @everyone", MentionRoles: mt.roles}
				if mt.files {
					msg.Files = []sdesk.File{{Name: "a.txt", Data: []byte("a")}}
				}
				if err := m.call(c, th, msgID, msg); err != nil {
					t.Fatalf("%s: %v", m.name, err)
				}
				r := lastRequest(t, fake)
				if got := field(t, r.JSON, "allowed_mentions"); got != mt.want {
					t.Errorf("allowed_mentions on the wire = %s, want %s", got, mt.want)
				}
				if !bytes.Contains(r.JSON, []byte(`"parse":[]`)) || bytes.Contains(r.JSON, []byte(`"parse":null`)) {
					t.Errorf("raw JSON %s lacks \"parse\":[]", r.JSON)
				}
				if mt.files && len(r.Files) != 1 {
					t.Errorf("files = %d, want 1 (multipart)", len(r.Files))
				}
			})
		}
	}
}

func TestEditMessage(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	th := newThread(t, c)
	ctx := context.Background()
	id, err := c.SendMessage(ctx, th, sdesk.Message{
		Content: "old", Embeds: []sdesk.Embed{{Description: "old"}},
		Buttons: []sdesk.Button{{Label: "Reply", CustomID: "reply/1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EditMessage(ctx, th, id, sdesk.Message{Content: "new"}); err != nil {
		t.Fatalf("EditMessage: %v", err)
	}
	got := fake.Messages(th)[0]
	if got.Content != "new" || len(got.Embeds) != 0 || len(got.Components) != 0 || got.Edits != 1 {
		t.Errorf("edited message = %+v, want content \"new\" without embeds or buttons, 1 edit", got)
	}
	r := lastRequest(t, fake)
	if r.Method != http.MethodPatch || r.Path != "/channels/"+th+"/messages/"+id {
		t.Errorf("request = %s %s", r.Method, r.Path)
	}
	for name, want := range map[string]string{"content": `"new"`, "embeds": `[]`, "components": `[]`} {
		if got := field(t, r.JSON, name); got != want {
			t.Errorf("%s on the wire = %s, want %s", name, got, want)
		}
	}

	err = c.EditMessage(ctx, th, "123", sdesk.Message{Content: "x"})
	if !discord.IsNotFound(err) {
		t.Errorf("edit of an unknown message: err = %v, want not found", err)
	}
}

// TestEditReplacesAttachments: an edit that sends files replaces the
// message's attachments ("attachments":[] keeps none of the old ones); an
// edit without files leaves them alone.
func TestEditReplacesAttachments(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	th := newThread(t, c)
	ctx := context.Background()
	file := func(name string) []sdesk.File {
		return []sdesk.File{{Name: name, ContentType: "text/plain", Data: []byte(name)}}
	}
	id, err := c.SendMessage(ctx, th, sdesk.Message{Content: "v1", Files: file("a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var out []string
		for _, f := range fake.Messages(th)[0].Files {
			out = append(out, f.Name)
		}
		return out
	}
	if err := c.EditMessage(ctx, th, id, sdesk.Message{Content: "v2"}); err != nil {
		t.Fatal(err)
	}
	if got := names(); !reflect.DeepEqual(got, []string{"a.txt"}) {
		t.Errorf("after an edit without files: got %v, want [a.txt]", got)
	}
	if err := c.EditMessage(ctx, th, id, sdesk.Message{Content: "v3", Files: file("b.txt")}); err != nil {
		t.Fatal(err)
	}
	if got := names(); !reflect.DeepEqual(got, []string{"b.txt"}) {
		t.Errorf("after an edit with a file: got %v, want [b.txt]", got)
	}
	if got := field(t, lastRequest(t, fake).JSON, "attachments"); got != "[]" {
		t.Errorf("attachments on the wire = %s, want []", got)
	}
}

func TestEditThread(t *testing.T) {
	yes, no := true, false
	name := "Issue #1 (closed)"
	tests := []struct {
		name     string
		edit     sdesk.ThreadEdit
		wantJSON map[string]any
		archived bool
		locked   bool
	}{
		{"rename", sdesk.ThreadEdit{Name: &name}, map[string]any{"name": name}, false, false},
		{"archive and lock", sdesk.ThreadEdit{Archived: &yes, Locked: &yes}, map[string]any{"archived": true, "locked": true}, true, true},
		{"unarchive", sdesk.ThreadEdit{Archived: &no}, map[string]any{"archived": false}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			th := newThread(t, c)
			if err := c.EditThread(context.Background(), th, tt.edit); err != nil {
				t.Fatalf("EditThread: %v", err)
			}
			r := lastRequest(t, fake)
			if r.Method != http.MethodPatch || r.Path != "/channels/"+th {
				t.Errorf("request = %s %s", r.Method, r.Path)
			}
			if got := r.Object(); !reflect.DeepEqual(got, tt.wantJSON) {
				t.Errorf("body = %v, want %v", got, tt.wantJSON)
			}
			got, _ := fake.Thread(th)
			wantName := "Issue #1"
			if tt.edit.Name != nil {
				wantName = *tt.edit.Name
			}
			if got.Name != wantName || got.Archived != tt.archived || got.Locked != tt.locked {
				t.Errorf("thread = %+v, want name %q archived %v locked %v", got, wantName, tt.archived, tt.locked)
			}
		})
	}
}

func TestEditThreadWithoutChangeSendsNothing(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	if err := c.EditThread(context.Background(), "1", sdesk.ThreadEdit{}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

func TestArchivedThreads(t *testing.T) {
	yes := true
	ctx := context.Background()
	t.Run("archived unlocked thread is unarchived by a post", func(t *testing.T) {
		fake := discordfake.New(t)
		c := newClient(t, fake)
		th := newThread(t, c)
		if err := c.EditThread(ctx, th, sdesk.ThreadEdit{Archived: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SendMessage(ctx, th, sdesk.Message{Content: "hi"}); err != nil {
			t.Fatalf("SendMessage: %v", err)
		}
		if got, _ := fake.Thread(th); got.Archived {
			t.Errorf("thread still archived after a post")
		}
	})
	t.Run("archived locked thread refuses posts", func(t *testing.T) {
		fake := discordfake.New(t)
		c := newClient(t, fake)
		th := newThread(t, c)
		if err := c.EditThread(ctx, th, sdesk.ThreadEdit{Archived: &yes, Locked: &yes}); err != nil {
			t.Fatal(err)
		}
		_, err := c.SendMessage(ctx, th, sdesk.Message{Content: "hi"})
		if !errors.Is(err, sdesk.ErrThreadArchived) || discord.APICode(err) != 50083 {
			t.Errorf("err = %v, want sdesk.ErrThreadArchived with code 50083", err)
		}
		if got := len(fake.Messages(th)); got != 0 {
			t.Errorf("%d messages, want 0", got)
		}
	})
}

func TestEditResponse(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	msg := sdesk.Message{Content: "Issue #3 created.", Buttons: []sdesk.Button{{Label: "Open", CustomID: "open/3"}}}
	if err := c.EditResponse(context.Background(), "itoken", msg); err != nil {
		t.Fatalf("EditResponse: %v", err)
	}
	r := lastRequest(t, fake)
	if r.Method != http.MethodPatch || r.Path != "/webhooks/"+appID+"/itoken/messages/@original" {
		t.Errorf("request = %s %s", r.Method, r.Path)
	}
	got, ok := fake.OriginalResponse("itoken")
	if !ok || got.Content != msg.Content || len(got.Components) != 1 {
		t.Errorf("original response = %+v, %v; want content %q and one row", got, ok, msg.Content)
	}
	if err := c.EditResponse(context.Background(), "", msg); err == nil {
		t.Error("EditResponse with an empty token succeeded")
	}
}

func TestBulkOverwriteCommands(t *testing.T) {
	tests := []struct {
		name, guild, wantPath string
	}{
		{"global", "", "/applications/" + appID + "/commands"},
		{"guild", "500000000000000005", "/applications/" + appID + "/guilds/500000000000000005/commands"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			cmds := []disgo.ApplicationCommandCreate{disgo.SlashCommandCreate{Name: "report", Description: "Report a problem"}}
			if err := c.BulkOverwriteCommands(context.Background(), tt.guild, cmds); err != nil {
				t.Fatalf("BulkOverwriteCommands: %v", err)
			}
			r := lastRequest(t, fake)
			if r.Method != http.MethodPut || r.Path != tt.wantPath {
				t.Errorf("request = %s %s, want PUT %s", r.Method, r.Path, tt.wantPath)
			}
			got := fake.Commands(appID, tt.guild)
			if len(got) != 1 || got[0]["name"] != "report" || got[0]["id"] == "" {
				t.Errorf("commands = %v, want report with an ID", got)
			}
		})
	}
}

func TestLimitsRefused(t *testing.T) {
	embeds := func(n int, desc string) []sdesk.Embed {
		out := make([]sdesk.Embed, n)
		for i := range out {
			out[i] = sdesk.Embed{Description: desc}
		}
		return out
	}
	tests := []struct {
		name string
		msg  sdesk.Message
	}{
		{"content 2001 runes", sdesk.Message{Content: strings.Repeat("é", 2001)}},
		{"title 257 runes", sdesk.Message{Embeds: []sdesk.Embed{{Title: strings.Repeat("a", 257)}}}},
		{"description 4097 runes", sdesk.Message{Embeds: embeds(1, strings.Repeat("a", 4097))}},
		{"11 embeds", sdesk.Message{Embeds: embeds(11, "a")}},
		{"embeds 6001 runes in all", sdesk.Message{Embeds: append(embeds(1, strings.Repeat("a", 4096)), sdesk.Embed{Description: strings.Repeat("b", 1905)})}},
		{"empty embed", sdesk.Message{Embeds: []sdesk.Embed{{Color: 1}}}},
		{"26 buttons", sdesk.Message{Content: "x", Buttons: make([]sdesk.Button, 26)}},
		{"button without label", sdesk.Message{Content: "x", Buttons: []sdesk.Button{{CustomID: "a"}}}},
		{"button custom_id 101 runes", sdesk.Message{Content: "x", Buttons: []sdesk.Button{{Label: "a", CustomID: strings.Repeat("a", 101)}}}},
		{"link button style", sdesk.Message{Content: "x", Buttons: []sdesk.Button{{Label: "a", CustomID: "a", Style: 5}}}},
		{"11 files", sdesk.Message{Content: "x", Files: make([]sdesk.File, 11)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			ctx := context.Background()
			_, err := c.SendMessage(ctx, "2", tt.msg)
			if !errors.Is(err, discord.ErrLimit) {
				t.Errorf("SendMessage err = %v, want ErrLimit", err)
			}
			if err := c.EditMessage(ctx, "2", "3", tt.msg); !errors.Is(err, discord.ErrLimit) {
				t.Errorf("EditMessage err = %v, want ErrLimit", err)
			}
			if err := c.EditResponse(ctx, "tok", tt.msg); !errors.Is(err, discord.ErrLimit) {
				t.Errorf("EditResponse err = %v, want ErrLimit", err)
			}
			if n := len(fake.Requests()); n != 0 {
				t.Errorf("%d requests sent, want 0", n)
			}
		})
	}
	t.Run("at the limits", func(t *testing.T) {
		fake := discordfake.New(t)
		c := newClient(t, fake)
		msg := sdesk.Message{
			Content: strings.Repeat("é", 2000),
			Embeds:  append(embeds(1, strings.Repeat("a", 4096)), sdesk.Embed{Title: strings.Repeat("t", 256), Description: strings.Repeat("b", 1648)}),
		}
		if _, err := c.SendMessage(context.Background(), "2", msg); err != nil {
			t.Errorf("SendMessage at the limits: %v", err)
		}
	})
}

func TestFiles(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	th := newThread(t, c)
	files := []sdesk.File{
		{Name: "log.txt", ContentType: "text/plain", Data: []byte("line 1\nline 2\n")},
		{Name: `odd "name".png`, ContentType: "image/png", Data: []byte{0x89, 'P', 'N', 'G', 0, 1, 2}},
		{Name: "blob", Data: bytes.Repeat([]byte{0xff}, 100000)},
	}
	// A 500 first: the retry must send the files again, complete.
	fake.FailNext(http.MethodPost, "/channels/*/messages", http.StatusInternalServerError, "", 1)
	if _, err := c.SendMessage(context.Background(), th, sdesk.Message{Content: "see files", Files: files}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	msgs := fake.Messages(th)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	got := msgs[0].Files
	if len(got) != len(files) {
		t.Fatalf("%d files arrived, want %d", len(got), len(files))
	}
	for i, want := range files {
		wantType := want.ContentType
		if wantType == "" {
			wantType = "application/octet-stream"
		}
		if got[i].Name != want.Name || got[i].ContentType != wantType || !bytes.Equal(got[i].Data, want.Data) || got[i].Field != fmt.Sprintf("files[%d]", i) {
			t.Errorf("file %d = %s %q %s (%d bytes), want %q %s (%d bytes)", i, got[i].Field, got[i].Name, got[i].ContentType, len(got[i].Data), want.Name, wantType, len(want.Data))
		}
	}
	if msgs[0].Content != "see files" {
		t.Errorf("content = %q", msgs[0].Content)
	}
}

func TestRateLimitHonoured(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	th := newThread(t, c)
	fake.FailNext(http.MethodPost, "/channels/*/messages", http.StatusTooManyRequests,
		`{"message":"You are being rate limited.","retry_after":0.3,"global":false}`, 1)
	if _, err := c.SendMessage(context.Background(), th, sdesk.Message{Content: "hi"}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	var posts []discordfake.Request
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages") {
			posts = append(posts, r)
		}
	}
	if len(posts) != 2 || posts[0].Status != 429 || posts[1].Status != 200 {
		t.Fatalf("posts = %d, want a 429 then a 200", len(posts))
	}
	if waited := posts[1].Time.Sub(posts[0].Time); waited < 300*time.Millisecond {
		t.Errorf("retried after %v, want at least retry_after 300ms", waited)
	}
	if n := len(fake.Messages(th)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestRateLimitWithoutJSONBody(t *testing.T) {
	// A 429 whose body is not JSON (from a proxy): no retry_after to read,
	// the client still retries (after Retry-After).
	fake := discordfake.New(t)
	c := newClient(t, fake)
	fake.FailNext("*", "/channels/*/threads", http.StatusTooManyRequests, "<html>slow down</html>", 1)
	if _, err := c.CreatePrivateThread(context.Background(), "2", "t"); err != nil {
		t.Fatalf("CreatePrivateThread: %v", err)
	}
	if n := len(fake.Threads()); n != 1 {
		t.Errorf("%d threads, want 1", n)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		fails      int
		maxRetries int
		wantErr    bool
		wantPosts  int
	}{
		{"500 then success", 500, 1, 4, false, 2},
		{"502 then success", 502, 1, 4, false, 2},
		{"persistent 500", 500, 100, 2, true, 3},
		{"persistent 502", 502, 100, 1, true, 2},
		{"persistent 503, no retries", 503, 100, -1, true, 1},
		{"403 is not retried", 403, 100, 4, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := discordfake.New(t)
			c := newClient(t, fake, retries(tt.maxRetries))
			fake.FailNext(http.MethodPost, "/channels/*/messages", tt.status, "", tt.fails)
			_, err := c.SendMessage(context.Background(), "2", sdesk.Message{Content: "hi"})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && discord.StatusCode(err) != tt.status {
				t.Errorf("StatusCode(%v) = %d, want %d", err, discord.StatusCode(err), tt.status)
			}
			if n := len(fake.Requests()); n != tt.wantPosts {
				t.Errorf("%d attempts, want %d", n, tt.wantPosts)
			}
			wantMsgs := 1
			if tt.wantErr {
				wantMsgs = 0
			}
			if n := len(fake.Messages("2")); n != wantMsgs {
				t.Errorf("%d messages created, want %d", n, wantMsgs)
			}
		})
	}
}

func TestDeadlineShorterThanRetryAfter(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	fake.FailNext("*", "/channels/*/messages", http.StatusTooManyRequests,
		`{"message":"You are being rate limited.","retry_after":5,"global":false}`, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.SendMessage(ctx, "2", sdesk.Message{Content: "hi"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %v, want at once", took)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestContextCanceledDuringBackoff(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	fake.FailNext("*", "/channels/*/messages", http.StatusInternalServerError, "", 100)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.SendMessage(ctx, "2", sdesk.Message{Content: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("returned after %v", took)
	}
}

func TestSlowServerAndDeadline(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	fake.SetDelay(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.SendMessage(ctx, "2", sdesk.Message{Content: "hi"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestMalformedIDsRefused(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	ctx := context.Background()
	msg := sdesk.Message{Content: "x"}
	name := "n"
	calls := map[string]func() error{
		"CreatePrivateThread": func() error { _, err := c.CreatePrivateThread(ctx, "", "n"); return err },
		"AddThreadMember":     func() error { return c.AddThreadMember(ctx, "1", "2/../3") },
		"SendMessage":         func() error { _, err := c.SendMessage(ctx, "../guilds/1", msg); return err },
		"EditMessage":         func() error { return c.EditMessage(ctx, "1", "2?x=1", msg) },
		"EditThread":          func() error { return c.EditThread(ctx, "1a", sdesk.ThreadEdit{Name: &name}) },
		"EditResponse":        func() error { return c.EditResponse(ctx, "tok/../../x", msg) },
		"BulkOverwriteCommands": func() error {
			return c.BulkOverwriteCommands(ctx, "g", nil)
		},
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s with a malformed ID succeeded", name)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
}

func TestErrorsHideInteractionToken(t *testing.T) {
	fake := discordfake.New(t)
	const token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ"
	fake.FailNext("*", "/webhooks/*/*/messages/*", http.StatusTooManyRequests, `{"message":"You are being rate limited.","retry_after":0,"global":false}`, 1)
	c := newClient(t, fake, retries(-1))
	err := c.EditResponse(context.Background(), token, sdesk.Message{Content: "x"})
	if err == nil {
		t.Fatal("EditResponse succeeded, want the 429")
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error %q shows the interaction token", err)
	}
	var re *rest.Error
	if !errors.As(err, &re) || discord.StatusCode(err) != http.StatusTooManyRequests {
		t.Errorf("err = %v, want a 429 *rest.Error", err)
	}
}

func TestWrongToken(t *testing.T) {
	fake := discordfake.New(t)
	c, err := discord.NewClient(discord.ClientConfig{BotToken: "wrong", ApplicationID: appID, APIURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(context.Background(), "2", sdesk.Message{Content: "hi"})
	if discord.StatusCode(err) != http.StatusUnauthorized {
		t.Errorf("err = %v, want 401", err)
	}
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

// flakyTransport fails the first n round trips with a network error.
type flakyTransport struct {
	fails atomic.Int32
	calls atomic.Int32
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestNetworkErrorRetried(t *testing.T) {
	fake := discordfake.New(t)
	ft := &flakyTransport{}
	ft.fails.Store(1)
	c := newClient(t, fake, func(cfg *discord.ClientConfig) { cfg.HTTPClient = &http.Client{Transport: ft} })
	if _, err := c.SendMessage(context.Background(), "2", sdesk.Message{Content: "hi"}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if got := ft.calls.Load(); got != 2 {
		t.Errorf("%d round trips, want 2", got)
	}
	if n := len(fake.Messages("2")); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

// exhaustingTransport adds the headers of an exhausted rate-limit bucket
// to every answer, as Discord does for the last request of a window.
type exhaustingTransport struct{ resetAfter string }

func (e exhaustingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Header.Set("X-RateLimit-Remaining", "0")
		resp.Header.Set("X-RateLimit-Reset-After", e.resetAfter)
	}
	return resp, err
}

// TestExhaustedBucket: after an answer saying the bucket is empty, the next
// request to the route waits for the reset, but never past the deadline.
func TestExhaustedBucket(t *testing.T) {
	ctx := context.Background()
	exhausting := func(resetAfter string) func(*discord.ClientConfig) {
		return func(cfg *discord.ClientConfig) {
			cfg.HTTPClient = &http.Client{Transport: exhaustingTransport{resetAfter: resetAfter}}
		}
	}
	t.Run("waits for the reset", func(t *testing.T) {
		fake := discordfake.New(t)
		c := newClient(t, fake, exhausting("0.3"))
		for _, content := range []string{"1", "2"} {
			if _, err := c.SendMessage(ctx, "2", sdesk.Message{Content: content}); err != nil {
				t.Fatal(err)
			}
		}
		reqs := fake.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2", len(reqs))
		}
		if waited := reqs[1].Time.Sub(reqs[0].Time); waited < 250*time.Millisecond {
			t.Errorf("second request after %v, want the bucket's reset (300ms)", waited)
		}
	})
	t.Run("gives up at once when the reset is past the deadline", func(t *testing.T) {
		fake := discordfake.New(t)
		c := newClient(t, fake, exhausting("10"))
		if _, err := c.SendMessage(ctx, "2", sdesk.Message{Content: "1"}); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		if _, err := c.SendMessage(short, "2", sdesk.Message{Content: "2"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("gave up after %v, want at once", took)
		}
		if n := len(fake.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// TestAPIURLWithPathPrefix puts the fake behind a proxy that serves it
// under /proxy/discord: the client must keep the prefix, the rest of the
// path, the token and a User-Agent of the form Discord requires.
func TestAPIURLWithPathPrefix(t *testing.T) {
	fake := discordfake.New(t)
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	var mu sync.Mutex
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
		pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/proxy/discord")
		pr.Out.URL.RawPath = ""
	}}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/proxy/discord/") {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	c := newClient(t, fake, func(cfg *discord.ClientConfig) { cfg.APIURL = proxy.URL + "/proxy/discord/api/v10/" })
	th := newThread(t, c)
	if err := c.EditResponse(context.Background(), "tok", sdesk.Message{Content: "x"}); err != nil {
		t.Fatalf("EditResponse: %v", err)
	}
	want := []string{"/proxy/discord/api/v10/channels/200000000000000002/threads", "/proxy/discord/api/v10/webhooks/" + appID + "/tok/messages/@original"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("proxy saw %v, want %v", seen, want)
	}
	if _, ok := fake.Thread(th); !ok {
		t.Error("thread not created through the proxy")
	}
	r := fake.Requests()[0]
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "DiscordBot (https://github.com/disgoorg/disgo, ") {
		t.Errorf("User-Agent = %q, want DiscordBot ($url, $versionNumber)", ua)
	}
	if got := r.Header.Get("Authorization"); got != "Bot "+fake.Token() {
		t.Errorf("Authorization = %q", got)
	}
}

func TestConcurrentSends(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	th := newThread(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			if _, err := c.SendMessage(context.Background(), th, sdesk.Message{Content: fmt.Sprint(i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(fake.Messages(th)); n != 20 {
		t.Errorf("%d messages, want 20", n)
	}
}

// TestSendMessageNonce: a message sent twice with the same nonce (a retry
// after a lost answer) is created once; the nonce and enforce_nonce are on
// the wire, with and without files.
func TestSendMessageNonce(t *testing.T) {
	for _, files := range []bool{false, true} {
		t.Run(fmt.Sprint("files=", files), func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			thread := newThread(t, c)
			msg := sdesk.Message{Content: "hello", Nonce: "job-1-msg-0"}
			if files {
				msg.Files = []sdesk.File{{Name: "a.txt", ContentType: "text/plain", Data: []byte("a")}}
			}
			first, err := c.SendMessage(context.Background(), thread, msg)
			if err != nil {
				t.Fatal(err)
			}
			second, err := c.SendMessage(context.Background(), thread, msg)
			if err != nil {
				t.Fatal(err)
			}
			if first != second {
				t.Errorf("message IDs: got %s and %s, want the same message", first, second)
			}
			th, _ := fake.Thread(thread)
			if len(th.Messages) != 1 {
				t.Errorf("messages: got %d, want 1", len(th.Messages))
			}
			reqs := fake.Requests()
			last := reqs[len(reqs)-1]
			if !strings.Contains(string(last.JSON), `"nonce":"job-1-msg-0"`) || !strings.Contains(string(last.JSON), `"enforce_nonce":true`) {
				t.Errorf("request: got %s, want nonce and enforce_nonce", last.JSON)
			}
			other, err := c.SendMessage(context.Background(), thread, sdesk.Message{Content: "hello", Nonce: "job-1-msg-1"})
			if err != nil || other == first {
				t.Errorf("another nonce: got %s, %v, want a new message", other, err)
			}
		})
	}
}

// Thread ownership (issue 7, item 1): FindThread adopts only a thread that
// CreatePrivateThread could have made: private, under the support
// channel, created by the bot itself. A member's thread is never adopted,
// whatever its name.

const (
	supportChannel = "200000000000000002"
	otherChannel   = "200000000000000003"
	memberID       = "300000000000000001"
)

// threadSpec is a thread that exists before FindThread runs.
type threadSpec struct {
	parent string
	bot    bool // created by the bot; else by memberID
	typ    int  // 11 public, 12 private
	name   string
}

func addThreads(fake *discordfake.Server, specs []threadSpec) []string {
	ids := make([]string, len(specs))
	for i, s := range specs {
		owner := memberID
		if s.bot {
			owner = fake.BotUserID()
		}
		ids[i] = fake.AddThread(s.parent, owner, s.name, s.typ)
	}
	return ids
}

func TestFindThread(t *testing.T) {
	tests := []struct {
		name    string
		threads []threadSpec
		want    int // index in threads; -1: sdesk.ErrNotFound
	}{
		{"the bot's own private thread", []threadSpec{{supportChannel, true, 12, "#41 Printer on fire"}}, 0},
		{"a member's public thread with the name", []threadSpec{{supportChannel, false, 11, "#41 help pls"}}, -1},
		{"a member's private thread with the name", []threadSpec{{supportChannel, false, 12, "#41 help pls"}}, -1},
		{"a public thread of the bot's", []threadSpec{{supportChannel, true, 11, "#41 Printer on fire"}}, -1},
		{"the bot's private thread under another channel", []threadSpec{{otherChannel, true, 12, "#41 Printer on fire"}}, -1},
		{"the bot's threads of other issues", []threadSpec{{supportChannel, true, 12, "#410 Printer"}, {supportChannel, true, 12, "#4 Printer"}, {supportChannel, true, 12, "41 Printer"}}, -1},
		{"members' threads before and after the bot's", []threadSpec{
			{supportChannel, false, 11, "#41 help pls"},
			{supportChannel, false, 12, "#41 me too"},
			{supportChannel, true, 12, "#41 Printer on fire"},
			{supportChannel, false, 11, "#41 still broken"},
			{supportChannel, false, 12, "#41 Printer on fire"},
		}, 2},
		{"two of the bot's own: the oldest", []threadSpec{{supportChannel, true, 12, "#41 first"}, {supportChannel, true, 12, "#41 second"}}, 0},
		{"no threads", nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			ids := addThreads(fake, tt.threads)
			got, err := c.FindThread(context.Background(), fake.GuildID(), supportChannel, "#41 ")
			if tt.want < 0 {
				if !errors.Is(err, sdesk.ErrNotFound) {
					t.Errorf("FindThread = %q, %v; want sdesk.ErrNotFound", got, err)
				}
				return
			}
			if err != nil || got != ids[tt.want] {
				t.Errorf("FindThread = %q, %v; want %s (%+v)", got, err, ids[tt.want], tt.threads[tt.want])
			}
		})
	}
}

func TestFindThreadRefusesEmptyPrefix(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	addThreads(fake, []threadSpec{{supportChannel, true, 12, "#41 x"}})
	if got, err := c.FindThread(context.Background(), fake.GuildID(), supportChannel, ""); err == nil || errors.Is(err, sdesk.ErrNotFound) {
		t.Errorf("FindThread with an empty prefix = %q, %v; want an error other than ErrNotFound", got, err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
}

// The bot's user ID comes from GET /users/@me on first use, never at
// construction, once per Client however many calls and goroutines ask.
func TestBotUserIDFetchedOnce(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake)
	if n := len(fake.Requests()); n != 0 {
		t.Fatalf("NewClient sent %d requests, want 0", n)
	}
	newThread(t, c)
	if n := countRequests(fake, "GET", "/users/@me"); n != 0 {
		t.Errorf("CreatePrivateThread fetched /users/@me %d times, want 0", n)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if id, err := c.BotUserID(context.Background()); err != nil || id != fake.BotUserID() {
				t.Errorf("BotUserID = %q, %v; want %s", id, err, fake.BotUserID())
			}
		})
	}
	wg.Wait()
	for range 3 {
		if _, err := c.FindThread(context.Background(), fake.GuildID(), supportChannel, "#1 "); !errors.Is(err, sdesk.ErrNotFound) {
			t.Errorf("FindThread: %v, want ErrNotFound", err)
		}
	}
	if n := countRequests(fake, "GET", "/users/@me"); n != 1 {
		t.Errorf("GET /users/@me sent %d times, want 1", n)
	}
}

// A failed /users/@me decides nothing: FindThread returns an error that
// is not ErrNotFound (the caller must not create a second thread), lists
// no threads, and the next call fetches the ID again.
func TestFindThreadWhenUsersMeFails(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake, retries(-1))
	ids := addThreads(fake, []threadSpec{{supportChannel, true, 12, "#41 Printer on fire"}})
	fake.FailNext("GET", "/users/@me", http.StatusInternalServerError, "", 1)
	if got, err := c.FindThread(context.Background(), fake.GuildID(), supportChannel, "#41 "); err == nil || errors.Is(err, sdesk.ErrNotFound) || discord.StatusCode(err) != 500 {
		t.Errorf("FindThread = %q, %v; want the 500, not ErrNotFound", got, err)
	}
	if n := countRequests(fake, "GET", "/guilds/"+fake.GuildID()+"/threads/active"); n != 0 {
		t.Errorf("threads listed %d times without knowing the bot, want 0", n)
	}
	if got, err := c.FindThread(context.Background(), fake.GuildID(), supportChannel, "#41 "); err != nil || got != ids[0] {
		t.Errorf("FindThread after /users/@me recovered = %q, %v; want %s", got, err, ids[0])
	}
	if n := countRequests(fake, "GET", "/users/@me"); n != 2 {
		t.Errorf("GET /users/@me sent %d times, want 2 (a failure is not kept)", n)
	}
}

func countRequests(fake *discordfake.Server, method, path string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// CreatePrivateThread refuses an answer that is not a private thread
// under the channel asked for.
func TestCreatePrivateThreadChecksTheAnswer(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		ok     bool
	}{
		{"private thread under the channel", `{"id":"5","type":12,"parent_id":"` + supportChannel + `"}`, true},
		{"public thread", `{"id":"5","type":11,"parent_id":"` + supportChannel + `"}`, false},
		{"under another channel", `{"id":"5","type":12,"parent_id":"` + otherChannel + `"}`, false},
		{"no parent", `{"id":"5","type":12}`, false},
		{"text channel", `{"id":"5","type":0}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(tt.answer))
			}))
			t.Cleanup(srv.Close)
			c, err := discord.NewClient(discord.ClientConfig{BotToken: "t", ApplicationID: appID, APIURL: srv.URL + "/api/v10"})
			if err != nil {
				t.Fatal(err)
			}
			id, err := c.CreatePrivateThread(context.Background(), supportChannel, "#41 x")
			if got := err == nil; got != tt.ok || (tt.ok && id != "5") {
				t.Errorf("CreatePrivateThread = %q, %v; want ok %v", id, err, tt.ok)
			}
		})
	}
}

// FuzzFindThread: whatever threads members and the bot have opened, with
// any names, FindThread returns exactly the oldest thread that is private
// (type 12), under the support channel, owned by the bot and named with
// the prefix, and sdesk.ErrNotFound when there is none. spec gives each
// thread (one per line of names) its kind: bit 0 private, bit 1 under the
// support channel, bit 2 the bot's own.
func FuzzFindThread(f *testing.F) {
	f.Add([]byte{7}, "#41 Printer on fire")
	f.Add([]byte{3, 2, 7, 6, 5, 3}, "#41 help pls\n#41 help\n#41 Printer\n#41 Printer\n#41 Printer\n#41 Printer on fire")
	f.Add([]byte{7, 7, 7}, "#410 x\n#4 x\n#41 x")
	f.Add([]byte{3, 7}, "#41\u200b x\n#41 ")
	f.Add([]byte{7, 7}, "#41 second\n#41 first")
	f.Fuzz(func(t *testing.T, spec []byte, names string) {
		fake := discordfake.New(t)
		c := newClient(t, fake, retries(-1))
		var specs []threadSpec
		for i, name := range strings.Split(names, "\n") {
			if n := len([]rune(name)); n < 1 || n > 100 || len(specs) == 16 {
				continue
			}
			var k byte
			if i < len(spec) {
				k = spec[i]
			}
			s := threadSpec{parent: otherChannel, bot: k&4 != 0, typ: 11, name: name}
			if k&1 != 0 {
				s.typ = 12
			}
			if k&2 != 0 {
				s.parent = supportChannel
			}
			specs = append(specs, s)
		}
		ids := addThreads(fake, specs)
		want := ""
		for i, s := range specs { // ids ascend: the first match is the oldest
			if st, _ := fake.Thread(ids[i]); want == "" && s.bot && s.typ == 12 && s.parent == supportChannel && strings.HasPrefix(st.Name, "#41 ") {
				want = ids[i]
			}
		}
		got, err := c.FindThread(context.Background(), fake.GuildID(), supportChannel, "#41 ")
		switch {
		case want == "" && !errors.Is(err, sdesk.ErrNotFound):
			t.Fatalf("FindThread = %q, %v; want ErrNotFound for %+v", got, err, specs)
		case want != "" && (err != nil || got != want):
			t.Fatalf("FindThread = %q, %v; want %s for %+v", got, err, want, specs)
		}
	})
}

// TestRefusedDecorationsLeftOut: an embed link or icon Discord would refuse
// (relative, not http(s), malformed, an icon or link without an author
// name) is left out; the text is sent (issue 13: a comment was lost for a
// relative avatar URL).
func TestRefusedDecorationsLeftOut(t *testing.T) {
	tests := []struct {
		name     string
		embed    sdesk.Embed
		wantURL  string
		wantIcon string
		wantLink string
		wantName string
	}{
		{"relative avatar", sdesk.Embed{Description: "text", AuthorName: "Ann", AuthorIcon: "/uploads/-/system/user/avatar/12/avatar.png", AuthorURL: "https://gitlab.example/n"}, "", "", "https://gitlab.example/n", "Ann"},
		{"javascript link", sdesk.Embed{Description: "text", Title: "t", URL: "javascript:alert(1)"}, "", "", "", ""},
		{"malformed icon", sdesk.Embed{Description: "text", AuthorName: "Ann", AuthorIcon: "http://exa mple/%zz"}, "", "", "", "Ann"},
		{"icon without a name", sdesk.Embed{Description: "text", AuthorIcon: "https://gitlab.example/a.png", AuthorURL: "https://gitlab.example/n"}, "", "", "", ""},
		{"valid kept", sdesk.Embed{Description: "text", Title: "t", URL: "https://gitlab.example/i/1", AuthorName: "Ann", AuthorIcon: "https://gitlab.example/a.png"}, "https://gitlab.example/i/1", "https://gitlab.example/a.png", "", "Ann"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			ch := newThread(t, c)
			id, err := c.SendMessage(context.Background(), ch, sdesk.Message{Embeds: []sdesk.Embed{tt.embed}})
			if err != nil {
				t.Fatalf("SendMessage: %v, want the text sent", err)
			}
			msgs := fake.Messages(ch)
			if len(msgs) != 1 || msgs[0].ID != id || len(msgs[0].Embeds) != 1 {
				t.Fatalf("messages: got %+v, want one embed", msgs)
			}
			e := msgs[0].Embeds[0]
			if e["description"] != "text" {
				t.Errorf("description: got %v, want text", e["description"])
			}
			gotURL, _ := e["url"].(string)
			author, _ := e["author"].(map[string]any)
			gotIcon, _ := author["icon_url"].(string)
			gotLink, _ := author["url"].(string)
			gotName, _ := author["name"].(string)
			if gotURL != tt.wantURL || gotIcon != tt.wantIcon || gotLink != tt.wantLink || gotName != tt.wantName {
				t.Errorf("got url %q icon %q link %q name %q, want %q %q %q %q", gotURL, gotIcon, gotLink, gotName, tt.wantURL, tt.wantIcon, tt.wantLink, tt.wantName)
			}
		})
	}
}

// TestPermanentErrors: Discord's answers that no retry can change are
// sdesk.PermanentError, sent once; outages are not.
func TestPermanentErrors(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{404, `{"message":"Unknown Channel","code":10003}`, true},
		{404, `{"message":"Unknown Message","code":10008}`, true},
		{404, `{"message":"Unknown Webhook","code":10015}`, true},
		{403, `{"message":"Missing Access","code":50001}`, true},
		{403, `{"message":"Missing Permissions","code":50013}`, true},
		{401, `{"message":"Invalid Webhook Token","code":50027}`, true},
		{400, `{"message":"Maximum number of active threads reached","code":160006}`, true},
		{403, `{"message":"Forbidden","code":0}`, true},
		{404, `{"message":"404: Not Found","code":0}`, true},
		{500, `{"message":"500: Internal Server Error","code":0}`, false},
		{400, `{"message":"Invalid Form Body","code":50035}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake, retries(1))
			ch := newThread(t, c)
			fake.FailNext("POST", "/channels/*/messages", tt.status, tt.body, 2)
			before := len(fake.Requests())
			_, err := c.SendMessage(context.Background(), ch, sdesk.Message{Content: "x"})
			if err == nil {
				t.Fatal("SendMessage: got success, want an error")
			}
			if got := sdesk.IsPermanent(err); got != tt.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.want)
			}
			if sent := len(fake.Requests()) - before; tt.want && sent != 1 {
				t.Errorf("requests: got %d, want 1 (no retry of a permanent error)", sent)
			}
		})
	}
}

// TestLongRateLimitNotAwaited: a retry_after past MaxWait (Discord's third
// thread rename in 10 minutes) fails at once with sdesk.RateLimitedError
// (had the call waited, its retry would have succeeded), and the spent
// bucket refuses the next call without sending it.
func TestLongRateLimitNotAwaited(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake, func(cfg *discord.ClientConfig) { cfg.MaxWait = time.Second })
	ch := newThread(t, c)
	fake.FailNext("PATCH", "/channels/*", 429, `{"message":"You are being rate limited.","retry_after":598.2,"global":false}`, 1)
	name := "renamed"
	before := len(fake.Requests())
	err := c.EditThread(context.Background(), ch, sdesk.ThreadEdit{Name: &name})
	var rl *sdesk.RateLimitedError
	if !errors.As(err, &rl) || rl.After < 590*time.Second {
		t.Fatalf("EditThread: got %v, want a RateLimitedError of about 598 s", err)
	}
	if err := c.EditThread(context.Background(), ch, sdesk.ThreadEdit{Name: &name}); !sdesk.IsRateLimited(err) {
		t.Errorf("second EditThread: got %v, want RateLimitedError from the spent bucket", err)
	}
	if sent := len(fake.Requests()) - before; sent != 1 {
		t.Errorf("requests: got %d, want 1", sent)
	}
}

// TestErrorsNameTheConfiguredBase: errors and retry logs name the URL
// under DISCORD_API_URL (here with a path prefix), never discord.com, for
// an answer of Discord (a 5xx) and for a network error.
func TestErrorsNameTheConfiguredBase(t *testing.T) {
	fake := discordfake.New(t)
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
		pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/proxy/discord")
		pr.Out.URL.RawPath = ""
	}}
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more: connection refused

	tests := []struct {
		name string
		base string
		fail func()
	}{
		{"5xx", proxy.URL + "/proxy/discord/api/v10", func() {
			fake.FailNext(http.MethodPost, "/channels/*/messages", http.StatusBadGateway, `{"message":"bad gateway","code":0}`, 100)
		}},
		{"network error", down.URL + "/proxy/discord/api/v10", func() {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fail()
			var logs bytes.Buffer
			c := newClient(t, fake, retries(1), func(cfg *discord.ClientConfig) {
				cfg.APIURL = tt.base
				cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			})
			_, err := c.SendMessage(context.Background(), "200000000000000002", sdesk.Message{Content: "hi"})
			if err == nil {
				t.Fatal("SendMessage succeeded, want an error")
			}
			want := tt.base + "/channels/200000000000000002/messages"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
			if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), want) {
				t.Errorf("retry log %s does not name %s", logs.String(), want)
			}
			for _, text := range []string{err.Error(), logs.String()} {
				if strings.Contains(text, "discord.com") {
					t.Errorf("text names discord.com: %s", text)
				}
			}
		})
	}
}

// TestRenameLimitApart: a rename's long 429 (two renames per 10 minutes)
// spends the rename's bucket only: an archive of the same thread goes out
// at once.
func TestRenameLimitApart(t *testing.T) {
	fake := discordfake.New(t)
	c := newClient(t, fake, func(cfg *discord.ClientConfig) { cfg.MaxWait = time.Second })
	th := newThread(t, c)
	fake.FailNext("PATCH", "/channels/*", 429, `{"message":"You are being rate limited.","retry_after":598.2,"global":false}`, 1)
	name, yes := "renamed", true
	if err := c.EditThread(context.Background(), th, sdesk.ThreadEdit{Name: &name}); !sdesk.IsRateLimited(err) {
		t.Fatalf("rename: got %v, want RateLimitedError", err)
	}
	if err := c.EditThread(context.Background(), th, sdesk.ThreadEdit{Archived: &yes}); err != nil {
		t.Errorf("archive after a rename's 429: %v", err)
	}
	if got, _ := fake.Thread(th); !got.Archived {
		t.Error("thread not archived")
	}
}

// TestCreateThreadNotRepeated: a thread create that reached Discord is not
// sent again after a 5xx or a network error (it may have been made); a
// 429 (refused before acting) is.
func TestCreateThreadNotRepeated(t *testing.T) {
	tests := []struct {
		name     string
		fail     func(*discordfake.Server)
		wantErr  bool
		wantSent int
	}{
		{"500", func(f *discordfake.Server) { f.FailNext("POST", "/channels/*/threads", 500, "", 1) }, true, 1},
		{"lost answer", func(f *discordfake.Server) { f.FailNextAfterEffect("POST", "/channels/*/threads", 502, "", 1) }, true, 1},
		{"429", func(f *discordfake.Server) {
			f.FailNext("POST", "/channels/*/threads", 429, `{"message":"You are being rate limited.","retry_after":0.1,"global":false}`, 1)
		}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := discordfake.New(t)
			c := newClient(t, fake)
			tt.fail(fake)
			_, err := c.CreatePrivateThread(context.Background(), supportChannel, "#1 x")
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if n := countRequests(fake, "POST", "/channels/"+supportChannel+"/threads"); n != tt.wantSent {
				t.Errorf("creates sent: got %d, want %d", n, tt.wantSent)
			}
		})
	}
	t.Run("network error", func(t *testing.T) {
		fake := discordfake.New(t)
		ft := &flakyTransport{}
		ft.fails.Store(1)
		c := newClient(t, fake, func(cfg *discord.ClientConfig) { cfg.HTTPClient = &http.Client{Transport: ft} })
		if _, err := c.CreatePrivateThread(context.Background(), supportChannel, "#1 x"); err == nil {
			t.Error("CreatePrivateThread succeeded, want the network error")
		}
		if got := ft.calls.Load(); got != 1 {
			t.Errorf("round trips: got %d, want 1", got)
		}
	})
}

// TestRetryAfterFromTheBody: a 429's JSON retry_after (float seconds) wins
// over its Retry-After header (whole seconds, rounded up).
func TestRetryAfterFromTheBody(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message":"You are being rate limited.","retry_after":0.2,"global":false}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"7"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := discord.NewClient(discord.ClientConfig{BotToken: "t", ApplicationID: appID, APIURL: srv.URL + "/api/v10", MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := c.SendMessage(context.Background(), "2", sdesk.Message{Content: "x"}); err != nil || id != "7" {
		t.Errorf("SendMessage = %q, %v; want 7 after retry_after", id, err)
	}
}
