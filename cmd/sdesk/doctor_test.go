package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/bolt"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/dynamo/dynamotest"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

// completeHook is a webhook with every trigger sdesk needs.
var completeHook = gitlabfake.Hook{
	URL: "https://sdesk.example/gitlab", IssuesEvents: true, ConfidentialIssuesEvents: true,
	NoteEvents: true, ConfidentialNoteEvents: true,
}

// doctorEnv is an e2e.Env set up as the README says: the application's
// key and interactions endpoint, commands registered in the support
// channel's server, the staff role, and unless hooks is given, one
// complete webhook. Every doctor check passes on it.
func doctorEnv(t *testing.T, hooks []gitlabfake.Hook, sync bool) *e2e.Env {
	t.Helper()
	env := e2e.New(t)
	env.Vars["DISCORD_GUILD_ID"] = env.Discord.GuildID()
	env.Discord.SetApplication(discordfake.Application{
		ID: e2e.AppID, Name: "sdesk", VerifyKey: env.Vars["DISCORD_PUBLIC_KEY"],
		InteractionsEndpointURL: "https://sdesk.example/interactions",
	})
	env.Discord.SetRole(discordfake.Role{ID: e2e.StaffRoleID, Name: "Staff"})
	env.Discord.SetChannel(e2e.ChannelID, "support", 0)
	if hooks == nil {
		hooks = []gitlabfake.Hook{completeHook}
	}
	for _, h := range hooks {
		env.GitLab.AddHook(h)
	}
	if sync {
		if _, _, err := admin(t, env, "commands", "sync"); err != nil {
			t.Fatalf("commands sync: %v", err)
		}
	}
	return env
}

// doctorLines maps each check's name to its line of doctor's output.
func doctorLines(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := map[string]string{}
	re := regexp.MustCompile(`^(PASS|FAIL|SKIP|HINT|WARN)  ([^:]+): `)
	for _, l := range strings.Split(out, "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[2] == checkConfig {
			lines[m[2]] += l + "\n" // config has a line per problem
			continue
		}
		if _, dup := lines[m[2]]; dup {
			t.Errorf("two lines for check %q:\n%s", m[2], out)
		}
		lines[m[2]] = l
	}
	return lines
}

// allChecks are the checks doctor prints, in order.
var allChecks = []string{checkConfig, checkToken, checkApplication, checkPublicKey, checkEndpoint, checkChannel,
	checkPermissions, checkStaffRole, checkCommands, checkGitLabToken, checkProject, checkWebhook, checkStore}

// want is what a test expects of one check's line.
type want struct {
	status   string
	contains []string
}

