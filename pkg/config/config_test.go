package config_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/sdesk/sdesk/internal/e2e"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/config"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

const (
	appID     = "123456789012345678"
	channelID = "234567890123456789"
	guildID   = "345678901234567890"
	roleID    = "456789012345678901"

	botToken      = "bot-token-SECRET-d1sc0rd"
	gitlabToken   = "glpat-SECRET-g1tl4b"
	webhookSecret = "webhook-SECRET-h00k"
	signingToken  = "whsec_SECRET-s1gn1ng"
)

// publicKey is a valid 32-byte key and publicKeyHex its hex form.
var (
	publicKey = func() []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(i * 7)
		}
		return b
	}()
	publicKeyHex = hex.EncodeToString(publicKey)
)

// requiredVars are the variables without which Load must fail.
var requiredVars = []string{
	"DISCORD_APPLICATION_ID",
	"DISCORD_PUBLIC_KEY",
	"DISCORD_BOT_TOKEN",
	"DISCORD_SUPPORT_CHANNEL_ID",
	"GITLAB_TOKEN",
	"GITLAB_PROJECT",
	"GITLAB_WEBHOOK_SECRET",
}

// minimalEnv returns only the required variables, all valid.
func minimalEnv() map[string]string {
	return map[string]string{
		"DISCORD_APPLICATION_ID":     appID,
		"DISCORD_PUBLIC_KEY":         publicKeyHex,
		"DISCORD_BOT_TOKEN":          botToken,
		"DISCORD_SUPPORT_CHANNEL_ID": channelID,
		"GITLAB_TOKEN":               gitlabToken,
		"GITLAB_PROJECT":             "42",
		"GITLAB_WEBHOOK_SECRET":      webhookSecret,
	}
}

