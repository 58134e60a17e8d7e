package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
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

const jobFunction = "sdesk-test-interactions"

// awsEnv points the AWS SDK at DynamoDB Local and the fake Lambda.
func awsEnv(t *testing.T, vars map[string]string) (*lambdafake.Server, sdesk.Store) {
	t.Helper()
	endpoint := dynamotest.Endpoint(t)
	client, table := dynamotest.NewTable(t)
	fake := lambdafake.New(t)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", fake.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	vars["SDESK_STORE"] = "dynamodb"
	vars["SDESK_TABLE"] = table
	vars["DYNAMODB_ENDPOINT"] = endpoint
	vars["SDESK_JOB_FUNCTION"] = jobFunction
	return fake, dynamo.New(client, table)
}

func newHandler(t *testing.T, getenv func(string) string, role app.Role, logs *e2e.LogBuffer, opts ...app.Option) lambda.Handler {
	t.Helper()
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, role, slog.New(slog.NewJSONHandler(logs, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return perInvocation(a.LambdaHandler())
}

// perInvocation runs each invocation through a lambda.NewHandler of its
// own. aws-lambda-go returns a slice of a pooled buffer that the handler's
// next invocation reuses: right for Lambda, which runs one invocation at a
// time per environment, but a data race for the tests' concurrent
// invocations, which stand for several environments.
type perInvocation func(ctx context.Context, payload json.RawMessage) (any, error)

// Invoke implements lambda.Handler.
func (f perInvocation) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return lambda.NewHandler((func(context.Context, json.RawMessage) (any, error))(f)).Invoke(ctx, payload)
}

// httpEvent is an HTTP API (payload 2.0) event; base64 encodes the body as
// API Gateway does for binary content.
func httpEvent(t *testing.T, path string, body []byte, header map[string]string, b64 bool) []byte {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST " + path, RawPath: path, Headers: header, Body: string(body),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "req-" + strconv.FormatInt(time.Now().UnixNano(), 10), Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.1"},
		},
	}
	if b64 {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func invoke(t *testing.T, h lambda.Handler, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	if resp.IsBase64Encoded {
		b, _ := base64.StdEncoding.DecodeString(resp.Body)
		resp.Body = string(b)
	}
	return resp
}

func signedEvent(t *testing.T, env *e2e.Env, in e2e.Interaction, b64 bool) []byte {
	h := env.Sign(in.Body)
	return httpEvent(t, "/interactions", in.Body, map[string]string{
		"content-type":          "application/json",
		"x-signature-ed25519":   h.Get("X-Signature-Ed25519"),
		"x-signature-timestamp": h.Get("X-Signature-Timestamp"),
	}, b64)
}

type answer struct {
	Type int `json:"type"`
	Data struct {
		Flags    int    `json:"flags"`
		CustomID string `json:"custom_id"`
	} `json:"data"`
}

func TestLambdaReportFlow(t *testing.T) {
	env := e2e.New(t)
	fake, store := awsEnv(t, env.Vars)
	logs := &e2e.LogBuffer{}
	h := newHandler(t, env.Getenv, app.LambdaInteractions, logs)
	fake.SetHandler(h)

	resp := invoke(t, h, signedEvent(t, env, env.Command(e2e.Reporter, e2e.ChannelID, "report", nil), false))
	var modal answer
	_ = json.Unmarshal([]byte(resp.Body), &modal)
	if resp.StatusCode != 200 || modal.Type != 9 || modal.Data.CustomID != "report" {
		t.Fatalf("report: got %d %s, want the modal", resp.StatusCode, resp.Body)
	}

	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Lambda", "description": "Through the self-invoke."})
	resp = invoke(t, h, signedEvent(t, env, submit, true)) // base64 body: the signature must still verify
	var ack answer
	_ = json.Unmarshal([]byte(resp.Body), &ack)
	if resp.StatusCode != 200 || ack.Type != 5 || ack.Data.Flags&64 == 0 {
		t.Fatalf("submit: got %d %s, want a deferred ephemeral answer", resp.StatusCode, resp.Body)
	}
	fake.Wait()
	answer := env.ReportDone(t, submit)
	thread := e2e.ThreadOf(answer)
	if !strings.HasPrefix(answer, "Issue #1 created") || thread == "" {
		t.Fatalf("answer: got %q, want issue #1 created", answer)
	}
	if got := fake.Functions(); len(got) != 1 || got[0] != jobFunction {
		t.Errorf("invoked: got %v, want one async invoke of %s", got, jobFunction)
	}
	m, err := store.MappingByThread(context.Background(), thread)
	if err != nil || m.IssueIID != 1 || m.ReporterID != e2e.Reporter.ID {
		t.Errorf("mapping: got %+v, %v, want issue 1 by the reporter", m, err)
	}
	j, err := store.GetJob(context.Background(), submit.ID)
	if err != nil || j.Status != sdesk.JobDone {
		t.Errorf("job: got %+v, %v, want done", j, err)
	}
}

func TestLambdaJobFailsForGood(t *testing.T) {
	env := e2e.New(t)
	fake, store := awsEnv(t, env.Vars)
	env.GitLab.FailNext("POST", "/projects/:id/issues", 500, 100)
	logs := &e2e.LogBuffer{}
	h := newHandler(t, env.Getenv, app.LambdaInteractions, logs)
	fake.SetHandler(h)

	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Doomed", "description": "GitLab is down."})
	invoke(t, h, signedEvent(t, env, submit, false))
	fake.Wait()

	if got := fake.Attempts(); got != 3 {
		t.Errorf("attempts: got %d, want 3 (first run and Lambda's two retries)", got)
	}
	if got := len(fake.DeadLetters()); got != 1 {
		t.Errorf("dead letters: got %d, want 1", got)
	}
	j, err := store.GetJob(context.Background(), submit.ID)
	if err != nil || j.Status != sdesk.JobFailed || j.ErrorRef == "" {
		t.Fatalf("job: got %+v, %v, want failed with a reference", j, err)
	}
	msg, _ := env.Discord.OriginalResponse(submit.Token)
	if !strings.Contains(msg.Content, "`"+j.ErrorRef+"`") {
		t.Errorf("apology: got %q, want the reference %s", msg.Content, j.ErrorRef)
	}
	if !regexp.MustCompile(`"msg":"job failed".*"error_ref":"` + j.ErrorRef + `"`).MatchString(logs.String()) {
		t.Errorf("logs: want a job failed line with %s", j.ErrorRef)
	}
	if n := len(env.GitLab.Issues()); n != 0 {
		t.Errorf("issues: got %d, want 0", n)
	}
}

// TestSamEvents runs the events/ samples for `sam local invoke` through the
// real Lambda handlers, configured from events/env.json.
func TestSamEvents(t *testing.T) {
	root := e2e.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var envJSON map[string]map[string]string
	if err := json.Unmarshal(raw, &envJSON); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fn, event string
		role      app.Role
		status    int
		body      string
	}{
		{"Interactions", "interactions-ping.json", app.LambdaInteractions, 200, `{"type":1}`},
		{"Webhook", "webhook-issue-close.json", app.LambdaWebhook, 200, `{"status":"ok"}`},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			vars := envJSON[tt.fn]
			if vars == nil {
				t.Fatalf("env.json has no %s", tt.fn)
			}
			awsEnv(t, vars)
			payload, err := os.ReadFile(filepath.Join(root, "events", tt.event))
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatal(err)
			}
			var opts []app.Option
			if ts := ev.Headers["x-signature-timestamp"]; ts != "" {
				sec, _ := strconv.ParseInt(ts, 10, 64)
				opts = append(opts, app.WithClock(func() time.Time { return time.Unix(sec, 0) }))
			}
			h := newHandler(t, func(k string) string { return vars[k] }, tt.role, &e2e.LogBuffer{}, opts...)
			resp := invoke(t, h, payload)
			if resp.StatusCode != tt.status || strings.TrimSpace(resp.Body) != tt.body {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, resp.Body, tt.status, tt.body)
			}
		})
	}
}

