package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sdesk/sdesk/internal/devkey"
)

// The sample world of events/: the IDs of events/env.json (the development
// application, whose public key is devkey's), a member, a report thread and
// its issue, of the project GITLAB_PROJECT=4242.
const (
	sampleAppID     = "1200000000000000001"
	sampleChannelID = "1200000000000000002"
	sampleGuildID   = "1200000000000000003"
	sampleUserID    = "1210000000000000001"
	sampleThreadID  = "1400000000000000007"
	sampleIssueIID  = 7
	sampleIssueID   = 90007
	sampleProjectID = 4242
	sampleProject   = "acme/support"
	sampleGitLab    = "https://gitlab.example.com"
	// sampleWebhookSecret is GITLAB_WEBHOOK_SECRET in events/env.json.
	sampleWebhookSecret = "dev-webhook-secret"
	// sampleTime is every sample's own time (requestContext, GitLab's
	// timestamps); only the signatures carry the time of `sdesk events`.
	sampleTime = "2026-11-24T10:00:00Z"
)

// sampleEvent is one file of events/: an HTTP API (payload 2.0) event for
// `sam local invoke FUNCTION -e FILE`.
type sampleEvent struct {
	File     string // file name under the events directory
	Function string // the template's logical ID: Interactions or Webhook
	What     string // what it is, for the listing
	Event    events.APIGatewayV2HTTPRequest
}

