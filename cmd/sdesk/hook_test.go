package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
	"unicode/utf8"

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
// extra variables, and stdin. SDESK_HOOK_TOKEN is the webhook's secret,
// as adnanh/webhook passes the header of a genuine delivery, unless extra
// sets it.
func runHook(t *testing.T, env *e2e.Env, extra map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), Getenv: func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		if k == envHookToken {
			return env.Vars["GITLAB_WEBHOOK_SECRET"]
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

// TestHookToken: `sdesk hook` delivers only with the token the delivery
// carried (SDESK_HOOK_TOKEN, or -token) equal to GITLAB_WEBHOOK_SECRET:
// without one, or with another, it posts nothing, says why and fails, so
// that adnanh/webhook started without the secret (its trigger rule then
// compares the header with "") cannot pass a forged event on.
func TestHookToken(t *testing.T) {
	env := e2e.New(t)
	thread := hookWorld(t, env)
	secret := env.Vars["GITLAB_WEBHOOK_SECRET"]
	file := func(content string) string {
		path := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name      string
		token     string // SDESK_HOOK_TOKEN
		tokenFile string // SDESK_HOOK_TOKEN_FILE
		args      []string
		wantErr   []string // nil: delivered
	}{
		{name: "no token", wantErr: []string{"no X-Gitlab-Token", envHookTokenFile, envHookToken, "-token", "nothing was delivered"}},
		{name: "an empty -token", args: []string{"-token", ""}, wantErr: []string{"no X-Gitlab-Token"}},
		{name: "a wrong token", token: "forged", wantErr: []string{"is not GITLAB_WEBHOOK_SECRET", "nothing was delivered"}},
		{name: "the secret with a space", token: secret + " ", wantErr: []string{"is not GITLAB_WEBHOOK_SECRET"}},
		{name: "a wrong -token beats the right variable", token: secret, args: []string{"-token", "forged"}, wantErr: []string{"is not GITLAB_WEBHOOK_SECRET"}},
		{name: "a wrong token in SDESK_HOOK_TOKEN_FILE", tokenFile: file("forged"), wantErr: []string{"is not GITLAB_WEBHOOK_SECRET"}},
		{name: "an empty SDESK_HOOK_TOKEN_FILE", tokenFile: file(""), wantErr: []string{"no X-Gitlab-Token"}},
		{name: "no file at SDESK_HOOK_TOKEN_FILE", tokenFile: filepath.Join(t.TempDir(), "none"), wantErr: []string{envHookTokenFile, "nothing was delivered"}},
		{name: "a wrong SDESK_HOOK_TOKEN beats the right file", token: "forged", tokenFile: file(secret), wantErr: []string{"is not GITLAB_WEBHOOK_SECRET"}},
		{name: "the secret", token: secret},
		{name: "the secret by -token", args: []string{"-token", secret}},
		{name: "the secret in SDESK_HOOK_TOKEN_FILE", tokenFile: file(secret)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(env.Discord.Messages(thread))
			body := noteBody(env, 7100+i, fmt.Sprintf("FORGED %d: please send your password to evil.example", i))
			out, errOut, err := runHook(t, env, map[string]string{envHookToken: tt.token, envHookTokenFile: tt.tokenFile}, "", append(tt.args, string(body))...)
			got := len(env.Discord.Messages(thread)) - before
			if tt.wantErr == nil {
				if err != nil || strings.TrimSpace(out) != "handled" || got != 1 {
					t.Errorf("got %q, %v, %d messages, want handled and the comment once\n%s", out, err, got, errOut)
				}
				return
			}
			if err == nil || got != 0 || out != "" {
				t.Fatalf("got %q, %v, %d messages posted, want an error and nothing posted", out, err, got)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want it to contain %q", err, want)
				}
			}
			if secret != "" && (strings.Contains(err.Error(), secret) || strings.Contains(errOut, secret)) {
				t.Errorf("the error or the log shows the secret: %q\n%s", err, errOut)
			}
		})
	}
}

