package sdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdesk/sdesk/pkg/discordmarkup"
	"github.com/sdesk/sdesk/pkg/discordmd"
	"github.com/sdesk/sdesk/pkg/gfm"
)

// Custom ID routes of sdesk's components and modals, formatted like paths.
const (
	RouteReportModal = "report"        // the /report modal
	RouteReply       = "reply/{iid}"   // Reply button -> reply modal
	RouteReplyModal  = "replyto/{iid}" // reply modal submit
	RouteClose       = "close/{iid}"   // Close button
)

// Route fills a route's parameter ({iid}, {page}) with n.
func Route(route string, n int) string {
	i, j := strings.IndexByte(route, '{'), strings.IndexByte(route, '}')
	if i < 0 || j < i {
		return route
	}
	return route[:i] + strconv.Itoa(n) + route[j+1:]
}

// Limits of the report modal.
const (
	MaxTitle       = 255
	MaxDescription = 4000
	MaxReply       = 4000
)

// User is the Discord user behind an interaction.
type User struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	RoleIDs  []string `json:"role_ids,omitempty"`
	// TimedOutUntil is the member's communication_disabled_until: while it
	// is in the future, a moderator has timed the member out, and sdesk
	// writes nothing to GitLab for them (Discord's guild member object,
	// https://discord.com/developers/docs/resources/guild#guild-member-object).
	TimedOutUntil time.Time `json:"timed_out_until,omitzero"`
}

// CheckReport tells whether a user may open the report form (/report, the
// panel's button): not while timed out, nor over a limit (checkLimits).
// It answers within Discord's 3 s: store reads, and GitLab reads bounded
// by verifyTimeout.
func (s *Service) CheckReport(ctx context.Context, u User) error {
	if err := s.checkNotTimedOut(u); err != nil {
		return err
	}
	return s.checkLimits(ctx, u, "")
}

// checkNotTimedOut refuses, with a message for the user, every action
// that writes to GitLab from a member who is timed out.
func (s *Service) checkNotTimedOut(u User) error {
	if !u.TimedOutUntil.After(s.now()) {
		return nil
	}
	return &UserError{Message: fmt.Sprintf("You are timed out in this server until <t:%d:f>, so sdesk cannot send anything to the team for you until then.", u.TimedOutUntil.Unix())}
}

// ReportRequest is a submitted /report modal.
type ReportRequest struct {
	InteractionID string `json:"interaction_id"`
	Token         string `json:"token"`
	GuildID       string `json:"guild_id"`
	User          User   `json:"user"`
	Title         string `json:"title"`
	Description   string `json:"description"`
	// Category is the GitLab label of the chosen category (a
	// Category.GitLabLabel); "" when none was chosen or none is offered.
	Category string `json:"category,omitempty"`
	// Files are the files attached in the form (at most MaxReportFiles).
	Files []Attachment `json:"files,omitempty"`
	// Followup is the text of a later /report that completes this one
	// (its thread was refused), FollowupFiles its files; FollowupID is
	// that interaction's ID.
	Followup      string       `json:"followup,omitempty"`
	FollowupFiles []Attachment `json:"followup_files,omitempty"`
	FollowupID    string       `json:"followup_id,omitempty"`
}

// Validate checks the fields a user typed, returning a message for them.
func (r ReportRequest) Validate() error {
	var problems []string
	if strings.TrimSpace(r.Title) == "" {
		problems = append(problems, "the title is empty")
	} else if n := len([]rune(r.Title)); n > MaxTitle {
		problems = append(problems, fmt.Sprintf("the title has %d characters (at most %d)", n, MaxTitle))
	}
	if strings.TrimSpace(r.Description) == "" {
		problems = append(problems, "the description is empty")
	} else if n := len([]rune(r.Description)); n > MaxDescription {
		problems = append(problems, fmt.Sprintf("the description has %d characters (at most %d)", n, MaxDescription))
	}
	if r.GuildID == "" {
		problems = append(problems, "reports can only be made inside a server")
	}
	if len(problems) > 0 {
		return &UserError{Message: "Your report was not sent: " + strings.Join(problems, ", ") + "."}
	}
	return nil
}

// UserError carries a message meant for the Discord user.
type UserError struct{ Message string }

func (e *UserError) Error() string { return e.Message }

// SubmitReport stores and enqueues the job that creates the issue and the
// thread. The caller answers Discord with a deferred ephemeral message.
func (s *Service) SubmitReport(ctx context.Context, r ReportRequest) error {
	if err := s.checkNotTimedOut(r.User); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	if err := s.checkForm(r); err != nil {
		return err
	}
	r.Title = strings.TrimSpace(r.Title)
	r.Description = strings.TrimSpace(r.Description)
	if resumed, err := s.resumeRefused(ctx, r); err != nil || resumed {
		return err
	}
	if _, err := s.Store.GetJob(ctx, r.InteractionID); err == nil {
		s.log().Info("interaction replayed: its job exists", slog.String("job_id", r.InteractionID), slog.String("job_kind", JobReport))
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("look up report job %s: %w", r.InteractionID, err)
	}
	unlock, err := s.lockReporting(ctx, r.User)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.checkLimits(ctx, r.User, r.InteractionID); err != nil {
		return err
	}
	release, err := s.claimCooldown(ctx, r.User, r.InteractionID)
	if err != nil {
		return err
	}
	if _, err := s.enqueue(ctx, JobReport, r.InteractionID, r); err != nil {
		release()
		return err
	}
	return nil
}

// Marker is the machine-readable comment sdesk puts in an issue
// description, so the issue <-> thread mapping can be rebuilt from GitLab.
func Marker(r ReportRequest, threadID string) string {
	return fmt.Sprintf("<!-- sdesk:v1 interaction=%s guild=%s thread=%s user=%s -->",
		r.InteractionID, r.GuildID, threadID, r.User.ID)
}

// markerRE finds Marker's interaction ID in an issue description.
var markerRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`<!-- sdesk:v1 interaction=([0-9]{1,20}) `) })

// MarkerInteraction returns the interaction ID in the last sdesk Marker of
// an issue description, or "" when it has none. A user's own text cannot
// supply one: it reaches GitLab defused (gfm), where "<!--" is broken.
func MarkerInteraction(description string) string {
	all := markerRE().FindAllStringSubmatch(description, -1)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1][1]
}

// markerSearch is the part of Marker that FindIssueByMarker looks for.
func markerSearch(r ReportRequest) string { return "interaction=" + r.InteractionID }

// issueTitle is a report's title as GitLab gets it: one line, defused.
func issueTitle(r ReportRequest) string {
	return gfm.DefuseTitle(strings.Join(strings.Fields(r.Title), " "))
}

