// Package config reads sdesk's configuration from environment variables and
// validates all of it at once, so a bad deployment fails at start with one
// message that names every missing or malformed variable.
package config

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Store kinds.
const (
	StoreBolt     = "bolt"
	StoreDynamoDB = "dynamodb"
)

// Config is sdesk's configuration. Secrets never reach a log: LogValue
// redacts them.
type Config struct {
	DiscordApplicationID    string
	DiscordPublicKey        []byte // ed25519 public key
	DiscordBotToken         string
	DiscordSupportChannelID string
	DiscordGuildID          string
	DiscordStaffRoleID      string
	DiscordAPIURL           string

	GitLabURL                 string
	GitLabToken               string
	GitLabProject             string
	GitLabWebhookSecret       string
	GitLabWebhookSigningToken string
	GitLabIssueLabels         []string
	GitLabSupportBotID        int

	Store       string
	BoltPath    string
	Table       string
	DynamoDB    string // DYNAMODB_ENDPOINT
	Addr        string
	LogLevel    slog.Level
	LockOnClose bool
	// MaxMessagesPerEvent caps the Discord messages one GitLab event makes
	// (SDESK_MAX_MESSAGES_PER_EVENT, 1 to 50).
	MaxMessagesPerEvent int
	// Categories are the options of the report form's category select
	// (SDESK_CATEGORIES), in the order given; nil: no select.
	Categories []sdesk.Category
	// MaxAttachmentBytes is the largest file taken from a report
	// (SDESK_MAX_ATTACHMENT_MB, 1 to 100 MiB; default 25 MiB), in bytes.
	MaxAttachmentBytes int64
	// MaxOpenReports is the most open reports one member may have
	// (SDESK_MAX_OPEN_REPORTS, 0 to 100; 0: no limit; default 3).
	MaxOpenReports int
	// ReportCooldown is the least time between two reports of one member
	// (SDESK_REPORT_COOLDOWN, a Go duration from 0 to 24h; 0: none;
	// default 60s).
	ReportCooldown time.Duration
	// ReopenOnReply reopens a closed issue when its reporter replies
	// (SDESK_REOPEN_ON_REPLY, default true).
	ReopenOnReply bool
	// JobFunction is the Lambda function that runs deferred jobs
	// (SDESK_JOB_FUNCTION, set by template.yaml). Empty outside Lambda.
	JobFunction string
}

// Var documents one environment variable; Vars feeds the README table and
// the `sdesk config` command.
type Var struct {
	Name     string
	Required bool
	Default  string
	Doc      string
}

