package gitlab

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// Errors of ParseWebhook and VerifySignature. They are always wrapped with
// the reason; test with errors.Is.
var (
	// ErrIgnored: a well-formed delivery sdesk does not handle (another
	// event kind, a note on a merge request, a system note). Answer 2xx.
	ErrIgnored = errors.New("gitlab webhook ignored")
	// ErrMalformed: the delivery cannot be decoded. Answer 400.
	ErrMalformed = errors.New("gitlab webhook malformed")
	// ErrSignature: the Standard Webhooks signature is missing, stale or
	// wrong. Answer 401.
	ErrSignature = errors.New("gitlab webhook signature invalid")
)

// X-Gitlab-Event values that ParseWebhook decodes.
const (
	EventNote              = "Note Hook"
	EventConfidentialNote  = "Confidential Note Hook"
	EventIssue             = "Issue Hook"
	EventConfidentialIssue = "Confidential Issue Hook"
	// EventWorkItem is accepted like EventIssue. GitLab itself names the
	// header after the hook scope that fired (WebHookService.hook_to_event:
	// issue_hooks -> "Issue Hook"), and neither ProjectHook nor GroupHook
	// has a work-item scope, so work items arrive as "Issue Hook" or
	// "Confidential Issue Hook" with object_kind "work_item". Third-party
	// integrations report "Work Item Hook" too; the body decides either way.
	EventWorkItem = "Work Item Hook"
)

// object_kind values of an issue event: "issue", or "work_item" when
// GitLab (17.7+) built the payload from a work item (issues edited in the
// work-item view, tasks, incidents), with object_attributes.type naming its
// kind. Both carry the same attributes and changes.
const (
	kindIssue    = "issue"
	kindWorkItem = "work_item"
)

// SignatureTolerance is how far webhook-timestamp may be from now.
const SignatureTolerance = 5 * time.Minute

// hookTime is a webhook timestamp: "2021-04-22 19:04:31 UTC" on older
// GitLab, RFC 3339 on newer.
type hookTime struct{ time.Time }

var hookTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02T15:04:05 MST",
	"2006-01-02 15:04:05",
}

func (t *hookTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	if s == "" {
		return nil
	}
	for _, layout := range hookTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("time %q: unknown format", s)
}

type hookUser struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url"`
}

func (u *hookUser) author() sdesk.Author {
	if u == nil {
		return sdesk.Author{}
	}
	return sdesk.Author{ID: u.ID, Name: u.Name, Username: u.Username, AvatarURL: u.AvatarURL}
}

type hookProject struct {
	ID                int    `json:"id"`
	PathWithNamespace string `json:"path_with_namespace"`
}

type hookEnvelope[A any] struct {
	ObjectKind       string       `json:"object_kind"`
	User             *hookUser    `json:"user"`
	ProjectID        int          `json:"project_id"`
	Project          *hookProject `json:"project"`
	ObjectAttributes *A           `json:"object_attributes"`
	Issue            *hookIssue   `json:"issue"`
	Changes          *hookChanges `json:"changes"`
}

func (e *hookEnvelope[A]) projectID(fallback int) int {
	switch {
	case e.Project != nil && e.Project.ID != 0:
		return e.Project.ID
	case e.ProjectID != 0:
		return e.ProjectID
	}
	return fallback
}

func (e *hookEnvelope[A]) projectPath() string {
	if e.Project != nil {
		return e.Project.PathWithNamespace
	}
	return ""
}

type hookNote struct {
	ID           int      `json:"id"`
	Note         string   `json:"note"`
	NoteableType string   `json:"noteable_type"`
	System       bool     `json:"system"`
	Internal     *bool    `json:"internal"`
	Action       string   `json:"action"`
	Type         string   `json:"type"`
	AuthorID     int      `json:"author_id"`
	DiscussionID string   `json:"discussion_id"`
	URL          string   `json:"url"`
	ProjectID    int      `json:"project_id"`
	UpdatedAt    hookTime `json:"updated_at"`
}