// issueDescription is the description of a report's issue: the reporter's
// text as a block quote (gfm.Quote: defused, and closed off so that
// nothing in it can hide or restyle what follows), a rule, sdesk's
// attribution line and the marker. The user's name is gfm.Inline text;
// the IDs are Discord snowflakes sdesk checked.
//
// files is the report's files part (filesMarkdown), put between the quote
// and the rule; "" when the report has no files.
func issueDescription(r ReportRequest, threadID, files string) string {
	var b strings.Builder
	b.WriteString(gfm.Quote(r.Description))
	if files != "" {
		b.WriteString("\n\n")
		b.WriteString(strings.TrimRight(files, "\n"))
	}
	b.WriteString("\n\n---\n\nReported from Discord by **")
	b.WriteString(gitlabName(r.User))
	b.WriteString("** (user ID `")
	b.WriteString(r.User.ID)
	b.WriteString("`)")
	if threadID != "" {
		fmt.Fprintf(&b, " · [Discord thread](https://discord.com/channels/%s/%s)", r.GuildID, threadID)
	}
	b.WriteString("\n\n")
	b.WriteString(Marker(r, threadID))
	return b.String()
}

func (s *Service) runReport(ctx context.Context, j *Job, log *slog.Logger) error {
	var r ReportRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	files, downloaded, err := s.copyFiles(ctx, j, "file:", r.Files, log)
	if err != nil {
		return err
	}
	filesMD := filesMarkdown(files, s.maxAttachmentBytes())
	issueStep, err := s.once(ctx, j, "issue", func() (string, error) {
		found, err := s.reportIssues(ctx, r)
		if err != nil {
			return "", err
		}
		if len(found) == 0 {
			return "", fmt.Errorf("issue of report %s: %w", r.InteractionID, ErrNotFound)
		}
		return strconv.Itoa(found[0].IID) + " " + found[0].WebURL, nil
	}, func() (string, error) {
		is, err := s.GitLab.CreateIssue(ctx, NewIssue{
			Title:        issueTitle(r),
			Description:  issueDescription(r, "", filesMD),
			Labels:       s.issueLabels(r),
			Confidential: true,
		})
		if err != nil {
			return "", fmt.Errorf("create issue: %w", err)
		}
		return strconv.Itoa(is.IID) + " " + is.WebURL, nil
	})
	if err != nil {
		return err
	}
	iidStr, issueURL, _ := strings.Cut(issueStep, " ")
	iid, _ := strconv.Atoi(iidStr)
	log = log.With(slog.Int("issue", iid))

	threadID, err := s.once(ctx, j, "thread", func() (string, error) {
		return s.Discord.FindThread(ctx, r.GuildID, s.SupportChannelID, fmt.Sprintf("#%d ", iid))
	}, func() (string, error) {
		return s.Discord.CreatePrivateThread(ctx, s.SupportChannelID, ThreadName(iid, r.Title))
	})
	var perm *PermanentError
	if errors.As(err, &perm) {
		return s.threadRefused(ctx, j, r, iid, issueURL, perm)
	}
	if err != nil {
		return err
	}
	if _, err := s.tolerant(ctx, j, "member", func() (string, error) {
		return "", s.Discord.AddThreadMember(ctx, threadID, r.User.ID)
	}); err != nil {
		return err
	}
	if _, err := s.step(ctx, j, "description", func() (string, error) {
		return "", s.GitLab.SetDescription(ctx, iid, issueDescription(r, threadID, filesMD))
	}); err != nil {
		return err
	}
	if _, err := s.tolerant(ctx, j, "message", func() (string, error) {
		msg := s.firstMessage(r, iid, issueURL, files)
		msg.Nonce = nonce(j, "message")
		attach, left, err := s.messageFiles(ctx, files, downloaded)
		if err != nil {
			return "", err
		}
		msg.Files = attach
		if left > 0 {
			msg.Content += fmt.Sprintf("\n%d more file(s) are on the GitLab issue.", left)
		}
		id, err := s.Discord.SendMessage(ctx, threadID, msg)
		if errors.Is(err, ErrTooLarge) && len(msg.Files) > 0 {
			// Over the server's upload limit for bots (Discord answers
			// 413, code 40005): the files stay on the issue. A 413
			// created nothing, so the same nonce is still unused, and a
			// lost answer and a later attempt cannot post it twice.
			msg = s.firstMessage(r, iid, issueURL, files)
			msg.Nonce = nonce(j, "message")
			msg.Content += "\nThe files are too large for this server's upload limit; they are on the GitLab issue."
			id, err = s.Discord.SendMessage(ctx, threadID, msg)
		}
		return id, err
	}); err != nil {
		return err
	}
	// The mapping comes after the first message: until it exists, GitLab
	// events of the issue wait (parked, see HandleEvent), and are queued
	// here, in order, once it does; so the report is the thread's first
	// message.
	if _, err := s.step(ctx, j, "mapping", func() (string, error) {
		return "", s.Store.PutMapping(ctx, Mapping{
			IssueIID: iid, IssueURL: issueURL, ThreadID: threadID, GuildID: r.GuildID,
			ChannelID: s.SupportChannelID, ReporterID: r.User.ID, Title: r.Title, CreatedAt: s.now(),
		})
	}); err != nil {
		return err
	}
	if _, retried := j.Step("issue:retried"); retried {
		// An earlier attempt's create may have been in flight when it
		// died, and made a second issue after this one looked.
		if err := s.closeDuplicates(ctx, j, r, iid, issueURL, log); err != nil {
			return err
		}
	}
	if err := s.wakeParked(ctx, iid, j.ID, log); err != nil {
		return err
	}
	allFiles := files
	if r.Followup != "" {
		// A /report that completed this one: its text and files join the
		// issue as a note.
		more, _, err := s.copyFiles(ctx, j, "followup-file:", r.FollowupFiles, log)
		if err != nil {
			return err
		}
		allFiles = append(slices.Clone(files), more...)
		if _, err := s.step(ctx, j, "followup", func() (string, error) {
			id, err := s.GitLab.CreateNote(ctx, iid, replyBodyWith(ThreadRequest{InteractionID: r.FollowupID, User: r.User, Text: r.Followup},
				filesMarkdown(more, s.maxAttachmentBytes())))
			return strconv.Itoa(id), err
		}); err != nil {
			return err
		}
	}
	if _, err := s.tolerant(ctx, j, "response", func() (string, error) {
		content := fmt.Sprintf("Issue #%d created — continue in <#%s>", iid, threadID)
		if missing := missingFiles(allFiles, s.maxAttachmentBytes()); missing != "" {
			content += ". " + missing
		}
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: content})
	}); err != nil {
		return err
	}
	log.Info("report created", slog.String("thread_id", threadID), slog.String("user_id", r.User.ID))
	return nil
}