// with returns a copy of base with overrides applied.
func with(base map[string]string, overrides map[string]string) map[string]string {
	env := make(map[string]string, len(base)+len(overrides))
	for k, v := range base {
		env[k] = v
	}
	for k, v := range overrides {
		env[k] = v
	}
	return env
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want config.Config
	}{
		{
			name: "required only, defaults applied",
			env:  minimalEnv(),
			want: config.Config{
				DiscordApplicationID:    appID,
				DiscordPublicKey:        publicKey,
				DiscordBotToken:         botToken,
				DiscordSupportChannelID: channelID,
				DiscordAPIURL:           "https://discord.com/api/v10",
				GitLabURL:               "https://gitlab.com",
				GitLabToken:             gitlabToken,
				GitLabProject:           "42",
				GitLabWebhookSecret:     webhookSecret,
				GitLabIssueLabels:       []string{"discord"},
				Store:                   config.StoreBolt,
				BoltPath:                "sdesk.db",
				Addr:                    ":8080",
				LogLevel:                slog.LevelInfo,
				LockOnClose:             false,
				MaxMessagesPerEvent:     5,
				MaxAttachmentBytes:      25 << 20,
				MaxOpenReports:          3,
				ReportCooldown:          time.Minute,
				ReopenOnReply:           true,
			},
		},
		{
			name: "every variable set",
			env: map[string]string{
				"DISCORD_APPLICATION_ID":       "  " + appID + "  ",
				"DISCORD_PUBLIC_KEY":           strings.ToUpper(publicKeyHex),
				"DISCORD_BOT_TOKEN":            botToken,
				"DISCORD_SUPPORT_CHANNEL_ID":   channelID,
				"DISCORD_GUILD_ID":             guildID,
				"DISCORD_STAFF_ROLE_ID":        roleID,
				"DISCORD_API_URL":              "http://127.0.0.1:9000/api/v10///",
				"GITLAB_URL":                   "https://gitlab.example.com/",
				"GITLAB_TOKEN":                 gitlabToken,
				"GITLAB_PROJECT":               "group/sub/project",
				"GITLAB_WEBHOOK_SECRET":        webhookSecret,
				"GITLAB_WEBHOOK_SIGNING_TOKEN": signingToken,
				"GITLAB_ISSUE_LABELS":          " support , ,discord,, needs triage ,",
				"GITLAB_SUPPORT_BOT_ID":        "77",
				"SDESK_STORE":                  "dynamodb",
				"SDESK_BOLT_PATH":              "/var/lib/sdesk/state.db",
				"SDESK_TABLE":                  "sdesk-state",
				"DYNAMODB_ENDPOINT":            "http://127.0.0.1:8000",
				"SDESK_ADDR":                   "127.0.0.1:9090",
				"SDESK_LOG_LEVEL":              "debug",
				"SDESK_LOCK_ON_CLOSE":          "true",
				"SDESK_MAX_MESSAGES_PER_EVENT": "12",
				"SDESK_CATEGORIES":             "Bug=bug;Question=question;Feature request=feature",
				"SDESK_MAX_ATTACHMENT_MB":      " 100 ",
				"SDESK_MAX_OPEN_REPORTS":       "0",
				"SDESK_REPORT_COOLDOWN":        "5m",
				"SDESK_REOPEN_ON_REPLY":        "false",
				"SDESK_JOB_FUNCTION":           "sdesk-jobs",
			},
			want: config.Config{
				DiscordApplicationID:      appID,
				DiscordPublicKey:          publicKey,
				DiscordBotToken:           botToken,
				DiscordSupportChannelID:   channelID,
				DiscordGuildID:            guildID,
				DiscordStaffRoleID:        roleID,
				DiscordAPIURL:             "http://127.0.0.1:9000/api/v10",
				GitLabURL:                 "https://gitlab.example.com",
				GitLabToken:               gitlabToken,
				GitLabProject:             "group/sub/project",
				GitLabWebhookSecret:       webhookSecret,
				GitLabWebhookSigningToken: signingToken,
				GitLabIssueLabels:         []string{"support", "discord", "needs triage"},
				GitLabSupportBotID:        77,
				Store:                     config.StoreDynamoDB,
				BoltPath:                  "/var/lib/sdesk/state.db",
				Table:                     "sdesk-state",
				DynamoDB:                  "http://127.0.0.1:8000",
				Addr:                      "127.0.0.1:9090",
				LogLevel:                  slog.LevelDebug,
				LockOnClose:               true,
				MaxMessagesPerEvent:       12,
				Categories: []sdesk.Category{
					{Label: "Bug", GitLabLabel: "bug"},
					{Label: "Question", GitLabLabel: "question"},
					{Label: "Feature request", GitLabLabel: "feature"},
				},
				MaxAttachmentBytes: 100 << 20,
				MaxOpenReports:     0,
				ReportCooldown:     5 * time.Minute,
				ReopenOnReply:      false,
				JobFunction:        "sdesk-jobs",
			},
		},
		{
			name: "project path with dots and dashes, lock 1, warn level",
			env: with(minimalEnv(), map[string]string{
				"GITLAB_PROJECT":      "my-group/sub.group/my_project",
				"SDESK_LOCK_ON_CLOSE": "1",
				"SDESK_LOG_LEVEL":     "WARN",
				"GITLAB_ISSUE_LABELS": "a",
			}),
			want: config.Config{
				DiscordApplicationID:    appID,
				DiscordPublicKey:        publicKey,
				DiscordBotToken:         botToken,
				DiscordSupportChannelID: channelID,
				DiscordAPIURL:           "https://discord.com/api/v10",
				GitLabURL:               "https://gitlab.com",
				GitLabToken:             gitlabToken,
				GitLabProject:           "my-group/sub.group/my_project",
				GitLabWebhookSecret:     webhookSecret,
				GitLabIssueLabels:       []string{"a"},
				Store:                   config.StoreBolt,
				BoltPath:                "sdesk.db",
				Addr:                    ":8080",
				LogLevel:                slog.LevelWarn,
				LockOnClose:             true,
				MaxMessagesPerEvent:     5,
				MaxAttachmentBytes:      25 << 20,
				MaxOpenReports:          3,
				ReportCooldown:          time.Minute,
				ReopenOnReply:           true,
			},
		},
		{
			name: "lock 0, blank labels fall back to default, explicit bolt, error level",
			env: with(minimalEnv(), map[string]string{
				"GITLAB_PROJECT":      "group/project",
				"SDESK_LOCK_ON_CLOSE": "0",
				"SDESK_LOG_LEVEL":     "error",
				"GITLAB_ISSUE_LABELS": "   ",
				"SDESK_STORE":         "bolt",
			}),
			want: config.Config{
				DiscordApplicationID:    appID,
				DiscordPublicKey:        publicKey,
				DiscordBotToken:         botToken,
				DiscordSupportChannelID: channelID,
				DiscordAPIURL:           "https://discord.com/api/v10",
				GitLabURL:               "https://gitlab.com",
				GitLabToken:             gitlabToken,
				GitLabProject:           "group/project",
				GitLabWebhookSecret:     webhookSecret,
				GitLabIssueLabels:       []string{"discord"},
				Store:                   config.StoreBolt,
				BoltPath:                "sdesk.db",
				Addr:                    ":8080",
				LogLevel:                slog.LevelError,
				LockOnClose:             false,
				MaxMessagesPerEvent:     5,
				MaxAttachmentBytes:      25 << 20,
				MaxOpenReports:          3,
				ReportCooldown:          time.Minute,
				ReopenOnReply:           true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Load(getenv(tt.env))
			if err != nil {
				t.Fatalf("Load: got error %v, want nil", err)
			}
			if len(got.DiscordPublicKey) != 32 {
				t.Errorf("len(DiscordPublicKey): got %d, want 32", len(got.DiscordPublicKey))
			}
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(tt.want)
			for i := range gv.NumField() {
				name := gv.Type().Field(i).Name
				g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s: got %#v, want %#v", name, g, w)
				}
			}
		})
	}
}

