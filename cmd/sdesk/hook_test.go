package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// hookWorld is a report thread of issue 7 in the Discord fake, mapped in
// the bbolt file of env.
func hookWorld(t *testing.T, env *e2e.Env) string {
	t.Helper()
	thread := env.Discord.AddThread(e2e.ChannelID, env.Discord.BotUserID(), "#7 Printer on fire", 12)
	st, err := bolt.Open(env.Vars["SDESK_BOLT_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.PutMapping(context.Background(), sdesk.Mapping{IssueIID: 7, ThreadID: thread,
		IssueURL: env.GitLab.URL() + "/acme/support/-/issues/7", GuildID: e2e.GuildID, ChannelID: e2e.ChannelID,
		ReporterID: e2e.Reporter.ID, Title: "Printer on fire"}); err != nil {
		t.Fatal(err)
	}
	return thread
}

// noteBody is a GitLab note hook body on issue 7, key order and spacing
// as GitLab writes them.
func noteBody(env *e2e.Env, noteID int, text string) []byte {
	return []byte(fmt.Sprintf(`{"object_kind":"note","event_type":"confidential_note",
 "user":{"id":501,"name":"Ada Lovelace","username":"ada","avatar_url":"https://gitlab.example.com/a.png"},
 "project_id":%d,"project":{"id":%d,"path_with_namespace":"acme/support"},
 "object_attributes":{"id":%d,"note":%q,"noteable_type":"Issue","author_id":501,"internal":false,"system":false,
  "action":"create","created_at":"2026-11-24T10:00:00Z","updated_at":"2026-11-24T10:00:00Z",
  "url":"https://gitlab.example.com/acme/support/-/issues/7#note_%d"},
 "issue":{"id":90007,"iid":7,"title":"Printer on fire","confidential":true}}`,
		env.GitLab.ProjectID(), env.GitLab.ProjectID(), noteID, text, noteID))
}

// reencoded is the body as adnanh/webhook passes "entire-payload": decoded
// (numbers kept) and encoded again, keys sorted, HTML escaped.
func reencoded(t *testing.T, body []byte) []byte {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(b, body) {
		t.Fatal("re-encoded body is the same bytes: the test would prove nothing")
	}
	return b
}

// runHook runs `sdesk hook` through Main with env's configuration and
// extra variables, and stdin.
func runHook(t *testing.T, env *e2e.Env, extra map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), Getenv: func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		return env.Getenv(k)
	}}
	err := m.Run(ctx, append([]string{"hook"}, args...))
	return out.String(), errOut.String(), err
}

// TestHookDeliversOnce: `sdesk hook PAYLOAD` posts a GitLab comment in its
// thread; the same event again, as adnanh/webhook re-encodes it from
// standard input without the event header, and then through POST /gitlab
// of `sdesk serve`, posts nothing more: one identity, one delivery.
func TestHookDeliversOnce(t *testing.T) {
	env := e2e.New(t)
	thread := hookWorld(t, env)
	body := noteBody(env, 7001, "Have you tried **turning it off** and on again?")

	out, errOut, err := runHook(t, env, map[string]string{envHookEvent: "Confidential Note Hook",
		envHookIdempotencyKey: "11111111-2222-3333-4444-555555555555"}, "", string(body))
	if err != nil || strings.TrimSpace(out) != "handled" {
		t.Fatalf("sdesk hook: got %q, %v, want handled\n%s", out, err, errOut)
	}
	msgs := env.Discord.Messages(thread)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].LastJSON), "turning it off") {
		t.Fatalf("thread: got %d messages %+v, want the comment once", len(msgs), msgs)
	}
	if strings.Contains(errOut, "{") {
		t.Errorf("sdesk hook stderr: got %q, want no JSON log lines (plain text, warn and above)", errOut)
	}

	out, errOut, err = runHook(t, env, map[string]string{envHookIdempotencyKey: "another-delivery"}, string(reencoded(t, body)), "-")
	if err != nil || strings.TrimSpace(out) != "handled" {
		t.Fatalf("sdesk hook - (again): got %q, %v, want handled\n%s", out, err, errOut)
	}
	if got := len(env.Discord.Messages(thread)); got != 1 {
		t.Errorf("thread after the same event again: got %d messages, want 1", got)
	}

	url, _, stop := serveStoppable(t, env)
	if status, answer := env.Webhook(url, "Confidential Note Hook", body, nil); status != 200 {
		t.Fatalf("POST /gitlab: got %d %s, want 200", status, answer)
	}
	stop()
	if got := len(env.Discord.Messages(thread)); got != 1 {
		t.Errorf("thread after POST /gitlab of the same event: got %d messages, want 1", got)
	}
}

// TestHookRunsDeferredWork: an event that does not finish within the
// webhook budget (Discord failing) is finished by the hook before it
// returns, since no serve pool runs it later.
func TestHookRunsDeferredWork(t *testing.T) {
	env := e2e.New(t)
	thread := hookWorld(t, env)
	env.Discord.FailNext("POST", "/channels/*/messages", 502, "", 5) // one attempt's worth
	body := noteBody(env, 7002, "Deferred but delivered.")
	out, errOut, err := runHook(t, env, nil, "", string(body))
	if err != nil || strings.TrimSpace(out) != "handled" {
		t.Fatalf("sdesk hook: got %q, %v, want handled\n%s", out, err, errOut)
	}
	if got := env.Discord.Messages(thread); len(got) != 1 {
		t.Errorf("thread: got %d messages, want the comment once", len(got))
	}
	if !strings.Contains(errOut, "event deferred") {
		t.Errorf("sdesk hook stderr: got %q, want the event deferred past its budget (else this test proves nothing)", errOut)
	}
}