// sampleEvents returns every sample event, the interactions signed with the
// development key (internal/devkey) at now: Discord's signature check
// passes for 5 minutes after it.
func sampleEvents(now time.Time) ([]sampleEvent, error) {
	member := map[string]any{
		"user":  map[string]any{"id": sampleUserID, "username": "reporter", "global_name": "Rita Reporter", "discriminator": "0"},
		"roles": []string{}, "permissions": "2248473465835073",
	}
	interaction := func(id string, typ int, channelID string, data any) map[string]any {
		in := map[string]any{"id": id, "application_id": sampleAppID, "type": typ, "token": "dev-token-" + id, "version": 1}
		if typ != 1 {
			in["guild_id"] = sampleGuildID
			in["channel_id"] = channelID
			in["member"] = member
			in["data"] = data
			in["app_permissions"] = "2248473465835073"
			in["locale"] = "en-US"
			in["guild_locale"] = "en-US"
		}
		return in
	}
	label := func(id int, child map[string]any) map[string]any {
		return map[string]any{"type": 18, "id": id, "component": child}
	}
	user := map[string]any{"id": 11, "name": "Ada Staff", "username": "ada",
		"avatar_url": sampleGitLab + "/uploads/-/system/user/avatar/11/avatar.png", "email": "[REDACTED]"}
	project := map[string]any{"id": sampleProjectID, "name": "support", "path_with_namespace": sampleProject,
		"web_url": sampleGitLab + "/" + sampleProject, "visibility_level": 0}
	issueURL := sampleGitLab + "/" + sampleProject + "/-/issues/" + strconv.Itoa(sampleIssueIID)
	issue := func(state string, stateID int, closedAt any) map[string]any {
		return map[string]any{
			"id": sampleIssueID, "iid": sampleIssueIID, "project_id": sampleProjectID,
			"title": "Login button does nothing", "description": "Clicking login has no effect.",
			"state": state, "state_id": stateID, "confidential": true, "created_at": "2026-11-20T09:00:00Z",
			"updated_at": sampleTime, "closed_at": closedAt, "url": issueURL, "labels": []any{},
			"assignee_ids": []any{}, "author_id": 12,
		}
	}
	const noteID = 70001
	note := map[string]any{
		"object_kind": "note", "event_type": "confidential_note", "user": user, "project_id": sampleProjectID,
		"project": project,
		"object_attributes": map[string]any{
			"id": noteID, "note": "Thanks! Could you **try again** after clearing the cache?", "noteable_type": "Issue",
			"noteable_id": sampleIssueID, "author_id": 11, "project_id": sampleProjectID, "system": false,
			"internal": false, "confidential": false, "type": nil, "action": "create",
			"discussion_id": "0f9d7c4b2a1e3d5c6b7a8f9e0d1c2b3a4f5e6d7c", "created_at": sampleTime, "updated_at": sampleTime,
			"url": issueURL + "#note_" + strconv.Itoa(noteID),
		},
		"issue": issue("opened", 1, nil),
		"repository": map[string]any{"name": "support", "url": "git@gitlab.example.com:" + sampleProject + ".git",
			"homepage": sampleGitLab + "/" + sampleProject},
	}
	closeEvent := map[string]any{
		"object_kind": "issue", "event_type": "issue", "user": user, "project": project,
		"object_attributes": func() map[string]any {
			a := issue("closed", 2, sampleTime)
			a["action"] = "close"
			return a
		}(),
		"labels": []any{},
		"changes": map[string]any{
			"state_id":   map[string]any{"previous": 1, "current": 2},
			"closed_at":  map[string]any{"previous": nil, "current": sampleTime},
			"updated_at": map[string]any{"previous": "2026-11-23T09:00:00Z", "current": sampleTime},
		},
		"repository": map[string]any{"name": "support", "url": "git@gitlab.example.com:" + sampleProject + ".git",
			"homepage": sampleGitLab + "/" + sampleProject},
	}

	samples := []struct {
		file, function, what string
		body                 any
		header               map[string]string
	}{
		{"interactions-ping.json", "Interactions", "Discord's PING (answer {\"type\":1})",
			interaction("1300000000000000001", 1, "", nil), nil},
		{"interactions-report.json", "Interactions", "the /report command (answer: the form, type 9)",
			interaction("1300000000000000002", 2, sampleChannelID, map[string]any{"id": "1250000000000000001", "name": "report", "type": 1}), nil},
		{"interactions-report-submit.json", "Interactions", "the /report form submitted (answer: deferred, type 5; the job is queued)",
			interaction("1300000000000000003", 5, sampleChannelID, map[string]any{"custom_id": "report", "components": []any{
				label(1, map[string]any{"type": 4, "id": 2, "custom_id": "title", "value": "Login button does nothing"}),
				label(3, map[string]any{"type": 4, "id": 4, "custom_id": "description", "value": "Clicking login has no effect."}),
				label(7, map[string]any{"type": 19, "id": 8, "custom_id": "files", "values": []string{}}),
			}}), nil},
		{"interactions-reply.json", "Interactions", "/reply in the thread of issue 7 (deferred when the thread is a report's, else an ephemeral answer)",
			interaction("1300000000000000004", 2, sampleThreadID, map[string]any{"id": "1250000000000000002", "name": "reply", "type": 1,
				"options": []any{map[string]any{"name": "message", "type": 3, "value": "It works after a restart, thanks."}}}), nil},
		{"webhook-note.json", "Webhook", "a GitLab comment on issue 7 (posted in its thread when issue 7 has one)",
			note, map[string]string{"x-gitlab-event": "Confidential Note Hook"}},
		{"webhook-issue-close.json", "Webhook", "GitLab closes issue 7 (its thread archived when it has one)",
			closeEvent, map[string]string{"x-gitlab-event": "Confidential Issue Hook"}},
	}
	epoch, err := time.Parse(time.RFC3339, sampleTime)
	if err != nil {
		return nil, err
	}
	var out []sampleEvent
	for i, s := range samples {
		body, err := json.Marshal(s.body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
		path := "/interactions"
		header := map[string]string{"content-type": "application/json"}
		if s.function == "Interactions" {
			sig, ts := devkey.Sign(devkey.Key, body, now)
			header["user-agent"] = "Discord-Interactions/1.0 (+https://discord.com)"
			header["x-signature-ed25519"] = sig
			header["x-signature-timestamp"] = ts
		} else {
			path = "/gitlab"
			header["user-agent"] = "GitLab/17.6.0"
			header["x-gitlab-token"] = sampleWebhookSecret
			header["x-gitlab-instance"] = sampleGitLab
			header["x-gitlab-event-uuid"] = fmt.Sprintf("3f0e6a52-2f2a-4d7a-9a55-6f1f2b7f0c%02d", i)
			header["x-gitlab-webhook-uuid"] = "6c1f2a9e-8b1d-4c55-9a3e-2d7c0f5e4b12"
			header["idempotency-key"] = fmt.Sprintf("0b6f1c4e-5d1a-4b8e-8f0e-7a2d9c3b5e%02d", i)
			for k, v := range s.header {
				header[k] = v
			}
		}
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "POST " + path, RawPath: path, Headers: header, Body: string(body),
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				AccountID: "123456789012", APIID: "sdeskdev", DomainName: "sdeskdev.execute-api.us-east-1.amazonaws.com",
				DomainPrefix: "sdeskdev", RequestID: fmt.Sprintf("dev-request-%d", i+1), RouteKey: "POST " + path,
				Stage: "$default", Time: epoch.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: epoch.UnixMilli(),
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
					Method: "POST", Path: path, Protocol: "HTTP/1.1", SourceIP: "203.0.113.10", UserAgent: header["user-agent"],
				},
			},
		}
		out = append(out, sampleEvent{File: s.file, Function: s.function, What: s.what, Event: ev})
	}
	return out, nil
}

// events runs `sdesk events`: it writes every sample event into a
// directory, events/local by default (ignored by git: events/.gitignore),
// or into events/ itself, over the tracked samples, with -write.
func (m *Main) events(args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	dir := fs.String("dir", filepath.Join("events", "local"), "directory to write the events into (created if needed)")
	write := fs.Bool("write", false, "write into events/, replacing the tracked samples (for a change of their shape)")
	at := fs.Int64("at", 0, "sign as of this Unix time (default now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: sdesk events [-dir DIR | -write] [-at UNIX]")
	}
	if *write {
		*dir = "events"
	}
	now := time.Now()
	if *at != 0 {
		now = time.Unix(*at, 0)
	}
	samples, err := sampleEvents(now)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	for _, s := range samples {
		b, err := json.MarshalIndent(s.Event, "", "  ")
		if err != nil {
			return fmt.Errorf("events: %s: %w", s.File, err)
		}
		path := filepath.Join(*dir, s.File)
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		fmt.Fprintf(m.Stdout, "%-12s %s\n             %s\n", s.Function, path, s.What)
	}
	fmt.Fprintf(m.Stdout, "signed at %s: the interactions pass the signature check until %s\n",
		now.UTC().Format(time.RFC3339), now.Add(5*time.Minute).UTC().Format(time.RFC3339))
	return nil
}