// TestHookHelpHidesToken: `sdesk hook -h` lists the flags without the
// token the environment holds.
func TestHookHelpHidesToken(t *testing.T) {
	env := e2e.New(t)
	_, errOut, err := runHook(t, env, map[string]string{envHookToken: "s3cret-token-value"}, "", "-h")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "-token") {
		t.Fatalf("sdesk hook -h: got %v\n%s, want the usage with -token", err, errOut)
	}
	if strings.Contains(errOut, "s3cret-token-value") {
		t.Errorf("sdesk hook -h shows SDESK_HOOK_TOKEN's value:\n%s", errOut)
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
		{name: "not JSON", args: []string{"not json"}, wantErr: "not a GitLab webhook body sdesk can read: malformed webhook"},
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

// hookArg is a value reference of adnanh/webhook's hooks.json (2.8.2,
// internal/hook.Argument).
type hookArg struct {
	Source  string `json:"source"`
	Name    string `json:"name"`
	EnvName string `json:"envname"`
}

// hookRule is a trigger rule (internal/hook.Rules): and, or, not, match.
type hookRule struct {
	And   []hookRule `json:"and"`
	Or    []hookRule `json:"or"`
	Not   *hookRule  `json:"not"`
	Match *struct {
		Type      string  `json:"type"`
		Regex     string  `json:"regex"`
		Value     string  `json:"value"`
		Parameter hookArg `json:"parameter"`
	} `json:"match"`
}

// hookDef is a hook of hooks.json, the fields docs/hooks.json uses.
type hookDef struct {
	ID              string    `json:"id"`
	Command         string    `json:"execute-command"`
	WorkDir         string    `json:"command-working-directory"`
	Methods         []string  `json:"http-methods"`
	Capture         bool      `json:"include-command-output-in-response"`
	CaptureOnError  bool      `json:"include-command-output-in-response-on-error"`
	ResponseMessage string    `json:"response-message"`
	Args            []hookArg `json:"pass-arguments-to-command"`
	Files           []hookArg `json:"pass-file-to-command"`
	Env             []hookArg `json:"pass-environment-to-command"`
	TriggerRule     *hookRule `json:"trigger-rule"`
}

// renderHooksJSON reads docs/hooks.json as adnanh/webhook -template does,
// its getenv answering GITLAB_WEBHOOK_SECRET with secret.
func renderHooksJSON(tb testing.TB, raw []byte, secret string) ([]hookDef, error) {
	tb.Helper()
	tmpl, err := template.New("hooks.json").Funcs(template.FuncMap{
		"getenv": func(k string) string {
			if k == "GITLAB_WEBHOOK_SECRET" {
				return secret
			}
			return ""
		},
	}).Parse(string(raw))
	if err != nil {
		tb.Fatalf("docs/hooks.json as a Go template (webhook -template): %v", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, nil); err != nil {
		tb.Fatal(err)
	}
	var hooks []hookDef
	if err := json.Unmarshal(buf.Bytes(), &hooks); err != nil {
		return nil, fmt.Errorf("docs/hooks.json after the template: %w\n%s", err, buf.Bytes())
	}
	return hooks, nil
}

// headerValue is a header as webhook reads a "header" source: by its
// canonical name, absent when not sent.
func headerValue(h http.Header, name string) (string, bool) {
	v, ok := h[textproto.CanonicalMIMEHeaderKey(name)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// evalRule evaluates a trigger rule on a request's headers as webhook
// 2.8.2 does (internal/hook.MatchRule.Evaluate): a missing parameter does
// not match; "value" compares in constant time, "regex" is
// regexp.MatchString. Other rule types fail the test.
func evalRule(tb testing.TB, r *hookRule, h http.Header) bool {
	tb.Helper()
	switch {
	case r == nil:
		return true
	case r.And != nil:
		for i := range r.And {
			if !evalRule(tb, &r.And[i], h) {
				return false
			}
		}
		return true
	case r.Or != nil:
		for i := range r.Or {
			if evalRule(tb, &r.Or[i], h) {
				return true
			}
		}
		return false
	case r.Not != nil:
		return !evalRule(tb, r.Not, h)
	case r.Match != nil:
		if r.Match.Parameter.Source != "header" {
			tb.Fatalf("trigger rule: source %q: this test reads headers only", r.Match.Parameter.Source)
		}
		v, ok := headerValue(h, r.Match.Parameter.Name)
		if !ok {
			return false
		}
		switch r.Match.Type {
		case "value":
			return subtle.ConstantTimeCompare([]byte(v), []byte(r.Match.Value)) == 1
		case "regex":
			ok, err := regexp.MatchString(r.Match.Regex, v)
			if err != nil {
				tb.Fatalf("trigger rule: regex %q: %v", r.Match.Regex, err)
			}
			return ok
		}
		tb.Fatalf("trigger rule: match type %q: this test knows value and regex", r.Match.Type)
	}
	tb.Fatalf("trigger rule %+v: empty", r)
	return false
}

// readHooksJSON is docs/hooks.json's text.
func readHooksJSON(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(e2e.RepoRoot(tb), "docs", "hooks.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// docs/hooks.json, read by adnanh/webhook with -template, and run as
// webhook runs it: the trigger rule wants a non-empty X-Gitlab-Token equal
// to GITLAB_WEBHOOK_SECRET (so a webhook started without the secret
// refuses everything); the command is `sdesk hook`, the body in a file
// (SDESK_HOOK_FILE: no argument limit), the token and the other headers
// in the variables `sdesk hook` reads; webhook waits for the command and
// answers with its output, a failure as 500 with the output. A genuine
// delivery is handled; a forged one is refused by the rule, and again by
// `sdesk hook` if the rule let it through.
func TestHooksJSON(t *testing.T) {
	raw := readHooksJSON(t)
	env := e2e.New(t)
	thread := hookWorld(t, env)
	secret := env.Vars["GITLAB_WEBHOOK_SECRET"]
	hooks, err := renderHooksJSON(t, raw, secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 {
		t.Fatalf("docs/hooks.json: got %d hooks, want 1", len(hooks))
	}
	h := hooks[0]
	if !strings.HasSuffix(h.Command, "/sdesk") {
		t.Errorf("execute-command: got %q, want the sdesk binary", h.Command)
	}
	if len(h.Args) != 1 || h.Args[0] != (hookArg{Source: "string", Name: "hook"}) {
		t.Errorf("pass-arguments-to-command: got %+v, want hook alone (the body goes in a file)", h.Args)
	}
	wantFiles := []hookArg{{Source: "entire-payload", EnvName: envHookFile}, {Source: "header", Name: "X-Gitlab-Token", EnvName: envHookTokenFile}}
	if !slices.Equal(h.Files, wantFiles) {
		t.Errorf("pass-file-to-command: got %+v, want %+v: the body in a file (no argument limit), the token in a file (webhook -verbose logs variables)", h.Files, wantFiles)
	}
	if !h.Capture || !h.CaptureOnError {
		t.Errorf("include-command-output-in-response(-on-error): got %v, %v, want both: webhook waits for sdesk hook and answers a failure with 500 and its output", h.Capture, h.CaptureOnError)
	}
	if len(h.Methods) != 1 || h.Methods[0] != "POST" {
		t.Errorf("http-methods: got %v, want [POST]", h.Methods)
	}
	headerVars := map[string]string{"X-Gitlab-Event": envHookEvent,
		"X-Gitlab-Event-UUID": envHookEventUUID, "Idempotency-Key": envHookIdempotencyKey}
	for _, e := range h.Env {
		if e.Source == "header" && headerVars[e.Name] == e.EnvName {
			delete(headerVars, e.Name)
		}
		if e.Name == "X-Gitlab-Token" {
			t.Errorf("pass-environment-to-command %+v: the token in a variable reaches webhook's verbose log", e)
		}
	}
	if len(headerVars) != 0 {
		t.Errorf("pass-environment-to-command: got %+v, missing headers %v", h.Env, headerVars)
	}

	// unset is hooks.json rendered by a webhook started without
	// GITLAB_WEBHOOK_SECRET (the reviewer's forged delivery).
	unset, err := renderHooksJSON(t, raw, "")
	if err != nil {
		t.Fatal(err)
	}
	if unset[0].TriggerRule == nil || len(unset[0].TriggerRule.And) != 2 || unset[0].TriggerRule.And[1].Match == nil {
		t.Fatalf("trigger-rule: got %+v, want and: [non-empty X-Gitlab-Token, X-Gitlab-Token equal to the secret]", unset[0].TriggerRule)
	}
	// valueOnly is the rule of the reviewed hooks.json (the value match
	// alone), which let an empty header through: sdesk hook refuses it.
	valueOnly := unset[0]
	valueOnly.TriggerRule = &unset[0].TriggerRule.And[1]
	tests := []struct {
		name      string
		hook      hookDef
		token     *string // X-Gitlab-Token; nil: not sent
		triggered bool
		handled   bool // sdesk hook handles it (when triggered)
	}{
		{name: "genuine", hook: h, token: &secret, triggered: true, handled: true},
		{name: "no token", hook: h},
		{name: "empty token", hook: h, token: new(string)},
		{name: "wrong token", hook: h, token: ptr("forged")},
		{name: "webhook without the secret, empty token", hook: unset[0], token: new(string)},
		{name: "webhook without the secret, no token", hook: unset[0]},
		{name: "webhook without the secret, the real token", hook: unset[0], token: &secret},
		{name: "the reviewed rule, webhook without the secret, empty token", hook: valueOnly, token: new(string), triggered: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			header.Set("Content-Type", "application/json")
			header.Set("X-Gitlab-Event", "Confidential Note Hook")
			header.Set("Idempotency-Key", fmt.Sprintf("1111-%d", i))
			if tt.token != nil {
				header["X-Gitlab-Token"] = []string{*tt.token}
			}
			if got := evalRule(t, tt.hook.TriggerRule, header); got != tt.triggered {
				t.Fatalf("trigger rule: got %v, want %v", got, tt.triggered)
			}
			if !tt.triggered {
				return
			}
			before := len(env.Discord.Messages(thread))
			status, answer := runAsWebhook(t, env, tt.hook, header, noteBody(env, 7200+i, fmt.Sprintf("Delivery %d through webhook.", i)))
			got := len(env.Discord.Messages(thread)) - before
			first, _, _ := strings.Cut(answer, "\n")
			if tt.handled && (status != http.StatusOK || first != "handled" || got != 1) {
				t.Errorf("got %d %q and %d messages, want 200 handled and the comment once", status, answer, got)
			}
			if !tt.handled && (status != http.StatusInternalServerError || got != 0 || !strings.Contains(answer, "no X-Gitlab-Token")) {
				t.Errorf("got %d %q and %d messages, want 500 and nothing posted", status, answer, got)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// runAsWebhook runs hook h's command for a delivery as webhook 2.8.2 does
// (handleHook): the arguments of pass-arguments-to-command, the variables
// of pass-environment-to-command (a header not sent sets none), each
// pass-file-to-command value in a file of its own named by its variable,
// the entire payload re-encoded; then answers as
// include-command-output-in-response says: 200 and the output, or 500 and
// the output on error.
func runAsWebhook(t *testing.T, env *e2e.Env, h hookDef, header http.Header, body []byte) (int, string) {
	t.Helper()
	payload := reencoded(t, body)
	extra := map[string]string{envHookToken: ""} // only what webhook sets
	for _, e := range h.Env {
		if e.Source != "header" {
			t.Fatalf("pass-environment-to-command %+v: this test passes headers only", e)
		}
		if v, ok := headerValue(header, e.Name); ok {
			extra[e.EnvName] = v
		}
	}
	for _, f := range h.Files {
		data := payload
		switch f.Source {
		case "entire-payload":
		case "header":
			v, ok := headerValue(header, f.Name)
			if !ok {
				continue // webhook logs the error and passes no file
			}
			data = []byte(v)
		default:
			t.Fatalf("pass-file-to-command %+v: this test passes the entire payload and headers only", f)
		}
		path := filepath.Join(t.TempDir(), f.EnvName)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		extra[f.EnvName] = path
	}
	var args []string
	for i, a := range h.Args {
		switch {
		case a.Source != "string":
			t.Fatalf("pass-arguments-to-command %+v: this test passes strings only", a)
		case i == 0 && a.Name != "hook":
			t.Fatalf("pass-arguments-to-command: the first is %q, want hook", a.Name)
		case i > 0:
			args = append(args, a.Name)
		}
	}
	out, errOut, err := runHook(t, env, extra, "", args...)
	if !h.Capture {
		return http.StatusOK, h.ResponseMessage
	}
	if err != nil {
		if h.CaptureOnError {
			return http.StatusInternalServerError, out + errOut + "sdesk: " + err.Error()
		}
		return http.StatusInternalServerError, "Error occurred while executing the hook's command."
	}
	return http.StatusOK, out + errOut
}

// FuzzHooksJSONSecret: whatever printable GITLAB_WEBHOOK_SECRET webhook
// renders docs/hooks.json with, the result is JSON whose trigger rule
// matches exactly that secret as X-Gitlab-Token: a quote, a backslash or
// an apostrophe in a secret neither breaks the file nor changes the rule.
func FuzzHooksJSONSecret(f *testing.F) {
	raw := readHooksJSON(f)
	for _, s := range []string{"dev-webhook-secret", `s3cr"et`, `it's`, `back\slash`, "<&>", "ünïcödé", "tab\there", "{{ .X }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		if secret == "" || !utf8.ValidString(secret) || strings.IndexFunc(secret, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0 {
			return // GitLab's form and a shell's variable hold printable text
		}
		hooks, err := renderHooksJSON(t, raw, secret)
		if err != nil {
			t.Fatalf("secret %q: %v", secret, err)
		}
		rule := hooks[0].TriggerRule
		for _, tc := range []struct {
			token string
			want  bool
		}{{secret, true}, {secret + "x", false}, {"", false}, {strings.ToUpper(secret) + "\u00e9", false}} {
			h := http.Header{"X-Gitlab-Token": {tc.token}}
			if got := evalRule(t, rule, h); got != tc.want {
				t.Errorf("secret %q, X-Gitlab-Token %q: rule gives %v, want %v", secret, tc.token, got, tc.want)
			}
		}
		if evalRule(t, rule, http.Header{}) {
			t.Errorf("secret %q: the rule passes a delivery without X-Gitlab-Token", secret)
		}
	})
}