// Vars lists every variable sdesk reads.
var Vars = []Var{
	{"DISCORD_APPLICATION_ID", true, "", "Discord application ID (snowflake)."},
	{"DISCORD_PUBLIC_KEY", true, "", "Application public key, hex (64 characters): verifies interaction signatures."},
	{"DISCORD_BOT_TOKEN", true, "", "Bot token for Discord REST calls."},
	{"DISCORD_SUPPORT_CHANNEL_ID", true, "", "Text channel in which private report threads are opened."},
	{"DISCORD_GUILD_ID", false, "", "Guild for guild-scoped commands; empty registers global commands."},
	{"DISCORD_STAFF_ROLE_ID", false, "", "Role pinged on new reports and allowed to close any report."},
	{"DISCORD_API_URL", false, "https://discord.com/api/v10", "Base URL of every Discord REST call."},
	{"GITLAB_URL", false, "https://gitlab.com", "GitLab base URL."},
	{"GITLAB_TOKEN", true, "", "GitLab access token (api scope) of the user sdesk acts as."},
	{"GITLAB_PROJECT", true, "", "Project ID or full path (group/project)."},
	{"GITLAB_WEBHOOK_SECRET", true, "", "Secret token of the GitLab webhook (X-Gitlab-Token)."},
	{"GITLAB_WEBHOOK_SIGNING_TOKEN", false, "", "Optional whsec_ signing token: also require signed webhooks."},
	{"GITLAB_ISSUE_LABELS", false, "discord", "Comma-separated labels put on new issues."},
	{"GITLAB_SUPPORT_BOT_ID", false, "", "User ID of GitLab's Support Bot, whose notes are email replies; empty matches the username support-bot."},
	{"SDESK_STORE", false, "bolt", "State store: bolt (one binary) or dynamodb."},
	{"SDESK_BOLT_PATH", false, "sdesk.db", "bbolt file, when SDESK_STORE=bolt."},
	{"SDESK_TABLE", false, "", "DynamoDB table, required when SDESK_STORE=dynamodb."},
	{"DYNAMODB_ENDPOINT", false, "", "DynamoDB endpoint override (DynamoDB Local)."},
	{"SDESK_ADDR", false, ":8080", "Listen address of sdesk serve: HOST:PORT or :PORT (every interface), the port a number from 0 to 65535."},
	{"SDESK_LOG_LEVEL", false, "info", "debug, info, warn or error."},
	{"SDESK_LOCK_ON_CLOSE", false, "false", "Also lock (not only archive) a thread when its issue closes."},
	{"SDESK_MAX_MESSAGES_PER_EVENT", false, "5", "Most Discord messages one GitLab event makes (1 to 50); the rest of a longer comment is attached as a Markdown file."},
	{"SDESK_CATEGORIES", false, "", "Options of the /report form's category select: Label=gitlab-label items separated by ; (e.g. Bug=bug;Question=question;Feature request=feature), at most 25, each side 1 to 100 characters, GitLab labels unique and without commas; the chosen label is added to GITLAB_ISSUE_LABELS. Empty: no select."},
	{"SDESK_MAX_ATTACHMENT_MB", false, "25", "Largest file (MiB, 1 to 100) taken from a report's files; a larger one is named in the issue as not uploaded. Keep it at or below GitLab's maximum attachment size."},
	{"SDESK_MAX_OPEN_REPORTS", false, "3", "Most open reports one member may have (0 to 100; 0: no limit). Staff are exempt."},
	{"SDESK_REPORT_COOLDOWN", false, "60s", "Least time between two reports of one member, a duration like 60s or 5m (0 to 24h; 0: none). Staff are exempt."},
	{"SDESK_REOPEN_ON_REPLY", false, "true", "A reporter's reply to a closed issue reopens it, as Service Desk does for e-mail replies."},
	{"SDESK_JOB_FUNCTION", false, "", "Lambda only: function that runs deferred jobs (set by template.yaml)."},
}

// Limits of SDESK_CATEGORIES: a Discord string select has at most 25
// options, each with a label and a value of 1 to 100 characters
// (https://discord.com/developers/docs/components/reference#string-select-select-option-structure).
// The value is a GitLab label name: GitLab allows 255 characters without a
// comma (the Label model's title validation), and the issues API takes
// labels comma-separated (client-go's LabelOptions joins them with ","),
// so a comma cannot be sent in one.
const (
	maxCategories      = 25
	maxCategoryLength  = 100
	categoriesVariable = "SDESK_CATEGORIES"
)

// parseCategories reads SDESK_CATEGORIES: "Label=gitlab-label" items
// separated by ";", blank items skipped, white space around items, labels
// and values trimmed, split at the first "=". It returns the categories
// and one problem per fault, naming the item by its position (1-based,
// blank items counted).
func parseCategories(v string) ([]sdesk.Category, []string) {
	var (
		cats     []sdesk.Category
		problems []string
		seen     = map[string]int{}
	)
	problem := func(n int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s item %d %s", categoriesVariable, n, fmt.Sprintf(format, args...)))
	}
	checkSide := func(n int, side, text string) bool {
		switch {
		case text == "":
			problem(n, "has an empty %s: want Label=gitlab-label", side)
		case utf8.RuneCountInString(text) > maxCategoryLength:
			problem(n, "has a %s longer than %d characters (Discord's limit for a select option)", side, maxCategoryLength)
		case strings.ContainsFunc(text, unicode.IsControl) || !utf8.ValidString(text):
			problem(n, "has a %s with a control character or invalid UTF-8", side)
		default:
			return true
		}
		return false
	}
	items := strings.Split(v, ";")
	count := 0
	for i, item := range items {
		n := i + 1
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		count++
		label, value, ok := strings.Cut(item, "=")
		if !ok {
			problem(n, "%q has no \"=\": want Label=gitlab-label", item)
			continue
		}
		label, value = strings.TrimSpace(label), strings.TrimSpace(value)
		okLabel := checkSide(n, "label", label)
		okValue := checkSide(n, "GitLab label", value)
		if okValue && strings.Contains(value, ",") {
			problem(n, "has a GitLab label with a comma, which GitLab's API cannot take (labels are sent comma-separated)")
			okValue = false
		}
		if okValue {
			if first, dup := seen[value]; dup {
				problem(n, "repeats the GitLab label of item %d: each must be unique", first)
				okValue = false
			} else {
				seen[value] = n
			}
		}
		if okLabel && okValue {
			cats = append(cats, sdesk.Category{Label: label, GitLabLabel: value})
		}
	}
	if count > maxCategories {
		problems = append(problems, fmt.Sprintf("%s has %d items, at most %d (Discord's limit for a select)", categoriesVariable, count, maxCategories))
	}
	return cats, problems
}

