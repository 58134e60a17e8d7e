// Package e2e is the harness of sdesk's end-to-end tests: the Discord and
// GitLab fakes, the configuration that points sdesk at them, interactions
// signed the way Discord signs them, and webhook deliveries.
package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/devkey"
	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// IDs the harness uses.
const (
	AppID         = "1200000000000000001"
	ChannelID     = "1200000000000000002"
	GuildID       = "1200000000000000003"
	StaffRoleID   = "1200000000000000004"
	WebhookSecret = "e2e-webhook-secret"
)

// Users.
var (
	Reporter = User{ID: "1210000000000000001", Username: "reporter"}
	Other    = User{ID: "1210000000000000002", Username: "bystander"}
	Staff    = User{ID: "1210000000000000003", Username: "moderator", Roles: []string{StaffRoleID}}
)

// User is a Discord guild member.
type User struct {
	ID, Username string
	Roles        []string
	// TimedOutUntil, when set, is sent as communication_disabled_until.
	TimedOutUntil time.Time
}

// Env is one test's world.
type Env struct {
	t       testing.TB
	Discord *discordfake.Server
	GitLab  *gitlabfake.Server
	Key     ed25519.PrivateKey
	Vars    map[string]string
	seq     atomic.Int64
}

// New starts the fakes and fills Vars with a complete configuration on the
// bbolt store in a temporary directory.
func New(t testing.TB) *Env {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, Discord: discordfake.New(t), GitLab: gitlabfake.New(t), Key: key}
	e.seq.Store(time.Now().UnixNano() % 1e12)
	e.Vars = map[string]string{
		"DISCORD_APPLICATION_ID":     AppID,
		"DISCORD_PUBLIC_KEY":         hex.EncodeToString(key.Public().(ed25519.PublicKey)),
		"DISCORD_BOT_TOKEN":          e.Discord.Token(),
		"DISCORD_SUPPORT_CHANNEL_ID": ChannelID,
		"DISCORD_GUILD_ID":           GuildID,
		"DISCORD_STAFF_ROLE_ID":      StaffRoleID,
		"DISCORD_API_URL":            e.Discord.URL(),
		"GITLAB_URL":                 e.GitLab.URL(),
		"GITLAB_TOKEN":               e.GitLab.Token(),
		"GITLAB_PROJECT":             e.GitLab.ProjectPath(),
		"GITLAB_WEBHOOK_SECRET":      WebhookSecret,
		"SDESK_STORE":                "bolt",
		"SDESK_BOLT_PATH":            filepath.Join(t.TempDir(), "sdesk.db"),
		"SDESK_ADDR":                 "127.0.0.1:0",
		"SDESK_LOG_LEVEL":            "debug",
		// No limits per reporter: tests make many reports as one member;
		// the tests of the limits set them.
		"SDESK_MAX_OPEN_REPORTS": "0",
		"SDESK_REPORT_COOLDOWN":  "0s",
	}
	return e
}

// Getenv reads Vars.
func (e *Env) Getenv(k string) string { return e.Vars[k] }

// ID returns a new snowflake-shaped ID.
func (e *Env) ID() string { return fmt.Sprintf("13%017d", e.seq.Add(1)) }

