package sdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmarkup"
	"github.com/sdesk/sdesk/pkg/discordmd"
	"github.com/sdesk/sdesk/pkg/gfm"
)

// Routes of the /issues pages and of the report panel's button.
const (
	RouteReports     = "issues/{page}"     // the caller's reports, page n (from 0)
	RouteAllReports  = "issues/all/{page}" // staff: every open report, page n
	RoutePanelReport = "panel/report"      // the panel's "Report a problem" button
)

// Job kinds of the commands that manage a report.
const (
	JobReopen      = "reopen" // reopen the GitLab issue and its thread
	JobIssueStatus = "status" // read the issue from GitLab for /status
	JobPanel       = "panel"  // post the report panel for /panel
)

// Limits of the commands that manage a report.
const (
	// ReportsPerPage is how many reports one /issues page lists.
	ReportsPerPage = 10
	// MaxReason is the longest /close reason, in characters.
	MaxReason = 1000
	// MaxChoices is the most choices an autocomplete answer holds
	// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-autocomplete).
	MaxChoices = 25
	// maxChoiceName is the longest choice name Discord takes, in characters
	// (https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-option-choice-structure).
	maxChoiceName = 100
	// suggestScan bounds the mappings one autocomplete reads: the newest.
	suggestScan = 500
	// SuggestTimeout bounds the work of one autocomplete answer: Discord
	// waits 3 s for it, and the HTTP round trip needs the rest.
	SuggestTimeout = 2 * time.Second
)

func (s *Service) isStaff(u User) bool {
	return s.StaffRoleID != "" && slices.Contains(u.RoleIDs, s.StaffRoleID)
}

// Refusals of the commands that manage a report.
var (
	errNoIssue        = &UserError{Message: "Use this inside a report thread, or choose the issue with the `issue` option."}
	errNotYoursReopen = &UserError{Message: "Only the reporter or staff can reopen this issue."}
	errNotYoursStatus = &UserError{Message: "Only the reporter or staff can see the status of this issue."}
	errStaffOnly      = &UserError{Message: "Only staff can list every report."}
)

// issueFor is the mapping a command acts on, with the speaksFor rule: the
// issue its `issue` option names (r.Issue), wherever it is used, else the
// thread it is used in.
func (s *Service) issueFor(ctx context.Context, r ThreadRequest, refusal error) (Mapping, error) {
	var m Mapping
	var err error
	if r.Issue > 0 {
		m, err = s.Store.MappingByIssue(ctx, r.Issue)
		if errors.Is(err, ErrNotFound) {
			if !s.isStaff(r.User) {
				// The same answer as for someone else's report: a member
				// learns nothing of which numbers are reports.
				return Mapping{}, refusal
			}
			return Mapping{}, &UserError{Message: fmt.Sprintf("Issue #%d is not a report made in Discord.", r.Issue)}
		}
		if err != nil {
			return Mapping{}, fmt.Errorf("look up issue %d: %w", r.Issue, err)
		}
	} else if m, err = s.mappingFor(ctx, r); err != nil {
		if errors.Is(err, errNotMapped) {
			return Mapping{}, errNoIssue
		}
		return Mapping{}, err
	}
	if !s.speaksFor(m, r.User) {
		return Mapping{}, refusal
	}
	return m, nil
}