// loadError runs Load and returns its *config.Error, failing the test if
// Load succeeded or returned another error type.
func loadError(t *testing.T, env map[string]string) *config.Error {
	t.Helper()
	_, err := config.Load(getenv(env))
	if err == nil {
		t.Fatalf("Load: got nil error, want *config.Error")
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load: got error of type %T (%v), want *config.Error", err, err)
	}
	return cerr
}

// problemFor returns the problem naming variable name, if any.
func problemFor(cerr *config.Error, name string) (string, bool) {
	for _, p := range cerr.Problems {
		if strings.HasPrefix(p, name+" ") {
			return p, true
		}
	}
	return "", false
}

func TestLoadEmptyEnvironment(t *testing.T) {
	envs := []struct {
		name string
		env  map[string]string
	}{
		{"nothing set", map[string]string{}},
		{"required set to blanks", map[string]string{
			"DISCORD_APPLICATION_ID":     " ",
			"DISCORD_PUBLIC_KEY":         "\t",
			"DISCORD_BOT_TOKEN":          "",
			"DISCORD_SUPPORT_CHANNEL_ID": "  ",
			"GITLAB_TOKEN":               "\n",
			"GITLAB_PROJECT":             " ",
			"GITLAB_WEBHOOK_SECRET":      "",
		}},
	}
	for _, tt := range envs {
		t.Run(tt.name, func(t *testing.T) {
			cerr := loadError(t, tt.env)
			for _, name := range requiredVars {
				p, ok := problemFor(cerr, name)
				if !ok {
					t.Errorf("problem for %s: got none in %q, want one", name, cerr.Problems)
					continue
				}
				if want := name + " is required"; p != want {
					t.Errorf("problem for %s: got %q, want %q", name, p, want)
				}
				if msg := cerr.Error(); !strings.Contains(msg, name) {
					t.Errorf("Error(): got %q, want it to name %s", msg, name)
				}
			}
			if got, want := len(cerr.Problems), len(requiredVars); got != want {
				t.Errorf("len(Problems): got %d (%q), want %d", got, cerr.Problems, want)
			}
			if msg := cerr.Error(); !strings.HasPrefix(msg, "configuration: ") {
				t.Errorf("Error(): got %q, want prefix %q", msg, "configuration: ")
			}
		})
	}
}

func TestVarsRequiredMatchesLoad(t *testing.T) {
	var got []string
	for _, v := range config.Vars {
		if v.Required {
			got = append(got, v.Name)
		}
	}
	if !slices.Equal(got, requiredVars) {
		t.Errorf("required Vars: got %q, want %q", got, requiredVars)
	}
}