func TestDoctor(t *testing.T) {
	never := time.Now().Add(24 * time.Hour)
	oldReply := map[string]any{"type": 1, "name": "reply", "description": "Send an answer to the GitLab issue of this thread",
		"contexts": []any{0}, "options": []any{map[string]any{"type": 3, "name": "message", "description": "Your answer", "required": true, "max_length": 4000}}}
	tests := []struct {
		name   string
		hooks  []gitlabfake.Hook
		nosync bool
		setup  func(t *testing.T, env *e2e.Env)
		want   map[string]want // checks not listed must pass
		ok     bool            // doctor returns nil
	}{
		{name: "all pass", ok: true},
		{
			name:  "bot token refused",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_BOT_TOKEN"] = "not-the-token" },
			want: map[string]want{
				checkToken:       {statusFail, []string{"401", "Reset Token", "DISCORD_BOT_TOKEN"}},
				checkApplication: {statusSkip, []string{"skipped: the bot token did not pass"}},
				checkPublicKey:   {statusSkip, []string{"skipped: "}},
				checkEndpoint:    {statusSkip, []string{"skipped: "}},
				checkChannel:     {statusSkip, []string{"skipped: the bot token did not pass"}},
				checkPermissions: {statusSkip, []string{"skipped: the support channel did not pass"}},
				checkStaffRole:   {statusSkip, []string{"skipped: the support channel did not pass"}},
				checkCommands:    {statusSkip, []string{"skipped: the application did not pass"}},
			},
		},
		{
			name:  "token of another application",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_APPLICATION_ID"] = "1200000000000000099" },
			want: map[string]want{
				checkApplication: {statusFail, []string{`application "sdesk" (ID ` + e2e.AppID + `), not to DISCORD_APPLICATION_ID 1200000000000000099`, "DISCORD_APPLICATION_ID=" + e2e.AppID}},
				"invite":         {"", []string{"Invite URL of the bot token's application " + e2e.AppID + ", not of DISCORD_APPLICATION_ID 1200000000000000099"}},
				checkPublicKey:   {statusSkip, []string{"skipped: the application did not pass"}},
				checkEndpoint:    {statusSkip, nil},
				checkCommands:    {statusSkip, nil},
			},
		},
		{
			name:  "public key of another application",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_PUBLIC_KEY"] = strings.Repeat("ab", 32) },
			want:  map[string]want{checkPublicKey: {statusFail, []string{"not the application's public key", "General Information"}}},
		},
		{
			name: "no interactions endpoint",
			setup: func(t *testing.T, env *e2e.Env) {
				a := env.Discord.Application()
				a.InteractionsEndpointURL = ""
				env.Discord.SetApplication(a)
			},
			want: map[string]want{checkEndpoint: {statusFail, []string{"no Interactions Endpoint URL", "https://<your host>/interactions"}}},
		},
		{
			name: "interactions endpoint elsewhere",
			setup: func(t *testing.T, env *e2e.Env) {
				a := env.Discord.Application()
				a.InteractionsEndpointURL = "https://user:secret@bot.example/discord?token=secret"
				env.Discord.SetApplication(a)
			},
			want: map[string]want{checkEndpoint: {statusFail, []string{"https://bot.example/discord is not sdesk's /interactions path"}}},
		},
		{
			name:  "support channel deleted",
			setup: func(t *testing.T, env *e2e.Env) { env.Discord.DeleteChannel(e2e.ChannelID) },
			want: map[string]want{
				checkChannel:     {statusFail, []string{"no channel " + e2e.ChannelID, "Copy Channel ID", "DISCORD_SUPPORT_CHANNEL_ID"}},
				checkPermissions: {statusSkip, []string{"the support channel did not pass"}},
				checkStaffRole:   {statusSkip, []string{"the support channel did not pass"}},
			},
		},
		{
			name:  "support channel is a forum",
			setup: func(t *testing.T, env *e2e.Env) { env.Discord.SetChannel(e2e.ChannelID, "reports", 15) },
			want: map[string]want{
				checkChannel:     {statusFail, []string{"#reports is a forum channel, whose posts are public", "create a text channel"}},
				checkPermissions: {statusSkip, []string{"not a text channel"}},
			},
		},
		{
			name:  "support channel is an announcement channel",
			setup: func(t *testing.T, env *e2e.Env) { env.Discord.SetChannel(e2e.ChannelID, "news", 5) },
			want: map[string]want{
				checkChannel:     {statusFail, []string{"#news is an announcement channel, which cannot hold private threads"}},
				checkPermissions: {statusSkip, []string{"not a text channel"}},
			},
		},
		{
			name: "permissions denied by an overwrite",
			setup: func(t *testing.T, env *e2e.Env) {
				env.Discord.SetOverwrites(e2e.ChannelID, discordfake.Overwrite{ID: env.Discord.BotRoleID(), Type: 0,
					Deny: discordfake.PermManageThreads | discordfake.PermAttachFiles})
			},
			want: map[string]want{checkPermissions: {statusFail, []string{"the bot lacks Manage Threads, Attach Files on #support", "channel's settings (Permissions)"}}},
		},
		{
			name: "a member overwrite gives back what a role overwrite denies",
			setup: func(t *testing.T, env *e2e.Env) {
				env.Discord.SetOverwrites(e2e.ChannelID,
					discordfake.Overwrite{ID: env.Discord.BotRoleID(), Type: 0, Deny: discordfake.PermManageThreads | discordfake.PermEmbedLinks},
					discordfake.Overwrite{ID: env.Discord.BotUserID(), Type: 1, Allow: discordfake.PermManageThreads})
			},
			want: map[string]want{checkPermissions: {statusFail, []string{"the bot lacks Embed Links on #support"}}},
		},
		{
			name: "channel hidden from the bot",
			setup: func(t *testing.T, env *e2e.Env) {
				env.Discord.SetOverwrites(e2e.ChannelID, discordfake.Overwrite{ID: env.Discord.GuildID(), Type: 0, Deny: discordfake.PermViewChannel})
			},
			want: map[string]want{
				checkChannel:     {statusFail, []string{"cannot see channel " + e2e.ChannelID, "View Channel"}},
				checkPermissions: {statusSkip, nil},
				checkStaffRole:   {statusSkip, nil},
			},
		},
		{
			name:  "bot not in the server",
			setup: func(t *testing.T, env *e2e.Env) { env.Discord.RemoveMember(env.Discord.BotUserID()) },
			want: map[string]want{
				checkChannel:     {statusFail, []string{"Missing Access", "invite URL"}},
				checkPermissions: {statusSkip, nil},
				checkStaffRole:   {statusSkip, nil},
			},
		},
		{
			name: "bot timed out",
			setup: func(t *testing.T, env *e2e.Env) {
				env.Discord.SetMember(discordfake.Member{UserID: env.Discord.BotUserID(), Roles: []string{env.Discord.BotRoleID()}, TimedOutUntil: never})
			},
			want: map[string]want{checkPermissions: {statusFail, []string{"the bot is timed out until", "Remove Timeout"}}},
		},
		{
			name:  "administrator needs no overwrite",
			setup: administrator,
			ok:    true,
		},
		{
			name:  "staff role deleted",
			setup: func(t *testing.T, env *e2e.Env) { env.Discord.DeleteRole(e2e.StaffRoleID) },
			want:  map[string]want{checkStaffRole: {statusFail, []string{`server "sdesk-fake-server" has no role ` + e2e.StaffRoleID, "Copy Role ID"}}},
		},
		{
			name:  "no staff role configured",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_STAFF_ROLE_ID"] = "" },
			want:  map[string]want{checkStaffRole: {statusPass, []string{"not set: only the reporter"}}},
			ok:    true,
		},
		{
			name:   "commands never registered",
			nosync: true,
			want:   map[string]want{checkCommands: {statusFail, []string{"/report is not registered", `"Send to GitLab" (message menu) is not registered`, "run sdesk commands sync"}}},
		},
		{
			name:   "commands out of date",
			nosync: true,
			setup: func(t *testing.T, env *e2e.Env) {
				env.Discord.SetCommands(e2e.AppID, env.Discord.GuildID(), []map[string]any{
					{"type": 1, "name": "report", "description": "Report a problem to the team (opens a private thread)", "contexts": []any{0}},
					oldReply,
					{"type": 1, "name": "close", "description": "Close the GitLab issue of this thread", "contexts": []any{0}},
					{"type": 3, "name": "Send to GitLab", "description": "", "contexts": []any{0}},
					{"type": 1, "name": "ticket", "description": "Old command"},
				})
			},
			want: map[string]want{checkCommands: {statusFail, []string{"/reply is registered with other options", "/close is registered with other description",
				"/reopen is not registered", "/ticket is registered but is not one of sdesk's", "run sdesk commands sync"}}},
		},
		{
			name:  "global commands not registered",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_GUILD_ID"] = "" },
			want: map[string]want{checkCommands: {statusFail, []string{"/report is not registered", "(checked the global commands) Fix: run sdesk commands sync (global commands can take up to an hour to appear)"}},
				"invite": {"", []string{"Invite URL (adds the bot"}}},
		},
		{
			name:  "guild of the commands is not the channel's",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_GUILD_ID"] = e2e.GuildID },
			want:  map[string]want{checkCommands: {statusFail, []string{"DISCORD_GUILD_ID is " + e2e.GuildID, "sdesk commands sync"}}},
		},
		{
			name:  "GitLab token refused",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["GITLAB_TOKEN"] = "glpat-wrong" },
			want: map[string]want{
				checkGitLabToken: {statusFail, []string{"401", "api scope"}},
				checkProject:     {statusSkip, []string{"the GitLab token did not pass"}},
				checkWebhook:     {statusSkip, []string{"the GitLab project did not pass"}},
			},
		},
		{
			name:  "GitLab token without the api scope",
			setup: func(t *testing.T, env *e2e.Env) { env.GitLab.SetTokenScopes("read_api", "read_user") },
			want: map[string]want{
				checkGitLabToken: {statusFail, []string{"scopes [read_api read_user], not api"}},
				checkProject:     {statusSkip, nil},
				checkWebhook:     {statusSkip, nil},
			},
		},
		{
			name:  "GitLab user is a Guest",
			setup: func(t *testing.T, env *e2e.Env) { env.GitLab.SetAccess(gitlabfake.Guest, gitlabfake.NoAccess) },
			want: map[string]want{
				checkProject: {statusFail, []string{"@sdesk-bot has Guest (10) in acme/support", "Reporter"}},
				checkWebhook: {statusSkip, nil},
			},
		},
		{
			name:  "GitLab project not visible",
			setup: func(t *testing.T, env *e2e.Env) { env.GitLab.SetAccess(gitlabfake.NoAccess, gitlabfake.NoAccess) },
			want: map[string]want{
				checkProject: {statusFail, []string{`GITLAB_PROJECT "acme/support" does not exist, or @sdesk-bot cannot see it`}},
				checkWebhook: {statusSkip, nil},
			},
		},
		{
			name:  "GitLab project forbidden",
			setup: func(t *testing.T, env *e2e.Env) { env.GitLab.FailNext("GET", "/projects/:id", 403, 1) },
			want: map[string]want{
				checkProject: {statusFail, []string{`GitLab refused to show GITLAB_PROJECT "acme/support" to @sdesk-bot (403 Forbidden)`}},
				checkWebhook: {statusSkip, nil},
			},
		},
		{
			name: "Reporter inherited from a parent group; webhooks unreadable",
			setup: func(t *testing.T, env *e2e.Env) {
				env.GitLab.SetAccess(gitlabfake.NoAccess, gitlabfake.NoAccess)
				env.GitLab.SetInheritedAccess(gitlabfake.Reporter)
			},
			want: map[string]want{
				checkProject: {statusPass, []string{"@sdesk-bot is Reporter (20)"}},
				checkWebhook: {statusHint, []string{"needs Maintainer", "Confidential comments"}},
			},
			ok: true,
		},
		{
			name:  "webhook without confidential comments",
			hooks: []gitlabfake.Hook{{URL: "https://sdesk.example/gitlab", IssuesEvents: true, ConfidentialIssuesEvents: true, NoteEvents: true}},
			want:  map[string]want{checkWebhook: {statusFail, []string{"https://sdesk.example/gitlab lacks Confidential comments", "enable Confidential comments"}}},
		},
		{
			name:  "webhook elsewhere",
			hooks: []gitlabfake.Hook{{URL: "https://ci.example/hooks", IssuesEvents: true, ConfidentialIssuesEvents: true, NoteEvents: true, ConfidentialNoteEvents: true}},
			want:  map[string]want{checkWebhook: {statusFail, []string{"no webhook of acme/support points at sdesk", "Secret token = GITLAB_WEBHOOK_SECRET"}}},
		},
		{
			name: "webhook disabled by GitLab",
			hooks: []gitlabfake.Hook{{URL: "https://sdesk.example/gitlab", IssuesEvents: true, ConfidentialIssuesEvents: true,
				NoteEvents: true, ConfidentialNoteEvents: true, AlertStatus: "temporarily_disabled"}},
			want: map[string]want{checkWebhook: {statusFail, []string{"GitLab disabled the webhook", "Test"}}},
		},
		{
			name: "bbolt file held by a running serve",
			setup: func(t *testing.T, env *e2e.Env) {
				st, err := bolt.Open(env.Vars["SDESK_BOLT_PATH"])
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Close() })
			},
			want: map[string]want{checkStore: {statusFail, []string{"held by another process", "stop sdesk serve"}}},
		},
		{
			name: "bbolt file exists",
			setup: func(t *testing.T, env *e2e.Env) {
				st, err := bolt.Open(env.Vars["SDESK_BOLT_PATH"])
				if err != nil {
					t.Fatal(err)
				}
				_ = st.Close()
			},
			want: map[string]want{checkStore: {statusPass, []string{"opens"}}},
			ok:   true,
		},
		{
			name: "bbolt directory missing",
			setup: func(t *testing.T, env *e2e.Env) {
				env.Vars["SDESK_BOLT_PATH"] = filepath.Join(t.TempDir(), "missing", "sdesk.db")
			},
			want: map[string]want{checkStore: {statusFail, []string{"directory of SDESK_BOLT_PATH", "does not exist"}}},
		},
		{
			name: "bbolt path is not a database",
			setup: func(t *testing.T, env *e2e.Env) {
				if err := os.WriteFile(env.Vars["SDESK_BOLT_PATH"], []byte("PK=ISSUE#1\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]want{checkStore: {statusFail, []string{"is not a bbolt database", "move this file away"}}},
		},
		{
			name: "configuration problems",
			setup: func(t *testing.T, env *e2e.Env) {
				delete(env.Vars, "GITLAB_TOKEN")
				env.Vars["DISCORD_PUBLIC_KEY"] = "zz"
			},
			want: map[string]want{
				checkConfig:      {statusFail, []string{"GITLAB_TOKEN is required", "DISCORD_PUBLIC_KEY must be 64 hex"}},
				checkPublicKey:   {statusSkip, []string{"DISCORD_PUBLIC_KEY is missing or not valid"}},
				checkGitLabToken: {statusSkip, []string{"GITLAB_TOKEN is missing or not valid"}},
				checkProject:     {statusSkip, nil},
				checkWebhook:     {statusSkip, nil},
			},
		},
		{
			name:  "Discord unreachable",
			setup: func(t *testing.T, env *e2e.Env) { env.Vars["DISCORD_API_URL"] = "http://127.0.0.1:1/api/v10" },
			want: map[string]want{
				checkToken:       {statusFail, []string{"cannot reach http://127.0.0.1:1: the connection was refused", "DISCORD_API_URL"}},
				checkApplication: {statusSkip, nil}, checkPublicKey: {statusSkip, nil}, checkEndpoint: {statusSkip, nil},
				checkChannel: {statusSkip, nil}, checkPermissions: {statusSkip, nil}, checkStaffRole: {statusSkip, nil},
				checkCommands: {statusSkip, nil},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := doctorEnv(t, tt.hooks, !tt.nosync)
			if tt.setup != nil {
				tt.setup(t, env)
			}
			start := time.Now()
			out, errOut, err := admin(t, env, "doctor")
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("doctor took %s", took)
			}
			if (err == nil) != tt.ok {
				t.Errorf("doctor: got error %v, want error: %v\n%s", err, !tt.ok, out)
			}
			if errOut != "" {
				t.Errorf("stderr: got %q, want nothing (no log lines)", errOut)
			}
			lines := doctorLines(t, out)
			for _, c := range tt.want["invite"].contains {
				if !strings.Contains(out, c) {
					t.Errorf("output: got\n%s\nwant it to contain %q", out, c)
				}
			}
			if strings.Contains(out, "((") || regexp.MustCompile(`\([^()]*\(`).MatchString(out) {
				t.Errorf("output: got\n%s\nwant no parentheses inside parentheses", out)
			}
			if !tt.ok {
				failed := strings.Count(out, "\nFAIL  ")
				if strings.HasPrefix(out, "FAIL  ") {
					failed++
				}
				wantErr := fmt.Sprintf("doctor: %d checks failed, ", failed)
				if failed == 1 {
					wantErr = "doctor: 1 check failed, "
				}
				if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
					t.Errorf("doctor: got error %v, want it to start with %q", err, wantErr)
				}
			}
			for _, name := range allChecks {
				w, ok := tt.want[name]
				if !ok {
					w = want{status: statusPass}
				}
				got := lines[name]
				for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
					if !strings.HasPrefix(l, w.status+"  "+name+": ") {
						t.Errorf("%s: got %q, want status %s", name, l, w.status)
					}
				}
				for _, c := range w.contains {
					if !strings.Contains(got, c) {
						t.Errorf("%s: got %q, want it to contain %q", name, got, c)
					}
				}
			}
			// The invite URL is the bot's application's, whatever
			// DISCORD_APPLICATION_ID says, once Discord named it.
			if !strings.Contains(out, "\n  https://discord.com/oauth2/authorize?client_id="+e2e.AppID+"&scope=bot+applications.commands&permissions=360777305088\n") {
				t.Errorf("output: got\n%s\nwant the invite URL of application %s with permissions 360777305088", out, e2e.AppID)
			}
			if strings.Contains(out, "client_id=1200000000000000099") {
				t.Errorf("output: got\n%s\nwant no invite URL for an application that is not the bot's", out)
			}
			hints := 0
			for _, w := range tt.want {
				if w.status == statusHint {
					hints++
				}
			}
			if summary := fmt.Sprintf("All %d checks passed.", len(allChecks)-hints); tt.ok && !strings.Contains(out, summary) {
				t.Errorf("output: got\n%s\nwant the summary %q", out, summary)
			}
			if strings.Contains(out, "secret") {
				t.Errorf("output shows a secret:\n%s", out)
			}
		})
	}
}

