package chaos

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdesk/sdesk/internal/repo"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
)

// GitLabUser is a GitLab user as hooks name it.
type GitLabUser struct {
	ID             int
	Name, Username string
}

// Project is the GitLab project hooks come from.
type Project struct {
	ID   int
	Path string // full path, e.g. acme/support
	Base string // the GitLab base URL (GITLAB_URL), without a final slash
}

// IssueURL is the web URL of an issue, as the GitLab fake makes it.
func (p Project) IssueURL(iid int) string {
	return p.Base + "/" + p.Path + "/-/issues/" + strconv.Itoa(iid)
}

// Hook is one webhook delivery: its X-Gitlab-Event and JSON body.
type Hook struct {
	Event string
	Body  []byte
}

// NoteSpec is a note event to build.
type NoteSpec struct {
	ID       int
	Body     string
	Internal bool
	Author   GitLabUser // object_attributes.author_id
	Actor    GitLabUser // the top-level user: the author, or an editor
	Action   string     // create or update
	Created  time.Time
	Updated  time.Time
}

// IssueSpec is an issue event to build.
type IssueSpec struct {
	Action string // open, close, reopen, update
	Actor  GitLabUser
	// Changes is the hook's changes object; IssueHook adds updated_at
	// ({PrevUpdated, the issue's UpdatedAt}) and updated_by_id.
	Changes     map[string]any
	PrevUpdated time.Time
	// WorkItem sends object_kind and event_type "work_item" with
	// object_attributes.type "Issue", as GitLab 17.7+ does for issues
	// edited in the work-item view.
	WorkItem bool
}

// Templates of the hook bodies: the project's own fixtures, recorded from
// GitLab (pkg/gitlab/testdata/hooks), whose values are replaced with those
// of the GitLab fake.
const (
	noteTemplate  = "note_plain.json"
	issueTemplate = "issue_labels.json"
)

var (
	templatesOnce sync.Once
	templates     map[string][]byte
	templatesErr  error
)

func template(name string) (map[string]any, error) {
	templatesOnce.Do(func() {
		root, err := repo.Root()
		if err != nil {
			templatesErr = fmt.Errorf("hook templates: %w", err)
			return
		}
		templates = map[string][]byte{}
		for _, n := range []string{noteTemplate, issueTemplate} {
			raw, err := os.ReadFile(filepath.Join(root, "pkg", "gitlab", "testdata", "hooks", n))
			if err != nil {
				templatesErr = fmt.Errorf("hook template: %w", err)
				return
			}
			templates[n] = raw
		}
	})
	if templatesErr != nil {
		return nil, templatesErr
	}
	var f struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(templates[name], &f); err != nil || f.Body == nil {
		return nil, fmt.Errorf("hook template %s: not a fixture {headers, body}: %v", name, err)
	}
	return f.Body, nil
}

func hookTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (u GitLabUser) json(p Project) map[string]any {
	return map[string]any{
		"id": u.ID, "name": u.Name, "username": u.Username,
		"avatar_url": fmt.Sprintf("%s/uploads/-/system/user/avatar/%d/avatar.png", p.Base, u.ID),
		"email":      u.Username + "@example.com",
	}
}

func (p Project) json(into map[string]any) {
	web := p.Base + "/" + p.Path
	ns, _, _ := strings.Cut(p.Path, "/")
	for k, v := range map[string]any{
		"id": p.ID, "web_url": web, "homepage": web, "namespace": ns, "path_with_namespace": p.Path,
		"git_http_url": web + ".git", "http_url": web + ".git",
	} {
		into[k] = v
	}
}

// labelJSON is a label as hooks carry it; its ID is derived from the title.
func labelJSON(p Project, title string) map[string]any {
	h := fnv.New32a()
	h.Write([]byte(title))
	return map[string]any{
		"id": 100 + int(h.Sum32()%100000), "title": title, "color": "#5865f2", "project_id": p.ID,
		"created_at": "2024-05-01T09:00:00Z", "updated_at": "2024-05-01T09:00:00Z",
		"template": false, "description": nil, "type": "ProjectLabel", "group_id": nil,
	}
}

// Labels is the hook form of a list of label titles.
func Labels(p Project, titles []string) []any {
	out := make([]any, 0, len(titles))
	for _, t := range titles {
		out = append(out, labelJSON(p, t))
	}
	return out
}

func stateID(state string) int {
	if state == "closed" {
		return 2
	}
	return 1
}

// issueAttrs overwrites the issue attributes of a hook (object_attributes
// of an issue hook, issue of a note hook) with the fake's issue.
func issueAttrs(into map[string]any, p Project, is gitlabfake.Issue) {
	var closedAt any
	if is.State == "closed" {
		closedAt = hookTime(is.UpdatedAt)
	}
	for k, v := range map[string]any{
		"id": is.ID, "iid": is.IID, "title": is.Title, "description": is.Description,
		"state": is.State, "state_id": stateID(is.State), "closed_at": closedAt,
		"confidential": is.Confidential, "author_id": is.AuthorID, "project_id": p.ID,
		"created_at": hookTime(is.CreatedAt), "updated_at": hookTime(is.UpdatedAt),
		"url": p.IssueURL(is.IID), "labels": Labels(p, is.Labels),
		"assignee_ids": []any{}, "assignee_id": nil,
	} {
		into[k] = v
	}
}