func member(u User) map[string]any {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	m := map[string]any{"user": map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0"}, "roles": roles}
	if !u.TimedOutUntil.IsZero() {
		m["communication_disabled_until"] = u.TimedOutUntil.UTC().Format(time.RFC3339)
	}
	return m
}

// Interaction is a signed interaction body and its identity.
type Interaction struct {
	ID, Token string
	Body      []byte
}

func (e *Env) interaction(typ int, u User, channelID string, data any, extra map[string]any) Interaction {
	id := e.ID()
	in := map[string]any{
		"id": id, "application_id": AppID, "type": typ, "token": "tok-" + id, "version": 1,
		"guild_id": GuildID, "channel_id": channelID, "member": member(u), "data": data,
		"app_permissions": "0", "locale": "en-US", "guild_locale": "en-US",
	}
	for k, v := range extra {
		in[k] = v
	}
	b, err := json.Marshal(in)
	if err != nil {
		e.t.Fatal(err)
	}
	return Interaction{ID: id, Token: "tok-" + id, Body: b}
}

// Command is a slash command; options are string options.
func (e *Env) Command(u User, channelID, name string, options map[string]string) Interaction {
	var opts []map[string]any
	for k, v := range options {
		opts = append(opts, map[string]any{"name": k, "type": 3, "value": v})
	}
	return e.interaction(2, u, channelID, map[string]any{"id": "1250000000000000001", "name": name, "type": 1, "options": opts}, nil)
}

// Option is a typed option of a slash command or an autocomplete
// (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-interaction-data-option-structure):
// Type 3 string, 4 integer, 5 boolean; Focused marks the option being
// typed in an autocomplete, whose Value is then what was typed.
type Option struct {
	Name    string
	Type    int
	Value   any
	Focused bool
}

func optionsJSON(options []Option) []map[string]any {
	out := []map[string]any{}
	for _, o := range options {
		m := map[string]any{"name": o.Name, "type": o.Type, "value": o.Value}
		if o.Focused {
			m["focused"] = true
		}
		out = append(out, m)
	}
	return out
}

// CommandWith is a slash command with typed options.
func (e *Env) CommandWith(u User, channelID, name string, options ...Option) Interaction {
	return e.interaction(2, u, channelID, map[string]any{"id": "1250000000000000001", "name": name, "type": 1, "options": optionsJSON(options)}, nil)
}

// Autocomplete is an autocomplete interaction (type 4) of a slash
// command's options, one of them Focused.
func (e *Env) Autocomplete(u User, channelID, name string, options ...Option) Interaction {
	return e.interaction(4, u, channelID, map[string]any{"id": "1250000000000000001", "name": name, "type": 1, "options": optionsJSON(options)}, nil)
}

// MessageCommand is a message menu command on a message.
func (e *Env) MessageCommand(u User, channelID, name string, target map[string]any) Interaction {
	tid, _ := target["id"].(string)
	return e.interaction(2, u, channelID, map[string]any{
		"id": "1250000000000000002", "name": name, "type": 3, "target_id": tid,
		"resolved": map[string]any{"messages": map[string]any{tid: target}},
	}, nil)
}

// ModalSubmit is a submitted modal of ActionRow -> TextInput rows.
func (e *Env) ModalSubmit(u User, channelID, customID string, fields map[string]string) Interaction {
	var rows []map[string]any
	for k, v := range fields {
		rows = append(rows, map[string]any{"type": 1, "components": []map[string]any{{"type": 4, "custom_id": k, "value": v}}})
	}
	return e.interaction(5, u, channelID, map[string]any{"custom_id": customID, "components": rows}, nil)
}

// Form is what a user fills in the /report form.
type Form struct {
	Title, Description string
	Category           string             // the selected option's value; "" leaves the select out
	Files              []sdesk.Attachment // uploaded in the File Upload
}

// ReportForm is a submitted /report modal of Label components, as Discord
// sends it
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-modal-submit-data-structure):
// each Label (type 18) carries its child component with the value (Text
// Input, type 4) or values (String Select, type 3: option values; File
// Upload, type 19: attachment IDs), and the files are in
// resolved.attachments.
func (e *Env) ReportForm(u User, f Form) Interaction {
	label := func(id int, child map[string]any) map[string]any {
		return map[string]any{"type": 18, "id": id, "component": child}
	}
	comps := []map[string]any{
		label(1, map[string]any{"type": 4, "id": 2, "custom_id": "title", "value": f.Title}),
		label(3, map[string]any{"type": 4, "id": 4, "custom_id": "description", "value": f.Description}),
	}
	if f.Category != "" {
		comps = append(comps, label(5, map[string]any{"type": 3, "id": 6, "custom_id": "category", "values": []string{f.Category}}))
	}
	ids, atts := uploaded(f.Files)
	comps = append(comps, label(7, map[string]any{"type": 19, "id": 8, "custom_id": "files", "values": ids}))
	data := map[string]any{"custom_id": "report", "components": comps}
	if len(atts) > 0 {
		data["resolved"] = map[string]any{"attachments": atts}
	}
	return e.interaction(5, u, ChannelID, data, nil)
}