// administrator gives the bot's role Administrator and denies it
// everything on the support channel: Administrator passes every overwrite.
func administrator(t *testing.T, env *e2e.Env) {
	env.Discord.SetRole(discordfake.Role{ID: env.Discord.BotRoleID(), Name: "sdesk", Permissions: discordfake.PermAdministrator, Managed: true})
	env.Discord.SetOverwrites(e2e.ChannelID,
		discordfake.Overwrite{ID: env.Discord.GuildID(), Type: 0, Deny: discordfake.EveryonePermissions | discordfake.BotRolePermissions},
		discordfake.Overwrite{ID: env.Discord.BotRoleID(), Type: 0, Deny: discordfake.BotRolePermissions})
}

// A Discord that does not answer fails the token check within doctor's
// timeout instead of hanging.
func TestDoctorTimeout(t *testing.T) {
	old := doctorTimeout
	doctorTimeout = 500 * time.Millisecond
	t.Cleanup(func() { doctorTimeout = old })
	env := doctorEnv(t, nil, true)
	env.Discord.SetDelay(time.Minute)
	start := time.Now()
	out, _, err := admin(t, env, "doctor")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("doctor took %s, want about its 500ms timeout per call", took)
	}
	if err == nil {
		t.Error("doctor: got nil, want an error")
	}
	got := doctorLines(t, out)[checkToken]
	if want := "FAIL  " + checkToken + ": cannot reach " + hostOf(env.Discord.URL()) + ": no answer within 500ms"; !strings.HasPrefix(got, want) {
		t.Errorf("token: got %q, want it to start with %q", got, want)
	}
}