// SubmitReopen checks that the user may reopen the issue (its reporter or
// staff, not timed out) and enqueues the reopen: the issue, then its
// thread (unarchived and unlocked).
func (s *Service) SubmitReopen(ctx context.Context, r ThreadRequest) (Answer, error) {
	if err := s.checkNotTimedOut(r.User); err != nil {
		return Answer{}, err
	}
	m, err := s.issueFor(ctx, r, errNotYoursReopen)
	if err != nil {
		return Answer{}, err
	}
	r.IID, r.IssueURL = m.IssueIID, m.IssueURL
	if _, err := s.enqueue(ctx, JobReopen, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

func (s *Service) runReopen(ctx context.Context, j *Job) error {
	var r ThreadRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode reopen: %w", err)
	}
	m, err := s.Store.MappingByIssue(ctx, r.IID)
	if err != nil {
		return fmt.Errorf("look up issue %d: %w", r.IID, err)
	}
	v, err := s.step(ctx, j, "reopen", func() (string, error) { return s.reopenIssue(ctx, r.IID) })
	if err != nil {
		return err
	}
	if _, err := s.tolerant(ctx, j, "state", func() (string, error) { return "", s.syncState(ctx, r.IID) }); err != nil {
		return err
	}
	var msg string
	switch v {
	case reopenMoved:
		msg = fmt.Sprintf("Issue #%d was moved to another issue; it stays closed here. Staff can follow it there.", r.IID)
	case reopenRefused:
		msg = fmt.Sprintf("GitLab keeps issue #%d closed (staff may have locked it). Nothing was changed; ask staff to reopen it.", r.IID)
	default:
		thread, err := s.openThread(ctx, j, m)
		if err != nil {
			return err
		}
		msg = fmt.Sprintf("Issue #%d is open again, and so is its thread <#%s>.", r.IID, m.ThreadID)
		if thread == skipped {
			msg = fmt.Sprintf("Issue #%d is open again. Its thread could not be reopened: staff can unarchive it.", r.IID)
		}
	}
	_, err = s.tolerant(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: msg})
	})
	return err
}

// Results of reopenIssue.
const (
	reopenDone    = "reopened" // GitLab reopened it
	reopenOpen    = "open"     // it was open already
	reopenMoved   = "moved"    // moved to another issue: left closed
	reopenRefused = "refused"  // GitLab answered, and kept it closed
)

// reopenIssue reopens a closed issue and reads its state back: GitLab
// answers a reopen it does not allow (the discussion locked,
// Issues::ReopenService) with 200 and the issue still closed. A moved
// issue is left closed: its conversation goes on where it went.
func (s *Service) reopenIssue(ctx context.Context, iid int) (string, error) {
	is, err := s.GitLab.GetIssue(ctx, iid)
	if err != nil {
		return "", fmt.Errorf("get issue %d: %w", iid, err)
	}
	switch {
	case is.State != StateClosed:
		return reopenOpen, nil
	case is.MovedToID != 0:
		return reopenMoved, nil
	}
	if err := s.GitLab.SetState(ctx, iid, false); err != nil {
		return "", err
	}
	if is, err = s.GitLab.GetIssue(ctx, iid); err != nil {
		return "", fmt.Errorf("get issue %d: %w", iid, err)
	}
	if is.State != StateOpened {
		return reopenRefused, nil
	}
	return reopenDone, nil
}

// openThread unarchives and unlocks a report's thread, as step "thread";
// a refusal for good (the thread deleted, the permission taken) is
// skipped with a WARN line.
func (s *Service) openThread(ctx context.Context, j *Job, m Mapping) (string, error) {
	no := false
	return s.tolerant(ctx, j, "thread", func() (string, error) {
		return "", s.Discord.EditThread(ctx, m.ThreadID, ThreadEdit{Archived: &no, Locked: &no})
	})
}

// syncState records the issue's state as GitLab gives it now.
func (s *Service) syncState(ctx context.Context, iid int) error {
	is, err := s.GitLab.GetIssue(ctx, iid)
	if err != nil {
		return fmt.Errorf("get issue %d: %w", iid, err)
	}
	return s.setState(ctx, iid, is.State, is.UpdatedAt)
}