// issueLabels are the labels of a report's issue: GITLAB_ISSUE_LABELS and
// the chosen category's label (SubmitReport checked it is offered).
func (s *Service) issueLabels(r ReportRequest) []string {
	labels := slices.Clone(s.IssueLabels)
	if r.Category != "" && !slices.Contains(labels, r.Category) {
		labels = append(labels, r.Category)
	}
	return labels
}

// firstMessage is the thread's first message: who reported, the report,
// its category, the files that did not reach GitLab, and the buttons.
func (s *Service) firstMessage(r ReportRequest, iid int, issueURL string, files []reportFile) Message {
	m := Message{
		Content: fmt.Sprintf("New report from <@%s>.", r.User.ID),
		Embeds: []Embed{{
			Title:       Truncate(r.Title, 256),
			URL:         issueURL,
			Description: Truncate(r.Description, 4096),
			Footer:      fmt.Sprintf("Issue #%d · answers here go to GitLab with /reply or the Reply button", iid),
			Color:       0xFC6D26,
		}},
		Buttons: []Button{
			{Label: "Reply", CustomID: Route(RouteReply, iid), Style: ButtonPrimary},
			{Label: "Close", CustomID: Route(RouteClose, iid), Style: ButtonDanger},
		},
	}
	if s.StaffRoleID != "" {
		m.Content = fmt.Sprintf("<@&%s> new report from <@%s>.", s.StaffRoleID, r.User.ID)
		m.MentionRoles = []string{s.StaffRoleID}
	}
	if c, ok := s.category(r.Category); ok {
		m.Embeds[0].Footer = fmt.Sprintf("Issue #%d · %s · answers here go to GitLab with /reply or the Reply button", iid, discordmd.PlainText(c.Label))
	}
	if missing := missingFiles(files, s.maxAttachmentBytes()); missing != "" {
		m.Content += "\n" + missing
	}
	return m
}

// errThreadRefused ends a report job whose thread Discord refused for good
// (too many active threads, missing access or permissions). The job is
// recorded as failed, without further attempts; `sdesk jobs retry` or the
// reporter's next /report (SubmitReport) completes it, on the same issue.
var errThreadRefused = errors.New("discord refused the report's thread for good")

// threadRefused tells everyone once that the report's thread cannot be
// made: a note on the issue, the reporter in plain words, the operator in
// the job's WARN line (runJob: the error is permanent).
func (s *Service) threadRefused(ctx context.Context, j *Job, r ReportRequest, iid int, issueURL string, perm *PermanentError) error {
	why := perm.Why
	if why == "" {
		why = "Discord refused it"
	}
	// Every refusal of a later attempt starts over: its steps are new.
	for _, k := range []string{"thread:started", "thread:retried"} {
		delete(j.Steps, k)
	}
	if _, err := s.step(ctx, j, "refused:note", func() (string, error) {
		id, err := s.GitLab.CreateNote(ctx, iid, "sdesk could not open the private Discord thread for this report: "+
			gfm.Defuse(why)+". The reporter was told; their next /report, or `sdesk jobs retry "+j.ID+"`, opens it for this issue.")
		return strconv.Itoa(id), err
	}); err != nil {
		return err
	}
	if _, err := s.tolerant(ctx, j, "refused:response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: fmt.Sprintf(
			"The team has your report as issue #%d, but sdesk could not open a private thread for it: %s. "+
				"Use /report again later to get the thread; your report will not be made twice.", iid, why)})
	}); err != nil {
		return err
	}
	return &PermanentError{Err: fmt.Errorf("%w: %w", errThreadRefused, perm.Err), Fix: perm.Fix, Why: perm.Why}
}

// resumeRefused looks for the user's report whose thread was refused, and
// if there is one, queues it again to complete with this submission: the
// new text becomes a note on the same issue, the new interaction gets the
// answer. It reports whether it did.
func (s *Service) resumeRefused(ctx context.Context, r ReportRequest) (bool, error) {
	failed, err := s.Store.ListJobs(ctx, JobFailed)
	if err != nil {
		return false, fmt.Errorf("look for a refused report: %w", err)
	}
	for _, old := range failed {
		if old.Kind != JobReport {
			continue
		}
		if _, refused := old.Step("refused:note"); !refused {
			continue
		}
		var or ReportRequest
		if json.Unmarshal(old.Payload, &or) != nil || or.User.ID != r.User.ID || or.GuildID != r.GuildID {
			continue
		}
		// This submission is an interaction too: claimed first, so a
		// replay of it resumes nothing and makes no new report.
		if first, err := s.Store.Claim(ctx, "job:"+r.InteractionID, ReplayTTL); err != nil {
			return false, fmt.Errorf("claim resuming report: %w", err)
		} else if !first {
			return true, nil
		}
		or.Token = r.Token
		or.Followup = "**" + strings.Join(strings.Fields(r.Title), " ") + "**\n\n" + r.Description
		if c, ok := s.category(r.Category); ok && r.Category != or.Category {
			// The issue exists with its labels; the new choice is told.
			or.Followup += "\n\nCategory: " + c.Label
		}
		or.FollowupFiles = r.Files
		or.FollowupID = r.InteractionID
		b, err := json.Marshal(or)
		if err != nil {
			return false, fmt.Errorf("encode resumed report: %w", err)
		}
		old.Payload = b
		old.Status, old.Attempts, old.Error, old.ErrorRef = JobPending, 0, "", ""
		for k := range old.Steps {
			if k == "refused:note" || k == "refused:response" || k == "followup" || k == "response" || strings.HasPrefix(k, "followup-file:") {
				delete(old.Steps, k)
			}
		}
		old.UpdatedAt = s.now()
		if err := s.Store.PutJob(ctx, old); err != nil {
			return false, fmt.Errorf("store resumed report: %w", err)
		}
		if err := s.Queue.Enqueue(ctx, old); err != nil {
			return false, fmt.Errorf("enqueue resumed report: %w", err)
		}
		s.log().Info("report resumed by a new /report", slog.String("job_id", old.ID), slog.String("interaction_id", r.InteractionID))
		return true, nil
	}
	return false, nil
}

// reportIssue returns the issue a report job recorded (its "issue" step).
func reportIssue(j Job) (iid int, url string, ok bool) {
	v, ok := j.Step("issue")
	if !ok {
		return 0, "", false
	}
	n, url, _ := strings.Cut(v, " ")
	iid, err := strconv.Atoi(n)
	return iid, url, err == nil && iid > 0
}