func TestDoctorDynamoDB(t *testing.T) {
	endpoint := dynamotest.Endpoint(t)
	client, table := dynamotest.NewTable(t)
	odd := table + "-odd"
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName: aws.String(odd), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(odd)})
	})
	tests := []struct {
		name, table string
		want        want
		ok          bool
	}{
		{"table from the template", table, want{statusPass, []string{"the DynamoDB table " + table + " (" + endpoint + ") has sdesk's keys and index"}}, true},
		{"no such table", "sdesk-missing", want{statusFail, []string{"no DynamoDB table sdesk-missing (SDESK_TABLE) in " + endpoint, "sam deploy"}}, false},
		{"table of another shape", odd, want{statusFail, []string{"the DynamoDB table " + odd + " is not shaped as sdesk needs: the partition key of the table is id (S), not PK (S); the table has no sort key", "template.yaml"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := doctorEnv(t, nil, true)
			env.Vars["SDESK_STORE"] = "dynamodb"
			env.Vars["SDESK_TABLE"] = tt.table
			env.Vars["DYNAMODB_ENDPOINT"] = endpoint
			out, _, err := admin(t, env, "doctor")
			if (err == nil) != tt.ok {
				t.Errorf("doctor: got %v, want error: %v\n%s", err, !tt.ok, out)
			}
			got := doctorLines(t, out)[checkStore]
			if !strings.HasPrefix(got, tt.want.status+"  ") {
				t.Errorf("store: got %q, want status %s", got, tt.want.status)
			}
			for _, c := range tt.want.contains {
				if !strings.Contains(got, c) {
					t.Errorf("store: got %q, want it to contain %q", got, c)
				}
			}
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	env := doctorEnv(t, nil, false)
	if _, _, err := admin(t, env, "doctor", "now"); err == nil || err.Error() != "usage: sdesk doctor" {
		t.Errorf("doctor now: got %v, want the usage", err)
	}
}

// Hostile names from Discord cannot break doctor's output: a role, a
// channel or an application named with new lines, escape sequences or
// bidirectional overrides still gives one line per check.
func TestDoctorHostileNames(t *testing.T) {
	env := doctorEnv(t, nil, true)
	evil := "x\nPASS  store: fine\x1b[2J\u202eevil\u2028"
	env.Discord.SetChannel(e2e.ChannelID, evil, 0)
	env.Discord.SetRole(discordfake.Role{ID: e2e.StaffRoleID, Name: evil})
	a := env.Discord.Application()
	a.Name = evil
	env.Vars["DISCORD_APPLICATION_ID"] = "1200000000000000099"
	env.Discord.SetApplication(a)
	out, _, _ := admin(t, env, "doctor")
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		for _, r := range l {
			if !safeRune(r) {
				t.Errorf("line %q holds %U", l, r)
			}
		}
	}
	if n := len(regexp.MustCompile(`(?m)^[A-Z]{4}  store: `).FindAllString(out, -1)); n != 1 {
		t.Errorf("output has %d store lines, want 1:\n%s", n, out)
	}
	for _, name := range []string{checkChannel, checkApplication} {
		if got := doctorLines(t, out)[name]; !strings.Contains(got, "x\uFFFDPASS  store: fine\uFFFD[2J\uFFFDevil\uFFFD") {
			t.Errorf("%s: got %q, want the name with U+FFFD for each unsafe character", name, got)
		}
	}
}

// FuzzDoctorLine: whatever a service puts in a name, a result is printed
// as one line of safe characters that starts with its status and check
// name, and printable keeps a clean, short value as it is.
func FuzzDoctorLine(f *testing.F) {
	for _, s := range []string{"support", "x\nPASS  y", "\x1b[31mred", "a\u202eb", "\xff\xfe", "tab\there", "\u2028", strings.Repeat("é", 120), "👩‍💻"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := printable(s)
		if !utf8.ValidString(p) {
			t.Fatalf("printable(%q) = %q: invalid UTF-8", s, p)
		}
		for _, r := range p {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("printable(%q) = %q holds %U", s, p, r)
			}
		}
		if n := utf8.RuneCountInString(p); n > maxShown+1 {
			t.Fatalf("printable(%q) has %d runes, want at most %d", s, n, maxShown+1)
		}
		clean := utf8.ValidString(s) && utf8.RuneCountInString(s) <= maxShown
		for _, r := range s {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
				clean = false
			}
		}
		if clean && p != s {
			t.Fatalf("printable(%q) = %q, want it unchanged", s, p)
		}
		for _, status := range []string{statusPass, statusFail, statusSkip, statusHint} {
			l := result{status: status, name: checkChannel, detail: "#" + printable(s) + " and raw " + s, fix: s}.line()
			if !strings.HasPrefix(l, status+"  "+checkChannel+": #") {
				t.Fatalf("line %q does not start with its status and name", l)
			}
			if !utf8.ValidString(l) {
				t.Fatalf("line %q: invalid UTF-8", l)
			}
			for _, r := range l {
				if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("line %q holds %U", l, r)
				}
			}
		}
	})
}