// setState records an issue's state as of at; an unmapped issue or a
// state sdesk does not know is left alone.
func (s *Service) setState(ctx context.Context, iid int, state string, at time.Time) error {
	if state != StateOpened && state != StateClosed {
		return nil
	}
	// Whole seconds: webhooks give updated_at to the second ("2024-05-14
	// 10:09:00 UTC"), the API to the millisecond. Cut to one grain, a
	// hook of the same second as an API read is not taken for older
	// (equal times apply: the later arrival wins).
	at = at.Truncate(time.Second)
	if err := s.Store.SetMappingState(ctx, iid, state, at); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("record state of issue %d: %w", iid, err)
	}
	return nil
}

// closeNote is the note a /close reason becomes, laid out as replyBody:
// the reason quoted, a rule, sdesk's attribution line and the marker.
func closeNote(r ThreadRequest) string {
	names := discordmarkup.Names{Users: r.Names.Users, Roles: r.Names.Roles, Channels: r.Names.Channels}
	return strings.Join([]string{
		gfm.Quote(discordmarkup.Translate(r.Reason, names)),
		"---",
		"— **" + gitlabName(r.User) + "** on Discord, closing the issue",
		replyMarker(r),
	}, "\n\n")
}

// SubmitStatus checks that the user may see the issue (its reporter or
// staff) and enqueues the job that reads it from GitLab (runStatus).
func (s *Service) SubmitStatus(ctx context.Context, r ThreadRequest) (Answer, error) {
	m, err := s.issueFor(ctx, r, errNotYoursStatus)
	if err != nil {
		return Answer{}, err
	}
	r.IID, r.IssueURL = m.IssueIID, m.IssueURL
	if _, err := s.enqueue(ctx, JobIssueStatus, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

// runStatus answers /status with the issue as GitLab has it now: title,
// state, assignees, labels, last update, and for staff its link (a
// confidential issue's page opens for project members only).
func (s *Service) runStatus(ctx context.Context, j *Job) error {
	var r ThreadRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode status: %w", err)
	}
	is, err := s.GitLab.GetIssue(ctx, r.IID)
	if err != nil {
		return fmt.Errorf("get issue %d: %w", r.IID, err)
	}
	if err := s.setState(ctx, r.IID, is.State, is.UpdatedAt); err != nil {
		s.log().Info("state not recorded", slog.String("job_id", j.ID), slog.Int("issue", r.IID), slog.String("error", err.Error()))
	}
	_, err = s.tolerant(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: statusText(is, s.isStaff(r.User))})
	})
	return err
}

// statusText is /status's answer. Every GitLab text is escaped for
// Discord (discordmd.Text).
func statusText(is Issue, staff bool) string {
	state := "open"
	if is.State == StateClosed {
		state = "closed"
	}
	list := func(items []string, none string) string {
		if len(items) == 0 {
			return none
		}
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = discordmd.Text(it)
		}
		return joinCapped(out, maxListRunes)
	}
	lines := []string{
		fmt.Sprintf("**#%d %s**", is.IID, discordmd.Text(Truncate(strings.Join(strings.Fields(discordmd.PlainText(is.Title)), " "), 200))),
		"State: " + state,
		"Assignees: " + list(is.Assignees, "nobody yet"),
		"Labels: " + list(is.Labels, "none"),
	}
	if !is.UpdatedAt.IsZero() {
		lines = append(lines, fmt.Sprintf("Last update: <t:%d:f> (<t:%d:R>)", is.UpdatedAt.Unix(), is.UpdatedAt.Unix()))
	}
	if staff && is.WebURL != "" {
		lines = append(lines, "On GitLab: "+discordmd.Link(is.WebURL))
	}
	return Truncate(strings.Join(lines, "\n"), maxContent)
}

// ReportsRequest asks for a page of /issues.
type ReportsRequest struct {
	User User
	All  bool // staff: every open report, not the caller's
	Page int  // from 0
}