// duplicateNote is what sdesk writes on a second issue of one report
// before it closes it. It names the kept issue by URL (a reference such as
// #12 would break gfm rule 3).
func duplicateNote(keptURL string) string {
	return "sdesk created this issue twice for one Discord report while it restarted. " +
		"The report continues in " + keptURL + ". Closed as a duplicate."
}

// closeDuplicates closes every other open issue that carries this report's
// marker: one made by a create that was still in flight when an earlier
// attempt died. Each gets a note naming the kept issue.
func (s *Service) closeDuplicates(ctx context.Context, j *Job, r ReportRequest, kept int, keptURL string, log *slog.Logger) error {
	found, err := s.reportIssues(ctx, r)
	if err != nil {
		return fmt.Errorf("look for duplicate issues: %w", err)
	}
	for _, is := range found {
		if is.IID == kept || is.State == "closed" {
			continue
		}
		if err := s.closeDuplicate(ctx, j, is.IID, keptURL, log); err != nil {
			return err
		}
	}
	return nil
}

// reportIssues returns the issues that sdesk made for a report, oldest
// first: those carrying its marker that are confidential and were created
// by sdesk's own GitLab user. A marker alone proves nothing: anyone can
// copy it into an issue (a staff /clone of a report does).
func (s *Service) reportIssues(ctx context.Context, r ReportRequest) ([]Issue, error) {
	found, err := s.GitLab.FindIssuesByMarker(ctx, markerSearch(r))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	own, err := s.GitLab.CurrentUserID(ctx)
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	var out []Issue
	for _, is := range found {
		if is.Confidential && is.AuthorID == own {
			out = append(out, is)
		}
	}
	return out, nil
}

// closeDuplicate writes duplicateNote on issue dup and closes it, each once
// per job.
func (s *Service) closeDuplicate(ctx context.Context, j *Job, dup int, keptURL string, log *slog.Logger) error {
	prefix := "duplicate:" + strconv.Itoa(dup)
	v, err := s.step(ctx, j, prefix+":note", func() (string, error) {
		// Another job (the report's own look at its end, or an earlier
		// event of the duplicate) may have closed it already.
		is, err := s.GitLab.GetIssue(ctx, dup)
		if err != nil {
			return "", fmt.Errorf("get duplicate issue: %w", err)
		}
		own, err := s.GitLab.CurrentUserID(ctx)
		if err != nil {
			return "", fmt.Errorf("current user: %w", err)
		}
		if !is.Confidential || is.AuthorID != own {
			// Not sdesk's: someone copied the marker (a staff /clone).
			return "not ours", nil
		}
		if is.State == "closed" {
			return "closed before", nil
		}
		id, err := s.GitLab.CreateNote(ctx, dup, duplicateNote(keptURL))
		return strconv.Itoa(id), err
	})
	if err != nil || v == "closed before" || v == "not ours" {
		return err
	}
	if _, err := s.step(ctx, j, prefix+":close", func() (string, error) {
		return "", s.GitLab.SetState(ctx, dup, true)
	}); err != nil {
		return err
	}
	log.Warn("second issue of one report closed as a duplicate", slog.Int("duplicate", dup), slog.String("kept", keptURL))
	return nil
}

// ThreadRequest is an interaction inside a thread: a close or a reply.
//
// A reply is what the user sends: Text (typed with /reply or the reply
// form, or the content of the message "Send to GitLab" sends), the names
// of that message's stickers and the text of its embeds, the messages it
// forwards, and Files. Every part reaches GitLab through pkg/gfm
// (replyBody).
type ThreadRequest struct {
	InteractionID string `json:"interaction_id"`
	Token         string `json:"token"`
	ChannelID     string `json:"channel_id"` // where it was used
	User          User   `json:"user"`
	IID           int    `json:"iid,omitempty"` // from a button's custom ID; 0: look up by channel
	// IssueURL is the issue's web URL, from the thread's mapping
	// (SubmitReply fills it); a note's link is IssueURL + "#note_<ID>".
	IssueURL string `json:"issue_url,omitempty"`
	Text     string `json:"text,omitempty"`
	// Stickers are the names of the stickers of the message "Send to
	// GitLab" sends (its sticker_items), Embeds the readable text of its
	// embeds, one string each.
	Stickers []string `json:"stickers,omitempty"`
	Embeds   []string `json:"embeds,omitempty"`
	// Forwarded are the messages that message forwards: Discord's message
	// forwarding leaves its content empty and puts what it shows in
	// message_snapshots[].message
	// (https://discord.com/developers/docs/resources/message#message-snapshot-object).
	// Their files are in Files.
	Forwarded []Shown `json:"forwarded,omitempty"`
	// Files are the files to copy to GitLab with the reply (at most
	// MaxReplyFiles): /reply's file options, the reply form's File Upload,
	// or the attachments of the message "Send to GitLab" sends and of the
	// messages it forwards.
	Files []Attachment `json:"files,omitempty"`
	// Attachments are Discord CDN links, as reply jobs stored before files
	// were copied carry them; such a job, still pending after an upgrade,
	// puts them into its note as links, as it would have. Nothing fills
	// it any more.
	Attachments []string `json:"attachments,omitempty"`
	// MessageID is the ID of the message "Send to GitLab" sends: a message
	// becomes one note, however often it is sent (SubmitReply).
	MessageID string `json:"message_id,omitempty"`
	// MessageAuthor is the username of the message "Send to GitLab" sends,
	// when someone else wrote it; shown in sdesk's attribution line.
	MessageAuthor string `json:"message_author,omitempty"`
	// Names are the display names of the users, roles and channels Text
	// mentions, from the interaction's resolved data or the message's
	// mentions, for translating Discord markup for GitLab.
	Names Names `json:"names,omitzero"`
	// Issue is the issue the command's `issue` option names: /close,
	// /reopen and /status act on it wherever they are used. 0: the
	// thread's issue.
	Issue int `json:"issue_option,omitempty"`
	// Reason is /close's reason, sent as a note before the issue closes.
	Reason string `json:"reason,omitempty"`
	// Reopen: the reply reopens the issue if it is closed
	// (SDESK_REOPEN_ON_REPLY, a reply by the reporter).
	Reopen bool `json:"reopen,omitempty"`
}

// Shown is what Discord shows of a message besides its files: its text,
// the names of its stickers (at most 3 per message) and the readable text
// of its embeds (at most 10 per message, 6000 characters in all)
// (https://discord.com/developers/docs/resources/message#message-object).
type Shown struct {
	Text     string   `json:"text,omitempty"`
	Stickers []string `json:"stickers,omitempty"`
	Embeds   []string `json:"embeds,omitempty"`
}