// attachmentJSON is an attachment object as Discord sends it
// (https://discord.com/developers/docs/resources/message#attachment-object);
// ephemeral for a file uploaded with a command or a modal.
func attachmentJSON(a sdesk.Attachment, ephemeral bool) map[string]any {
	m := map[string]any{"id": a.ID, "filename": a.Filename, "size": a.Size, "url": a.URL, "proxy_url": a.URL}
	if a.ContentType != "" {
		m["content_type"] = a.ContentType
	}
	if ephemeral {
		m["ephemeral"] = true
	}
	return m
}

// uploaded is the values of a File Upload holding files (their IDs) and
// the resolved attachments that describe them.
func uploaded(files []sdesk.Attachment) ([]string, map[string]any) {
	ids := []string{}
	atts := map[string]any{}
	for _, a := range files {
		ids = append(ids, a.ID)
		atts[a.ID] = attachmentJSON(a, true)
	}
	return ids, atts
}

// ReplyForm is a submitted reply modal (custom ID "replyto/<iid>") of
// Label components, as Discord sends the form the Reply button opens: the
// message Text Input and the File Upload "files" with files, described in
// resolved.attachments.
func (e *Env) ReplyForm(u User, channelID string, iid int, text string, files []sdesk.Attachment) Interaction {
	ids, atts := uploaded(files)
	data := map[string]any{"custom_id": fmt.Sprintf("replyto/%d", iid), "components": []map[string]any{
		{"type": 18, "id": 1, "component": map[string]any{"type": 4, "id": 2, "custom_id": "message", "value": text}},
		{"type": 18, "id": 3, "component": map[string]any{"type": 19, "id": 4, "custom_id": "files", "values": ids}},
	}}
	if len(atts) > 0 {
		data["resolved"] = map[string]any{"attachments": atts}
	}
	return e.interaction(5, u, channelID, data, nil)
}

// CommandFiles is Command with file options: each file is an option of
// type ATTACHMENT (11) named by its key, whose value is the attachment's
// ID, described in data.resolved.attachments
// (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-type).
func (e *Env) CommandFiles(u User, channelID, name string, options map[string]string, files map[string]sdesk.Attachment) Interaction {
	var opts []map[string]any
	for k, v := range options {
		opts = append(opts, map[string]any{"name": k, "type": 3, "value": v})
	}
	atts := map[string]any{}
	for k, a := range files {
		opts = append(opts, map[string]any{"name": k, "type": 11, "value": a.ID})
		atts[a.ID] = attachmentJSON(a, true)
	}
	data := map[string]any{"id": "1250000000000000001", "name": name, "type": 1, "options": opts}
	if len(atts) > 0 {
		data["resolved"] = map[string]any{"attachments": atts}
	}
	return e.interaction(2, u, channelID, data, nil)
}

// Message is a Discord message as a message command's
// data.resolved.messages carries it
// (https://discord.com/developers/docs/resources/message#message-object).
type Message struct {
	ID       string // "" gets a new ID
	Author   User
	Content  string
	Files    []sdesk.Attachment // attachments
	Stickers []string           // sticker_items, by name
	Embeds   []map[string]any   // embed objects as Discord sends them
	Mentions []User
	// Forward, when set, makes the message a forward of it: an empty
	// content, message_reference type 1 (FORWARD), and its content,
	// attachments, stickers, embeds and mentions in
	// message_snapshots[0].message
	// (https://discord.com/developers/docs/resources/message#message-snapshot-object).
	Forward *Message
}

// JSON is the message object of m in channelID; m.ID is filled when empty.
func (e *Env) JSON(channelID string, m *Message) map[string]any {
	if m.ID == "" {
		m.ID = e.ID()
	}
	out := shownJSON(*m)
	out["id"], out["channel_id"], out["type"] = m.ID, channelID, 0
	out["author"] = map[string]any{"id": m.Author.ID, "username": m.Author.Username, "discriminator": "0"}
	if f := m.Forward; f != nil {
		out["content"] = ""
		out["message_reference"] = map[string]any{"type": 1, "channel_id": channelID, "message_id": e.ID()}
		out["message_snapshots"] = []any{map[string]any{"message": shownJSON(*f)}}
	}
	return out
}