func TestLoadMalformed(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		want      string // variable the single problem must name
	}{
		{"application ID not numeric", map[string]string{"DISCORD_APPLICATION_ID": "my-app"}, "DISCORD_APPLICATION_ID"},
		{"application ID too short", map[string]string{"DISCORD_APPLICATION_ID": "1234"}, "DISCORD_APPLICATION_ID"},
		{"channel ID not numeric", map[string]string{"DISCORD_SUPPORT_CHANNEL_ID": "#support"}, "DISCORD_SUPPORT_CHANNEL_ID"},
		{"guild ID not numeric", map[string]string{"DISCORD_GUILD_ID": "guild"}, "DISCORD_GUILD_ID"},
		{"staff role ID not numeric", map[string]string{"DISCORD_STAFF_ROLE_ID": "@staff"}, "DISCORD_STAFF_ROLE_ID"},
		{"public key not hex", map[string]string{"DISCORD_PUBLIC_KEY": strings.Repeat("zz", 32)}, "DISCORD_PUBLIC_KEY"},
		{"public key too short", map[string]string{"DISCORD_PUBLIC_KEY": publicKeyHex[:62]}, "DISCORD_PUBLIC_KEY"},
		{"public key too long", map[string]string{"DISCORD_PUBLIC_KEY": publicKeyHex + "00"}, "DISCORD_PUBLIC_KEY"},
		{"public key odd length", map[string]string{"DISCORD_PUBLIC_KEY": publicKeyHex[:63]}, "DISCORD_PUBLIC_KEY"},
		{"Discord API URL ftp", map[string]string{"DISCORD_API_URL": "ftp://discord.com/api"}, "DISCORD_API_URL"},
		{"Discord API URL no scheme", map[string]string{"DISCORD_API_URL": "discord.com/api/v10"}, "DISCORD_API_URL"},
		{"GitLab URL no host", map[string]string{"GITLAB_URL": "https://"}, "GITLAB_URL"},
		{"GitLab URL not a URL", map[string]string{"GITLAB_URL": "gitlab"}, "GITLAB_URL"},
		{"project not a path", map[string]string{"GITLAB_PROJECT": "not a path"}, "GITLAB_PROJECT"},
		{"project single segment", map[string]string{"GITLAB_PROJECT": "project"}, "GITLAB_PROJECT"},
		{"project trailing slash", map[string]string{"GITLAB_PROJECT": "group/"}, "GITLAB_PROJECT"},
		{"signing token without whsec_", map[string]string{"GITLAB_WEBHOOK_SIGNING_TOKEN": "secret"}, "GITLAB_WEBHOOK_SIGNING_TOKEN"},
		{"signing token only whsec_", map[string]string{"GITLAB_WEBHOOK_SIGNING_TOKEN": "whsec_"}, "GITLAB_WEBHOOK_SIGNING_TOKEN"},
		{"label too long", map[string]string{"GITLAB_ISSUE_LABELS": "ok," + strings.Repeat("x", 256)}, "GITLAB_ISSUE_LABELS"},
		{"support bot ID negative", map[string]string{"GITLAB_SUPPORT_BOT_ID": "-3"}, "GITLAB_SUPPORT_BOT_ID"},
		{"support bot ID zero", map[string]string{"GITLAB_SUPPORT_BOT_ID": "0"}, "GITLAB_SUPPORT_BOT_ID"},
		{"support bot ID not numeric", map[string]string{"GITLAB_SUPPORT_BOT_ID": "support-bot"}, "GITLAB_SUPPORT_BOT_ID"},
		{"store redis", map[string]string{"SDESK_STORE": "redis"}, "SDESK_STORE"},
		{"dynamodb without table", map[string]string{"SDESK_STORE": "dynamodb"}, "SDESK_TABLE"},
		{"dynamodb endpoint without scheme", map[string]string{
			"SDESK_STORE": "dynamodb", "SDESK_TABLE": "t", "DYNAMODB_ENDPOINT": "127.0.0.1:8000",
		}, "DYNAMODB_ENDPOINT"},
		{"dynamodb endpoint without host", map[string]string{
			"SDESK_STORE": "dynamodb", "SDESK_TABLE": "t", "DYNAMODB_ENDPOINT": "localhost:8000",
		}, "DYNAMODB_ENDPOINT"},
		{"log level loud", map[string]string{"SDESK_LOG_LEVEL": "loud"}, "SDESK_LOG_LEVEL"},
		{"lock on close maybe", map[string]string{"SDESK_LOCK_ON_CLOSE": "maybe"}, "SDESK_LOCK_ON_CLOSE"},
		{"max messages 0", map[string]string{"SDESK_MAX_MESSAGES_PER_EVENT": "0"}, "SDESK_MAX_MESSAGES_PER_EVENT"},
		{"max messages 51", map[string]string{"SDESK_MAX_MESSAGES_PER_EVENT": "51"}, "SDESK_MAX_MESSAGES_PER_EVENT"},
		{"max messages many", map[string]string{"SDESK_MAX_MESSAGES_PER_EVENT": "many"}, "SDESK_MAX_MESSAGES_PER_EVENT"},
		{"lock on close yes", map[string]string{"SDESK_LOCK_ON_CLOSE": "yes"}, "SDESK_LOCK_ON_CLOSE"},
		{"max attachment 0", map[string]string{"SDESK_MAX_ATTACHMENT_MB": "0"}, "SDESK_MAX_ATTACHMENT_MB"},
		{"max attachment 501", map[string]string{"SDESK_MAX_ATTACHMENT_MB": "101"}, "SDESK_MAX_ATTACHMENT_MB"},
		{"max attachment negative", map[string]string{"SDESK_MAX_ATTACHMENT_MB": "-25"}, "SDESK_MAX_ATTACHMENT_MB"},
		{"max attachment with unit", map[string]string{"SDESK_MAX_ATTACHMENT_MB": "25MB"}, "SDESK_MAX_ATTACHMENT_MB"},
		{"max attachment fraction", map[string]string{"SDESK_MAX_ATTACHMENT_MB": "2.5"}, "SDESK_MAX_ATTACHMENT_MB"},
		{"max open reports negative", map[string]string{"SDESK_MAX_OPEN_REPORTS": "-1"}, "SDESK_MAX_OPEN_REPORTS"},
		{"max open reports 101", map[string]string{"SDESK_MAX_OPEN_REPORTS": "101"}, "SDESK_MAX_OPEN_REPORTS"},
		{"max open reports word", map[string]string{"SDESK_MAX_OPEN_REPORTS": "three"}, "SDESK_MAX_OPEN_REPORTS"},
		{"cooldown without unit", map[string]string{"SDESK_REPORT_COOLDOWN": "60"}, "SDESK_REPORT_COOLDOWN"},
		{"cooldown negative", map[string]string{"SDESK_REPORT_COOLDOWN": "-1s"}, "SDESK_REPORT_COOLDOWN"},
		{"cooldown over a day", map[string]string{"SDESK_REPORT_COOLDOWN": "25h"}, "SDESK_REPORT_COOLDOWN"},
		{"reopen on reply maybe", map[string]string{"SDESK_REOPEN_ON_REPLY": "yes"}, "SDESK_REOPEN_ON_REPLY"},
		{"category without =", map[string]string{"SDESK_CATEGORIES": "Bug"}, "SDESK_CATEGORIES"},
		{"category label empty", map[string]string{"SDESK_CATEGORIES": "=bug"}, "SDESK_CATEGORIES"},
		{"category GitLab label empty", map[string]string{"SDESK_CATEGORIES": "Bug= "}, "SDESK_CATEGORIES"},
		{"category GitLab label with a comma", map[string]string{"SDESK_CATEGORIES": "Bug=bug,urgent"}, "SDESK_CATEGORIES"},
		{"category GitLab label repeated", map[string]string{"SDESK_CATEGORIES": "Bug=bug;Defect=bug"}, "SDESK_CATEGORIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cerr := loadError(t, with(minimalEnv(), tt.overrides))
			if _, ok := problemFor(cerr, tt.want); !ok {
				t.Errorf("problems: got %q, want one naming %s", cerr.Problems, tt.want)
			}
			if got := len(cerr.Problems); got != 1 {
				t.Errorf("len(Problems): got %d (%q), want 1", got, cerr.Problems)
			}
			if msg := cerr.Error(); !strings.Contains(msg, tt.want) {
				t.Errorf("Error(): got %q, want it to name %s", msg, tt.want)
			}
		})
	}
}

