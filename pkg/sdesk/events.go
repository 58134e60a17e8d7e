package sdesk

import "time"

// Event is a GitLab webhook delivery decoded into what sdesk needs. Exactly
// one of Note and Issue is set.
type Event struct {
	// Key deduplicates deliveries: GitLab's Idempotency-Key header when
	// present, else the note or issue ID plus its updated_at.
	Key string `json:"key"`
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

// Author is a GitLab user as shown in Discord.
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
	Internal     *bool     `json:"internal,omitempty"`
	Action       string    `json:"action,omitempty"` // create, update, or "" (old GitLab: create)
	Type         string    `json:"type,omitempty"`   // "", DiscussionNote, DiffNote
	DiscussionID string    `json:"discussion_id,omitempty"`
	URL          string    `json:"url,omitempty"`
	Author       Author    `json:"author"`
	UpdatedAt    time.Time `json:"updated_at"`
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
