package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/app"
	"github.com/sdesk/sdesk/pkg/awslambda/lambdafake"
	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/dynamo"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// runEvents runs `sdesk events` with args and returns the directory's
// files by name.
func runEvents(t *testing.T, args ...string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	m := &Main{Stdout: &out, Getenv: func(string) string { return "" }}
	if err := m.Run(context.Background(), append([]string{"events", "-dir", dir}, args...)); err != nil {
		t.Fatalf("sdesk events: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// The tracked samples in events/ are what `sdesk events` writes: signed
// at the time they carry, they are the same bytes.
func TestTrackedEventsAreGenerated(t *testing.T) {
	root := e2e.RepoRoot(t)
	ping, err := os.ReadFile(filepath.Join(root, "events", "interactions-ping.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(ping, &ev); err != nil {
		t.Fatal(err)
	}
	at := ev.Headers["x-signature-timestamp"]
	if _, err := strconv.ParseInt(at, 10, 64); err != nil {
		t.Fatalf("events/interactions-ping.json: x-signature-timestamp %q, want Unix seconds", at)
	}
	files := runEvents(t, "-at", at)
	if len(files) != 6 {
		t.Errorf("sdesk events wrote %d files, want 6 (PING, /report, its form, /reply, a note, a close)", len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, "events", name))
		if err != nil {
			t.Errorf("events/%s: %v (run `go run ./cmd/sdesk events -write`)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("events/%s differs from what `sdesk events -at %s` writes: run `go run ./cmd/sdesk events -write`", name, at)
		}
	}
}

// `sdesk events` touches no tracked file unless -write is given.
func TestEventsDefaultDirIsUntracked(t *testing.T) {
	root := e2e.RepoRoot(t)
	t.Chdir(t.TempDir())
	m := &Main{Stdout: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	if err := m.Run(context.Background(), []string{"events"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("events", "local", "interactions-ping.json")); err != nil {
		t.Errorf("sdesk events: got %v, want events/local/interactions-ping.json", err)
	}
	entries, _ := os.ReadDir("events")
	if len(entries) != 1 || entries[0].Name() != "local" {
		t.Errorf("sdesk events wrote into events/: got %v, want only events/local", entries)
	}
	ignore, err := os.ReadFile(filepath.Join(root, "events", ".gitignore"))
	if err != nil || !strings.Contains(string(ignore), "/local/") {
		t.Errorf("events/.gitignore: got %q, %v, want it to ignore /local/", ignore, err)
	}
}

// The commands that need no configuration (`sdesk events`, `commands
// list`, help) run beside a .env that does not read; the others stop at it.
func TestCommandsWithoutConfigurationSkipDotEnv(t *testing.T) {
	bad := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(bad, []byte("GITLAB_TOKEN='unterminated\nnot a line at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		wantOK bool
	}{
		{[]string{"events", "-dir", t.TempDir()}, true},
		{[]string{"commands", "list"}, true},
		{[]string{"help"}, true},
		{[]string{"config"}, false},
		{[]string{"commands", "sync"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:min(2, len(tt.args))], " "), func(t *testing.T) {
			m := &Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }, EnvFile: bad}
			err := m.Run(context.Background(), tt.args)
			if tt.wantOK && err != nil {
				t.Errorf("sdesk %s beside a malformed .env: got %v, want it to run", strings.Join(tt.args, " "), err)
			}
			if !tt.wantOK && (err == nil || !strings.Contains(err.Error(), bad)) {
				t.Errorf("sdesk %s beside a malformed .env: got %v, want an error naming %s", strings.Join(tt.args, " "), err, bad)
			}
		})
	}
}

// perInvocation runs each invocation through a lambda.NewHandler of its
// own (aws-lambda-go reuses its response buffer across invocations).
type perInvocation func(ctx context.Context, payload json.RawMessage) (any, error)

func (f perInvocation) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return lambda.NewHandler((func(context.Context, json.RawMessage) (any, error))(f)).Invoke(ctx, payload)
}

// TestSampleEventsThroughLambda runs every event `sdesk events` writes
// through the real Lambda handler of its function, configured from
// events/env.json with the fakes in place of Discord, GitLab, Lambda and
// DynamoDB Local, and checks what each does.
func TestSampleEventsThroughLambda(t *testing.T) {
	endpoint := dynamotest.Endpoint(t)
	client, table := dynamotest.NewTable(t)
	store := dynamo.New(client, table)
	env := e2e.New(t)
	fake := lambdafake.New(t)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", fake.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")

	raw, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var envJSON map[string]map[string]string
	if err := json.Unmarshal(raw, &envJSON); err != nil {
		t.Fatal(err)
	}
	// What points at the services: the fakes here, not env.json's
	// host.docker.internal; the template sets SDESK_STORE.
	overrides := map[string]string{
		"DISCORD_API_URL": env.Discord.URL(), "DISCORD_BOT_TOKEN": env.Discord.Token(),
		"GITLAB_URL": env.GitLab.URL(), "GITLAB_TOKEN": env.GitLab.Token(),
		"SDESK_TABLE": table, "DYNAMODB_ENDPOINT": endpoint, "SDESK_STORE": "dynamodb",
		"AWS_ENDPOINT_URL_LAMBDA": fake.URL(),
	}
	logs := &e2e.LogBuffer{}
	handler := func(fn string, role app.Role) lambda.Handler {
		vars := envJSON[fn]
		if vars == nil {
			t.Fatalf("events/env.json has no %s", fn)
		}
		getenv := func(k string) string {
			if v, ok := overrides[k]; ok {
				return v
			}
			return vars[k]
		}
		cfg, err := config.Load(getenv)
		if err != nil {
			t.Fatalf("events/env.json %s: %v", fn, err)
		}
		a, err := app.New(context.Background(), cfg, role, slog.New(slog.NewJSONHandler(logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return perInvocation(a.LambdaHandler())
	}
	handlers := map[string]lambda.Handler{
		"Interactions": handler("Interactions", app.LambdaInteractions),
		"Webhook":      handler("Webhook", app.LambdaWebhook),
	}
	fake.SetHandler(handlers["Interactions"])

	// Issue 7 exists in GitLab and has the samples' thread.
	for i := 1; i <= sampleIssueIID; i++ {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v4/projects/%d/issues?title=Issue+%d", env.GitLab.URL(), sampleProjectID, i), nil)
		req.Header.Set("PRIVATE-TOKEN", env.GitLab.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create issue %d in the GitLab fake: %d", i, resp.StatusCode)
		}
	}
	if err := store.PutMapping(context.Background(), sdesk.Mapping{IssueIID: sampleIssueIID, ThreadID: sampleThreadID,
		IssueURL: env.GitLab.URL() + "/" + sampleProject + "/-/issues/7", GuildID: sampleGuildID, ChannelID: sampleChannelID,
		ReporterID: sampleUserID, Title: "Login button does nothing"}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	m := &Main{Stdout: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	if err := m.Run(context.Background(), []string{"events", "-dir", dir}); err != nil {
		t.Fatal(err)
	}
	samples, err := sampleEvents(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Type int `json:"type"`
		Data struct {
			Flags    int    `json:"flags"`
			CustomID string `json:"custom_id"`
		} `json:"data"`
		Status string `json:"status"`
	}
	checks := map[string]func(t *testing.T, resp events.APIGatewayV2HTTPResponse, a answer, token string){
		"interactions-ping.json": func(t *testing.T, resp events.APIGatewayV2HTTPResponse, a answer, _ string) {
			if strings.TrimSpace(resp.Body) != `{"type":1}` {
				t.Errorf("got %s, want {\"type\":1}", resp.Body)
			}
		},
		"interactions-report.json": func(t *testing.T, _ events.APIGatewayV2HTTPResponse, a answer, _ string) {
			if a.Type != 9 || a.Data.CustomID != "report" {
				t.Errorf("got type %d custom_id %q, want the report form (9, report)", a.Type, a.Data.CustomID)
			}
		},
		"interactions-report-submit.json": func(t *testing.T, _ events.APIGatewayV2HTTPResponse, a answer, token string) {
			if a.Type != 5 || a.Data.Flags&64 == 0 {
				t.Fatalf("got type %d flags %d, want a deferred ephemeral answer", a.Type, a.Data.Flags)
			}
			fake.Wait()
			if msg, _ := env.Discord.OriginalResponse(token); !strings.HasPrefix(msg.Content, "Issue #8 created") {
				t.Errorf("the report's answer: got %q, want issue #8 created", msg.Content)
			}
			if is, ok := env.GitLab.Issue(8); !ok || is.Title != "Login button does nothing" {
				t.Errorf("GitLab issue 8: got %+v, want the sample report", is)
			}
		},
		"interactions-reply.json": func(t *testing.T, _ events.APIGatewayV2HTTPResponse, a answer, _ string) {
			if a.Type != 5 {
				t.Fatalf("got type %d, want a deferred answer", a.Type)
			}
			fake.Wait()
			is, _ := env.GitLab.Issue(sampleIssueIID)
			if len(is.Notes) == 0 || !strings.Contains(is.Notes[len(is.Notes)-1].Body, "It works after a restart") {
				t.Errorf("issue 7's notes: got %+v, want the reply", is.Notes)
			}
		},
		"webhook-note.json": func(t *testing.T, _ events.APIGatewayV2HTTPResponse, a answer, _ string) {
			if a.Status != "ok" {
				t.Errorf("got status %q, want ok", a.Status)
			}
			msgs := env.Discord.Messages(sampleThreadID)
			if len(msgs) == 0 || !strings.Contains(string(msgs[len(msgs)-1].LastJSON), "try again") {
				t.Errorf("thread messages: got %+v, want the comment", msgs)
			}
		},
		"webhook-issue-close.json": func(t *testing.T, _ events.APIGatewayV2HTTPResponse, a answer, _ string) {
			if a.Status != "ok" {
				t.Errorf("got status %q, want ok", a.Status)
			}
			var closed bool
			for _, msg := range env.Discord.Messages(sampleThreadID) {
				closed = closed || strings.Contains(strings.ToLower(string(msg.LastJSON)), "closed")
			}
			if !closed {
				t.Errorf("thread messages: got %+v, want one saying the issue was closed", env.Discord.Messages(sampleThreadID))
			}
		},
	}
	if len(samples) != len(checks) {
		t.Fatalf("got %d samples, want %d", len(samples), len(checks))
	}
	for _, s := range samples {
		t.Run(s.File, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join(dir, s.File))
			if err != nil {
				t.Fatal(err)
			}
			h := handlers[s.Function]
			if h == nil {
				t.Fatalf("function %q: want Interactions or Webhook", s.Function)
			}
			out, err := h.Invoke(context.Background(), payload)
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s, want 200\nlogs:\n%s", resp.StatusCode, resp.Body, logs)
			}
			var a answer
			if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
				t.Fatalf("body %s: %v", resp.Body, err)
			}
			var in struct {
				Token string `json:"token"`
			}
			_ = json.Unmarshal([]byte(s.Event.Body), &in)
			checks[s.File](t, resp, a, in.Token)
		})
	}
}