func TestLoadSeveralProblemsInOneError(t *testing.T) {
	env := with(minimalEnv(), map[string]string{
		"DISCORD_APPLICATION_ID":       "app",
		"DISCORD_PUBLIC_KEY":           "nothex",
		"DISCORD_STAFF_ROLE_ID":        "role",
		"GITLAB_URL":                   "gitlab.com",
		"GITLAB_PROJECT":               "not a path",
		"GITLAB_WEBHOOK_SIGNING_TOKEN": "plain",
		"GITLAB_SUPPORT_BOT_ID":        "-3",
		"SDESK_STORE":                  "dynamodb",
		"DYNAMODB_ENDPOINT":            "127.0.0.1:8000",
		"SDESK_LOG_LEVEL":              "loud",
		"SDESK_LOCK_ON_CLOSE":          "maybe",
		"SDESK_MAX_MESSAGES_PER_EVENT": "-1",
		"SDESK_CATEGORIES":             "Bug",
		"SDESK_MAX_ATTACHMENT_MB":      "0",
		"SDESK_MAX_OPEN_REPORTS":       "-3",
		"SDESK_REPORT_COOLDOWN":        "soon",
		"SDESK_REOPEN_ON_REPLY":        "maybe",
	})
	delete(env, "GITLAB_TOKEN")
	want := []string{
		"DISCORD_APPLICATION_ID",
		"DISCORD_PUBLIC_KEY",
		"DISCORD_STAFF_ROLE_ID",
		"GITLAB_URL",
		"GITLAB_TOKEN",
		"GITLAB_PROJECT",
		"GITLAB_WEBHOOK_SIGNING_TOKEN",
		"GITLAB_SUPPORT_BOT_ID",
		"SDESK_TABLE",
		"DYNAMODB_ENDPOINT",
		"SDESK_LOG_LEVEL",
		"SDESK_LOCK_ON_CLOSE",
		"SDESK_MAX_MESSAGES_PER_EVENT",
		"SDESK_CATEGORIES",
		"SDESK_MAX_ATTACHMENT_MB",
		"SDESK_MAX_OPEN_REPORTS",
		"SDESK_REPORT_COOLDOWN",
		"SDESK_REOPEN_ON_REPLY",
	}
	cerr := loadError(t, env)
	msg := cerr.Error()
	for _, name := range want {
		if _, ok := problemFor(cerr, name); !ok {
			t.Errorf("problems: got %q, want one naming %s", cerr.Problems, name)
		}
		if !strings.Contains(msg, name) {
			t.Errorf("Error(): got %q, want it to name %s", msg, name)
		}
	}
	if got := len(cerr.Problems); got != len(want) {
		t.Errorf("len(Problems): got %d (%q), want %d", got, cerr.Problems, len(want))
	}
}