// shown is what the request's own message shows.
func (r ThreadRequest) shown() Shown {
	return Shown{Text: r.Text, Stickers: r.Stickers, Embeds: r.Embeds}
}

// empty reports whether nothing of s would be visible.
func (s Shown) empty() bool {
	return strings.TrimSpace(s.Text) == "" && len(s.Stickers) == 0 &&
		!slices.ContainsFunc(s.Embeds, func(e string) bool { return strings.TrimSpace(e) != "" })
}

// empty reports whether the reply has nothing to send: no text, sticker,
// embed, forwarded message or file.
func (r ThreadRequest) empty() bool {
	return r.shown().empty() && len(r.Files) == 0 && len(r.Attachments) == 0 &&
		!slices.ContainsFunc(r.Forwarded, func(s Shown) bool { return !s.empty() })
}

// Names maps Discord IDs to the names to show for them: users (display
// name or username), roles and channels.
type Names struct {
	Users    map[string]string `json:"users,omitempty"`
	Roles    map[string]string `json:"roles,omitempty"`
	Channels map[string]string `json:"channels,omitempty"`
}

// Answer is what to tell Discord at once.
type Answer struct {
	// Deferred: a job will edit the answer; answer with a deferred message.
	Deferred bool
	// Message: answer with this (ephemeral) message now.
	Message string
	// Buttons go with Message.
	Buttons []Button
}

// ErrNotMapped: the interaction was used outside a report thread.
var errNotMapped = &UserError{Message: "This only works inside a report thread."}

func (s *Service) mappingFor(ctx context.Context, r ThreadRequest) (Mapping, error) {
	m, err := s.Store.MappingByThread(ctx, r.ChannelID)
	if errors.Is(err, ErrNotFound) {
		return Mapping{}, errNotMapped
	}
	if err != nil {
		return Mapping{}, fmt.Errorf("look up thread: %w", err)
	}
	if r.IID != 0 && r.IID != m.IssueIID {
		return Mapping{}, errNotMapped
	}
	return m, nil
}

// Refusals of thread actions to someone who may not speak for the issue.
var (
	errNotYoursClose = &UserError{Message: "Only the reporter or staff can close this issue."}
	errNotYoursReply = &UserError{Message: "Only the reporter or staff can answer on this issue. Nothing was sent."}
)

// speaksFor reports whether a user may act for a thread's issue: write to
// it (/reply, the Reply button and modal, "Send to GitLab") or close it.
// Only its reporter and holders of DISCORD_STAFF_ROLE_ID may; anyone else
// who can see the thread (a moderator with Manage Threads, a member added
// by staff) may read it but not speak for the reporter.
func (s *Service) speaksFor(m Mapping, u User) bool {
	return u.ID != "" && (u.ID == m.ReporterID || s.isStaff(u))
}

// threadFor is mappingFor plus the speaksFor rule: refused answers with
// refusal, and nothing is written.
func (s *Service) threadFor(ctx context.Context, r ThreadRequest, refusal error) (Mapping, error) {
	if err := s.checkNotTimedOut(r.User); err != nil {
		return Mapping{}, err
	}
	m, err := s.mappingFor(ctx, r)
	if err != nil {
		return Mapping{}, err
	}
	if !s.speaksFor(m, r.User) {
		return Mapping{}, refusal
	}
	return m, nil
}

// SubmitClose checks that the user may close the issue (of the thread, or
// named by the `issue` option) and enqueues the close, with its reason
// when one is given (at most MaxReason characters). Only the reporter and
// holders of the staff role may close.
func (s *Service) SubmitClose(ctx context.Context, r ThreadRequest) (Answer, error) {
	if err := s.checkNotTimedOut(r.User); err != nil {
		return Answer{}, err
	}
	m, err := s.issueFor(ctx, r, errNotYoursClose)
	if err != nil {
		return Answer{}, err
	}
	if n := len([]rune(r.Reason)); n > MaxReason {
		return Answer{Message: fmt.Sprintf("That reason has %d characters; at most %d fit. Nothing was done.", n, MaxReason)}, nil
	}
	r.IID, r.IssueURL = m.IssueIID, m.IssueURL
	if _, err := s.enqueue(ctx, JobClose, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

// runClose posts the reason as a note (once: found by its marker after a
// lost answer), closes the issue, records its state, and answers.
func (s *Service) runClose(ctx context.Context, j *Job) error {
	var r ThreadRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode close: %w", err)
	}
	reason := strings.TrimSpace(r.Reason) != ""
	if reason {
		if _, err := s.once(ctx, j, "note", func() (string, error) {
			id, err := s.GitLab.FindNoteByMarker(ctx, r.IID, replyMarker(r))
			return strconv.Itoa(id), err
		}, func() (string, error) {
			id, err := s.GitLab.CreateNote(ctx, r.IID, closeNote(r))
			return strconv.Itoa(id), err
		}); err != nil {
			return err
		}
	}
	if _, err := s.step(ctx, j, "close", func() (string, error) {
		return "", s.GitLab.SetState(ctx, r.IID, true)
	}); err != nil {
		return err
	}
	if _, err := s.tolerant(ctx, j, "state", func() (string, error) { return "", s.syncState(ctx, r.IID) }); err != nil {
		return err
	}
	msg := fmt.Sprintf("Issue #%d is closed.", r.IID)
	if reason {
		msg = fmt.Sprintf("Issue #%d is closed; your reason is on it as a note.", r.IID)
	}
	_, err := s.tolerant(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: msg})
	})
	return err
}

// CheckReply tells whether the user may reply here, before a modal opens:
// inside a report thread, as its reporter or staff.
func (s *Service) CheckReply(ctx context.Context, r ThreadRequest) (Mapping, error) {
	return s.threadFor(ctx, r, errNotYoursReply)
}

// MaxReplyFiles is the most files one reply takes, a bound on one job's
// work. /reply has 3 file options and the reply form's File Upload takes
// MaxReportFiles; "Send to GitLab" sends the files of a message and of the
// message it forwards, and Discord's client attaches at most 10 files to
// a message.
const MaxReplyFiles = 20

// MessageTTL is how long sdesk remembers that a message was sent to
// GitLab (the claim "message:<ID>" and the message's record), so that
// "Send to GitLab" makes one note of it.
//
// The claim must outlive everything that can still make the first send's
// note: its attempts, Lambda's asynchronous retries (15 minutes at most)
// and an operator's `sdesk jobs retry` of a failed send, which has no time
// limit. Past that, the TTL is how long a repeated send is recognized:
// the message stays in Discord as long as its thread, so a send after the
// TTL makes a second note. A year covers the life of a support
// conversation; a record is a few hundred bytes.
const MessageTTL = 365 * 24 * time.Hour