// A set variable that looks like one of sdesk's but is not read is a
// warning in doctor's config check, naming the variable likely meant; it
// does not fail doctor.
func TestDoctorWarnsOfUnknownVars(t *testing.T) {
	env := doctorEnv(t, nil, true)
	var out bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &bytes.Buffer{}, Getenv: env.Getenv,
		Environ: func() []string { return []string{"DISCROD_STAFF_ROLE_ID=1", "PATH=/bin", "SDESK_HOOK_TOKEN=x"} }}
	if err := m.Run(t.Context(), []string{"doctor"}); err != nil {
		t.Fatalf("doctor: got %v, want nil (a warning is not a failure)\n%s", err, out.String())
	}
	got := doctorLines(t, out.String())[checkConfig]
	want := "PASS  config: every variable is set and valid (sdesk config lists them)\n" +
		"WARN  config: DISCROD_STAFF_ROLE_ID is set, but sdesk reads no such variable: did you mean DISCORD_STAFF_ROLE_ID? " +
		"Fix: rename it to DISCORD_STAFF_ROLE_ID in .env or the environment\n"
	if got != want {
		t.Errorf("config lines: got\n%s\nwant\n%s", got, want)
	}
	if summary := fmt.Sprintf("All %d checks passed. 1 warning (WARN above).", len(allChecks)); !strings.Contains(out.String(), summary) {
		t.Errorf("output: got\n%s\nwant the summary %q", out.String(), summary)
	}
}
