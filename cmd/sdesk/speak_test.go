package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
)

// TestWhoMaySpeak: only the reporter and staff write to an issue, by every
// entry point that writes (issue 7, item 5). A bystander who can see the
// thread gets an ephemeral refusal and nothing reaches GitLab.
func TestWhoMaySpeak(t *testing.T) {
	env := e2e.New(t)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Crash", "description": "It crashes."})
	env.Interact(url, submit)
	thread := e2e.ThreadOf(env.ReportDone(t, submit))
	target := func(author e2e.User, text string) map[string]any {
		return map[string]any{
			"id": env.ID(), "channel_id": thread, "content": text, "attachments": []any{},
			"author": map[string]any{"id": author.ID, "username": author.Username, "discriminator": "0"},
		}
	}

	refused := []struct {
		name string
		in   e2e.Interaction
	}{
		{"/reply", env.Command(e2e.Other, thread, "reply", map[string]string{"message": "I am the reporter now"})},
		{"Reply button", env.Button(e2e.Other, thread, "reply/1")},
		{"reply modal submit", env.ModalSubmit(e2e.Other, thread, "replyto/1", map[string]string{"message": "sent without the button"})},
		{"Send to GitLab on own message", env.MessageCommand(e2e.Other, thread, "Send to GitLab", target(e2e.Other, "my own words"))},
		{"Send to GitLab on the reporter's message", env.MessageCommand(e2e.Other, thread, "Send to GitLab", target(e2e.Reporter, "their words"))},
		{"/close", env.Command(e2e.Other, thread, "close", nil)},
		{"Close button", env.Button(e2e.Other, thread, "close/1")},
		{"/close with a reason", env.CommandWith(e2e.Other, thread, "close", e2e.Option{Name: "reason", Type: 3, Value: "/close spam"})},
		{"/close issue:1 from the channel", env.CommandWith(e2e.Other, e2e.ChannelID, "close", e2e.Option{Name: "issue", Type: 4, Value: 1})},
		{"/reopen", env.Command(e2e.Other, thread, "reopen", nil)},
		{"/reopen issue:1 from the channel", env.CommandWith(e2e.Other, e2e.ChannelID, "reopen", e2e.Option{Name: "issue", Type: 4, Value: 1})},
		{"/status", env.Command(e2e.Other, thread, "status", nil)},
		{"/status issue:1 from the channel", env.CommandWith(e2e.Other, e2e.ChannelID, "status", e2e.Option{Name: "issue", Type: 4, Value: 1})},
	}
	for _, tt := range refused {
		got := env.Interact(url, tt.in)
		if got.Type != 4 || !got.Ephemeral() || !strings.Contains(got.Data.Content, "Only the reporter or staff") {
			t.Errorf("%s by a bystander: got %s, want an ephemeral refusal", tt.name, got.Raw)
		}
	}

	// Nor may they see its title: autocomplete and /issues list only
	// the caller's own reports.
	for _, cmd := range []string{"close", "reopen", "status"} {
		got := env.Interact(url, env.Autocomplete(e2e.Other, e2e.ChannelID, cmd, e2e.Option{Name: "issue", Type: 4, Value: "", Focused: true}))
		if got.Type != 8 || len(got.Data.Choices) != 0 {
			t.Errorf("%s autocomplete by a bystander: got %s, want no choices", cmd, got.Raw)
		}
	}
	if got := env.Interact(url, env.Command(e2e.Other, e2e.ChannelID, "issues", nil)); strings.Contains(got.Data.Content, "Crash") {
		t.Errorf("/issues by a bystander lists the report: %s", got.Raw)
	}

	allowed := []struct {
		name string
		in   e2e.Interaction
		want string
	}{
		{"reporter /reply", env.Command(e2e.Reporter, thread, "reply", map[string]string{"message": "reporter answer"}), "reporter answer"},
		{"staff /reply", env.Command(e2e.Staff, thread, "reply", map[string]string{"message": "staff answer"}), "staff answer"},
		{"staff reply modal", env.ModalSubmit(e2e.Staff, thread, "replyto/1", map[string]string{"message": "staff modal answer"}), "staff modal answer"},
		{"reporter Send to GitLab", env.MessageCommand(e2e.Reporter, thread, "Send to GitLab", target(e2e.Reporter, "forwarded by the reporter")), "forwarded by the reporter"},
		{"staff Send to GitLab of the reporter's message", env.MessageCommand(e2e.Staff, thread, "Send to GitLab", target(e2e.Reporter, "sent on by staff")), "sent on by staff"},
	}
	for _, tt := range allowed {
		if got := env.Interact(url, tt.in); got.Type != 5 {
			t.Errorf("%s: got %s, want a deferred answer", tt.name, got.Raw)
		}
	}
	if got := env.Interact(url, env.Button(e2e.Staff, thread, "reply/1")); got.Type != 9 {
		t.Errorf("staff Reply button: got %s, want the reply modal", got.Raw)
	}
	e2e.Eventually(t, "the allowed notes", func() bool { is, _ := env.GitLab.Issue(1); return len(is.Notes) == len(allowed) })
	time.Sleep(200 * time.Millisecond) // a refused write would have been queued by now
	is, _ := env.GitLab.Issue(1)
	var bodies []string
	for _, n := range is.Notes {
		bodies = append(bodies, n.Body)
	}
	all := strings.Join(bodies, "\n")
	for _, tt := range allowed {
		if !strings.Contains(all, tt.want) {
			t.Errorf("notes: want %q among them", tt.want)
		}
	}
	// Whose message staff sent on is said in sdesk's attribution line,
	// outside the quoted text.
	if !strings.Contains(all, "— **moderator** on Discord, sending a message by **reporter**") {
		t.Errorf("notes: want the attribution of the message staff sent on; got\n%s", all)
	}
	for _, bad := range []string{"I am the reporter now", "sent without the button", "my own words", "their words"} {
		if strings.Contains(all, bad) {
			t.Errorf("notes: got %q from a bystander", bad)
		}
	}
	if len(is.Notes) != len(allowed) || is.State != "opened" {
		t.Errorf("issue: got %d notes, state %s; want %d notes, opened", len(is.Notes), is.State, len(allowed))
	}
}