// TestLoadCategories: SDESK_CATEGORIES in every form an operator may
// write it, and the values Load keeps.
func TestLoadCategories(t *testing.T) {
	many := func(n int) (string, []sdesk.Category) {
		var items []string
		var cats []sdesk.Category
		for i := range n {
			items = append(items, fmt.Sprintf("Topic %d=topic-%d", i+1, i+1))
			cats = append(cats, sdesk.Category{Label: fmt.Sprintf("Topic %d", i+1), GitLabLabel: fmt.Sprintf("topic-%d", i+1)})
		}
		return strings.Join(items, ";"), cats
	}
	twentyFive, twentyFiveCats := many(25)
	long := strings.Repeat("é", 100)
	tests := []struct {
		name, value string
		want        []sdesk.Category
	}{
		{"unset", "", nil},
		{"blank items only", " ; ;; ", nil},
		{"the README example", "Bug=bug;Question=question;Feature request=feature", []sdesk.Category{
			{Label: "Bug", GitLabLabel: "bug"}, {Label: "Question", GitLabLabel: "question"}, {Label: "Feature request", GitLabLabel: "feature"},
		}},
		{"spaces trimmed, blank items and a trailing ; skipped", "  Bug  =  type::bug ;; Crash report= crash ;", []sdesk.Category{
			{Label: "Bug", GitLabLabel: "type::bug"}, {Label: "Crash report", GitLabLabel: "crash"},
		}},
		{"= in the GitLab label", "Scoped=priority=high", []sdesk.Category{{Label: "Scoped", GitLabLabel: "priority=high"}}},
		{"one label for two GitLab labels", "Bug=bug;Bug=defect", []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}, {Label: "Bug", GitLabLabel: "defect"}}},
		{"GitLab labels differ in case", "Bug=bug;Big bug=Bug", []sdesk.Category{{Label: "Bug", GitLabLabel: "bug"}, {Label: "Big bug", GitLabLabel: "Bug"}}},
		{"100 characters each side", long + "=" + long, []sdesk.Category{{Label: long, GitLabLabel: long}}},
		{"25 items", twentyFive, twentyFiveCats},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(getenv(with(minimalEnv(), map[string]string{"SDESK_CATEGORIES": tt.value})))
			if err != nil {
				t.Fatalf("Load: got error %v, want nil", err)
			}
			if !reflect.DeepEqual(c.Categories, tt.want) {
				t.Errorf("Categories: got %#v, want %#v", c.Categories, tt.want)
			}
		})
	}
}

// TestLoadCategoriesProblems: each fault of SDESK_CATEGORIES is one
// problem that names the variable, the item and what is wrong; nothing of
// a faulty value is kept.
func TestLoadCategoriesProblems(t *testing.T) {
	twentySix := make([]string, 26)
	for i := range twentySix {
		twentySix[i] = fmt.Sprintf("T%d=t%d", i, i)
	}
	long := strings.Repeat("x", 101)
	tests := []struct {
		name, value string
		want        []string
	}{
		{"no =", "Bug", []string{`SDESK_CATEGORIES item 1 "Bug" has no "=": want Label=gitlab-label`}},
		{"no = in the third item, blank second", "Bug=bug; ;Question", []string{`SDESK_CATEGORIES item 3 "Question" has no "=": want Label=gitlab-label`}},
		{"empty label", "=bug", []string{"SDESK_CATEGORIES item 1 has an empty label: want Label=gitlab-label"}},
		{"empty GitLab label", "Bug=bug;Question=  ", []string{"SDESK_CATEGORIES item 2 has an empty GitLab label: want Label=gitlab-label"}},
		{"both sides empty", " = ", []string{
			"SDESK_CATEGORIES item 1 has an empty label: want Label=gitlab-label",
			"SDESK_CATEGORIES item 1 has an empty GitLab label: want Label=gitlab-label",
		}},
		{"label too long", long + "=x", []string{"SDESK_CATEGORIES item 1 has a label longer than 100 characters (Discord's limit for a select option)"}},
		{"GitLab label too long", "x=" + long, []string{"SDESK_CATEGORIES item 1 has a GitLab label longer than 100 characters (Discord's limit for a select option)"}},
		{"GitLab label with a comma", "Bug=bug,urgent", []string{"SDESK_CATEGORIES item 1 has a GitLab label with a comma, which GitLab's API cannot take (labels are sent comma-separated)"}},
		{"repeated GitLab label", "Bug=bug;Question=question;Defect=bug", []string{"SDESK_CATEGORIES item 3 repeats the GitLab label of item 1: each must be unique"}},
		{"control character", "Bug=b\tug", []string{"SDESK_CATEGORIES item 1 has a GitLab label with a control character or invalid UTF-8"}},
		{"invalid UTF-8", "B\xffug=bug", []string{"SDESK_CATEGORIES item 1 has a label with a control character or invalid UTF-8"}},
		{"26 items", strings.Join(twentySix, ";"), []string{"SDESK_CATEGORIES has 26 items, at most 25 (Discord's limit for a select)"}},
		{"several faults", "Bug;=x;Q=q;R=q", []string{
			`SDESK_CATEGORIES item 1 "Bug" has no "=": want Label=gitlab-label`,
			"SDESK_CATEGORIES item 2 has an empty label: want Label=gitlab-label",
			"SDESK_CATEGORIES item 4 repeats the GitLab label of item 3: each must be unique",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := with(minimalEnv(), map[string]string{"SDESK_CATEGORIES": tt.value})
			c, err := config.Load(getenv(env))
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load: got %v, want *config.Error", err)
			}
			if !slices.Equal(cerr.Problems, tt.want) {
				t.Errorf("Problems:\ngot  %q\nwant %q", cerr.Problems, tt.want)
			}
			if c.Categories != nil {
				t.Errorf("Categories: got %#v, want nil when SDESK_CATEGORIES is faulty", c.Categories)
			}
		})
	}
}