// JobSentMessage is the kind of a message's record: a job record with the
// ID "message:<message ID>", status done and an expiry after MessageTTL,
// which is never run. Its payload names the reply job that sends the
// message and, once the note exists, the note.
const JobSentMessage = "sent_message"

// sentMessage is the payload of a message's record.
type sentMessage struct {
	Job      string `json:"job"`                 // the reply job that sends it (an interaction ID)
	IID      int    `json:"iid"`                 // its issue
	IssueURL string `json:"issue_url,omitempty"` // the issue's web URL
	Note     string `json:"note,omitempty"`      // the note's ID, once the note exists
}

// messageKey is the claim, and the record's job ID, of a message sent
// with "Send to GitLab".
func messageKey(messageID string) string { return "message:" + messageID }

// noteURL is the link to note noteID of the issue at issueURL; "" when
// either is unknown.
func noteURL(issueURL, noteID string) string {
	if issueURL == "" || noteID == "" {
		return ""
	}
	return issueURL + "#note_" + noteID
}

// SubmitReply enqueues a Discord answer that becomes a note on the issue.
// Only the issue's reporter and staff may reply (speaksFor); the check is
// made again here, since a modal submit or a command can be sent without
// the button that opened it.
//
// A message sent with "Send to GitLab" (MessageID) becomes one note,
// however often and however concurrently it is sent (sendOnce); a later
// send writes nothing and is told where the note is, or that the first
// send is still at work.
func (s *Service) SubmitReply(ctx context.Context, r ThreadRequest) (Answer, error) {
	m, err := s.threadFor(ctx, r, errNotYoursReply)
	if err != nil {
		return Answer{}, err
	}
	if r.empty() {
		return Answer{Message: "There is nothing to send: the message is empty."}, nil
	}
	if n := len([]rune(r.Text)); n > MaxReply {
		return Answer{Message: fmt.Sprintf("That reply has %d characters; at most %d fit.", n, MaxReply)}, nil
	}
	if n := len(r.Files); n > MaxReplyFiles {
		return Answer{Message: fmt.Sprintf("That has %d files; at most %d can be sent at once. Nothing was sent.", n, MaxReplyFiles)}, nil
	}
	r.IID, r.IssueURL = m.IssueIID, m.IssueURL
	// As Service Desk reopens an issue on an e-mail reply of its author:
	// a reply of the reporter's to an issue closed when it is sent (as the
	// thread shows it: the state the close hook or sdesk's own close
	// recorded); staff answering a closed issue do not reopen it. Decided
	// now, not when the job runs: a reply whose job runs late (a retry)
	// must not reopen an issue staff closed after it was written.
	r.Reopen = s.ReopenOnReply && r.User.ID == m.ReporterID && !s.isStaff(r.User) && m.State == StateClosed
	if r.MessageID != "" {
		return s.sendOnce(ctx, r)
	}
	if _, err := s.enqueue(ctx, JobReply, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

// sendOnce sends a message to GitLab once. The first send claims the
// message and stores its record in one atomic write (Store.ClaimJob on
// messageKey, MessageTTL), then enqueues its reply job: of many
// concurrent sends exactly one wins. A later send writes nothing but what
// alreadySent needs to take over a send that cannot finish.
func (s *Service) sendOnce(ctx context.Context, r ThreadRequest) (Answer, error) {
	now := s.now()
	payload, err := json.Marshal(sentMessage{Job: r.InteractionID, IID: r.IID, IssueURL: r.IssueURL})
	if err != nil {
		return Answer{}, fmt.Errorf("encode the record of message %s: %w", r.MessageID, err)
	}
	rec := Job{ID: messageKey(r.MessageID), Kind: JobSentMessage, Payload: payload, Status: JobDone,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(MessageTTL)}
	first, err := s.Store.ClaimJob(ctx, messageKey(r.MessageID), MessageTTL, rec)
	if err != nil {
		return Answer{}, fmt.Errorf("claim message %s: %w", r.MessageID, err)
	}
	if !first {
		return s.alreadySent(ctx, r)
	}
	if _, err := s.enqueue(ctx, JobReply, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

// Answers to a message sent again.
func sentAnswer(iid int, link string) string {
	if link == "" {
		return fmt.Sprintf("This message is already on GitLab, as a note on issue #%d. Nothing was sent again.", iid)
	}
	return fmt.Sprintf("This message is already on GitLab, as a note on issue #%d: <%s>. Nothing was sent again.", iid, link)
}

func sendingAnswer(iid int) string {
	return fmt.Sprintf("This message is being sent to GitLab right now, by an earlier \"Send to GitLab\"; it becomes one note on issue #%d. Nothing was sent again.", iid)
}

// alreadySent answers a send of a message an earlier send claimed: the
// note's link once the note exists, else that the first send is at work.
// A replay of the first send's own interaction gets its answer again.
// When the first send cannot finish on its own, this send takes it over:
// its job failed for good (resend), or it was never stored, its process
// having died between its two writes (takeOver).
func (s *Service) alreadySent(ctx context.Context, r ThreadRequest) (Answer, error) {
	rec, err := s.Store.GetJob(ctx, messageKey(r.MessageID))
	if errors.Is(err, ErrNotFound) {
		// Its claim still held a moment ago: expiring now.
		return Answer{Message: sendingAnswer(r.IID)}, nil
	}
	if err != nil {
		return Answer{}, fmt.Errorf("read the record of message %s: %w", r.MessageID, err)
	}
	var sm sentMessage
	if err := json.Unmarshal(rec.Payload, &sm); err != nil {
		return Answer{}, fmt.Errorf("decode the record of message %s: %w", r.MessageID, err)
	}
	if sm.Job == r.InteractionID {
		s.log().Info("interaction replayed: its message is claimed", slog.String("job_id", sm.Job), slog.String("message_id", r.MessageID))
		return Answer{Deferred: true}, nil
	}
	if sm.Note != "" {
		return Answer{Message: sentAnswer(sm.IID, noteURL(sm.IssueURL, sm.Note))}, nil
	}
	j, err := s.Store.GetJob(ctx, sm.Job)
	switch {
	case errors.Is(err, ErrNotFound):
		if s.now().Sub(rec.UpdatedAt) < NeverRunAfter {
			return Answer{Message: sendingAnswer(sm.IID)}, nil // its job is being stored
		}
		return s.takeOver(ctx, r, rec, sm)
	case err != nil:
		return Answer{}, fmt.Errorf("read the job sending message %s: %w", r.MessageID, err)
	}
	if id, ok := j.Step("note"); ok {
		return Answer{Message: sentAnswer(sm.IID, noteURL(sm.IssueURL, id))}, nil
	}
	if j.Status == JobFailed || s.stalled(j) {
		return s.resend(ctx, r, j, sm.IID)
	}
	return Answer{Message: sendingAnswer(sm.IID)}, nil
}

// stalled tells whether a pending job is held by no one, so nothing will
// run it unless it is queued again: no queue took it (orphaned), it was
// never run NeverRunAfter after it was stored (its hand-over to the queue
// failed, or Lambda dropped the event), or it has not moved for
// StallAfter.
func (s *Service) stalled(j Job) bool {
	idle := s.now().Sub(j.UpdatedAt)
	return j.Status == JobPending && (j.Orphaned || j.Attempts == 0 && idle >= NeverRunAfter || idle >= s.stallAfter())
}

// resend runs the failed or stalled job of a message's send again for
// this send: the same job, so it looks for a note an earlier attempt may
// have made before it creates one (its marker), and this interaction gets
// the answer. Files the failed send could not copy are tried again, from
// this send's fresh links (Discord's links expire). Each failure is taken
// over once, by the send that claims it, however many come at once.
func (s *Service) resend(ctx context.Context, r ThreadRequest, j Job, iid int) (Answer, error) {
	failure := j.ErrorRef
	if failure == "" {
		failure = j.UpdatedAt.Format(time.RFC3339Nano)
	}
	won, err := s.Store.Claim(ctx, messageKey(r.MessageID)+":resend:"+failure, ReplayTTL)
	if err != nil {
		return Answer{}, fmt.Errorf("claim the failed send of message %s: %w", r.MessageID, err)
	}
	if !won {
		return Answer{Message: sendingAnswer(iid)}, nil
	}
	var p ThreadRequest
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return Answer{}, fmt.Errorf("decode reply job %s: %w", j.ID, err)
	}
	p.Token = r.Token
	fresh := map[string]string{}
	for _, f := range r.Files {
		fresh[f.ID] = f.URL
	}
	for i, f := range p.Files {
		if u, ok := fresh[f.ID]; ok && f.ID != "" {
			p.Files[i].URL = u
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Answer{}, fmt.Errorf("encode reply job %s: %w", j.ID, err)
	}
	j.Payload = b
	j.Status, j.Attempts, j.Error, j.ErrorRef, j.Orphaned = JobPending, 0, "", "", false
	delete(j.Steps, "response")
	for k, v := range j.Steps {
		if strings.HasPrefix(k, "file:") && (v == fileFailed || v == fileLost) {
			delete(j.Steps, k)
		}
	}
	j.UpdatedAt = s.now()
	if err := s.Store.PutJob(ctx, j); err != nil {
		return Answer{}, fmt.Errorf("store resent reply job %s: %w", j.ID, err)
	}
	if err := s.Queue.Enqueue(ctx, j); err != nil {
		return Answer{}, fmt.Errorf("enqueue resent reply job %s: %w", j.ID, err)
	}
	s.log().Info("failed send of a message taken over by a new send", slog.String("job_id", j.ID),
		slog.String("message_id", r.MessageID), slog.String("interaction_id", r.InteractionID), slog.String("failure", failure))
	return Answer{Deferred: true}, nil
}

// takeOver makes this send the message's send when the first one never
// stored its job: the send that claims the lost job points the record at
// its own job and enqueues it.
func (s *Service) takeOver(ctx context.Context, r ThreadRequest, rec Job, sm sentMessage) (Answer, error) {
	won, err := s.Store.Claim(ctx, messageKey(r.MessageID)+":lost:"+sm.Job, ReplayTTL)
	if err != nil {
		return Answer{}, fmt.Errorf("claim the lost send of message %s: %w", r.MessageID, err)
	}
	if !won {
		return Answer{Message: sendingAnswer(sm.IID)}, nil
	}
	lost := sm.Job
	sm.Job = r.InteractionID
	b, err := json.Marshal(sm)
	if err != nil {
		return Answer{}, fmt.Errorf("encode the record of message %s: %w", r.MessageID, err)
	}
	rec.Payload, rec.UpdatedAt = b, s.now()
	if err := s.Store.PutJob(ctx, rec); err != nil {
		return Answer{}, fmt.Errorf("store the record of message %s: %w", r.MessageID, err)
	}
	if _, err := s.enqueue(ctx, JobReply, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	s.log().Warn("a send of a message never stored its job; a new send took it over", slog.String("lost_job", lost),
		slog.String("message_id", r.MessageID), slog.String("interaction_id", r.InteractionID))
	return Answer{Deferred: true}, nil
}

// recordNote writes the note's ID into the record of the message a reply
// job sent; nothing when the record is gone (expired).
func (s *Service) recordNote(ctx context.Context, messageID, noteID string) error {
	rec, err := s.Store.GetJob(ctx, messageKey(messageID))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the record of message %s: %w", messageID, err)
	}
	var sm sentMessage
	if err := json.Unmarshal(rec.Payload, &sm); err != nil {
		return fmt.Errorf("decode the record of message %s: %w", messageID, err)
	}
	if sm.Note != "" {
		return nil
	}
	sm.Note = noteID
	if rec.Payload, err = json.Marshal(sm); err != nil {
		return fmt.Errorf("encode the record of message %s: %w", messageID, err)
	}
	rec.UpdatedAt = s.now()
	if err := s.Store.PutJob(ctx, rec); err != nil {
		return fmt.Errorf("store the record of message %s: %w", messageID, err)
	}
	return nil
}

// gitlabName is a Discord user's name for sdesk's attribution line in
// GitLab: gfm.Inline of the username, or the user ID when nothing of the
// name is left.
func gitlabName(u User) string {
	if n := gfm.Inline(u.Username); n != "" {
		return n
	}
	return "user " + u.ID
}

// replyBody is the note a Discord answer becomes, laid out as
// issueDescription: what the message shows (shownParts), each forwarded
// message after a "Forwarded message" line, a rule, the attribution line
// and the marker. Everything a user wrote is a block quote (gfm.Quote) or
// a name in sdesk's own line (gfm.Inline), so none of it can hide or
// forge what follows.
func replyBody(r ThreadRequest) string { return replyBodyWith(r, "") }

// replyBodyWith is replyBody with a files part (filesMarkdown) after the
// message; "" for none. The links of a job stored before files were
// copied (Attachments) follow it, defused, as they always were.
func replyBodyWith(r ThreadRequest, files string) string {
	names := discordmarkup.Names{Users: r.Names.Users, Roles: r.Names.Roles, Channels: r.Names.Channels}
	parts := shownParts(r.shown(), names)
	for _, f := range r.Forwarded {
		parts = append(parts, "**Forwarded message**")
		parts = append(parts, shownParts(f, names)...)
	}
	if files != "" {
		parts = append(parts, strings.TrimRight(files, "\n"))
	}
	for _, a := range r.Attachments {
		parts = append(parts, "Attachment: "+gfm.Defuse(strings.Join(strings.Fields(a), "%20")))
	}
	by := "— **" + gitlabName(r.User) + "** on Discord"
	if r.MessageAuthor != "" {
		by += ", sending a message by **" + gitlabName(User{Username: r.MessageAuthor}) + "**"
	}
	parts = append(parts, "---", by, replyMarker(r))
	return strings.Join(parts, "\n\n")
}

// shownParts are the paragraphs of what a message shows: its text as a
// block quote, one line naming its stickers (names gfm.Inline; "unnamed"
// for a name with nothing left), and each embed's text as a block quote
// after an "Embed" line.
//
// Discord markup in the text and the embeds (mentions, custom emoji,
// timestamps) is translated into readable text first
// (discordmarkup.Translate with the request's names), then quoted.
func shownParts(s Shown, names discordmarkup.Names) []string {
	var parts []string
	if q := gfm.Quote(discordmarkup.Translate(s.Text, names)); q != "" {
		parts = append(parts, q)
	}
	if len(s.Stickers) > 0 {
		names := make([]string, len(s.Stickers))
		for i, n := range s.Stickers {
			if names[i] = gfm.Inline(n); names[i] == "" {
				names[i] = "unnamed"
			}
		}
		label := "Sticker: "
		if len(names) > 1 {
			label = "Stickers: "
		}
		parts = append(parts, label+strings.Join(names, ", "))
	}
	for _, e := range s.Embeds {
		if q := gfm.Quote(discordmarkup.Translate(e, names)); q != "" {
			parts = append(parts, "**Embed**", q)
		}
	}
	return parts
}

// replySummary is what a reply sent, for the user's answer in Discord:
// the text, the stickers, the embeds' text and each forwarded message, as
// Discord showed them (sticker names escaped: discordmd.Text).
func replySummary(r ThreadRequest) string {
	parts := summaryParts(r.shown())
	for _, f := range r.Forwarded {
		parts = append(parts, "*Forwarded message*")
		parts = append(parts, summaryParts(f)...)
	}
	return strings.Join(parts, "\n\n")
}

func summaryParts(s Shown) []string {
	var parts []string
	if t := strings.TrimSpace(s.Text); t != "" {
		parts = append(parts, t)
	}
	for _, n := range s.Stickers {
		parts = append(parts, "Sticker: "+discordmd.Text(n))
	}
	for _, e := range s.Embeds {
		if t := strings.TrimSpace(e); t != "" {
			parts = append(parts, t)
		}
	}
	return parts
}

// replyMarker identifies the note a reply became, so a retried reply job
// finds it instead of posting it again.
func replyMarker(r ThreadRequest) string {
	return "<!-- sdesk:v1 reply interaction=" + r.InteractionID + " -->"
}

// runReply copies the reply's files to GitLab (copyFiles: each once, over
// SDESK_MAX_ATTACHMENT_MB or lost named as not uploaded), creates the
// note once (found by its marker after a lost answer), records it
// in the record of the message "Send to GitLab" sent, and edits the
// deferred answer: what was sent, a link to the note, and the files that
// did not reach GitLab, named.
func (s *Service) runReply(ctx context.Context, j *Job) error {
	var r ThreadRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	log := s.log().With(slog.String("job_id", j.ID), slog.String("job_kind", j.Kind), slog.Int("issue", r.IID))
	files, _, err := s.copyFiles(ctx, j, "file:", r.Files, log)
	if err != nil {
		return err
	}
	max := s.maxAttachmentBytes()
	noteID, err := s.once(ctx, j, "note", func() (string, error) {
		id, err := s.GitLab.FindNoteByMarker(ctx, r.IID, replyMarker(r))
		return strconv.Itoa(id), err
	}, func() (string, error) {
		id, err := s.GitLab.CreateNote(ctx, r.IID, replyBodyWith(r, filesMarkdown(files, max)))
		return strconv.Itoa(id), err
	})
	if err != nil {
		return err
	}
	link := noteURL(r.IssueURL, noteID)
	reopened, err := s.reopenOnReply(ctx, j, r)
	if err != nil {
		return err
	}
	if r.MessageID != "" {
		if _, err := s.step(ctx, j, "message", func() (string, error) {
			return "", s.recordNote(ctx, r.MessageID, noteID)
		}); err != nil {
			return err
		}
	}
	_, err = s.tolerant(ctx, j, "response", func() (string, error) {
		e := Embed{
			AuthorName:  r.User.Username,
			Description: Truncate(replySummary(r), 4096),
			Footer:      fmt.Sprintf("Sent to GitLab issue #%d (note %s)", r.IID, noteID),
		}
		if link != "" {
			e.Title, e.URL = fmt.Sprintf("Note on issue #%d", r.IID), link
		}
		content := missingFiles(files, max)
		if reopened {
			content = strings.TrimSpace(fmt.Sprintf("Issue #%d was closed; this reply reopened it.\n%s", r.IID, content))
		}
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: content, Embeds: []Embed{e}})
	})
	return err
}

// reopenOnReply reopens the issue of a reply that may (r.Reopen: sent to
// an issue known closed) when GitLab says it is still closed and lets it
// (reopenIssue: not moved, not refused), then its thread; true when it
// did.
func (s *Service) reopenOnReply(ctx context.Context, j *Job, r ThreadRequest) (bool, error) {
	if !r.Reopen {
		return false, nil
	}
	v, err := s.step(ctx, j, "reopen", func() (string, error) { return s.reopenIssue(ctx, r.IID) })
	if err != nil || v != reopenDone {
		return false, err
	}
	m, err := s.Store.MappingByIssue(ctx, r.IID)
	if err != nil {
		return false, fmt.Errorf("look up issue %d: %w", r.IID, err)
	}
	if _, err := s.openThread(ctx, j, m); err != nil {
		return false, err
	}
	if _, err := s.tolerant(ctx, j, "state", func() (string, error) { return "", s.syncState(ctx, r.IID) }); err != nil {
		return false, err
	}
	return true, nil
}