type hookIssue struct {
	ID        int      `json:"id"`
	IID       int      `json:"iid"`
	Title     string   `json:"title"`
	State     string   `json:"state"`
	Action    string   `json:"action"`
	Type      string   `json:"type"` // Issue, Task, Incident, ... (newer GitLab)
	URL       string   `json:"url"`
	ProjectID int      `json:"project_id"`
	UpdatedAt hookTime `json:"updated_at"`
	// Description is read only for sdesk's marker (sdesk.MarkerInteraction).
	Description string `json:"description"`
}

type hookChange[T any] struct {
	Previous T `json:"previous"`
	Current  T `json:"current"`
}

type hookLabel struct {
	Title string `json:"title"`
}

type hookChanges struct {
	Title          *hookChange[string]      `json:"title"`
	Labels         *hookChange[[]hookLabel] `json:"labels"`
	Assignees      *hookChange[[]hookUser]  `json:"assignees"`
	Confidential   *hookChange[bool]        `json:"confidential"`
	MovedToID      *hookChange[int]         `json:"moved_to_id"`
	DuplicatedToID *hookChange[int]         `json:"duplicated_to_id"`

	// canonical is the whole changes object as sent, every key included
	// (not only the fields above), re-encoded with sorted keys and without
	// insignificant space: what the event key hashes.
	canonical []byte
}

func (c *hookChanges) UnmarshalJSON(b []byte) error {
	type fields hookChanges // without this method
	var f fields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	canon, err := canonicalJSON(b)
	if err != nil {
		return err
	}
	*c = hookChanges(f)
	c.canonical = canon
	return nil
}

// canonicalJSON re-encodes one JSON value: object keys sorted, no
// insignificant space, numbers kept exactly as written (not rounded through
// float64). Two texts of the same value give the same bytes.
func canonicalJSON(b []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// ParseWebhook decodes a GitLab webhook delivery (X-Gitlab-Event `Note
// Hook`, `Confidential Note Hook`, `Issue Hook`, `Confidential Issue Hook`
// or `Work Item Hook`) into an sdesk.Event. It does not authenticate the
// delivery: call CheckToken and/or VerifySignature first.
//
// An issue hook whose object_kind is "work_item" (GitLab 17.7+, any
// object_attributes.type: Issue, Task, Incident...) decodes exactly like
// one whose object_kind is "issue"; a work item outside any project (a
// group-level epic) is ignored.
//
// Event.Key is computed from the body alone (see sdesk.Event.Key, noteKey
// and issueKey): the same body gives the same Key under any headers. The
// Idempotency-Key header only goes to Event.DeliveryKey. For notes,
// NoteEvent.Author is object_attributes.author_id and NoteEvent.Actor the
// top-level user.
//
// Other event kinds, notes on anything but an issue and system notes give
// an error wrapping ErrIgnored; a body that cannot be decoded, or lacks the
// IDs sdesk needs, gives an error wrapping ErrMalformed.
func ParseWebhook(h http.Header, body []byte) (sdesk.Event, error) {
	kind := h.Get("X-Gitlab-Event")
	ev := sdesk.Event{Kind: kind}
	var err error
	switch kind {
	case EventNote, EventConfidentialNote:
		err = parseNoteHook(&ev, body)
	case EventIssue, EventConfidentialIssue, EventWorkItem:
		err = parseIssueHook(&ev, body)
	case "":
		return sdesk.Event{}, fmt.Errorf("%w: no X-Gitlab-Event header", ErrMalformed)
	default:
		return sdesk.Event{}, fmt.Errorf("%w: event %q", ErrIgnored, kind)
	}
	if err != nil {
		return sdesk.Event{}, err
	}
	ev.DeliveryKey = strings.TrimSpace(h.Get("Idempotency-Key"))
	return ev, nil
}

func decodeHook[A any](kind string, body []byte) (*hookEnvelope[A], error) {
	var env hookEnvelope[A]
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, kind, err)
	}
	if env.ObjectAttributes == nil {
		return nil, fmt.Errorf("%w: %s: no object_attributes", ErrMalformed, kind)
	}
	return &env, nil
}