// TestReplayedInteraction: the same signed interaction delivered twice
// within the signature window has effect once, before and after its job
// finished (issue 8: storing a job replaced a finished one).
func TestReplayedInteraction(t *testing.T) {
	env := e2e.New(t)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Crash", "description": "It crashes."})
	env.Interact(url, submit)
	env.Interact(url, submit) // while its job runs, or just after
	thread := e2e.ThreadOf(env.ReportDone(t, submit))
	if got := env.Interact(url, submit); got.Type != 5 { // after it finished
		t.Errorf("replay: got %s, want the same deferred answer", got.Raw)
	}
	reply := env.Command(e2e.Reporter, thread, "reply", map[string]string{"message": "once"})
	env.Interact(url, reply)
	e2e.Eventually(t, "the note", func() bool { is, _ := env.GitLab.Issue(1); return len(is.Notes) == 1 })
	env.Interact(url, reply)
	time.Sleep(300 * time.Millisecond)
	if _, ok := env.GitLab.Issue(2); ok {
		t.Error("a replayed report made a second issue")
	}
	if n := len(env.Discord.Threads()); n != 1 {
		t.Errorf("threads: got %d, want 1", n)
	}
	if is, _ := env.GitLab.Issue(1); len(is.Notes) != 1 {
		t.Errorf("notes: got %d, want the reply once", len(is.Notes))
	}
}

// TestTimedOutMember: a member whose communication_disabled_until is in
// the future gets an ephemeral refusal at every entry point that writes to
// GitLab, and nothing is written; an expired timeout refuses nothing
// (issue 13).
func TestTimedOutMember(t *testing.T) {
	env := e2e.New(t)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{"title": "Crash", "description": "It crashes."})
	env.Interact(url, submit)
	thread := e2e.ThreadOf(env.ReportDone(t, submit))

	muted := e2e.Reporter
	muted.TimedOutUntil = time.Now().Add(time.Hour)
	mutedStaff := e2e.Staff
	mutedStaff.TimedOutUntil = time.Now().Add(time.Hour)
	target := map[string]any{
		"id": env.ID(), "channel_id": thread, "content": "words", "attachments": []any{},
		"author": map[string]any{"id": muted.ID, "username": muted.Username, "discriminator": "0"},
	}
	for _, tt := range []struct {
		name string
		in   e2e.Interaction
	}{
		{"/report", env.Command(muted, e2e.ChannelID, "report", nil)},
		{"report modal submit", env.ModalSubmit(muted, e2e.ChannelID, "report", map[string]string{"title": "Again", "description": "x"})},
		{"/reply", env.Command(muted, thread, "reply", map[string]string{"message": "x"})},
		{"Reply button", env.Button(muted, thread, "reply/1")},
		{"reply modal submit", env.ModalSubmit(muted, thread, "replyto/1", map[string]string{"message": "x"})},
		{"Send to GitLab", env.MessageCommand(muted, thread, "Send to GitLab", target)},
		{"/close", env.Command(muted, thread, "close", nil)},
		{"Close button", env.Button(muted, thread, "close/1")},
		{"staff /reply", env.Command(mutedStaff, thread, "reply", map[string]string{"message": "x"})},
	} {
		got := env.Interact(url, tt.in)
		if got.Type != 4 || !got.Ephemeral() || !strings.Contains(got.Data.Content, "timed out") {
			t.Errorf("%s while timed out: got %s, want an ephemeral refusal", tt.name, got.Raw)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if is, _ := env.GitLab.Issue(1); len(is.Notes) != 0 || is.State != "opened" {
		t.Errorf("issue: got %d notes, state %s; want nothing written", len(is.Notes), is.State)
	}
	if _, ok := env.GitLab.Issue(2); ok {
		t.Error("a timed-out member's report made an issue")
	}

	past := e2e.Reporter
	past.TimedOutUntil = time.Now().Add(-time.Minute)
	if got := env.Interact(url, env.Command(past, thread, "reply", map[string]string{"message": "after the timeout"})); got.Type != 5 {
		t.Errorf("/reply after the timeout ended: got %s, want a deferred answer", got.Raw)
	}
	e2e.Eventually(t, "the note", func() bool { is, _ := env.GitLab.Issue(1); return len(is.Notes) == 1 })
}