var (
	snowflake   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{15,21}$`) })
	projectPath = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.\-]*(/[A-Za-z0-9_.][A-Za-z0-9_.\-]*)+$`)
	})
	labelRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^,\n]{1,255}$`) })
)

// Error lists every problem found in the environment.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return "configuration: " + strings.Join(e.Problems, "; ")
}

// Load reads the configuration with getenv (os.Getenv in production).
func Load(getenv func(string) string) (Config, error) {
	var problems []string
	get := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			for _, d := range Vars {
				if d.Name == name {
					return d.Default
				}
			}
		}
		return v
	}
	required := func(name string) string {
		v := get(name)
		if v == "" {
			problems = append(problems, name+" is required")
		}
		return v
	}
	id := func(name string, req bool) string {
		var v string
		if req {
			v = required(name)
		} else {
			v = get(name)
		}
		if v != "" && !snowflake().MatchString(v) {
			problems = append(problems, name+" must be a Discord ID (digits)")
		}
		return v
	}
	absURL := func(name string) string {
		v := strings.TrimRight(get(name), "/")
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, name+" must be an http(s) URL")
		}
		return v
	}

	var c Config
	c.DiscordApplicationID = id("DISCORD_APPLICATION_ID", true)
	if pk := required("DISCORD_PUBLIC_KEY"); pk != "" {
		b, err := hex.DecodeString(pk)
		if err != nil || len(b) != 32 {
			problems = append(problems, "DISCORD_PUBLIC_KEY must be 64 hex characters (an Ed25519 public key)")
		} else {
			c.DiscordPublicKey = b
		}
	}
	c.DiscordBotToken = required("DISCORD_BOT_TOKEN")
	c.DiscordSupportChannelID = id("DISCORD_SUPPORT_CHANNEL_ID", true)
	c.DiscordGuildID = id("DISCORD_GUILD_ID", false)
	c.DiscordStaffRoleID = id("DISCORD_STAFF_ROLE_ID", false)
	c.DiscordAPIURL = absURL("DISCORD_API_URL")

	c.GitLabURL = absURL("GITLAB_URL")
	c.GitLabToken = required("GITLAB_TOKEN")
	if p := required("GITLAB_PROJECT"); p != "" {
		if n, err := strconv.Atoi(p); (err != nil || n <= 0) && !projectPath().MatchString(p) {
			problems = append(problems, "GITLAB_PROJECT must be a numeric ID or a full path like group/project")
		}
		c.GitLabProject = p
	}
	c.GitLabWebhookSecret = required("GITLAB_WEBHOOK_SECRET")
	if s := get("GITLAB_WEBHOOK_SIGNING_TOKEN"); s != "" {
		if !strings.HasPrefix(s, "whsec_") || len(s) == len("whsec_") {
			problems = append(problems, "GITLAB_WEBHOOK_SIGNING_TOKEN must start with whsec_")
		}
		c.GitLabWebhookSigningToken = s
	}
	for _, l := range strings.Split(get("GITLAB_ISSUE_LABELS"), ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !labelRe().MatchString(l) {
			problems = append(problems, "GITLAB_ISSUE_LABELS has a label longer than 255 characters")
			continue
		}
		c.GitLabIssueLabels = append(c.GitLabIssueLabels, l)
	}

	if v := get("GITLAB_SUPPORT_BOT_ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			problems = append(problems, "GITLAB_SUPPORT_BOT_ID must be a positive number")
		}
		c.GitLabSupportBotID = n
	}

	c.Store = get("SDESK_STORE")
	c.BoltPath = get("SDESK_BOLT_PATH")
	c.Table = get("SDESK_TABLE")
	c.DynamoDB = get("DYNAMODB_ENDPOINT")
	switch c.Store {
	case StoreBolt:
		if c.BoltPath == "" {
			problems = append(problems, "SDESK_BOLT_PATH must not be empty")
		}
	case StoreDynamoDB:
		if c.Table == "" {
			problems = append(problems, "SDESK_TABLE is required when SDESK_STORE=dynamodb")
		}
		if c.DynamoDB != "" {
			if u, err := url.Parse(c.DynamoDB); err != nil || u.Scheme == "" || u.Host == "" {
				problems = append(problems, "DYNAMODB_ENDPOINT must be a URL like http://127.0.0.1:8000")
			}
		}
	default:
		problems = append(problems, "SDESK_STORE must be bolt or dynamodb")
	}
	c.Addr = get("SDESK_ADDR")
	if !validAddr(c.Addr) {
		problems = append(problems, "SDESK_ADDR must be HOST:PORT or :PORT with a port number from 0 to 65535, like 127.0.0.1:8080 or :8080")
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("SDESK_LOG_LEVEL"))); err != nil {
		problems = append(problems, "SDESK_LOG_LEVEL must be debug, info, warn or error")
	}
	switch get("SDESK_LOCK_ON_CLOSE") {
	case "true", "1":
		c.LockOnClose = true
	case "false", "0":
	default:
		problems = append(problems, "SDESK_LOCK_ON_CLOSE must be true or false")
	}
	if n, err := strconv.Atoi(get("SDESK_MAX_MESSAGES_PER_EVENT")); err != nil || n < 1 || n > 50 {
		problems = append(problems, "SDESK_MAX_MESSAGES_PER_EVENT must be a whole number from 1 to 50")
	} else {
		c.MaxMessagesPerEvent = n
	}
	cats, catProblems := parseCategories(get(categoriesVariable))
	problems = append(problems, catProblems...)
	if len(catProblems) == 0 {
		c.Categories = cats
	}
	if n, err := strconv.Atoi(get("SDESK_MAX_ATTACHMENT_MB")); err != nil || n < 1 || n > 100 {
		problems = append(problems, "SDESK_MAX_ATTACHMENT_MB must be a whole number of MiB from 1 to 100")
	} else {
		c.MaxAttachmentBytes = int64(n) << 20
	}
	if n, err := strconv.Atoi(get("SDESK_MAX_OPEN_REPORTS")); err != nil || n < 0 || n > 100 {
		problems = append(problems, "SDESK_MAX_OPEN_REPORTS must be a whole number from 0 (no limit) to 100")
	} else {
		c.MaxOpenReports = n
	}
	if d, err := time.ParseDuration(get("SDESK_REPORT_COOLDOWN")); err != nil || d < 0 || d > 24*time.Hour {
		problems = append(problems, "SDESK_REPORT_COOLDOWN must be a duration from 0s (none) to 24h, like 60s or 5m")
	} else {
		c.ReportCooldown = d
	}
	switch get("SDESK_REOPEN_ON_REPLY") {
	case "true", "1":
		c.ReopenOnReply = true
	case "false", "0":
	default:
		problems = append(problems, "SDESK_REOPEN_ON_REPLY must be true or false")
	}
	c.JobFunction = get("SDESK_JOB_FUNCTION")

	if len(problems) > 0 {
		return c, &Error{Problems: problems}
	}
	return c, nil
}

// validAddr tells whether addr is an address `sdesk serve` can be told to
// listen on: net.SplitHostPort splits it (a host, which may be empty, or a
// bracketed IPv6 address, then a colon and the port) and the port is 1 to
// 5 ASCII digits of value 0 to 65535. A service name ("http") is refused:
// whether it resolves depends on the machine's /etc/services.
func validAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	n, err := strconv.Atoi(port)
	return err == nil && n <= 65535
}

// LogValue keeps secrets out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("discord_application_id", c.DiscordApplicationID),
		slog.String("discord_support_channel_id", c.DiscordSupportChannelID),
		slog.String("discord_guild_id", c.DiscordGuildID),
		slog.String("discord_api_url", c.DiscordAPIURL),
		slog.String("gitlab_url", c.GitLabURL),
		slog.String("gitlab_project", c.GitLabProject),
		slog.String("store", c.Store),
		slog.String("addr", c.Addr),
	)
}