// Reports answers /issues and its page buttons: the caller's reports,
// newest first, or (All, staff only) every open report;
// ReportsPerPage a page, with buttons to the newer and older pages.
func (s *Service) Reports(ctx context.Context, r ReportsRequest) (Answer, error) {
	if r.All && !s.isStaff(r.User) {
		return Answer{}, errStaffOnly
	}
	q := MappingQuery{ReporterID: r.User.ID, Offset: max(r.Page, 0) * ReportsPerPage, Limit: ReportsPerPage + 1}
	route, title, none := RouteReports, "Your reports", "You have no reports yet. Use `/report` to make one."
	if r.All {
		q.ReporterID, q.State = "", StateOpened
		route, title, none = RouteAllReports, "Open reports", "There are no open reports."
	}
	ms, err := s.Store.Mappings(ctx, q)
	if err != nil {
		return Answer{}, fmt.Errorf("list reports: %w", err)
	}
	if len(ms) == 0 && r.Page > 0 {
		// A page that has emptied since its button was made: the first.
		return s.Reports(ctx, ReportsRequest{User: r.User, All: r.All})
	}
	if len(ms) == 0 {
		return Answer{Message: none}, nil
	}
	more := len(ms) > ReportsPerPage
	ms = ms[:min(len(ms), ReportsPerPage)]
	head := fmt.Sprintf("**%s** (page %d)", title, r.Page+1)
	return Answer{Message: listMessage(head, ms, r.All, ""), Buttons: []Button{
		{Label: "◀ Newer", CustomID: Route(route, max(r.Page-1, 0)), Style: ButtonSecondary, Disabled: r.Page == 0},
		{Label: "Older ▶", CustomID: Route(route, r.Page+1), Style: ButtonSecondary, Disabled: !more},
	}}, nil
}

// listMessage is a list of reports in one Discord message (at most
// maxContent characters): head, a line per report, then foot (""
// for none). Every line is kept: each title is cut to what its share of
// the message leaves (escaping can double a title, so a title gets half
// its line's room), never a line dropped.
func listMessage(head string, ms []Mapping, withReporter bool, foot string) string {
	lines := []string{head}
	fixed := utf8.RuneCountInString(head) + utf8.RuneCountInString(foot) + len(ms) + 1
	share := (maxContent - fixed) / max(len(ms), 1)
	for _, m := range ms {
		frame := utf8.RuneCountInString(reportLine(m, withReporter, 0))
		lines = append(lines, reportLine(m, withReporter, min(80, max(0, (share-frame)/2))))
	}
	if foot != "" {
		lines = append(lines, foot)
	}
	return strings.Join(lines, "\n")
}

// reportLine is one report of a list: number, title (cut to titleRunes
// before escaping; 0: none), state, thread and date; with its reporter
// for staff's list.
func reportLine(m Mapping, withReporter bool, titleRunes int) string {
	state := "open"
	if m.State == StateClosed {
		state = "closed"
	}
	title := ""
	if titleRunes > 0 {
		title = discordmd.Text(Truncate(strings.Join(strings.Fields(discordmd.PlainText(m.Title)), " "), titleRunes)) + " · "
	}
	line := fmt.Sprintf("• **#%d** %s%s · <#%s>", m.IssueIID, title, state, m.ThreadID)
	if withReporter && m.ReporterID != "" {
		line += " · by <@" + m.ReporterID + ">"
	}
	if !m.CreatedAt.IsZero() {
		line += fmt.Sprintf(" · <t:%d:d>", m.CreatedAt.Unix())
	}
	return line
}

// Choice is one autocomplete choice: a name to show (at most 100
// characters) and the issue number it stands for.
type Choice struct {
	Name  string
	Value int
}

