package sdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmd"
	"github.com/sdesk/sdesk/pkg/emailquote"
)

// ErrThreadArchived is returned by Discord when a thread is archived and
// the call cannot unarchive it (a locked thread, or an edit).
var ErrThreadArchived = errors.New("thread is archived")

// Discord limits that shape what sdesk posts from GitLab.
const (
	maxEmbedText   = 4096
	maxFiles       = 10
	maxUploadBytes = 10 << 20 // Discord's attachment limit without boosts
)

// HandleEvent delivers a GitLab webhook event into the issue's thread,
// exactly once: the delivery is claimed with a conditional write, stored as
// a job, and run within the event budget. What does not finish in the
// budget continues as a deferred job. It returns an error only when the
// event could not be accepted (nothing stored): the caller answers 5xx.
func (s *Service) HandleEvent(ctx context.Context, ev Event) error {
	log := s.log().With(slog.String("event_key", ev.Key), slog.String("event", ev.Kind), slog.Int("issue", ev.IssueIID()))
	if ev.Key == "" || ev.IssueIID() == 0 {
		return fmt.Errorf("event without key or issue")
	}
	if _, err := s.Store.MappingByIssue(ctx, ev.IssueIID()); errors.Is(err, ErrNotFound) {
		if ev.Report == "" {
			log.Debug("event for an issue sdesk did not make")
			return nil
		}
		// A report's issue whose thread is not there yet: the event is
		// stored and waits for it (runEvent parks it).
	} else if err != nil {
		return fmt.Errorf("look up issue: %w", err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	now := s.now()
	j := Job{ID: "gitlab:" + ev.Key, Kind: JobGitLabEvent, Payload: b, Status: JobPending, CreatedAt: now, UpdatedAt: now}
	// The claim and the job are one write: an event is either new and
	// stored, or a duplicate; a crash cannot leave a claim without its job.
	claim := "event:" + ev.Key
	first, err := s.Store.ClaimJob(ctx, claim, DefaultClaimTTL, j)
	if err != nil {
		return fmt.Errorf("claim event: %w", err)
	}
	if !first {
		return s.resumeStalled(ctx, j.ID, log)
	}
	if s.behindEarlier(ctx, j, log) {
		// Run now, it could overtake them: it goes to the queue behind
		// them, where the events of an issue run one at a time, in order.
		log.Info("event queued behind an earlier event of its issue")
	} else {
		bctx, cancel := context.WithTimeout(ctx, s.eventBudget())
		runErr := s.runJob(bctx, j, true)
		cancel()
		if runErr == nil {
			return nil
		}
		log.Warn("event deferred", slog.String("error", runErr.Error()))
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.Queue.Enqueue(qctx, j); err != nil {
		// GitLab gets a 503 and shows the delivery as failed. The claim
		// and the job stay, with the steps done so far; marked orphaned,
		// the job is queued again by the resend.
		s.orphan(j.ID, log)
		return fmt.Errorf("defer event: %w", err)
	}
	return nil
}

// behindEarlier reports whether an earlier event of j's issue is still
// pending (deferred, queued, retried after a backoff, or parked). When the
// look-up fails, it says no: the event then runs at once, as before.
func (s *Service) behindEarlier(ctx context.Context, j Job, log *slog.Logger) bool {
	pending, err := s.Store.ListJobs(ctx, JobPending)
	if err != nil {
		log.Warn("earlier events of the issue not checked", slog.String("error", err.Error()))
		return false
	}
	iid := jobIssue(j)
	for _, pj := range pending {
		if pj.Kind == JobGitLabEvent && pj.ID != j.ID && jobIssue(pj) == iid &&
			(pj.CreatedAt.Before(j.CreatedAt) || pj.CreatedAt.Equal(j.CreatedAt) && pj.ID < j.ID) {
			return true
		}
	}
	return false
}

// orphan marks a stored job as held by no queue.
func (s *Service) orphan(id string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	j, err := s.Store.GetJob(ctx, id)
	if err == nil {
		j.Orphaned = true
		err = s.Store.PutJob(ctx, j)
	}
	if err != nil {
		log.Error("job not marked orphaned; a resend queues it after StallAfter", slog.String("job_id", id), slog.String("error", err.Error()))
	}
}

// resumeStalled answers a resent event. Usually it is a duplicate and is
// ignored. But its job, still pending, may be held by no one:
//   - orphaned: handing it to the queue failed (GitLab got a 503);
//   - never run, NeverRunAfter after it was stored: the process that stored
//     it died, or the store failed after writing (GitLab got a 503 or no
//     answer);
//   - untouched for StallAfter: Lambda dropped its asynchronous event.
//
// Then the resend queues the job again; runs are idempotent and leased, so
// this cannot post twice.
func (s *Service) resumeStalled(ctx context.Context, id string, log *slog.Logger) error {
	j, err := s.Store.GetJob(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		log.Warn("duplicate delivery ignored; its job could not be read", slog.String("error", err.Error()))
		return nil
	}
	age := s.now().Sub(j.UpdatedAt)
	stalled := err == nil && j.Status == JobPending &&
		(j.Orphaned || (j.Attempts == 0 && age >= NeverRunAfter) || age >= s.stallAfter())
	if !stalled {
		log.Info("duplicate delivery ignored")
		return nil
	}
	j.Orphaned = false
	j.UpdatedAt = s.now() // further resends wait again
	if err := s.Store.PutJob(ctx, j); err != nil {
		return fmt.Errorf("resume stalled event job: %w", err)
	}
	if err := s.Queue.Enqueue(ctx, j); err != nil {
		s.orphan(j.ID, log)
		return fmt.Errorf("resume stalled event job: %w", err)
	}
	log.Warn("resent event resumed its stalled job", slog.String("job_id", id), slog.Int("attempt", j.Attempts))
	return nil
}

func (s *Service) runEvent(ctx context.Context, j *Job, log *slog.Logger) error {
	var ev Event
	if err := json.Unmarshal(j.Payload, &ev); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	m, err := s.Store.MappingByIssue(ctx, ev.IssueIID())
	if errors.Is(err, ErrNotFound) {
		return s.parkOrDrop(ctx, j, ev, log)
	}
	if err != nil {
		return fmt.Errorf("look up issue: %w", err)
	}
	switch {
	case ev.Note != nil:
		return s.deliverNote(ctx, j, m, *ev.Note, log)
	case ev.Issue != nil:
		return s.deliverIssue(ctx, j, m, *ev.Issue, log)
	}
	return nil
}

// errParked: an event of a report whose thread does not exist yet. Its
// job stays pending, unqueued and without a counted attempt, until the
// report's job writes the mapping and queues it (wakeParked).
var errParked = errors.New("event waits for its report's thread")

// parkOrDrop decides about an event whose issue has no thread: it waits
// while the report that made the issue is being set up, or was refused
// for now (a retry of the report, or the reporter's next /report,
// completes it); otherwise it cannot be delivered, which is said at WARN.
func (s *Service) parkOrDrop(ctx context.Context, j *Job, ev Event, log *slog.Logger) error {
	if ev.Report == "" {
		log.Warn("event not delivered: its issue has no Discord thread and was not made by sdesk")
		return nil
	}
	rj, err := s.Store.GetJob(ctx, ev.Report)
	switch {
	case errors.Is(err, ErrNotFound):
		log.Warn("event not delivered: its issue has no Discord thread, and the report that made it is gone",
			slog.String("report_job", ev.Report))
		return nil
	case err != nil:
		return fmt.Errorf("look up report job: %w", err)
	}
	if kept, keptURL, ok := reportIssue(rj); ok && kept != ev.IssueIID() {
		// A second issue of one report, made by a create in flight when
		// the report's job died: the report lives on in the kept one.
		return s.closeDuplicate(ctx, j, ev.IssueIID(), keptURL, log)
	}
	switch {
	case rj.Status == JobDone:
		log.Warn("event not delivered: its issue has no Discord thread, though its report is done",
			slog.String("report_job", ev.Report))
		return nil
	case rj.Status == JobFailed:
		log.Warn("event waits: the report that made its issue failed; `sdesk jobs retry "+ev.Report+"` completes it and delivers this event",
			slog.String("report_job", ev.Report))
	}
	return errParked
}

// wakeParked delivers, oldest first, the parked events of a report whose
// mapping was just written: those of its issue, and those of any second
// issue of the same report (they close it as a duplicate). They run here,
// one after the other, so that their messages keep their order in Lambda
// too, where queued jobs run as separate invocations; from the first one
// that does not finish, the rest go to the queue, in order.
func (s *Service) wakeParked(ctx context.Context, iid int, report string, log *slog.Logger) error {
	pending, err := s.Store.ListJobs(ctx, JobPending)
	if err != nil {
		return fmt.Errorf("list parked events: %w", err)
	}
	queue := false
	for _, pj := range pending {
		if pj.Kind != JobGitLabEvent || (jobIssue(pj) != iid && jobReport(pj) != report) {
			continue
		}
		if !queue {
			if err := s.RunJob(ctx, pj); err == nil {
				continue
			}
			queue = true
		}
		if err := s.Queue.Enqueue(ctx, pj); err != nil {
			return fmt.Errorf("queue parked event %s: %w", pj.ID, err)
		}
		log.Info("parked event queued", slog.String("job_id", pj.ID))
	}
	return nil
}

func (s *Service) isSupportBot(a Author) bool {
	if s.SupportBotID != 0 {
		return a.ID == s.SupportBotID
	}
	return a.Username == "support-bot"
}

// projectURL derives the project's web URL from an issue URL.
func projectURL(issueURL string) string {
	if i := strings.Index(issueURL, "/-/issues/"); i >= 0 {
		return issueURL[:i]
	}
	if i := strings.Index(issueURL, "/issues/"); i >= 0 {
		return issueURL[:i]
	}
	return strings.TrimRight(issueURL, "/")
}

func (s *Service) deliverNote(ctx context.Context, j *Job, m Mapping, n NoteEvent, log *slog.Logger) error {
	internal := "false"
	if n.Internal != nil {
		internal = strconv.FormatBool(*n.Internal)
	} else {
		// Older GitLab does not say; ask, and when in doubt do not post.
		var err error
		internal, err = s.step(ctx, j, "internal", func() (string, error) {
			note, err := s.GitLab.GetNote(ctx, n.IssueIID, n.NoteID)
			if err != nil {
				return "", fmt.Errorf("get note: %w", err)
			}
			return strconv.FormatBool(note.Internal || note.System), nil
		})
		if err != nil {
			return err
		}
	}
	if internal != "false" {
		log.Debug("internal note not posted", slog.Int("note_id", n.NoteID))
		return nil
	}
	own, err := s.GitLab.CurrentUserID(ctx)
	if err != nil {
		return fmt.Errorf("current user: %w", err)
	}
	if n.Author.ID == own {
		log.Debug("own note not echoed", slog.Int("note_id", n.NoteID))
		return nil
	}

	// Author, not actor: an edit by someone else names the author by ID
	// only, so the note says who wrote it.
	author, err := s.noteAuthor(ctx, j, n)
	if err != nil {
		return err
	}

	body := n.Body
	if s.isSupportBot(author) {
		body = emailquote.Strip(body)
	}
	// Upload links in the form the configured GitLab serves (since 17.2
	// /-/project/<id>/uploads/...); asked only when the note may link one.
	links := discordmd.Links{Project: projectURL(m.IssueURL)}
	if strings.Contains(body, "uploads/") {
		if u, err := s.GitLab.UploadsURL(ctx); err != nil {
			log.Info("upload links under the project URL: uploads URL unknown", slog.String("error", err.Error()))
		} else {
			links.Uploads = u
		}
	}
	chunks := discordmd.Split(discordmd.RenderWith(body, links), maxEmbedText)
	if len(chunks) == 0 {
		chunks = []string{"(empty comment)"}
	}
	// Bounded fan-out: past the cap, the last message says where the rest
	// is, and carries the whole comment as a Markdown file.
	var rest *File
	if limit := s.maxMessages(); len(chunks) > limit {
		rest = &File{Name: fmt.Sprintf("comment-%d.md", n.NoteID), ContentType: "text/markdown; charset=utf-8", Data: []byte(n.Body)}
		more := fmt.Sprintf("*…%d more parts of this comment are in the attached file %s", len(chunks)-limit+1, rest.Name)
		if link := discordmd.Link(n.URL); n.URL != "" {
			more += ", or read it in GitLab: " + link
		}
		chunks = append(chunks[:limit-1], more+"*")
	}
	msgs := make([]Message, len(chunks))
	for i, c := range chunks {
		e := Embed{Description: c, Color: 0x6E49CB}
		if i == 0 {
			// Discord shows an author name as plain text: no markdown to
			// escape, but no line break or bidirectional override either.
			e.AuthorName = discordmd.PlainText(author.Name)
			if author.Username != "" && !s.isSupportBot(author) {
				e.AuthorName += " (@" + discordmd.PlainText(author.Username) + ")"
			}
			if strings.TrimSpace(e.AuthorName) == "" {
				e.AuthorName = fmt.Sprintf("GitLab user %d", author.ID)
			}
			e.AuthorName = Truncate(e.AuthorName, 256)
			e.AuthorIcon = s.gitlabAbs(author.AvatarURL)
			e.AuthorURL = s.gitlabAbs(n.URL)
		}
		if len(chunks) > 1 {
			e.Footer = fmt.Sprintf("%d/%d", i+1, len(chunks))
		}
		msgs[i] = Message{Embeds: []Embed{e}}
	}
	msgs[0].Files = s.noteFiles(ctx, body, log)
	if rest != nil {
		last := &msgs[len(msgs)-1]
		if len(last.Files) < maxFiles {
			last.Files = append(last.Files, *rest)
		}
	}

	var old []string
	if n.Action == "update" {
		old, err = s.Store.NoteMessages(ctx, n.IssueIID, n.NoteID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("note messages: %w", err)
		}
	}
	ids := make([]string, 0, len(msgs))
	for i, msg := range msgs {
		id, err := s.tolerant(ctx, j, "msg:"+strconv.Itoa(i), func() (string, error) {
			if i < len(old) {
				if rest == nil || i != len(msgs)-1 {
					msg.Files = nil // attachments stay as they were
				}
				return s.inThread(ctx, m.ThreadID, func() (string, error) {
					return old[i], s.Discord.EditMessage(ctx, m.ThreadID, old[i], msg)
				})
			}
			// The nonce is the note's, not the job's: two jobs of one note
			// (a create parked until the thread existed, and an edit that
			// came first) make one message.
			msg.Nonce = noteNonce(n.NoteID, i)
			id, err := s.post(ctx, m.ThreadID, msg)
			if err != nil || n.Action != "update" {
				return id, err
			}
			// An edit that found no messages may have been given the
			// create's message back: it shows the latest text all the same.
			msg.Files = nil
			return s.inThread(ctx, m.ThreadID, func() (string, error) {
				return id, s.Discord.EditMessage(ctx, m.ThreadID, id, msg)
			})
		})
		if err != nil {
			return err
		}
		if id != skipped {
			ids = append(ids, id)
		}
	}
	for i := len(msgs); i < len(old); i++ {
		if _, err := s.tolerant(ctx, j, "msg:"+strconv.Itoa(i), func() (string, error) {
			return s.inThread(ctx, m.ThreadID, func() (string, error) {
				return old[i], s.Discord.EditMessage(ctx, m.ThreadID, old[i], Message{Content: "*(the rest of this comment was removed in GitLab)*"})
			})
		}); err != nil {
			return err
		}
		ids = append(ids, old[i])
	}
	if err := s.Store.PutNoteMessages(ctx, n.IssueIID, n.NoteID, ids); err != nil {
		return fmt.Errorf("remember note messages: %w", err)
	}
	log.Info("note delivered", slog.Int("note_id", n.NoteID), slog.Int("messages", len(ids)))
	return nil
}

// noteAuthor is the note's author as Discord shows it. The webhook names
// the author in full only when the author acted; for an edit by someone
// else it has the ID alone, and the note is read back from GitLab for the
// rest. If that fails for good, the ID is all there is.
func (s *Service) noteAuthor(ctx context.Context, j *Job, n NoteEvent) (Author, error) {
	if n.Author.Name != "" || n.Author.ID == 0 {
		return n.Author, nil
	}
	v, err := s.tolerant(ctx, j, "author", func() (string, error) {
		note, err := s.GitLab.GetNote(ctx, n.IssueIID, n.NoteID)
		if err != nil {
			return "", fmt.Errorf("get note author: %w", err)
		}
		b, err := json.Marshal(note.Author)
		return string(b), err
	})
	if err != nil {
		return Author{}, err
	}
	a := Author{ID: n.Author.ID}
	if v != skipped {
		_ = json.Unmarshal([]byte(v), &a)
	}
	return a, nil
}

// gitlabAbs makes a link from GitLab absolute: self-managed GitLab sends
// paths such as /uploads/-/system/user/avatar/12/avatar.png for avatars
// it stores itself. They are resolved against GITLAB_URL (keeping a
// relative_url_root such as https://host/gitlab, which GitLab may or may
// not have put in front of the path already). What is not http(s) after
// that is returned as is; the Discord adapter leaves such decorations out.
func (s *Service) gitlabAbs(link string) string {
	if !strings.HasPrefix(link, "/") || s.GitLabURL == "" {
		return link
	}
	base, err := url.Parse(strings.TrimRight(s.GitLabURL, "/"))
	if err != nil || base.Host == "" {
		return link
	}
	if strings.HasPrefix(link, "//") {
		return base.Scheme + ":" + link
	}
	if base.Path != "" && (link == base.Path || strings.HasPrefix(link, base.Path+"/")) {
		base.Path = ""
	}
	return base.String() + link
}

// noteFiles downloads the uploads a note references, so they can be
// attached (a confidential project's uploads need a login). A file that
// cannot be fetched or is too large stays a link in the text.
func (s *Service) noteFiles(ctx context.Context, body string, log *slog.Logger) []File {
	var files []File
	total := 0
	for _, u := range discordmd.Uploads(body) {
		if len(files) == maxFiles {
			break
		}
		f, err := s.GitLab.DownloadUpload(ctx, u.Secret, u.Filename)
		if err != nil {
			log.Warn("upload not attached", slog.String("file", u.Filename), slog.String("error", err.Error()))
			continue
		}
		if total+len(f.Data) > maxUploadBytes {
			log.Info("upload too large to attach", slog.String("file", u.Filename))
			continue
		}
		total += len(f.Data)
		files = append(files, f)
	}
	return files
}

// inThread runs a Discord call on a thread. If the thread is archived in a
// way the call cannot undo (locked, or an edit), it is unarchived, the call
// repeated, and the thread archived again; the lock is left as it was.
func (s *Service) inThread(ctx context.Context, threadID string, call func() (string, error)) (string, error) {
	id, err := call()
	if !errors.Is(err, ErrThreadArchived) {
		return id, err
	}
	f, t := false, true
	if err := s.Discord.EditThread(ctx, threadID, ThreadEdit{Archived: &f}); err != nil {
		return "", fmt.Errorf("unarchive thread: %w", err)
	}
	if id, err = call(); err != nil {
		return "", err
	}
	if err := s.Discord.EditThread(ctx, threadID, ThreadEdit{Archived: &t}); err != nil {
		return "", fmt.Errorf("archive thread again: %w", err)
	}
	return id, nil
}

// post sends a message into a thread, archived or not.
func (s *Service) post(ctx context.Context, threadID string, msg Message) (string, error) {
	return s.inThread(ctx, threadID, func() (string, error) { return s.Discord.SendMessage(ctx, threadID, msg) })
}

// maxContent is Discord's limit of a message's content, in runes.
const maxContent = 2000

// deliverIssue tells the thread about an issue event. The state change
// (archive on close, unarchive on reopen) never waits on cosmetic steps:
// a rename that Discord rate-limits for minutes is left to a later title
// event, and a message that cannot be posted does not keep the thread
// open. Messages are built within Discord's limits (linesMessages).
func (s *Service) deliverIssue(ctx context.Context, j *Job, m Mapping, ev IssueEvent, log *slog.Logger) (retErr error) {
	who := discordmd.Text(ev.Author.Name)
	if strings.TrimSpace(who) == "" {
		who = "someone"
	}
	yes, no := true, false
	// say posts the lines, split over as many messages as they need.
	say := func(lines []string) error {
		msgs := linesMessages(lines, maxContent)
		if limit := s.maxMessages(); len(msgs) > limit {
			// Bounded fan-out, as for notes: the rest is in GitLab.
			more := "\n*…and more changes: see " + discordmd.Link(ev.URL) + "*"
			msgs = msgs[:limit]
			msgs[limit-1] = Truncate(msgs[limit-1], maxContent-utf8.RuneCountInString(more)) + more
		}
		for i, text := range msgs {
			step := "say"
			if i > 0 {
				step = "say:" + strconv.Itoa(i)
			}
			if _, err := s.tolerant(ctx, j, step, func() (string, error) {
				return s.post(ctx, m.ThreadID, Message{Content: text, Nonce: nonce(j, step)})
			}); err != nil {
				return err
			}
		}
		return nil
	}
	edit := func(step string, e ThreadEdit) error {
		_, err := s.tolerant(ctx, j, step, func() (string, error) {
			return "", s.Discord.EditThread(ctx, m.ThreadID, e)
		})
		return err
	}
	// Every issue event tells the issue's state as of its updated_at: the
	// newest one known wins (Store.SetMappingState), whatever order the
	// events come in.
	if err := s.setState(ctx, ev.IID, ev.State, ev.UpdatedAt); err != nil {
		return err
	}
	if ev.Action == "open" {
		return nil // the report flow made the thread; "changes" lists every field
	}
	c := ev.Changes
	var renameErr error
	defer func() {
		if retErr == nil {
			retErr = renameErr
		}
	}()
	// The thread's name follows the issue's title: renamed on a title
	// change, and on any later issue event if an earlier rename was
	// deferred (the name still shows an older title).
	title := ev.Title
	if c.Title != nil && c.Title.Current != "" {
		title = c.Title.Current
	}
	if title != "" && ThreadName(ev.IID, title) != ThreadName(ev.IID, m.Title) {
		name := ThreadName(ev.IID, title)
		v, err := s.tolerant(ctx, j, "rename", func() (string, error) {
			return s.inThread(ctx, m.ThreadID, func() (string, error) {
				return "", s.Discord.EditThread(ctx, m.ThreadID, ThreadEdit{Name: &name})
			})
		})
		var rl *RateLimitedError
		switch {
		case errors.As(err, &rl):
			// Discord allows two renames per 10 minutes: the name waits
			// for the issue's next event, the messages do not wait.
			log.Info("thread rename deferred: rate limited", slog.Duration("retry_after", rl.After))
			if _, err := s.step(ctx, j, "rename", func() (string, error) { return "deferred", nil }); err != nil {
				return err
			}
		case err != nil:
			// Cosmetic: the messages and the state change go on; the
			// error comes back at the end, so a retry repeats the rename
			// only (every other step is recorded).
			renameErr = err
		case v != "deferred" && v != skipped:
			m.Title = title
			if err := s.Store.PutMapping(ctx, m); err != nil {
				return fmt.Errorf("update mapping title: %w", err)
			}
		}
	}
	lines := s.changeLines(ctx, ev)
	switch ev.Action {
	case "close":
		lines = append([]string{fmt.Sprintf("🔒 Issue #%d was closed by %s.", ev.IID, who)}, lines...)
		sayErr := say(lines)
		e := ThreadEdit{Archived: &yes}
		if s.LockOnClose {
			e.Locked = &yes
		}
		if sayErr != nil {
			// The thread closes now all the same. Not recorded: posting
			// the message on the next attempt unarchives it, so the
			// archive comes again after it.
			if err := s.Discord.EditThread(ctx, m.ThreadID, e); err != nil {
				log.Warn("thread not archived", slog.String("error", err.Error()))
			}
			return sayErr
		}
		return edit("archive", e)
	case "reopen":
		if err := edit("unarchive", ThreadEdit{Archived: &no, Locked: &no}); err != nil {
			return err
		}
		lines = append([]string{fmt.Sprintf("🔓 Issue #%d was reopened by %s.", ev.IID, who)}, lines...)
	}
	if len(lines) == 0 {
		return nil
	}
	return say(lines)
}

// linesMessages packs lines into messages of at most limit runes each,
// whole lines where they fit; a single longer line is cut with
// Truncate's ellipsis.
func linesMessages(lines []string, limit int) []string {
	var out []string
	var cur strings.Builder
	n := 0
	for _, l := range lines {
		l = Truncate(l, limit)
		ln := utf8.RuneCountInString(l)
		if n > 0 && n+1+ln > limit {
			out = append(out, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte('\n')
			n++
		}
		cur.WriteString(l)
		n += ln
	}
	if n > 0 {
		out = append(out, cur.String())
	}
	return out
}

// changeLines describes an issue hook's changes, one short line each.
// Titles, labels, names and references from GitLab go through DiscordText,
// URLs through discordLink.
func (s *Service) changeLines(ctx context.Context, ev IssueEvent) []string {
	c := ev.Changes
	var lines []string
	if c.Title != nil {
		lines = append(lines, fmt.Sprintf("✏️ Title changed to **%s**.", discordmd.Text(c.Title.Current)))
	}
	if c.Labels != nil {
		lines = append(lines, "🏷️ Labels: "+listChange(c.Labels.Previous, c.Labels.Current, "none"))
	}
	if c.Assignees != nil {
		lines = append(lines, "👤 Assignees: "+listChange(c.Assignees.Previous, c.Assignees.Current, "nobody"))
	}
	if c.MovedToID != nil && c.MovedToID.Current != 0 {
		lines = append(lines, "➡️ This issue was moved to "+s.issueName(ctx, c.MovedToID.Current, ev.URL)+". Updates from there do not reach this thread.")
	}
	if c.DuplicatedTo != nil && c.DuplicatedTo.Current != 0 {
		lines = append(lines, "🔁 This issue was marked as a duplicate of "+s.issueName(ctx, c.DuplicatedTo.Current, ev.URL)+".")
	}
	return lines
}

// issueName names the target of a move or a duplicate mark: hooks carry
// only its global ID, so its reference and URL are looked up; failing that,
// the old issue's page (which links to it) is named.
func (s *Service) issueName(ctx context.Context, id int, from string) string {
	ref, url, err := s.GitLab.IssueByGlobalID(ctx, id)
	if err != nil {
		s.log().Info("target issue not named", slog.Int("gitlab_issue_id", id), slog.String("error", err.Error()))
		return fmt.Sprintf("another issue (ID %d; %s links to it)", id, discordmd.Link(from))
	}
	return discordmd.Text(ref) + " (" + discordmd.Link(url) + ")"
}

// maxListRunes caps each list of a change line (the labels now, added,
// removed), so that the line fits one Discord message: 3 lists of 600
// runes and their words stay under maxContent.
const maxListRunes = 600

// listChange describes a list change: the list now, then what was added
// and removed, each escaped (DiscordText) and capped (joinCapped).
func listChange(prev, cur []string, empty string) string {
	var added, removed []string
	for _, v := range cur {
		if !slices.Contains(prev, v) {
			added = append(added, discordmd.Text(v))
		}
	}
	for _, v := range prev {
		if !slices.Contains(cur, v) {
			removed = append(removed, discordmd.Text(v))
		}
	}
	now := empty
	if len(cur) > 0 {
		esc := make([]string, len(cur))
		for i, v := range cur {
			esc[i] = discordmd.Text(v)
		}
		now = joinCapped(esc, maxListRunes)
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+joinCapped(added, maxListRunes))
	}
	if len(removed) > 0 {
		parts = append(parts, "removed "+joinCapped(removed, maxListRunes))
	}
	if len(parts) == 0 {
		return now
	}
	return now + " (" + strings.Join(parts, "; ") + ")"
}

// joinCapped joins items with ", " within max runes, and names what did
// not fit: "a, b …and 22 more". An item longer than max is cut
// (Truncate).
func joinCapped(items []string, max int) string {
	var b strings.Builder
	n := 0
	for i, it := range items {
		more := fmt.Sprintf(" …and %d more", len(items)-i)
		it = Truncate(it, max-utf8.RuneCountInString(more))
		sep := 0
		if i > 0 {
			sep = 2
		}
		need := sep + utf8.RuneCountInString(it)
		if i < len(items)-1 {
			need += utf8.RuneCountInString(fmt.Sprintf(" …and %d more", len(items)-i-1))
		}
		if i > 0 && n+need > max {
			b.WriteString(more)
			return b.String()
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it)
		n += sep + utf8.RuneCountInString(it)
	}
	return b.String()
}
