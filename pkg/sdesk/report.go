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
)

// Custom ID routes of sdesk's components and modals, formatted like paths.
const (
	RouteReportModal = "report"        // the /report modal
	RouteReply       = "reply/{iid}"   // Reply button -> reply modal
	RouteReplyModal  = "replyto/{iid}" // reply modal submit
	RouteClose       = "close/{iid}"   // Close button
)

// Route fills a route's {iid}.
func Route(route string, iid int) string {
	return strings.Replace(route, "{iid}", strconv.Itoa(iid), 1)
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
}

// ReportRequest is a submitted /report modal.
type ReportRequest struct {
	InteractionID string `json:"interaction_id"`
	Token         string `json:"token"`
	GuildID       string `json:"guild_id"`
	User          User   `json:"user"`
	Title         string `json:"title"`
	Description   string `json:"description"`
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
	if err := r.Validate(); err != nil {
		return err
	}
	r.Title = strings.TrimSpace(r.Title)
	r.Description = strings.TrimSpace(r.Description)
	_, err := s.enqueue(ctx, JobReport, r.InteractionID, r)
	return err
}

// Marker is the machine-readable comment sdesk puts in an issue
// description, so the issue <-> thread mapping can be rebuilt from GitLab.
func Marker(r ReportRequest, threadID string) string {
	return fmt.Sprintf("<!-- sdesk:v1 interaction=%s guild=%s thread=%s user=%s -->",
		r.InteractionID, r.GuildID, threadID, r.User.ID)
}

// markerSearch is the part of Marker that FindIssueByMarker looks for.
func markerSearch(r ReportRequest) string { return "interaction=" + r.InteractionID }