// TestEnvExampleValuesLoad: the example values .env.example gives for
// the report form's variables (commented out) are valid, read as a .env
// file reads them once uncommented.
func TestEnvExampleValuesLoad(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := minimalEnv()
	for _, name := range []string{"SDESK_CATEGORIES", "SDESK_MAX_ATTACHMENT_MB"} {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "# "+name+"="); ok {
				vars, err := config.ParseDotEnv(".env.example", []byte(name+"="+v))
				if err != nil {
					t.Fatalf(".env.example: the example of %s does not read: %v", name, err)
				}
				env[name], found = vars[name], true
			}
		}
		if !found {
			t.Errorf(".env.example: got no line \"# %s=...\", want an example", name)
		}
	}
	c, err := config.Load(getenv(env))
	if err != nil || len(c.Categories) != 3 || c.MaxAttachmentBytes == 0 {
		t.Errorf("Load with the examples of .env.example: got %d categories, %d bytes, %v; want 3 and 25 MiB, no error", len(c.Categories), c.MaxAttachmentBytes, err)
	}
}

// FuzzLoadCategories: whatever SDESK_CATEGORIES holds, Load either names
// it in every problem and keeps no category, or keeps at most 25
// categories, each side trimmed, 1 to 100 characters, printable, the
// GitLab labels without commas and unique; written back as
// "Label=gitlab-label;..." they load the same.
func FuzzLoadCategories(f *testing.F) {
	for _, s := range []string{"Bug=bug;Question=question;Feature request=feature", "Bug", " = ", "a=b=c;;", "x=a,b", "A=a;B=a", "\xff=\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := config.Load(getenv(with(minimalEnv(), map[string]string{"SDESK_CATEGORIES": v})))
		if err != nil {
			var cerr *config.Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("Load(%q): got %v, want *config.Error", v, err)
			}
			for _, p := range cerr.Problems {
				if !strings.HasPrefix(p, "SDESK_CATEGORIES ") {
					t.Fatalf("Load(%q): problem %q does not name SDESK_CATEGORIES", v, p)
				}
			}
			if c.Categories != nil {
				t.Fatalf("Load(%q): got categories %q with problems %q", v, c.Categories, cerr.Problems)
			}
			return
		}
		if len(c.Categories) > 25 {
			t.Fatalf("Load(%q): %d categories, want at most 25", v, len(c.Categories))
		}
		seen := map[string]bool{}
		var items []string
		for _, cat := range c.Categories {
			for _, side := range []string{cat.Label, cat.GitLabLabel} {
				n := utf8.RuneCountInString(side)
				if n < 1 || n > 100 || side != strings.TrimSpace(side) || !utf8.ValidString(side) ||
					strings.ContainsFunc(side, unicode.IsControl) || strings.ContainsAny(side, ";") {
					t.Fatalf("Load(%q): kept %q", v, side)
				}
			}
			if strings.Contains(cat.Label, "=") || strings.Contains(cat.GitLabLabel, ",") || seen[cat.GitLabLabel] {
				t.Fatalf("Load(%q): kept %+v", v, cat)
			}
			seen[cat.GitLabLabel] = true
			items = append(items, cat.Label+"="+cat.GitLabLabel)
		}
		again, err := config.Load(getenv(with(minimalEnv(), map[string]string{"SDESK_CATEGORIES": strings.Join(items, ";")})))
		if err != nil || !reflect.DeepEqual(again.Categories, c.Categories) {
			t.Fatalf("Load(%q) = %q; written back: got %q, %v", v, c.Categories, again.Categories, err)
		}
	})
}

