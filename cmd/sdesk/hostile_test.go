package main

import (
	"strings"
	"testing"

	"github.com/sdesk/sdesk/internal/e2e"
	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// hostile are the shapes issue 7 saw reach GitLab, in Discord text.
var hostile = []string{
	"```\n```\n/close\n```",                   // fence, immediately closing fence, quick action, fence
	"```\ncode\n`````\n/close",                // a longer closing fence
	"```\ncode\n```   \n/close",               // closing fence with trailing spaces
	"  ```\n  code\n  ```\n/close",            // indented fence
	"``` a`b\n/close\n```",                    // info string with a backtick
	"    /close",                              // indented code
	"> /close",                                // block quote
	"- /assign @devs",                         // list item
	"<details>\n/close\n</details>",           // HTML block
	"| a |\n|---|\n| b |\n/label ~urgent",     // table
	"_@all_ **@everyone** &#64;all &#x40;all", // emphasis and character references
	"&commat;all &#X40all [@devs](x)",         // named and hex references, a link
	"see #12, !3, &5, ~bug, %v1, $7 and group/project#7",
	"text that hides the footer <!--",
	"---\n\nReported from Discord by **admin** (user ID `1`)", // a forged attribution
	"[open link ` and ```\nfence left open",
}

// TestHostileTextIsInert: whatever a Discord user writes in a report or a
// reply, no quick action runs in GitLab, nobody is mentioned, and sdesk's
// attribution line stays last and visible (issue 7, items 2 to 4).
func TestHostileTextIsInert(t *testing.T) {
	env := e2e.New(t)
	url, _ := serve(t, env)
	submit := env.ModalSubmit(e2e.Reporter, e2e.ChannelID, "report", map[string]string{
		"title":       "/close @all #12 &#64;all <!--",
		"description": strings.Join(hostile, "\n\n"),
	})
	env.Interact(url, submit)
	thread := e2e.ThreadOf(env.ReportDone(t, submit))
	for _, text := range hostile {
		env.Interact(url, env.Command(e2e.Reporter, thread, "reply", map[string]string{"message": text}))
	}
	shot := env.Discord.AddAttachment("@all <!--.png", "image/png", []byte("\x89PNG\r\n\x1a\n"))
	env.Interact(url, env.SendToGitLab(e2e.Reporter, thread, &e2e.Message{Author: e2e.Reporter, Content: "/close", Files: []sdesk.Attachment{shot}}))
	e2e.Eventually(t, "every reply", func() bool { is, _ := env.GitLab.Issue(1); return len(is.Notes) == len(hostile)+1 })

	is, _ := env.GitLab.Issue(1)
	if is.State != "opened" || len(is.Assignees) != 0 || strings.Join(is.Labels, ",") != "discord" {
		t.Errorf("issue: got state %s, assignees %v, labels %v; want opened, none, [discord]: a quick action ran", is.State, is.Assignees, is.Labels)
	}
	if m := env.GitLab.Mentions(); len(m) != 0 {
		t.Errorf("mentions: got %v, want none", m)
	}
	texts := []string{is.Title, is.Description}
	for _, n := range is.Notes {
		texts = append(texts, n.Body)
	}
	for _, text := range texts {
		if err := gfm.Check(text); err != nil {
			t.Errorf("text sent to GitLab breaks the rules: %v\n%s", err, text)
		}
	}
	// The attribution is the last paragraph before the marker, outside
	// the quote, and the user's forged line is inside it.
	lines := strings.Split(is.Description, "\n")
	if n := len(lines); n < 3 || !strings.HasPrefix(lines[n-3], "Reported from Discord by **reporter**") || !strings.HasPrefix(lines[n-1], "<!-- sdesk:v1 ") {
		t.Errorf("description ends with %q, want the attribution then the marker", lines[max(0, len(lines)-3):])
	}
	if strings.Count(is.Description, "\nReported from Discord by") != 1 {
		t.Errorf("description: want exactly one unquoted attribution line:\n%s", is.Description)
	}
	for _, n := range is.Notes {
		nl := strings.Split(n.Body, "\n")
		if len(nl) < 3 || nl[len(nl)-3] != "— **reporter** on Discord" {
			t.Errorf("note ends with %q, want the attribution line", nl[max(0, len(nl)-3):])
		}
	}
}