func parseNoteHook(ev *sdesk.Event, body []byte) error {
	env, err := decodeHook[hookNote](ev.Kind, body)
	if err != nil {
		return err
	}
	if env.ObjectKind != "note" {
		return fmt.Errorf("%w: %s with object_kind %q", ErrIgnored, ev.Kind, env.ObjectKind)
	}
	n := env.ObjectAttributes
	if n.NoteableType != "Issue" {
		return fmt.Errorf("%w: note on %q", ErrIgnored, n.NoteableType)
	}
	if n.System {
		return fmt.Errorf("%w: system note", ErrIgnored)
	}
	if n.ID <= 0 {
		return fmt.Errorf("%w: note without id", ErrMalformed)
	}
	if env.Issue == nil || env.Issue.IID <= 0 {
		return fmt.Errorf("%w: note %d without issue iid", ErrMalformed, n.ID)
	}
	ev.ProjectID = env.projectID(n.ProjectID)
	ev.ProjectPath = env.projectPath()
	ev.Key = noteKey(n)
	actor := env.User.author()
	author := actor
	if n.AuthorID != 0 && n.AuthorID != actor.ID {
		// Someone else acted (an edit of another user's note): the
		// payload names the author by ID only.
		author = sdesk.Author{ID: n.AuthorID}
	}
	ev.Report = sdesk.MarkerInteraction(env.Issue.Description)
	ev.Note = &sdesk.NoteEvent{
		IssueIID:     env.Issue.IID,
		NoteID:       n.ID,
		Body:         n.Note,
		Internal:     n.Internal,
		Action:       n.Action,
		Type:         n.Type,
		DiscussionID: n.DiscussionID,
		URL:          n.URL,
		Author:       author,
		Actor:        actor,
		UpdatedAt:    n.UpdatedAt.Time,
	}
	return nil
}

func parseIssueHook(ev *sdesk.Event, body []byte) error {
	env, err := decodeHook[hookIssue](ev.Kind, body)
	if err != nil {
		return err
	}
	if env.ObjectKind != kindIssue && env.ObjectKind != kindWorkItem {
		return fmt.Errorf("%w: %s with object_kind %q", ErrIgnored, ev.Kind, env.ObjectKind)
	}
	is := env.ObjectAttributes
	if is.ID <= 0 || is.IID <= 0 {
		return fmt.Errorf("%w: issue without id or iid", ErrMalformed)
	}
	ev.ProjectID = env.projectID(is.ProjectID)
	ev.ProjectPath = env.projectPath()
	if env.ObjectKind == kindWorkItem && ev.ProjectID == 0 && ev.ProjectPath == "" {
		// A group-level work item (an epic): its IID is not in any
		// project's issue numbering.
		return fmt.Errorf("%w: %s %q outside any project", ErrIgnored, env.ObjectKind, is.Type)
	}
	ev.Key = issueKey(is, env.Changes)
	ev.Report = sdesk.MarkerInteraction(is.Description)
	ev.Issue = &sdesk.IssueEvent{
		IID:       is.IID,
		ID:        is.ID,
		Title:     is.Title,
		State:     is.State,
		Action:    is.Action,
		URL:       is.URL,
		Author:    env.User.author(),
		Changes:   env.Changes.toDomain(),
		UpdatedAt: is.UpdatedAt.Time,
	}
	return nil
}

// keyHashLen is how many bytes of the SHA-256 an event key keeps (128
// bits, 32 hex characters): collisions between two events of one note or
// issue are out of reach, and the key stays short enough for a DynamoDB
// key and a job ID.
const keyHashLen = 16

// noteKey is `note:<note id>:<hash>`, the hash over the action ("" counts
// as create: GitLab before 16.11 sent no action and only for creates), the
// note's text and its updated_at.
func noteKey(n *hookNote) string {
	action := n.Action
	if action == "" {
		action = "create"
	}
	return eventKey("note", n.ID, action, n.Note, keyTime(n.UpdatedAt))
}