func TestLoadMaxAttachment(t *testing.T) {
	tests := []struct {
		value string
		want  int64
	}{
		{"", 25 << 20},
		{"1", 1 << 20},
		{" 64 ", 64 << 20},
		{"100", 100 << 20},
	}
	for _, tt := range tests {
		c, err := config.Load(getenv(with(minimalEnv(), map[string]string{"SDESK_MAX_ATTACHMENT_MB": tt.value})))
		if err != nil || c.MaxAttachmentBytes != tt.want {
			t.Errorf("SDESK_MAX_ATTACHMENT_MB=%q: got %d, %v; want %d", tt.value, c.MaxAttachmentBytes, err, tt.want)
		}
	}
	cerr := loadError(t, with(minimalEnv(), map[string]string{"SDESK_MAX_ATTACHMENT_MB": "101"}))
	if want := []string{"SDESK_MAX_ATTACHMENT_MB must be a whole number of MiB from 1 to 100"}; !slices.Equal(cerr.Problems, want) {
		t.Errorf("Problems: got %q, want %q", cerr.Problems, want)
	}
}

func TestLogValueRedactsSecrets(t *testing.T) {
	c, err := config.Load(getenv(with(minimalEnv(), map[string]string{
		"GITLAB_WEBHOOK_SIGNING_TOKEN": signingToken,
	})))
	if err != nil {
		t.Fatalf("Load: got error %v, want nil", err)
	}
	secrets := []struct{ name, value string }{
		{"bot token", botToken},
		{"GitLab token", gitlabToken},
		{"webhook secret", webhookSecret},
		{"signing token", signingToken},
		{"secret marker", "SECRET"},
	}
	logs := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"value", func(l *slog.Logger) { l.Info("config", "config", c) }},
		{"pointer", func(l *slog.Logger) { l.Info("config", "config", &c) }},
		{"slog.Any", func(l *slog.Logger) { l.Info("config", slog.Any("config", c)) }},
		{"With", func(l *slog.Logger) { l.With("config", c).Warn("started") }},
	}
	for _, lt := range logs {
		t.Run(lt.name, func(t *testing.T) {
			var buf bytes.Buffer
			lt.log(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			out := buf.String()
			if !strings.Contains(out, appID) {
				t.Errorf("log: got %s, want it to contain the application ID %s", out, appID)
			}
			for _, s := range secrets {
				if strings.Contains(out, s.value) {
					t.Errorf("log: got %s, want no %s (%q)", out, s.name, s.value)
				}
			}
		})
	}
}

// configTable returns the lines of the README table under "## Configuration".
func configTable(t *testing.T, readme string) []string {
	t.Helper()
	var (
		in, found bool
		table     []string
	)
	for _, line := range strings.Split(readme, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "## "):
			if in {
				return table
			}
			in = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Configuration"
			found = found || in
		case in && strings.HasPrefix(line, "|"):
			table = append(table, line)
		}
	}
	if !found {
		t.Fatal(`README.md: got no "## Configuration" section, want one`)
	}
	return table
}

func TestREADMEListsEveryVar(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(e2e.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := configTable(t, string(b))
	if len(table) == 0 {
		t.Fatal("README.md configuration table: got no rows, want one per variable")
	}
	joined := strings.Join(table, "\n")

	known := make(map[string]bool, len(config.Vars))
	for _, v := range config.Vars {
		known[v.Name] = true
		if !strings.Contains(joined, "`"+v.Name+"`") {
			t.Errorf("README configuration table: got no %q, want one", "`"+v.Name+"`")
		}
	}

	rows := 0
	for _, line := range table {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		rest := strings.TrimPrefix(line, "| `")
		name, _, ok := strings.Cut(rest, "` |")
		if !ok {
			t.Errorf("README row %q: got no closing \"` |\", want | `NAME` | ...", line)
			continue
		}
		rows++
		if !known[name] {
			t.Errorf("README row names %s: got a variable not in config.Vars, want only config.Vars", name)
		}
	}
	if rows != len(config.Vars) {
		t.Errorf("README configuration rows: got %d, want %d (one per config.Vars entry)", rows, len(config.Vars))
	}
}