// TestLambdaWebhookDefers: the webhook function answers GitLab within its
// budget although Discord is slow, and the event continues as a job of the
// interactions function (async Invoke), delivered once.
func TestLambdaWebhookDefers(t *testing.T) {
	env := e2e.New(t)
	fake, store := awsEnv(t, env.Vars)
	const thread = "1400000000000000009"
	if err := store.PutMapping(context.Background(), sdesk.Mapping{IssueIID: 7, IssueURL: issueURL, ThreadID: thread,
		GuildID: e2e.GuildID, ChannelID: e2e.ChannelID, ReporterID: e2e.Reporter.ID, Title: "Printer on fire"}); err != nil {
		t.Fatal(err)
	}
	logs := &e2e.LogBuffer{}
	fake.SetHandler(newHandler(t, env.Getenv, app.LambdaInteractions, logs))
	webhook := newHandler(t, env.Getenv, app.LambdaWebhook, logs, app.WithTuning(func(a *app.App) { a.Service.EventBudget = time.Second }))
	env.Discord.SetDelay(3 * time.Second)

	hdr, body := fixture(t, "note_plain")
	raw, _ := json.Marshal(body)
	headers := map[string]string{"content-type": "application/json", "x-gitlab-token": e2e.WebhookSecret}
	for k := range hdr {
		headers[strings.ToLower(k)] = hdr.Get(k)
	}
	resp := invoke(t, webhook, httpEvent(t, "/gitlab", raw, headers, false))
	if resp.StatusCode != 200 {
		t.Fatalf("webhook: got %d %s, want 200", resp.StatusCode, resp.Body)
	}
	fake.Wait()
	if got := fake.Functions(); len(got) != 1 || got[0] != jobFunction {
		t.Errorf("invoked: got %v, want the interactions function once", got)
	}
	j, err := store.GetJob(context.Background(), jobID(t, hdr, body))
	if err != nil || j.Status != sdesk.JobDone {
		t.Errorf("job: got %+v, %v, want done", j, err)
	}
	e2e.Eventually(t, "the delayed first post to land", func() bool { return len(env.Discord.Messages(thread)) > 0 })
	time.Sleep(100 * time.Millisecond)
	if got := len(env.Discord.Messages(thread)); got != 1 {
		t.Errorf("messages: got %d, want 1", got)
	}
}
