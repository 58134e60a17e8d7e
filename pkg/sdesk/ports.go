package sdesk

import (
	"context"
	"time"
)

// Store keeps sdesk's state. Implementations: pkg/dynamo and pkg/bolt. Both
// pass the contract suite in pkg/sdesk/sdesktest.
//
// Records with an expiry in the past are treated as absent by every method,
// whether or not the backend has deleted them yet.
type Store interface {
	// PutMapping writes the issue -> thread and thread -> issue records
	// atomically. Writing the same mapping again succeeds (it overwrites
	// every field but CreatedAt, which keeps its first value). Writing a
	// mapping whose issue is already mapped to another thread or another
	// reporter, or whose thread is already mapped to another issue, fails
	// with ErrConflict and writes nothing. State and StateAt are written by
	// the first write only (State "" is StateOpened, another value than
	// StateOpened or StateClosed an error); SetMappingState changes them.
	PutMapping(ctx context.Context, m Mapping) error
	// SetMappingState records that issue iid is in state (StateOpened or
	// StateClosed) as of at, unless the mapping's state is already of a
	// later time (events arrive out of order): then it writes nothing and
	// returns nil. ErrNotFound when the issue is not mapped.
	SetMappingState(ctx context.Context, iid int, state string, at time.Time) error
	// Mappings returns the mappings q selects, newest first (CreatedAt,
	// then IssueIID, descending), after skipping q.Offset of them, at
	// most q.Limit (a negative Offset or Limit counts as 0). On DynamoDB
	// the result may lag a write by a moment (a global secondary index).
	Mappings(ctx context.Context, q MappingQuery) ([]Mapping, error)
	// MappingByIssue returns the mapping of an issue, or ErrNotFound.
	MappingByIssue(ctx context.Context, iid int) (Mapping, error)
	// MappingByThread returns the mapping of a thread, or ErrNotFound.
	MappingByThread(ctx context.Context, threadID string) (Mapping, error)

	// Claim records key until ttl has passed. It returns true for the first
	// caller and false while an unexpired claim exists (a conditional write:
	// exactly one of many concurrent callers gets true).
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// ClaimJob is Claim and PutJob in one atomic write: j is stored only
	// by the caller that gets true, and never without its claim.
	ClaimJob(ctx context.Context, key string, ttl time.Duration, j Job) (bool, error)
	// Release deletes a claim so the key can be claimed again.
	Release(ctx context.Context, key string) error

	// PutJob creates or replaces a job record.
	PutJob(ctx context.Context, j Job) error
	// GetJob returns a job, or ErrNotFound.
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns the jobs with the given status, oldest first.
	ListJobs(ctx context.Context, status JobStatus) ([]Job, error)

	// PutNoteMessages remembers which Discord messages carry a GitLab note.
	PutNoteMessages(ctx context.Context, iid, noteID int, messageIDs []string) error
	// NoteMessages returns the Discord messages of a note, or ErrNotFound.
	NoteMessages(ctx context.Context, iid, noteID int) ([]string, error)
}

// Queue hands a job to whatever runs deferred work: a worker pool in
// `sdesk serve`, an asynchronous self-invocation in Lambda. The job is
// already stored when Enqueue is called.
type Queue interface {
	Enqueue(ctx context.Context, j Job) error
}

// Discord is the part of Discord's REST API that sdesk uses.
type Discord interface {
	// CreatePrivateThread opens a private thread (type 12, not invitable) in
	// a text channel and returns its ID.
	CreatePrivateThread(ctx context.Context, channelID, name string) (string, error)
	// FindThread returns the thread an earlier CreatePrivateThread made
	// under channelID (in the guild) with a name starting with prefix, whose
	// answer was lost, or ErrNotFound. Only a private thread (type 12) under
	// channelID created by sdesk's own bot user (owner_id) qualifies; a
	// thread any member made is never returned, whatever its name. Any
	// other error means nothing was decided: the caller must not create a
	// thread then.
	FindThread(ctx context.Context, guildID, channelID, prefix string) (string, error)
	// AddThreadMember adds a user to a thread.
	AddThreadMember(ctx context.Context, threadID, userID string) error
	// SendMessage posts a message and returns its ID.
	SendMessage(ctx context.Context, channelID string, m Message) (string, error)
	// EditMessage replaces the content of a message.
	EditMessage(ctx context.Context, channelID, messageID string, m Message) error
	// EditThread renames, archives or locks a thread.
	EditThread(ctx context.Context, threadID string, e ThreadEdit) error
	// EditResponse edits the original response of an interaction.
	EditResponse(ctx context.Context, token string, m Message) error
	// DownloadAttachment fetches a file a user attached in Discord from its
	// signed CDN URL (valid for about a day), reading at most max bytes: a
	// larger file is an error matching ErrTooLarge. A link Discord no
	// longer serves is a PermanentError.
	DownloadAttachment(ctx context.Context, a Attachment, max int64) (File, error)
}

// Message is a Discord message as sdesk builds it.
type Message struct {
	Content string
	Embeds  []Embed
	Buttons []Button
	Files   []File
	// MentionRoles lists the only roles that may be pinged. Every message
	// is sent with an explicit allowed_mentions whose parse list is empty,
	// so nothing else ever pings.
	MentionRoles []string
	// Nonce (at most 25 characters) makes SendMessage idempotent: Discord
	// returns the message already created with the same nonce in the last
	// few minutes instead of creating another (enforce_nonce).
	Nonce string
}

