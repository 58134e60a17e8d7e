// Package sdesk is the domain of sdesk: the mapping between GitLab issues and
// Discord threads, the jobs that move data between the two, and the ports
// (Store, Discord, GitLab, Queue) that the adapters under pkg/ implement.
//
// It imports no AWS, Discord or GitLab package.
package sdesk

import (
	"errors"
	"time"
)

// Errors shared by every adapter.
var (
	// ErrNotFound is returned when a record does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write would overwrite a different record.
	ErrConflict = errors.New("conflict")
)

// Mapping links one GitLab issue to one private Discord thread.
type Mapping struct {
	IssueIID   int       // issue number inside GITLAB_PROJECT
	IssueURL   string    // web URL of the issue
	ThreadID   string    // Discord thread (channel) ID
	GuildID    string    // Discord guild the thread lives in
	ChannelID  string    // parent text channel of the thread
	ReporterID string    // Discord user ID of the reporter
	Title      string    // issue title as last seen
	CreatedAt  time.Time // when the mapping was written
	// State is the issue's state as sdesk last learned it: StateOpened or
	// StateClosed. A mapping written without one is opened, and so reads
	// a mapping stored before states were kept.
	State string
	// StateAt is the time of that state: the updated_at of the GitLab
	// event that told it, or sdesk's clock when sdesk changed it. Zero for
	// the state a mapping was first written with.
	StateAt time.Time
}

// Issue states, as GitLab names them (the "state" of an issue,
// https://docs.gitlab.com/api/issues/#single-issue).
const (
	StateOpened = "opened"
	StateClosed = "closed"
)

// MappingQuery selects mappings for Store.Mappings.
type MappingQuery struct {
	ReporterID string // only this reporter's; "": every reporter's
	State      string // only mappings in this state; "": any state
	Offset     int    // skip this many of the selected, newest first
	Limit      int    // at most this many; 0: no limit
}

// JobStatus is the life-cycle state of a deferred job.
type JobStatus string

// Job states.
const (
	JobPending JobStatus = "pending"
	JobDone    JobStatus = "done"
	JobFailed  JobStatus = "failed"
)

// Job kinds.
const (
	JobReport      = "report"       // create issue + thread for a /report modal submit
	JobReply       = "reply"        // post a Discord answer as a GitLab note
	JobClose       = "close"        // close the GitLab issue of a thread
	JobGitLabEvent = "gitlab_event" // deliver a GitLab webhook event into Discord
)

// Job is a unit of deferred work. Its ID is the Discord interaction ID or the
// GitLab event's dedupe key, so a retried job finds the steps it already did.
type Job struct {
	ID        string            `json:"id"`
	Kind      string            `json:"kind"`
	Payload   []byte            `json:"payload"`         // kind-specific JSON
	Steps     map[string]string `json:"steps,omitempty"` // completed step -> result
	Status    JobStatus         `json:"status"`
	Attempts  int               `json:"attempts"`
	Error     string            `json:"error,omitempty"` // last error, for operators
	ErrorRef  string            `json:"error_ref,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	ExpiresAt time.Time         `json:"expires_at,omitzero"` // zero: never
	// Orphaned: no queue holds the job (handing it on failed), so a
	// resend of its event queues it again at once.
	Orphaned bool `json:"orphaned,omitempty"`
}

// Step returns the recorded result of a completed step.
func (j *Job) Step(name string) (string, bool) {
	v, ok := j.Steps[name]
	return v, ok
}

// SetStep records a completed step.
func (j *Job) SetStep(name, value string) {
	if j.Steps == nil {
		j.Steps = map[string]string{}
	}
	j.Steps[name] = value
}