// shownJSON are the fields of a message that a snapshot has too.
func shownJSON(m Message) map[string]any {
	atts := []any{}
	for _, a := range m.Files {
		atts = append(atts, attachmentJSON(a, false))
	}
	var stickers []any
	for n, name := range m.Stickers {
		stickers = append(stickers, map[string]any{"id": fmt.Sprintf("14%017d", n+1), "name": name, "format_type": 1})
	}
	mentions := []any{}
	for _, u := range m.Mentions {
		mentions = append(mentions, map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0"})
	}
	embeds := []any{}
	for _, em := range m.Embeds {
		embeds = append(embeds, em)
	}
	out := map[string]any{"content": m.Content, "attachments": atts, "embeds": embeds, "mentions": mentions,
		"mention_roles": []any{}, "timestamp": "2026-11-29T12:00:00.000000+00:00"}
	if len(stickers) > 0 {
		out["sticker_items"] = stickers
	}
	return out
}

// SendToGitLab is the "Send to GitLab" message command on m (see JSON).
func (e *Env) SendToGitLab(u User, channelID string, m *Message) Interaction {
	return e.MessageCommand(u, channelID, "Send to GitLab", e.JSON(channelID, m))
}

// Button is a click on a button of a message in channelID.
func (e *Env) Button(u User, channelID, customID string) Interaction {
	return e.interaction(3, u, channelID, map[string]any{"custom_id": customID, "component_type": 2},
		map[string]any{"message": map[string]any{"id": e.ID(), "channel_id": channelID, "content": ""}})
}

// Sign returns Discord's signature headers for body, now.
func (e *Env) Sign(body []byte) http.Header {
	sig, ts := devkey.Sign(e.Key, body, time.Now())
	h := http.Header{}
	h.Set("X-Signature-Ed25519", sig)
	h.Set("X-Signature-Timestamp", ts)
	h.Set("Content-Type", "application/json")
	return h
}

// Response is a decoded interaction response.
type Response struct {
	Status int
	Type   int `json:"type"`
	Data   struct {
		Content    string           `json:"content"`
		Flags      int              `json:"flags"`
		CustomID   string           `json:"custom_id"`
		Title      string           `json:"title"`
		Components []map[string]any `json:"components"`
		Choices    []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"choices"`
	} `json:"data"`
	Raw []byte
}

// Ephemeral tells whether the response is an ephemeral message.
func (r Response) Ephemeral() bool { return r.Data.Flags&64 != 0 }

// Interact posts a signed interaction to baseURL/interactions.
func (e *Env) Interact(baseURL string, in Interaction) Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/interactions", bytes.NewReader(in.Body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header = e.Sign(in.Body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Raw: raw}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &r); err != nil {
			e.t.Fatalf("interaction response %s: %v", raw, err)
		}
	}
	return r
}

// Webhook posts a GitLab delivery to baseURL/gitlab with the right token.
func (e *Env) Webhook(baseURL, event string, body []byte, header http.Header) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/gitlab", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("X-Gitlab-Event", event)
	req.Header.Set("X-Gitlab-Token", WebhookSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// Eventually polls cond until it holds or 20 s have passed.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReportDone waits until the report interaction's deferred answer was
// edited and returns the thread it names.
func (e *Env) ReportDone(t testing.TB, in Interaction) (content string) {
	t.Helper()
	Eventually(t, "the report answer", func() bool {
		m, ok := e.Discord.OriginalResponse(in.Token)
		content = m.Content
		return ok && m.Content != ""
	})
	return content
}

// ThreadOf returns the thread ID in "… continue in <#ID>".
func ThreadOf(answer string) string {
	_, rest, ok := strings.Cut(answer, "<#")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ">")
	return id
}

// RepoRoot finds the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// LogBuffer collects log lines written from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