func TestHookRefusals(t *testing.T) {
	env := e2e.New(t)
	hookWorld(t, env)
	file := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(file, noteBody(env, 7003, "From a file."), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantOut  string
		wantErr  string
		extraEnv map[string]string
	}{
		{name: "no payload", wantErr: "usage: sdesk hook"},
		{name: "two payloads", args: []string{"{}", "{}"}, wantErr: "usage: sdesk hook"},
		{name: "empty stdin", args: []string{"-"}, wantErr: "the payload is empty"},
		{name: "not JSON", args: []string{"not json"}, wantErr: "not a GitLab webhook body"},
		{name: "a push event", args: []string{`{"object_kind":"push","project":{"id":1}}`}, wantOut: "ignored"},
		{name: "another project's note", args: []string{strings.Replace(string(noteBody(env, 7004, "x")),
			fmt.Sprintf(`"id":%d,"path`, env.GitLab.ProjectID()), `"id":1,"path`, 1)}, wantOut: "ignored"},
		{name: "from a file", args: []string{"-file", file}, wantOut: "handled"},
		{name: "from SDESK_HOOK_FILE", wantOut: "handled", extraEnv: map[string]string{envHookFile: file}},
		{name: "SDESK_HOOK_FILE and an argument", args: []string{"{}"}, wantErr: "usage: sdesk hook", extraEnv: map[string]string{envHookFile: file}},
		{name: "a signing token is not checked", args: []string{"-file", file}, wantOut: "handled",
			extraEnv: map[string]string{"GITLAB_WEBHOOK_SIGNING_TOKEN": "whsec_c2VjcmV0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runHook(t, env, tt.extraEnv, tt.stdin, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %q, %v, want an error containing %q", out, err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.HasPrefix(out, tt.wantOut) {
				t.Errorf("got %q, %v, want %q\n%s", out, err, tt.wantOut, errOut)
			}
		})
	}
}

func TestEventFromBody(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"object_kind":"note"}`, "Note Hook"},
		{`{"object_kind":"issue"}`, "Issue Hook"},
		{`{"object_kind":"work_item"}`, "Issue Hook"},
		{`{"object_kind":"merge_request"}`, "Merge Request Hook"},
		{`{"object_kind":"tag_push"}`, "Tag Push Hook"},
		{`{"object_kind":""}`, ""},
		{`{}`, ""},
		{`[1]`, ""},
		{`nope`, ""},
	}
	for _, tt := range tests {
		if got := eventFromBody([]byte(tt.body)); got != tt.want {
			t.Errorf("eventFromBody(%s): got %q, want %q", tt.body, got, tt.want)
		}
	}
}

// docs/hooks.json, read by adnanh/webhook with -template: the token check
// is its trigger rule against GITLAB_WEBHOOK_SECRET, the command is
// `sdesk hook` with the entire payload as its argument, and the headers
// reach the variables `sdesk hook` reads.
func TestHooksJSON(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), "docs", "hooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("hooks.json").Funcs(template.FuncMap{
		"getenv": func(k string) string { return map[string]string{"GITLAB_WEBHOOK_SECRET": `s3cr"et`}[k] },
	}).Parse(string(raw))
	if err != nil {
		t.Fatalf("docs/hooks.json as a Go template (webhook -template): %v", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		t.Fatal(err)
	}
	type value struct {
		Source  string `json:"source"`
		Name    string `json:"name"`
		EnvName string `json:"envname"`
	}
	var hooks []struct {
		ID          string   `json:"id"`
		Command     string   `json:"execute-command"`
		Args        []value  `json:"pass-arguments-to-command"`
		Env         []value  `json:"pass-environment-to-command"`
		Methods     []string `json:"http-methods"`
		TriggerRule struct {
			Match struct {
				Type      string `json:"type"`
				Value     string `json:"value"`
				Parameter value  `json:"parameter"`
			} `json:"match"`
		} `json:"trigger-rule"`
	}
	if err := json.Unmarshal(buf.Bytes(), &hooks); err != nil {
		t.Fatalf("docs/hooks.json after the template: %v\n%s", err, buf.Bytes())
	}
	if len(hooks) != 1 {
		t.Fatalf("docs/hooks.json: got %d hooks, want 1", len(hooks))
	}
	h := hooks[0]
	if !strings.HasSuffix(h.Command, "/sdesk") {
		t.Errorf("execute-command: got %q, want the sdesk binary", h.Command)
	}
	if len(h.Args) != 2 || h.Args[0] != (value{Source: "string", Name: "hook"}) || h.Args[1].Source != "entire-payload" {
		t.Errorf("pass-arguments-to-command: got %+v, want hook and the entire payload", h.Args)
	}
	m := h.TriggerRule.Match
	if m.Type != "value" || m.Value != `s3cr"et` || m.Parameter != (value{Source: "header", Name: "X-Gitlab-Token"}) {
		t.Errorf("trigger-rule: got %+v, want the X-Gitlab-Token header equal to GITLAB_WEBHOOK_SECRET", m)
	}
	want := map[string]string{"X-Gitlab-Event": envHookEvent, "X-Gitlab-Event-UUID": envHookEventUUID, "Idempotency-Key": envHookIdempotencyKey}
	for _, e := range h.Env {
		if e.Source == "header" && want[e.Name] == e.EnvName {
			delete(want, e.Name)
		}
	}
	if len(want) != 0 {
		t.Errorf("pass-environment-to-command: got %+v, missing headers %v", h.Env, want)
	}
	if len(h.Methods) != 1 || h.Methods[0] != "POST" {
		t.Errorf("http-methods: got %v, want [POST]", h.Methods)
	}
}
