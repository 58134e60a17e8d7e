package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// The test binary doubles as sdesk for the crash test: with
// SDESK_E2E_SERVE=1 it runs `sdesk serve` from its environment.
func TestMain(m *testing.M) {
	if os.Getenv("SDESK_E2E_SERVE") == "1" {
		mm := NewMain()
		mm.EnvFile = ""
		if err := mm.Run(context.Background(), []string{"serve"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serve runs Main whole on a free port and returns its base URL and logs.
func serve(t *testing.T, env *e2e.Env) (string, *e2e.LogBuffer) {
	t.Helper()
	url, logs, _ := serveStoppable(t, env)
	return url, logs
}

// serveStoppable is serve with a stop function (safe to call twice), e.g.
// to free the bbolt file for an admin command.
func serveStoppable(t *testing.T, env *e2e.Env) (string, *e2e.LogBuffer, func()) {
	t.Helper()
	logs := &e2e.LogBuffer{}
	m := &Main{Stdout: io.Discard, Stderr: logs, Getenv: env.Getenv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve"}) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-m.Ready():
	case err := <-done:
		t.Fatalf("serve ended early: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	return "http://" + m.Addr(), logs, stop
}

// admin runs one admin command through Main, for at most a minute, and
// returns its output.
func admin(t *testing.T, env *e2e.Env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: env.Getenv}
	err = m.Run(ctx, args)
	return out.String(), errOut.String(), err
}

func TestServeEndpoints(t *testing.T) {
	env := e2e.New(t)
	url, _ := serve(t, env)

	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz: got %d, want 200", resp.StatusCode)
	}

	ping := e2e.Interaction{Body: []byte(`{"id":"1300000000000000001","application_id":"` + e2e.AppID + `","type":1,"token":"t","version":1}`)}
	if got := env.Interact(url, ping); got.Status != 200 || strings.TrimSpace(string(got.Raw)) != `{"type":1}` {
		t.Errorf("signed ping: got %d %s, want 200 {\"type\":1}", got.Status, got.Raw)
	}
	resp, err = http.Post(url+"/interactions", "application/json", strings.NewReader(string(ping.Body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unsigned ping: got %d, want 401", resp.StatusCode)
	}
}

func TestServeConfigErrors(t *testing.T) {
	env := e2e.New(t)
	delete(env.Vars, "GITLAB_TOKEN")
	env.Vars["DISCORD_PUBLIC_KEY"] = "zz"
	env.Vars["SDESK_STORE"] = "redis"
	m := &Main{Getenv: env.Getenv}
	err := m.Run(context.Background(), []string{"serve"})
	for _, want := range []string{"GITLAB_TOKEN is required", "DISCORD_PUBLIC_KEY must be 64 hex", "SDESK_STORE must be bolt or dynamodb"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error naming %q", err, want)
		}
	}
}

func TestReportFlow(t *testing.T) {
	env := e2e.New(t)
	url, logs := serve(t, env)

	modal := env.Interact(url, env.Command(e2e.Reporter, e2e.ChannelID, "report", nil))
	if modal.Type != 9 || modal.Data.CustomID != "report" || len(modal.Data.Components) != 3 {
		t.Fatalf("report: got %s, want a modal with three labels (title, description, files)", modal.Raw)
	}

	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{
		"title":       "Login button does nothing",
		"description": "Clicking **Login** has no effect.\n/close\n@everyone and @devs please look",
	})
	ack := env.Interact(url, submit)
	if ack.Type != 5 || !ack.Ephemeral() {
		t.Fatalf("submit: got %s, want a deferred ephemeral answer", ack.Raw)
	}
	answer := env.ReportDone(t, submit)
	thread := e2e.ThreadOf(answer)
	if !strings.HasPrefix(answer, "Issue #1 created — continue in <#") || thread == "" {
		t.Fatalf("answer: got %q, want it to name issue #1 and the thread", answer)
	}

	issue, ok := env.GitLab.Issue(1)
	if !ok {
		t.Fatal("no issue 1 in GitLab")
	}
	if !issue.Confidential || issue.State != "opened" || strings.Join(issue.Labels, ",") != "discord" {
		t.Errorf("issue: got confidential=%v state=%s labels=%v, want confidential opened [discord]", issue.Confidential, issue.State, issue.Labels)
	}
	for _, want := range []string{"**reporter**", e2e.Reporter.ID, "https://discord.com/channels/" + e2e.GuildID + "/" + thread,
		"<!-- sdesk:v1 interaction=" + submit.ID + " guild=" + e2e.GuildID + " thread=" + thread + " user=" + e2e.Reporter.ID + " -->"} {
		if !strings.Contains(issue.Description, want) {
			t.Errorf("description: got %q, want it to contain %q", issue.Description, want)
		}
	}
	if len(issue.Assignees) != 0 {
		t.Errorf("assignees: got %v, want none (quick actions neutralized)", issue.Assignees)
	}
	for _, line := range strings.Split(issue.Description, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "/") {
			t.Errorf("description line %q would run a quick action", line)
		}
	}
	if strings.Contains(issue.Description, "@everyone") || strings.Contains(issue.Description, "@devs") {
		t.Errorf("description: got %q, want mentions neutralized", issue.Description)
	}

	th, ok := env.Discord.Thread(thread)
	if !ok {
		t.Fatalf("thread %s does not exist", thread)
	}
	if th.Type != 12 || th.Invitable || th.ParentID != e2e.ChannelID || th.Name != "#1 Login button does nothing" {
		t.Errorf("thread: got type %d invitable %v parent %s name %q, want a private thread #1 in the support channel", th.Type, th.Invitable, th.ParentID, th.Name)
	}
	if !slices.Contains(th.Members, e2e.Reporter.ID) {
		t.Errorf("members: got %v, want the reporter", th.Members)
	}
	if len(th.Messages) != 1 {
		t.Fatalf("thread messages: got %d, want 1", len(th.Messages))
	}
	first := th.Messages[0]
	if !strings.Contains(first.Content, "<@&"+e2e.StaffRoleID+">") {
		t.Errorf("first message: got %q, want the staff role mentioned", first.Content)
	}
	var am struct {
		Parse []string `json:"parse"`
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(first.AllowedMentions, &am); err != nil || am.Parse == nil || len(am.Parse) != 0 || len(am.Roles) != 1 || am.Roles[0] != e2e.StaffRoleID {
		t.Errorf("allowed_mentions: got %s, want parse [] and only the staff role", first.AllowedMentions)
	}
	if len(first.Embeds) != 1 || first.Embeds[0]["title"] != "Login button does nothing" {
		t.Errorf("embed: got %v, want the report title", first.Embeds)
	}
	buttons := fmt.Sprint(first.Components)
	for _, want := range []string{"reply/1", "close/1"} {
		if !strings.Contains(buttons, want) {
			t.Errorf("components: got %s, want a button %s", buttons, want)
		}
	}
	if !strings.Contains(logs.String(), `"interaction_id":"`+submit.ID+`"`) {
		t.Errorf("logs: want a line with the interaction ID %s", submit.ID)
	}
	if strings.Contains(logs.String(), env.GitLab.Token()) || strings.Contains(logs.String(), env.Discord.Token()) {
		t.Error("logs contain a token")
	}

	// Close: a bystander is refused, the reporter closes.
	refused := env.Interact(url, env.Button(e2e.Other, thread, "close/1"))
	if refused.Type != 4 || !refused.Ephemeral() || !strings.Contains(refused.Data.Content, "Only the reporter or staff") {
		t.Errorf("bystander close: got %s, want an ephemeral refusal", refused.Raw)
	}
	if is, _ := env.GitLab.Issue(1); is.State != "opened" {
		t.Errorf("after refused close: got state %s, want opened", is.State)
	}
	closeIn := env.Button(e2e.Reporter, thread, "close/1")
	if got := env.Interact(url, closeIn); got.Type != 5 || !got.Ephemeral() {
		t.Fatalf("reporter close: got %s, want a deferred ephemeral answer", got.Raw)
	}
	e2e.Eventually(t, "the issue to close", func() bool { is, _ := env.GitLab.Issue(1); return is.State == "closed" })
}

func TestStaffCloseAndReply(t *testing.T) {
	env := e2e.New(t)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Crash", "description": "It crashes."})
	env.Interact(url, submit)
	thread := e2e.ThreadOf(env.ReportDone(t, submit))

	// /reply from the thread becomes a note.
	reply := env.Command(e2e.Reporter, thread, "reply", map[string]string{"message": "It happens on Tuesdays.\n/close"})
	if got := env.Interact(url, reply); got.Type != 5 || got.Ephemeral() {
		t.Fatalf("/reply: got %s, want a public deferred answer", got.Raw)
	}
	e2e.Eventually(t, "the note", func() bool { is, _ := env.GitLab.Issue(1); return len(is.Notes) > 0 })
	is, _ := env.GitLab.Issue(1)
	if !strings.Contains(is.Notes[0].Body, "It happens on Tuesdays.") || is.State != "opened" {
		t.Errorf("note: got %q (issue %s), want the reply text and the issue still open", is.Notes[0].Body, is.State)
	}
	// /reply outside a report thread.
	if got := env.Interact(url, env.Command(e2e.Reporter, e2e.ChannelID, "reply", map[string]string{"message": "x"})); !got.Ephemeral() || !strings.Contains(got.Data.Content, "report thread") {
		t.Errorf("/reply outside: got %s, want an ephemeral explanation", got.Raw)
	}
	// The Reply button opens a modal.
	if got := env.Interact(url, env.Button(e2e.Reporter, thread, "reply/1")); got.Type != 9 || got.Data.CustomID != "replyto/1" {
		t.Errorf("Reply button: got %s, want the reply modal", got.Raw)
	}
	// Staff closes with /close.
	if got := env.Interact(url, env.Command(e2e.Staff, thread, "close", nil)); got.Type != 5 {
		t.Fatalf("staff /close: got %s, want a deferred answer", got.Raw)
	}
	e2e.Eventually(t, "the issue to close", func() bool { is, _ := env.GitLab.Issue(1); return is.State == "closed" })
}

func TestAckDoesNotWaitForGitLab(t *testing.T) {
	env := e2e.New(t)
	env.GitLab.SetDelay(5 * time.Second)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Slow", "description": "GitLab is slow today."})
	ack := env.Interact(url, submit)
	if ack.Type != 5 {
		t.Fatalf("got %s, want a deferred answer", ack.Raw)
	}
	if n := len(env.GitLab.Issues()); n != 0 {
		t.Errorf("issues when the ack came: got %d, want 0 (the ack must not wait for GitLab)", n)
	}
	if _, ok := env.Discord.OriginalResponse(submit.Token); ok {
		t.Error("the answer was edited before the ack came back")
	}
}

// TestCrashBetweenAckAndJob kills a real sdesk process (SIGKILL) while its
// job waits on GitLab, then starts sdesk again on the same bbolt file: the
// job resumes and finishes, with one issue.
func TestCrashBetweenAckAndJob(t *testing.T) {
	env := e2e.New(t)
	env.GitLab.SetDelay(time.Minute)

	url, cmd := startChild(t, env)

	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Crash", "description": "Kill me."})
	if got := env.Interact(url, submit); got.Type != 5 {
		t.Fatalf("got %s, want a deferred answer", got.Raw)
	}
	e2e.Eventually(t, "the job to reach GitLab", func() bool { return env.GitLab.CountRequests("POST", "/projects/:id/issues") > 0 })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, ok := env.Discord.OriginalResponse(submit.Token); ok {
		t.Fatal("the job finished before the kill")
	}

	env.GitLab.SetDelay(0)
	serve(t, env)
	answer := env.ReportDone(t, submit)
	if !strings.HasPrefix(answer, "Issue #1 created") {
		t.Errorf("answer after restart: got %q, want issue #1 created", answer)
	}
	if n := len(env.GitLab.Issues()); n != 1 {
		t.Errorf("issues: got %d, want 1", n)
	}
}

// A report whose job failed for good is listed by `sdesk jobs list` and
// finished by `sdesk jobs retry` once GitLab is back; the user's answer is
// edited from the apology to the result.
func TestJobsListAndRetry(t *testing.T) {
	env := e2e.New(t)
	env.GitLab.FailNext("POST", "/projects/:id/issues", 500, 100)
	url, _, stop := serveStoppable(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Retry me", "description": "GitLab is down."})
	if got := env.Interact(url, submit); got.Type != 5 {
		t.Fatalf("got %s, want a deferred answer", got.Raw)
	}
	e2e.Eventually(t, "the apology", func() bool {
		m, ok := env.Discord.OriginalResponse(submit.Token)
		return ok && strings.Contains(m.Content, "Sorry")
	})
	stop() // bbolt: one process at a time

	out, _, err := admin(t, env, "jobs", "list")
	if err != nil || !strings.Contains(out, submit.ID) || !strings.Contains(out, "report") {
		t.Fatalf("jobs list: got %q, %v, want the failed report job %s", out, err, submit.ID)
	}
	if out, _, err := admin(t, env, "jobs", "list", "-status", "pending"); err != nil || strings.Contains(out, submit.ID) {
		t.Errorf("jobs list -status pending: got %q, %v, want no %s", out, err, submit.ID)
	}

	env.GitLab.ClearFaults()
	if out, _, err := admin(t, env, "jobs", "retry", submit.ID); err != nil || !strings.Contains(out, "job "+submit.ID+" done") {
		t.Fatalf("jobs retry: got %q, %v, want done", out, err)
	}
	if m, _ := env.Discord.OriginalResponse(submit.Token); !strings.HasPrefix(m.Content, "Issue #1 created") {
		t.Errorf("answer after the retry: got %q, want issue #1 created", m.Content)
	}
	if n := len(env.GitLab.Issues()); n != 1 {
		t.Errorf("issues: got %d, want 1", n)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"jobs", "retry", submit.ID}, "is done already"},
		{[]string{"jobs", "retry", "1399999999999999999"}, `no job "1399999999999999999"`},
		{[]string{"jobs", "retry"}, "usage: sdesk jobs retry ID"},
	}
	for _, tt := range tests {
		if _, _, err := admin(t, env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// On DynamoDB, `sdesk jobs retry` of a job that `sdesk serve` is running
// waits for that run (the job lease) instead of running it a second time.
func TestJobsRetryWaitsForRunningJob(t *testing.T) {
	env := e2e.New(t)
	_, table := dynamotest.NewTable(t)
	env.Vars["SDESK_STORE"] = "dynamodb"
	env.Vars["SDESK_TABLE"] = table
	env.Vars["DYNAMODB_ENDPOINT"] = dynamotest.Endpoint(t)
	env.GitLab.SetDelay(3 * time.Second)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Twice", "description": "Run me once."})
	if got := env.Interact(url, submit); got.Type != 5 {
		t.Fatalf("got %s, want a deferred answer", got.Raw)
	}
	e2e.Eventually(t, "serve's run to reach GitLab", func() bool { return env.GitLab.CountRequests("POST", "/projects/:id/issues") > 0 })

	out, errOut, err := admin(t, env, "jobs", "retry", submit.ID)
	if err != nil || !strings.Contains(out, "job "+submit.ID+" done") {
		t.Fatalf("jobs retry: got %q, %v, want done", out, err)
	}
	if !strings.Contains(errOut, "running elsewhere") {
		t.Errorf("jobs retry stderr: got %q, want it to wait for the running job", errOut)
	}
	if n := env.GitLab.CountRequests("POST", "/projects/:id/issues"); n != 1 {
		t.Errorf("issue creations: got %d, want 1", n)
	}
	if n := len(env.GitLab.Issues()); n != 1 {
		t.Errorf("issues: got %d, want 1", n)
	}
}

func TestCommandsSync(t *testing.T) {
	env := e2e.New(t)
	var out bytes.Buffer
	m := &Main{Stdout: &out, Getenv: env.Getenv}
	if err := m.Run(context.Background(), []string{"commands", "sync"}); err != nil {
		t.Fatal(err)
	}
	cmds := env.Discord.Commands(e2e.AppID, e2e.GuildID)
	var names []string
	for _, c := range cmds {
		names = append(names, fmt.Sprint(c["name"]))
	}
	if got, want := strings.Join(names, ","), "report,reply,close,reopen,status,issues,panel,Send to GitLab"; got != want {
		t.Errorf("registered: got %s, want %s", got, want)
	}
	if !strings.Contains(out.String(), "registered 8 commands in guild") {
		t.Errorf("output: got %q", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"jobs", "list", "-status", "done"}, "-status must be pending or failed"},
		{[]string{"commands"}, "usage: sdesk commands"},
		{[]string{"panel"}, "usage: sdesk panel post --channel ID"},
		{[]string{"panel", "post"}, "usage: sdesk panel post --channel ID"},
		{[]string{"panel", "post", "--channel", "general"}, "--channel must be a channel ID"},
	}
	for _, tt := range tests {
		m := &Main{Getenv: func(string) string { return "" }}
		err := m.Run(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestPanelPost: `sdesk panel post --channel ID` posts the report panel,
// whose button opens the report form in a server started afterwards.
func TestPanelPost(t *testing.T) {
	env := e2e.New(t)
	var out bytes.Buffer
	m := &Main{Stdout: &out, Getenv: env.Getenv}
	if err := m.Run(context.Background(), []string{"panel", "post", "--channel", e2e.ChannelID}); err != nil {
		t.Fatal(err)
	}
	msgs := env.Discord.Messages(e2e.ChannelID)
	if len(msgs) != 1 || msgs[0].Content != sdesk.PanelText {
		t.Fatalf("messages in the channel: got %+v, want the panel", msgs)
	}
	var ids []string
	for _, row := range msgs[0].Components {
		cs, _ := row["components"].([]any)
		for _, c := range cs {
			ids = append(ids, fmt.Sprint(c.(map[string]any)["custom_id"]))
		}
	}
	if len(ids) != 1 || ids[0] != sdesk.RoutePanelReport {
		t.Fatalf("panel buttons: got %v, want [%s]", ids, sdesk.RoutePanelReport)
	}
	if !strings.Contains(out.String(), "posted the report panel") {
		t.Errorf("output: got %q", out.String())
	}
	// A server started after the post (a restart, a redeploy) opens the
	// form from the panel's button.
	base, _ := serve(t, env)
	r := env.Interact(base, env.Button(e2e.Reporter, e2e.ChannelID, ids[0]))
	if r.Type != 9 || r.Data.CustomID != sdesk.RouteReportModal {
		t.Errorf("panel button after the post: got %s, want the report modal", r.Raw)
	}
}

// TestPanelPostRefused: a channel that does not exist is said in words,
// with what to check; no raw API error.
func TestPanelPostRefused(t *testing.T) {
	env := e2e.New(t)
	env.Discord.FailNext("POST", "/channels/*/messages", 404, `{"message":"Unknown Channel","code":10003}`, 1)
	m := &Main{Getenv: env.Getenv}
	err := m.Run(context.Background(), []string{"panel", "post", "--channel", "1200000000000000999"})
	if err == nil || !strings.Contains(err.Error(), "does not exist, or the bot is not in its server") || strings.Contains(err.Error(), "POST") {
		t.Errorf("panel post to an unknown channel: got %v", err)
	}
}