func issueDescription(r ReportRequest, threadID string) string {
	var b strings.Builder
	b.WriteString(r.Description)
	b.WriteString("\n\n---\n\nReported from Discord by **")
	b.WriteString(r.User.Username)
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
	issueStep, err := s.once(ctx, j, "issue", func() (string, error) {
		is, err := s.GitLab.FindIssueByMarker(ctx, markerSearch(r))
		return strconv.Itoa(is.IID) + " " + is.WebURL, err
	}, func() (string, error) {
		is, err := s.GitLab.CreateIssue(ctx, NewIssue{
			Title:        r.Title,
			Description:  issueDescription(r, ""),
			Labels:       s.IssueLabels,
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
	if err != nil {
		return err
	}
	if _, err := s.step(ctx, j, "mapping", func() (string, error) {
		return "", s.Store.PutMapping(ctx, Mapping{
			IssueIID: iid, IssueURL: issueURL, ThreadID: threadID, GuildID: r.GuildID,
			ChannelID: s.SupportChannelID, ReporterID: r.User.ID, Title: r.Title, CreatedAt: s.now(),
		})
	}); err != nil {
		return err
	}
	if _, err := s.step(ctx, j, "member", func() (string, error) {
		return "", s.Discord.AddThreadMember(ctx, threadID, r.User.ID)
	}); err != nil {
		return err
	}
	if _, err := s.step(ctx, j, "description", func() (string, error) {
		return "", s.GitLab.SetDescription(ctx, iid, issueDescription(r, threadID))
	}); err != nil {
		return err
	}
	if _, err := s.step(ctx, j, "message", func() (string, error) {
		msg := s.firstMessage(r, iid, issueURL)
		msg.Nonce = nonce(j, "message")
		return s.Discord.SendMessage(ctx, threadID, msg)
	}); err != nil {
		return err
	}
	if _, err := s.step(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{
			Content: fmt.Sprintf("Issue #%d created — continue in <#%s>", iid, threadID),
		})
	}); err != nil {
		return err
	}
	log.Info("report created", slog.String("thread_id", threadID), slog.String("user_id", r.User.ID))
	return nil
}

func (s *Service) firstMessage(r ReportRequest, iid int, issueURL string) Message {
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
	return m
}

// ThreadRequest is an interaction inside a thread: a close or a reply.
type ThreadRequest struct {
	InteractionID string   `json:"interaction_id"`
	Token         string   `json:"token"`
	ChannelID     string   `json:"channel_id"` // where it was used
	User          User     `json:"user"`
	IID           int      `json:"iid,omitempty"` // from a button's custom ID; 0: look up by channel
	Text          string   `json:"text,omitempty"`
	Attachments   []string `json:"attachments,omitempty"` // URLs
}

// Answer is what to tell Discord at once.
type Answer struct {
	// Deferred: a job will edit the answer; answer with a deferred message.
	Deferred bool
	// Message: answer with this (ephemeral) message now.
	Message string
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

// SubmitClose checks that the user may close the thread's issue and enqueues
// the close. Only the reporter and holders of the staff role may close.
func (s *Service) SubmitClose(ctx context.Context, r ThreadRequest) (Answer, error) {
	m, err := s.mappingFor(ctx, r)
	if err != nil {
		return Answer{}, err
	}
	staff := s.StaffRoleID != "" && slices.Contains(r.User.RoleIDs, s.StaffRoleID)
	if r.User.ID != m.ReporterID && !staff {
		return Answer{Message: "Only the reporter or staff can close this issue."}, nil
	}
	r.IID = m.IssueIID
	if _, err := s.enqueue(ctx, JobClose, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

func (s *Service) runClose(ctx context.Context, j *Job) error {
	var r ThreadRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode close: %w", err)
	}
	if _, err := s.step(ctx, j, "close", func() (string, error) {
		return "", s.GitLab.SetState(ctx, r.IID, true)
	}); err != nil {
		return err
	}
	_, err := s.step(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{Content: fmt.Sprintf("Issue #%d is closed.", r.IID)})
	})
	return err
}

// CheckReply tells whether a reply can be made here, before a modal opens.
func (s *Service) CheckReply(ctx context.Context, r ThreadRequest) (Mapping, error) {
	return s.mappingFor(ctx, r)
}

// SubmitReply enqueues a Discord answer that becomes a note on the issue.
func (s *Service) SubmitReply(ctx context.Context, r ThreadRequest) (Answer, error) {
	m, err := s.mappingFor(ctx, r)
	if err != nil {
		return Answer{}, err
	}
	if strings.TrimSpace(r.Text) == "" && len(r.Attachments) == 0 {
		return Answer{Message: "There is nothing to send: the message is empty."}, nil
	}
	if n := len([]rune(r.Text)); n > MaxReply {
		return Answer{Message: fmt.Sprintf("That reply has %d characters; at most %d fit.", n, MaxReply)}, nil
	}
	r.IID = m.IssueIID
	if _, err := s.enqueue(ctx, JobReply, r.InteractionID, r); err != nil {
		return Answer{}, err
	}
	return Answer{Deferred: true}, nil
}

func replyBody(r ThreadRequest) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(r.Text))
	for _, a := range r.Attachments {
		fmt.Fprintf(&b, "\n\nAttachment: %s", a)
	}
	fmt.Fprintf(&b, "\n\n— **%s** on Discord\n\n%s", r.User.Username, replyMarker(r))
	return strings.TrimSpace(b.String())
}

// replyMarker identifies the note a reply became, so a retried reply job
// finds it instead of posting it again.
func replyMarker(r ThreadRequest) string {
	return "<!-- sdesk:v1 reply interaction=" + r.InteractionID + " -->"
}

func (s *Service) runReply(ctx context.Context, j *Job) error {
	var r ThreadRequest
	if err := json.Unmarshal(j.Payload, &r); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	noteID, err := s.once(ctx, j, "note", func() (string, error) {
		id, err := s.GitLab.FindNoteByMarker(ctx, r.IID, replyMarker(r))
		return strconv.Itoa(id), err
	}, func() (string, error) {
		id, err := s.GitLab.CreateNote(ctx, r.IID, replyBody(r))
		return strconv.Itoa(id), err
	})
	if err != nil {
		return err
	}
	_, err = s.step(ctx, j, "response", func() (string, error) {
		return "", s.Discord.EditResponse(ctx, r.Token, Message{
			Embeds: []Embed{{
				AuthorName:  r.User.Username,
				Description: Truncate(r.Text, 4096),
				Footer:      fmt.Sprintf("Sent to GitLab issue #%d (note %s)", r.IID, noteID),
			}},
		})
	})
	return err
}
