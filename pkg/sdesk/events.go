package sdesk

import "time"

// Event is a GitLab webhook delivery decoded into what sdesk needs. Exactly
// one of Note and Issue is set.
type Event struct {
	// Key is the identity of the event, computed from the payload alone:
	// `note:<note id>:<hash>` (hash of the action, "" counting as create,
	// the note's text and its updated_at) or `issue:<issue id>:<hash>` (hash
	// of the action, the changes object as sent, canonicalized, and
	// updated_at); the hash is 32 lowercase hex characters, the whole key
	// at most 58 bytes. The same event delivered again, under any
	// Idempotency-Key or none, by a project hook or a group hook, has the
	// same Key; a different edit of a note or a different change of an
	// issue has another. It claims the event and names its job.
	Key string `json:"key"`
	// DeliveryKey is GitLab's Idempotency-Key header ("" when absent: older
	// GitLab sends none), for logs only. It identifies one delivery, not the
	// event, so it cannot be the identity: GitLab's WebHookService makes a
	// fresh UUID for each execution of a hook, reusing one only for a
	// "Resend" from the hook's log (gitlab-org/gitlab#388692, MR 160952).
	// Real traffic shows it: a re-executed event, and a project hook plus a
	// group hook delivering one event, each came under two keys.
	DeliveryKey string `json:"delivery_key,omitempty"`
	// Report is the interaction ID in sdesk's marker in the issue's
	// description (MarkerInteraction): the /report whose job made the
	// issue; "" for an issue sdesk did not make. It lets an event that
	// comes before the report's thread exists wait for it.
	Report string `json:"report,omitempty"`
	// Kind is the X-Gitlab-Event header value (for logs).
	Kind        string      `json:"kind"`
	ProjectID   int         `json:"project_id"`
	ProjectPath string      `json:"project_path,omitempty"`
	Note        *NoteEvent  `json:"note,omitempty"`
	Issue       *IssueEvent `json:"issue,omitempty"`
}

// IssueIID returns the issue the event is about.
func (e Event) IssueIID() int {
	switch {
	case e.Note != nil:
		return e.Note.IssueIID
	case e.Issue != nil:
		return e.Issue.IID
	}
	return 0
}

// Author is a GitLab user as shown in Discord. Name, Username and
// AvatarURL may be empty when the payload names the user by ID only (see
// NoteEvent.Author).
type Author struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

// NoteEvent is a note (comment) on an issue.
type NoteEvent struct {
	IssueIID int    `json:"issue_iid"`
	NoteID   int    `json:"note_id"`
	Body     string `json:"body"`
	// Internal is nil when the delivery did not say (older GitLab): the
	// note must then be fetched through the API before it is posted.
	Internal     *bool  `json:"internal,omitempty"`
	Action       string `json:"action,omitempty"` // create, update, or "" (old GitLab: create)
	Type         string `json:"type,omitempty"`   // "", DiscussionNote, DiffNote
	DiscussionID string `json:"discussion_id,omitempty"`
	URL          string `json:"url,omitempty"`
	// Author wrote the note: object_attributes.author_id. When the Actor is
	// the author (every create, an author's own edit) it carries the
	// Actor's name, username and avatar; when someone else acted (an edit
	// of another user's note) it has the ID only, since the payload names
	// no one else: look the user up to show a name. A payload without
	// author_id (not sent by GitLab; hand-made ones) gives the Actor.
	Author Author `json:"author"`
	// Actor is who acted, the delivery's top-level user: the author on
	// create, the editor on update.
	Actor     Author    `json:"actor"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Change is a {previous, current} pair from an issue hook's changes.
type Change[T any] struct {
	Previous T `json:"previous"`
	Current  T `json:"current"`
}

// IssueChanges lists what an issue hook says changed. Nil: unchanged.
type IssueChanges struct {
	Title        *Change[string]   `json:"title,omitempty"`
	Labels       *Change[[]string] `json:"labels,omitempty"`
	Assignees    *Change[[]string] `json:"assignees,omitempty"` // display names
	Confidential *Change[bool]     `json:"confidential,omitempty"`
	MovedToID    *Change[int]      `json:"moved_to_id,omitempty"`
	DuplicatedTo *Change[int]      `json:"duplicated_to_id,omitempty"`
}

// IssueEvent is a change to an issue.
type IssueEvent struct {
	IID       int          `json:"iid"`
	ID        int          `json:"id"`
	Title     string       `json:"title"`
	State     string       `json:"state"`
	Action    string       `json:"action"` // open, close, reopen, update
	URL       string       `json:"url"`
	Author    Author       `json:"author"` // who made the change
	Changes   IssueChanges `json:"changes"`
	UpdatedAt time.Time    `json:"updated_at"`
}