// issueKey is `issue:<issue id>:<hash>`, the hash over the action, the
// canonical changes object ("null" when there is none) and updated_at.
// updated_at alone cannot tell two changes apart (GitLab does not always
// bump it, and older payloads have second precision); the changes can.
func issueKey(is *hookIssue, c *hookChanges) string {
	changes := "null"
	if c != nil {
		changes = string(c.canonical)
	}
	return eventKey("issue", is.ID, is.Action, changes, keyTime(is.UpdatedAt))
}

// eventKey hashes parts unambiguously (each one length-prefixed, after a
// label naming the scheme) and returns prefix:id:hex.
func eventKey(prefix string, id int, parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range append([]string{"sdesk-event-key-v1", prefix}, parts...) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	return prefix + ":" + strconv.Itoa(id) + ":" + hex.EncodeToString(h.Sum(nil)[:keyHashLen])
}

func keyTime(t hookTime) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func (c *hookChanges) toDomain() sdesk.IssueChanges {
	var out sdesk.IssueChanges
	if c == nil {
		return out
	}
	if c.Title != nil {
		out.Title = &sdesk.Change[string]{Previous: c.Title.Previous, Current: c.Title.Current}
	}
	if c.Labels != nil {
		out.Labels = &sdesk.Change[[]string]{
			Previous: labelTitles(c.Labels.Previous),
			Current:  labelTitles(c.Labels.Current),
		}
	}
	if c.Assignees != nil {
		out.Assignees = &sdesk.Change[[]string]{
			Previous: userNames(c.Assignees.Previous),
			Current:  userNames(c.Assignees.Current),
		}
	}
	if c.Confidential != nil {
		out.Confidential = &sdesk.Change[bool]{Previous: c.Confidential.Previous, Current: c.Confidential.Current}
	}
	if c.MovedToID != nil {
		out.MovedToID = &sdesk.Change[int]{Previous: c.MovedToID.Previous, Current: c.MovedToID.Current}
	}
	if c.DuplicatedToID != nil {
		out.DuplicatedTo = &sdesk.Change[int]{Previous: c.DuplicatedToID.Previous, Current: c.DuplicatedToID.Current}
	}
	return out
}

func labelTitles(ls []hookLabel) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Title)
	}
	return out
}

// userNames returns display names, falling back to the username.
func userNames(us []hookUser) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		if u.Name != "" {
			out = append(out, u.Name)
		} else {
			out = append(out, u.Username)
		}
	}
	return out
}

// CheckToken compares an X-Gitlab-Token header with the configured secret
// in constant time. It is false when either is empty.
func CheckToken(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	// Hash first so that the comparison does not leak the secret's length.
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// VerifySignature checks a Standard Webhooks signature: webhook-signature
// holds space-separated `v1,<base64 HMAC-SHA256>` entries over
// "{webhook-id}.{webhook-timestamp}.{body}" keyed with the base64-decoded
// part of signingToken after `whsec_`; any one matching entry passes.
// webhook-timestamp (unix seconds) must be within SignatureTolerance of
// now. Errors wrap ErrSignature and say what is wrong.
func VerifySignature(h http.Header, body []byte, signingToken string, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(signingToken), "whsec_"))
	if err != nil || len(key) == 0 {
		return fmt.Errorf("%w: signing token is not whsec_<base64>", ErrSignature)
	}
	id := h.Get("Webhook-Id")
	ts := h.Get("Webhook-Timestamp")
	sigs := h.Get("Webhook-Signature")
	for _, hv := range []struct{ name, value string }{
		{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", sigs},
	} {
		if hv.value == "" {
			return fmt.Errorf("%w: missing %s header", ErrSignature, hv.name)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not unix seconds", ErrSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("%w: stale webhook-timestamp (%s from now)", ErrSignature, d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	v1 := 0
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		v1++
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	if v1 == 0 {
		return fmt.Errorf("%w: no v1 entry in webhook-signature", ErrSignature)
	}
	return fmt.Errorf("%w: bad signature", ErrSignature)
}
