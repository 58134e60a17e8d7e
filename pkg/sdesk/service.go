package sdesk

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmd"
)

// Defaults of Service's tunables.
const (
	DefaultMaxAttempts = 3               // first run + 2 retries (Lambda's async retries)
	DefaultEventBudget = 6 * time.Second // GitLab waits 10 s: 6 s of work, at most 2 s to record, 2 s to defer
	DefaultJobTTL      = 24 * time.Hour  // finished jobs are kept this long
	DefaultClaimTTL    = 7 * 24 * time.Hour
	DefaultStallAfter  = 15 * time.Minute
	// DefaultMaxMessagesPerEvent: one GitLab event makes at most this many
	// Discord messages.
	DefaultMaxMessagesPerEvent = 5
	// DefaultAttemptTimeout bounds a job attempt that its caller gave no
	// deadline (the pool of sdesk serve): every wait on Discord or GitLab,
	// rate limits included, ends by then.
	DefaultAttemptTimeout = 2 * time.Minute
	// NeverRunAfter: an event's job still without an attempt this long
	// after it was stored has lost the process that stored it.
	NeverRunAfter = 30 * time.Second
)

// Service holds sdesk's use cases. Adapters fill its ports; zero tunables
// take the defaults above.
type Service struct {
	Store   Store
	Discord Discord
	GitLab  GitLab
	Queue   Queue
	Logger  *slog.Logger
	Now     func() time.Time

	SupportChannelID string   // DISCORD_SUPPORT_CHANNEL_ID
	StaffRoleID      string   // DISCORD_STAFF_ROLE_ID
	IssueLabels      []string // GITLAB_ISSUE_LABELS
	LockOnClose      bool     // SDESK_LOCK_ON_CLOSE
	GitLabURL        string   // GITLAB_URL: makes GitLab's relative links absolute
	// Categories are the report form's category options
	// (SDESK_CATEGORIES); none: the form has no category select.
	Categories []Category
	// MaxAttachmentBytes is the largest file taken from Discord
	// (SDESK_MAX_ATTACHMENT_MB; 0: DefaultMaxAttachmentBytes).
	MaxAttachmentBytes int64
	// MaxMessagesPerEvent caps the Discord messages of one GitLab event
	// (SDESK_MAX_MESSAGES_PER_EVENT; 0: DefaultMaxMessagesPerEvent).
	MaxMessagesPerEvent int
	// SupportBotID is the GitLab Support Bot's user ID; 0 matches the
	// default username "support-bot".
	SupportBotID int
	// MaxOpenReports is the most open reports a member who is not staff
	// may have (SDESK_MAX_OPEN_REPORTS); 0: no limit.
	MaxOpenReports int
	// ReportCooldown is the least time between two reports of a member who
	// is not staff (SDESK_REPORT_COOLDOWN); 0: none.
	ReportCooldown time.Duration
	// ReopenOnReply: a reply of the reporter's to a closed issue reopens
	// it (SDESK_REOPEN_ON_REPLY).
	ReopenOnReply bool

	MaxAttempts int
	EventBudget time.Duration
	JobTTL      time.Duration
	// LeaseTTL, when set, makes RunJob hold a lease (a Claim) on the job
	// while it runs, so two deliveries of one job (Lambda may deliver an
	// async event twice) never run at the same time. Set it to the longest
	// an attempt can take (the function timeout). Zero: no lease, for a
	// single process whose queue holds each job once. An attempt under a
	// lease ends 30 s before the lease does.
	LeaseTTL time.Duration
	// StallAfter is how long an event's job may stay pending, untouched,
	// before a resend of the event runs it again (default 15 minutes: past
	// Lambda's last asynchronous retry).
	StallAfter time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (s *Service) eventBudget() time.Duration {
	if s.EventBudget > 0 {
		return s.EventBudget
	}
	return DefaultEventBudget
}

func (s *Service) stallAfter() time.Duration {
	if s.StallAfter > 0 {
		return s.StallAfter
	}
	return DefaultStallAfter
}

func (s *Service) maxMessages() int {
	if s.MaxMessagesPerEvent > 0 {
		return s.MaxMessagesPerEvent
	}
	return DefaultMaxMessagesPerEvent
}

func (s *Service) jobTTL() time.Duration {
	if s.JobTTL > 0 {
		return s.JobTTL
	}
	return DefaultJobTTL
}

// ThreadName is the Discord thread name of an issue: "#<iid> <title>" cut
// to Discord's 100 characters.
func ThreadName(iid int, title string) string {
	// Without the zero-width joiners gfm puts into the GitLab title: the
	// same name whichever side the title comes from.
	title = strings.ReplaceAll(discordmd.PlainText(title), "\u200d", "")
	return Truncate(fmt.Sprintf("#%d %s", iid, strings.Join(strings.Fields(title), " ")), 100)
}

// Truncate cuts s to at most n runes, marking a cut with an ellipsis.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// NewRef returns a short random reference that ties a user-facing error to
// a log line.
func NewRef() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "E" + strings.ToUpper(hex.EncodeToString(b))
}
