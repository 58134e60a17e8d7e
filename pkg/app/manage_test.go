package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/chaos"
	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/discord/discordfake"
	"github.com/sdesk/sdesk/pkg/gitlab/gitlabfake"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// answered waits until the job of an interaction edited its deferred
// answer, and returns its text.
func (h *hookEnv) answered(t *testing.T, in e2e.Interaction) string {
	t.Helper()
	var m discordfake.Message
	e2e.Eventually(t, "the deferred answer", func() bool {
		var ok bool
		m, ok = h.Discord.OriginalResponse(in.Token)
		return ok && (m.Content != "" || len(m.Embeds) > 0)
	})
	return m.Content
}

func issueOpt(iid int) e2e.Option { return e2e.Option{Name: "issue", Type: 4, Value: iid} }

// TestManageFromOutsideTheThread: signed interactions through `sdesk
// serve`'s handler, on both stores: the reporter finds issue 7 with the
// `issue` option's autocomplete in the support channel, closes it with a
// reason, reopens it (its thread unarchived and unlocked), asks its
// status, and lists it with /issues; a reply of theirs to the issue
// closed in GitLab reopens it (issue 10, item 4).
func TestManageFromOutsideTheThread(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			ctx := context.Background()

			ac := h.Interact(h.url, h.Autocomplete(e2e.Reporter, e2e.ChannelID, "close", e2e.Option{Name: "issue", Type: 4, Value: "7", Focused: true}))
			if ac.Type != 8 || len(ac.Data.Choices) != 1 || fmt.Sprint(ac.Data.Choices[0].Value) != "7" || !strings.Contains(ac.Data.Choices[0].Name, "Printer on fire") {
				t.Fatalf("autocomplete: got %s, want issue 7 as the one choice", ac.Raw)
			}
			if ac := h.Interact(h.url, h.Autocomplete(e2e.Other, e2e.ChannelID, "close", e2e.Option{Name: "issue", Type: 4, Value: "", Focused: true})); ac.Type != 8 || len(ac.Data.Choices) != 0 {
				t.Errorf("autocomplete of a member without reports: got %s, want no choices", ac.Raw)
			}

			// Someone else may not close it.
			if r := h.Interact(h.url, h.CommandWith(e2e.Other, e2e.ChannelID, "close", issueOpt(7))); !r.Ephemeral() || !strings.Contains(r.Data.Content, "Only the reporter or staff") {
				t.Errorf("/close by a bystander: got %s, want a refusal", r.Raw)
			}

			closeIn := h.CommandWith(e2e.Reporter, e2e.ChannelID, "close", e2e.Option{Name: "reason", Type: 3, Value: "Fixed after a restart @all /reopen"}, issueOpt(7))
			if r := h.Interact(h.url, closeIn); r.Type != 5 || !r.Ephemeral() {
				t.Fatalf("/close: got %s, want a deferred ephemeral answer", r.Raw)
			}
			if got := h.answered(t, closeIn); !strings.Contains(got, "Issue #7 is closed") {
				t.Errorf("/close answer: got %q", got)
			}
			is, _ := h.GitLab.Issue(7)
			if is.State != "closed" {
				t.Errorf("after /close: issue 7 is %s, want closed", is.State)
			}
			var notes []string
			for _, n := range is.Notes {
				if !n.System {
					notes = append(notes, n.Body)
				}
			}
			if len(notes) != 1 || !strings.Contains(notes[0], "Fixed after a restart @\u200dall") || !strings.Contains(notes[0], "closing the issue") || !strings.HasSuffix(notes[0], "-->") {
				t.Errorf("reason note: got %q, want the reason defused, then sdesk's line and marker", notes)
			}
			if len(h.GitLab.Mentions()) != 0 {
				t.Errorf("the reason notified %v", h.GitLab.Mentions())
			}

			// The close hook archives and locks the thread (as
			// SDESK_LOCK_ON_CLOSE would); the reporter reopens from outside.
			yes := true
			if err := h.app.Discord.EditThread(ctx, h.thread, sdesk.ThreadEdit{Archived: &yes, Locked: &yes}); err != nil {
				t.Fatal(err)
			}
			ac = h.Interact(h.url, h.Autocomplete(e2e.Reporter, e2e.ChannelID, "reopen", e2e.Option{Name: "issue", Type: 4, Value: "", Focused: true}))
			if len(ac.Data.Choices) != 1 || !strings.Contains(ac.Data.Choices[0].Name, "(closed)") {
				t.Errorf("reopen autocomplete: got %s, want issue 7, closed", ac.Raw)
			}
			reopenIn := h.CommandWith(e2e.Reporter, e2e.ChannelID, "reopen", issueOpt(7))
			if r := h.Interact(h.url, reopenIn); r.Type != 5 || !r.Ephemeral() {
				t.Fatalf("/reopen: got %s, want a deferred ephemeral answer", r.Raw)
			}
			if got := h.answered(t, reopenIn); !strings.Contains(got, "open again") {
				t.Errorf("/reopen answer: got %q", got)
			}
			if is, _ := h.GitLab.Issue(7); is.State != "opened" {
				t.Errorf("after /reopen: issue 7 is %s, want opened", is.State)
			}
			if th, _ := h.Discord.Thread(h.thread); th.Archived || th.Locked {
				t.Errorf("after /reopen: thread archived=%v locked=%v, want neither", th.Archived, th.Locked)
			}

			h.GitLab.EditIssue(7, func(is *gitlabfake.Issue) { is.Labels, is.Assignees = []string{"printer"}, []string{"grace"} })
			statusIn := h.CommandWith(e2e.Reporter, e2e.ChannelID, "status", issueOpt(7))
			if r := h.Interact(h.url, statusIn); r.Type != 5 || !r.Ephemeral() {
				t.Fatalf("/status: got %s, want a deferred ephemeral answer", r.Raw)
			}
			got := h.answered(t, statusIn)
			for _, want := range []string{"#7 Printer on fire", "State: open", "Assignees: grace", "Labels: printer", "Last update: <t:"} {
				if !strings.Contains(got, want) {
					t.Errorf("/status answer: got %q, want %q in it", got, want)
				}
			}
			if strings.Contains(got, "http") {
				t.Errorf("/status answer to the reporter links the issue: %q", got)
			}

			list := h.Interact(h.url, h.CommandWith(e2e.Reporter, e2e.ChannelID, "issues"))
			if list.Type != 4 || !list.Ephemeral() || !strings.Contains(list.Data.Content, "**#7**") || !strings.Contains(list.Data.Content, "<#"+h.thread+">") {
				t.Errorf("/issues: got %s, want issue 7 and its thread", list.Raw)
			}

			// Closed in GitLab, its hook delivered; the reporter's reply
			// reopens it.
			if err := h.app.GitLab.SetState(ctx, 7, true); err != nil {
				t.Fatal(err)
			}
			closed, _ := h.GitLab.Issue(7)
			hook, err := chaos.IssueHook(chaos.Project{ID: h.GitLab.ProjectID(), Path: h.GitLab.ProjectPath(), Base: h.GitLab.URL()}, closed,
				chaos.IssueSpec{Action: "close", Actor: chaos.StaffA, PrevUpdated: closed.CreatedAt,
					Changes: map[string]any{"state_id": chaos.Change(1, 2)}})
			if err != nil {
				t.Fatal(err)
			}
			if status, body := h.Webhook(h.url, hook.Event, hook.Body, http.Header{"X-Gitlab-Event": {hook.Event}}); status != 200 {
				t.Fatalf("close hook: %d %s", status, body)
			}
			e2e.Eventually(t, "the close hook archives the thread", func() bool {
				th, _ := h.Discord.Thread(h.thread)
				return th.Archived
			})
			reply := h.Command(e2e.Reporter, h.thread, "reply", map[string]string{"message": "It is back."})
			if r := h.Interact(h.url, reply); r.Type != 5 {
				t.Fatalf("/reply: got %s", r.Raw)
			}
			if got := h.replyDone(t, reply); !strings.Contains(got.Content, "reopened it") {
				t.Errorf("reply answer: got %q, want the reopen said", got.Content)
			}
			if is, _ := h.GitLab.Issue(7); is.State != "opened" {
				t.Errorf("after the reporter's reply: issue 7 is %s, want opened", is.State)
			}
		})
	}
}