// SuggestIssues answers the autocomplete of an `issue` option: the
// caller's reports (staff: every mapped issue) whose number starts with
// typed, or whose title holds it (case-insensitive), newest first, at
// most MaxChoices. For command "close" the open ones come first, for
// "reopen" the closed ones. It reads the store only, within
// SuggestTimeout: on a timeout or an error it answers what it has (an
// autocomplete cannot show an error).
func (s *Service) SuggestIssues(ctx context.Context, u User, command, typed string) []Choice {
	ctx, cancel := context.WithTimeout(ctx, SuggestTimeout)
	defer cancel()
	typed = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(typed), "#")))
	q := MappingQuery{Limit: suggestScan}
	if !s.isStaff(u) {
		q.ReporterID = u.ID
	}
	ms, err := s.Store.Mappings(ctx, q)
	if err != nil {
		s.log().Info("autocomplete: reports not read", slog.String("error", err.Error()))
	}
	prefer := ""
	switch command {
	case "close":
		prefer = StateOpened
	case "reopen":
		prefer = StateClosed
	}
	var first, rest []Choice
	for _, m := range ms {
		num := strconv.Itoa(m.IssueIID)
		title := strings.Join(strings.Fields(discordmd.PlainText(m.Title)), " ")
		if typed != "" && !strings.HasPrefix(num, typed) && !strings.Contains(strings.ToLower(title), typed) {
			continue
		}
		state := "open"
		if m.State == StateClosed {
			state = "closed"
		}
		frame := fmt.Sprintf("#%d  (%s)", m.IssueIID, state)
		title = Truncate(title, max(1, maxChoiceName-utf8.RuneCountInString(frame)))
		c := Choice{Name: Truncate(fmt.Sprintf("#%d %s (%s)", m.IssueIID, title, state), maxChoiceName), Value: m.IssueIID}
		if prefer == "" || m.State == prefer {
			first = append(first, c)
		} else {
			rest = append(rest, c)
		}
	}
	out := append(first, rest...)
	return out[:min(len(out), MaxChoices)]
}

// PanelText is the report panel's message.
const PanelText = "**Need help from the team?**\nPress the button to report a problem. " +
	"Only you and staff will see it, in a private thread where you can follow the answers."

// Panel is the report panel: a message with a "Report a problem" button
// whose custom ID (RoutePanelReport) opens the report form, from any
// process of any version that knows the route, however long after it was
// posted.
func Panel() Message {
	return Message{Content: PanelText, Buttons: []Button{{Label: "Report a problem", CustomID: RoutePanelReport, Style: ButtonPrimary}}}
}

// PanelRequest is a /panel: post the report panel into ChannelID.
type PanelRequest struct {
	InteractionID string `json:"interaction_id"`
	Token         string `json:"token"`
	ChannelID     string `json:"channel_id"`
}

// SubmitPanel enqueues the post of the report panel (runPanel). Who may
// is Discord's to decide: /panel is registered for members with Manage
// Server, and server admins may change that.
func (s *Service) SubmitPanel(ctx context.Context, r PanelRequest) (Answer, error) {
	if r.ChannelID == "" {
		return Answer{}, &UserError{Message: "Use /panel in the channel the panel should go to."}
	}
	if _, err := s.enqueue(ctx, JobPanel, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

func (s *Service) runPanel(ctx context.Context, j *Job) error {
	var r PanelRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode panel: %w", err)
	}
	msg := Panel()
	msg.Nonce = nonce(j, "panel")
	answer := "The report panel is posted. Its button keeps working; delete the message to remove it."
	if _, err := s.step(ctx, j, "panel", func() (string, error) { return s.Discord.SendMessage(ctx, r.ChannelID, msg) }); err != nil {
		var perm *PermanentError
		if !errors.As(err, &perm) {
			return err
		}
		// Refused for good: most often the bot may not post in this
		// channel. The member who asked is told; nothing is retried.
		s.log().Warn("report panel not posted: "+perm.Fix, slog.String("job_id", j.ID), slog.String("channel_id", r.ChannelID), slog.String("error", err.Error()))
		answer = "The panel could not be posted in this channel: sdesk's bot needs View Channel and Send Messages here. Give it those, then use /panel again."
	}
	_, err := s.tolerant(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: answer})
	})
	return err
}
