package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// TestPanelCommand: /panel, through signed interactions on both
// stores, answers with a deferred ephemeral message, posts the panel
// once into the channel it was used in, and a replay of the same signed
// interaction posts nothing more (issue 10, item 5). No other test
// exercises the /panel command (job "panel").
func TestPanelCommand(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			panels := func() int {
				n := 0
				for _, m := range h.Discord.Messages(e2e.ChannelID) {
					if m.Content == sdesk.PanelText {
						n++
					}
				}
				return n
			}
			in := h.CommandWith(e2e.Staff, e2e.ChannelID, "panel")
			if r := h.Interact(h.url, in); r.Type != 5 || !r.Ephemeral() {
				t.Fatalf("/panel: got %s, want a deferred ephemeral answer", r.Raw)
			}
			if got := h.answered(t, in); !strings.Contains(got, "panel is posted") {
				t.Errorf("/panel answer: got %q", got)
			}
			if r := h.Interact(h.url, in); r.Type != 5 {
				t.Errorf("/panel replayed: got %s, want the same deferred answer", r.Raw)
			}
			time.Sleep(300 * time.Millisecond)
			if n := panels(); n != 1 {
				t.Errorf("panels in the channel after /panel and its replay: got %d, want 1", n)
			}
		})
	}
}

// TestNewEntryPointsRefuse: every new entry point goes through the
// same authorization as /reply, through signed interactions on both
// stores: a bystander's /status and /reopen naming the reporter's issue
// are refused, a bystander typing the issue's number in the `issue`
// option gets no choice (its title stays private), and a timed-out
// reporter's /reopen and /close from outside the thread, and the panel's
// button, are refused. Nothing is written to GitLab.
func TestNewEntryPointsRefuse(t *testing.T) {
	for _, store := range stores {
		t.Run(store, func(t *testing.T) {
			h := newHookEnv(t, store, nil)
			for _, cmd := range []string{"status", "reopen", "close"} {
				r := h.Interact(h.url, h.CommandWith(e2e.Other, e2e.ChannelID, cmd, issueOpt(7)))
				if r.Type != 4 || !r.Ephemeral() || !strings.Contains(r.Data.Content, "Only the reporter or staff") {
					t.Errorf("/%s issue:7 by a bystander: got %s, want an ephemeral refusal", cmd, r.Raw)
				}
				ac := h.Interact(h.url, h.Autocomplete(e2e.Other, e2e.ChannelID, cmd, e2e.Option{Name: "issue", Type: 4, Value: "7", Focused: true}))
				if ac.Type != 8 || len(ac.Data.Choices) != 0 || strings.Contains(string(ac.Raw), "Printer") {
					t.Errorf("/%s autocomplete of \"7\" by a bystander: got %s, want no choices", cmd, ac.Raw)
				}
			}
			muted := e2e.Reporter
			muted.TimedOutUntil = time.Now().Add(time.Hour)
			for _, tt := range []struct {
				name string
				in   e2e.Interaction
			}{
				{"/reopen issue:7", h.CommandWith(muted, e2e.ChannelID, "reopen", issueOpt(7))},
				{"/close reason issue:7", h.CommandWith(muted, e2e.ChannelID, "close", e2e.Option{Name: "reason", Type: 3, Value: "done"}, issueOpt(7))},
				{"panel button", h.Button(muted, e2e.ChannelID, sdesk.RoutePanelReport)},
			} {
				r := h.Interact(h.url, tt.in)
				if r.Type != 4 || !r.Ephemeral() || !strings.Contains(r.Data.Content, "timed out") {
					t.Errorf("%s while timed out: got %s, want an ephemeral refusal", tt.name, r.Raw)
				}
			}
			time.Sleep(300 * time.Millisecond)
			if is, _ := h.GitLab.Issue(7); is.State != "opened" || len(is.Notes) != 0 {
				t.Errorf("issue 7 after refusals: %s with %d notes, want opened with none", is.State, len(is.Notes))
			}
		})
	}
}