// TestIssuesPaging: /issues lists 10 reports a page, newest first, with
// buttons that replace the message with the next page; staff's all:true
// lists every open report (issue 10, item 4).
func TestIssuesPaging(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			ctx := context.Background()
			base := time.Now().Add(-time.Hour)
			for n := range 12 {
				iid := 20 + n
				if err := h.app.Store.PutMapping(ctx, sdesk.Mapping{IssueIID: iid, IssueURL: issueURL, ThreadID: strconv.Itoa(1260000000000000000 + iid), GuildID: e2e.GuildID,
					ChannelID: e2e.ChannelID, ReporterID: e2e.Reporter.ID, Title: "Report " + strconv.Itoa(iid), CreatedAt: base.Add(time.Duration(n) * time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			first := h.Interact(h.url, h.CommandWith(e2e.Reporter, e2e.ChannelID, "issues"))
			if n := strings.Count(first.Data.Content, "\n•"); n != 10 || !strings.Contains(first.Data.Content, "**#7**") || strings.Contains(first.Data.Content, "**#21**") {
				t.Errorf("page 1: got %d reports in %q, want 10: #7 (newest) down to #22", n, first.Data.Content)
			}
			if ids := buttonIDs(first.Data.Components); strings.Join(ids, ",") != "issues/0,issues/1" {
				t.Errorf("page 1 buttons: got %v", ids)
			}
			second := h.Interact(h.url, h.Button(e2e.Reporter, e2e.ChannelID, "issues/1"))
			if second.Type != 7 || !strings.Contains(second.Data.Content, "**#21**") || !strings.Contains(second.Data.Content, "**#20**") {
				t.Errorf("page 2: got %s, want an update with #21 and #20", second.Raw)
			}
			if r := h.Interact(h.url, h.CommandWith(e2e.Reporter, e2e.ChannelID, "issues", e2e.Option{Name: "all", Type: 5, Value: true})); !strings.Contains(r.Data.Content, "Only staff") {
				t.Errorf("/issues all:true by a member: got %s, want a refusal", r.Raw)
			}
			all := h.Interact(h.url, h.CommandWith(e2e.Staff, e2e.ChannelID, "issues", e2e.Option{Name: "all", Type: 5, Value: true}))
			if !strings.Contains(all.Data.Content, "Open reports") || !strings.Contains(all.Data.Content, "by <@"+e2e.Reporter.ID+">") {
				t.Errorf("/issues all:true by staff: got %s", all.Raw)
			}
		})
	}
}

func buttonIDs(rows []map[string]any) []string {
	var out []string
	for _, row := range rows {
		cs, _ := row["components"].([]any)
		for _, c := range cs {
			out = append(out, fmt.Sprint(c.(map[string]any)["custom_id"]))
		}
	}
	return out
}

// TestLimitsPerReporter: over SDESK_MAX_OPEN_REPORTS, /report and the
// panel's button answer with the open reports instead of the form; within
// SDESK_REPORT_COOLDOWN, a second report is refused; staff are exempt
// (issue 10, item 6).
func TestLimitsPerReporter(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, map[string]string{"SDESK_MAX_OPEN_REPORTS": "1"})
			for _, in := range []e2e.Interaction{
				h.Command(e2e.Reporter, e2e.ChannelID, "report", nil),
				h.Button(e2e.Reporter, e2e.ChannelID, sdesk.RoutePanelReport),
			} {
				r := h.Interact(h.url, in)
				if r.Type != 4 || !r.Ephemeral() || !strings.Contains(r.Data.Content, "**#7**") || !strings.Contains(r.Data.Content, "<#"+h.thread+">") {
					t.Errorf("report over the limit: got %s, want an ephemeral refusal naming #7 and its thread", r.Raw)
				}
			}
			if r := h.Interact(h.url, h.ReportForm(e2e.Reporter, e2e.Form{Title: "Again", Description: "x"})); r.Type != 4 || !strings.Contains(r.Data.Content, "You have 1 open report,") {
				t.Errorf("report form over the limit: got %s, want a refusal", r.Raw)
			}
			if r := h.Interact(h.url, h.Command(e2e.Staff, e2e.ChannelID, "report", nil)); r.Type != 9 {
				t.Errorf("/report by staff: got %s, want the form", r.Raw)
			}

			c := newHookEnv(t, store, map[string]string{"SDESK_REPORT_COOLDOWN": "1h"})
			first := c.ReportForm(e2e.Other, e2e.Form{Title: "First", Description: "x"})
			if r := c.Interact(c.url, first); r.Type != 5 {
				t.Fatalf("first report: got %s, want it accepted", r.Raw)
			}
			c.ReportDone(t, first)
			if r := c.Interact(c.url, c.Command(e2e.Other, e2e.ChannelID, "report", nil)); r.Type != 4 || !strings.Contains(r.Data.Content, "You can make another one <t:") {
				t.Errorf("/report within the cooldown: got %s, want a refusal with the time", r.Raw)
			}
			if r := c.Interact(c.url, c.ReportForm(e2e.Other, e2e.Form{Title: "Second", Description: "x"})); r.Type != 4 || !strings.Contains(r.Data.Content, "You can make another one") {
				t.Errorf("second report within the cooldown: got %s, want a refusal", r.Raw)
			}
			if r := c.Interact(c.url, c.ReportForm(e2e.Staff, e2e.Form{Title: "Staff", Description: "x"})); r.Type != 5 {
				t.Errorf("a report by staff: got %s, want it accepted", r.Raw)
			}
		})
	}
}
