package sdesk_test

import (
	"context"
	"testing"
	"time"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

// zwsp is the zero-width space with which discordmd.Text defuses @everyone
// and @here.
const zwsp = "\u200b"

// The lines sdesk writes about an issue's changes carry GitLab's names,
// titles and labels escaped, and name a moved issue by a visible URL.
func TestIssueEventTextsEscaped(t *testing.T) {
	hostile := "@everyone [x](https://example.test) <@&1> **b**"
	esc := "@" + zwsp + `everyone \[x\](https://example.test) \<@&1\> \*\*b\*\*`
	tests := []struct {
		name string
		ev   sdesk.IssueEvent
		want string
	}{
		{"closed by", sdesk.IssueEvent{Action: "close", Author: sdesk.Author{Name: hostile}},
			"🔒 Issue #1 was closed by " + esc + "."},
		{"reopened by", sdesk.IssueEvent{Action: "reopen", Author: sdesk.Author{Name: "# Staff\n> team"}},
			`🔓 Issue #1 was reopened by \# Staff \> team.`},
		{"nameless", sdesk.IssueEvent{Action: "close", Author: sdesk.Author{Name: " "}},
			"🔒 Issue #1 was closed by someone."},
		{"labels", sdesk.IssueEvent{Action: "update", Changes: sdesk.IssueChanges{Labels: &sdesk.Change[[]string]{
			Previous: []string{"||old||"}, Current: []string{"-# small", "<t:0:R>"}}}},
			`🏷️ Labels: \-# small, \<t:0:R\> (added \-# small, \<t:0:R\>; removed \|\|old\|\|)`},
		{"assignees", sdesk.IssueEvent{Action: "update", Changes: sdesk.IssueChanges{Assignees: &sdesk.Change[[]string]{
			Current: []string{hostile}}}},
			"👤 Assignees: " + esc + " (added " + esc + ")"},
		{"moved to an issue GitLab cannot name", sdesk.IssueEvent{Action: "update", URL: "https://gitlab.example.com/a/b/-/issues/1 @here",
			Changes: sdesk.IssueChanges{MovedToID: &sdesk.Change[int]{Current: 999999}}},
			"➡️ This issue was moved to another issue (ID 999999; <https://gitlab.example.com/a/b/-/issues/1%20%40here> links to it). Updates from there do not reach this thread."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			thread, err := w.svc.Discord.CreatePrivateThread(ctx, supportChannel, "#1 Crash")
			if err != nil {
				t.Fatal(err)
			}
			if err := w.store.PutMapping(ctx, sdesk.Mapping{IssueIID: 1, IssueURL: "https://gitlab.example.com/a/b/-/issues/1",
				ThreadID: thread, GuildID: guild, ChannelID: supportChannel, ReporterID: reporter.ID, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			ev := tt.ev
			ev.IID = 1
			if err := w.svc.HandleEvent(ctx, sdesk.Event{Key: "k:" + tt.name, Kind: "Issue Hook", Issue: &ev}); err != nil {
				t.Fatal(err)
			}
			th, _ := w.discord.Thread(thread)
			if len(th.Messages) != 1 {
				t.Fatalf("messages: got %d, want 1", len(th.Messages))
			}
			if got := th.Messages[0].Content; got != tt.want {
				t.Errorf("content\ngot  %q,\nwant %q", got, tt.want)
			}
		})
	}
}