// Embed is a Discord embed.
type Embed struct {
	Title       string
	URL         string
	Description string
	AuthorName  string
	AuthorURL   string
	AuthorIcon  string
	Footer      string
	Color       int
}

// ButtonStyle is a Discord button style.
type ButtonStyle int

// Button styles used by sdesk.
const (
	ButtonPrimary   ButtonStyle = 1
	ButtonSecondary ButtonStyle = 2
	ButtonDanger    ButtonStyle = 4
)

// Button is a Discord button component.
type Button struct {
	Label    string
	CustomID string
	Style    ButtonStyle
	Disabled bool // shown greyed out; cannot be pressed
}

// File is an attachment.
type File struct {
	Name        string
	ContentType string
	Data        []byte
}

// ThreadEdit changes a thread; nil fields are left alone.
type ThreadEdit struct {
	Name     *string
	Archived *bool
	Locked   *bool
}

// GitLab is the part of GitLab's REST API that sdesk uses. All issue
// numbers are IIDs inside the configured project.
//
// Text given to CreateIssue, SetDescription and CreateNote holds what
// Discord users wrote. The domain builds it with pkg/gfm (user text
// defused and quoted, names inline-escaped, then sdesk's own attribution
// and marker), and the adapter refuses, without sending anything, a text
// that breaks gfm.Check (a line that would run a quick action, a live
// mention or reference): the last check at the trust boundary.
type GitLab interface {
	// CreateIssue creates an issue. It must not be retried blindly by the
	// adapter: a retry could create a second issue.
	CreateIssue(ctx context.Context, in NewIssue) (Issue, error)
	// FindIssuesByMarker returns every issue whose description contains
	// marker, oldest first, or ErrNotFound. Used to make issue creation
	// idempotent, and to find a second issue that a create in flight
	// during a kill made after all.
	FindIssuesByMarker(ctx context.Context, marker string) ([]Issue, error)
	// IssueByGlobalID returns the full reference ("group/project#12") and web
	// URL of an issue by its global ID, as hooks name the targets of moves
	// and duplicates; ErrNotFound when the token cannot see it.
	IssueByGlobalID(ctx context.Context, id int) (ref, webURL string, err error)
	// GetIssue returns an issue.
	GetIssue(ctx context.Context, iid int) (Issue, error)
	// SetDescription replaces an issue's description.
	SetDescription(ctx context.Context, iid int, description string) error
	// SetState closes (close=true) or reopens an issue.
	SetState(ctx context.Context, iid int, close bool) error
	// CreateNote adds a note to an issue and returns the note ID.
	CreateNote(ctx context.Context, iid int, body string) (int, error)
	// FindNoteByMarker returns the ID of the newest note on an issue whose
	// body contains marker, or ErrNotFound. Used to make note creation
	// idempotent.
	FindNoteByMarker(ctx context.Context, iid int, marker string) (int, error)
	// GetNote returns one note of an issue.
	GetNote(ctx context.Context, iid, noteID int) (Note, error)
	// CurrentUserID returns the ID of the token's user.
	CurrentUserID(ctx context.Context) (int, error)
	// UploadFile uploads a file to the project (POST /projects/:id/uploads)
	// and returns its project-relative URL; a file over GitLab's maximum
	// attachment size is an error matching ErrTooLarge. Repeating it is
	// safe: at worst an upload no text links to.
	UploadFile(ctx context.Context, f File) (Upload, error)
	// DownloadUpload fetches a file uploaded to the project
	// (/uploads/<secret>/<filename>).
	DownloadUpload(ctx context.Context, secret, filename string) (File, error)
	// UploadsURL returns the URL under which the configured GitLab serves
	// the project's uploads as <url>/uploads/<secret>/<filename>, without
	// a trailing slash: GITLAB_URL (scheme, host and any relative URL
	// root) followed by /-/project/<numeric ID> on GitLab 17.2 and later
	// (https://gitlab.example.com/-/project/4242), where the older form
	// returns 404 for new uploads, or by the project's path before
	// (https://gitlab.example.com/acme/support). The version is asked once,
	// on the first call (never at start-up), and kept; when it cannot be
	// read, the project-ID form is used. An error means no URL is known
	// yet: links then fall back to the project's web URL.
	UploadsURL(ctx context.Context) (string, error)
}

// NewIssue is the input of GitLab.CreateIssue.
type NewIssue struct {
	Title        string
	Description  string
	Labels       []string
	Confidential bool
}

// Issue is a GitLab issue as sdesk needs it.
type Issue struct {
	ID           int // global ID
	IID          int
	Title        string
	State        string // opened or closed
	WebURL       string
	Confidential bool
	AuthorID     int       // who created it
	Labels       []string  // its labels, as GitLab orders them
	Assignees    []string  // its assignees' display names
	UpdatedAt    time.Time // its last change (zero when GitLab gives none)
	MovedToID    int       // global ID of the issue it was moved to; 0: not moved
}

// Note is a GitLab note as sdesk needs it.
type Note struct {
	ID       int
	Body     string
	Internal bool // internal (formerly "confidential") note
	System   bool
	Author   Author // who wrote it (GET /projects/:id/issues/:iid/notes/:id "author")
}