// NoteHook builds a note event on issue is, in the shape GitLab sends
// (pkg/gitlab/testdata/hooks/note_plain.json): X-Gitlab-Event "Confidential
// Note Hook" for an internal note or any note on a confidential issue,
// "Note Hook" otherwise.
func NoteHook(p Project, is gitlabfake.Issue, n NoteSpec) (Hook, error) {
	body, err := template(noteTemplate)
	if err != nil {
		return Hook{}, err
	}
	confidential := n.Internal || is.Confidential
	event, eventType := "Note Hook", "note"
	if confidential {
		event, eventType = "Confidential Note Hook", "confidential_note"
	}
	body["event_type"] = eventType
	body["user"] = n.Actor.json(p)
	body["project_id"] = p.ID
	proj, _ := body["project"].(map[string]any)
	if proj == nil {
		return Hook{}, fmt.Errorf("note template: no project")
	}
	p.json(proj)
	attrs, _ := body["object_attributes"].(map[string]any)
	issue, _ := body["issue"].(map[string]any)
	if attrs == nil || issue == nil {
		return Hook{}, fmt.Errorf("note template: no object_attributes or issue")
	}
	disc := sha1.Sum([]byte("discussion-" + strconv.Itoa(n.ID)))
	for k, v := range map[string]any{
		"id": n.ID, "note": n.Body, "description": n.Body, "author_id": n.Author.ID,
		"created_at": hookTime(n.Created), "updated_at": hookTime(n.Updated),
		"noteable_id": is.ID, "noteable_type": "Issue", "project_id": p.ID,
		"url":      p.IssueURL(is.IID) + "#note_" + strconv.Itoa(n.ID),
		"internal": n.Internal, "confidential": n.Internal, "action": n.Action,
		"discussion_id": hex.EncodeToString(disc[:]), "type": nil, "system": false,
	} {
		attrs[k] = v
	}
	issueAttrs(issue, p, is)
	b, err := json.Marshal(body)
	if err != nil {
		return Hook{}, fmt.Errorf("note hook: %w", err)
	}
	return Hook{Event: event, Body: b}, nil
}

// IssueHook builds an issue event on issue is (the fake's state after the
// change), in the shape GitLab sends (pkg/gitlab/testdata/hooks/
// issue_labels.json), or the work-item form of it.
func IssueHook(p Project, is gitlabfake.Issue, e IssueSpec) (Hook, error) {
	body, err := template(issueTemplate)
	if err != nil {
		return Hook{}, err
	}
	event := "Issue Hook"
	kind, eventType := "issue", "issue"
	if is.Confidential {
		event, eventType = "Confidential Issue Hook", "confidential_issue"
	}
	if e.WorkItem {
		kind, eventType = "work_item", "work_item"
	}
	body["object_kind"] = kind
	body["event_type"] = eventType
	body["user"] = e.Actor.json(p)
	proj, _ := body["project"].(map[string]any)
	attrs, _ := body["object_attributes"].(map[string]any)
	if proj == nil || attrs == nil {
		return Hook{}, fmt.Errorf("issue template: no project or object_attributes")
	}
	p.json(proj)
	issueAttrs(attrs, p, is)
	attrs["action"] = e.Action
	attrs["type"] = "Issue"
	attrs["updated_by_id"] = e.Actor.ID
	body["labels"] = Labels(p, is.Labels)
	changes := map[string]any{}
	for k, v := range e.Changes {
		changes[k] = v
	}
	if e.Action != "open" {
		var prev any
		if !e.PrevUpdated.IsZero() {
			prev = hookTime(e.PrevUpdated)
		}
		changes["updated_at"] = map[string]any{"previous": prev, "current": hookTime(is.UpdatedAt)}
		changes["updated_by_id"] = map[string]any{"previous": nil, "current": e.Actor.ID}
	}
	body["changes"] = changes
	b, err := json.Marshal(body)
	if err != nil {
		return Hook{}, fmt.Errorf("issue hook: %w", err)
	}
	return Hook{Event: event, Body: b}, nil
}

// Change is a hook's {previous, current} pair.
func Change(prev, cur any) map[string]any { return map[string]any{"previous": prev, "current": cur} }

// OpenChanges is the changes object of an issue's open event: every
// attribute, from nothing.
func OpenChanges(p Project, is gitlabfake.Issue) map[string]any {
	return map[string]any{
		"author_id": Change(nil, is.AuthorID), "confidential": Change(false, is.Confidential),
		"created_at": Change(nil, hookTime(is.CreatedAt)), "description": Change(nil, is.Description),
		"id": Change(nil, is.ID), "iid": Change(nil, is.IID), "labels": Change([]any{}, Labels(p, is.Labels)),
		"project_id": Change(nil, p.ID), "title": Change(nil, is.Title),
		"updated_at": Change(nil, hookTime(is.UpdatedAt)),
	}
}
