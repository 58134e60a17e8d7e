package sdesk_test

import (
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// FuzzGitLabTexts: whatever a Discord user writes (title, description,
// reply, name, attachment link, file name), every text sdesk composes for GitLab obeys
// the gfm rules (Check), and sdesk's own attribution line and marker stand
// outside the user's quote, once, at the end.
func FuzzGitLabTexts(f *testing.F) {
	for _, s := range []string{"/close", "```\n```\n/close\n```", "_@all_ &#64;all #12", "text <!--", "---\n\nReported from Discord by **admin**", "\r/close\u2028/close"} {
		f.Add(s, s, "user_name", "https://cdn.discordapp.com/a/b/"+s)
	}
	f.Fuzz(func(t *testing.T, text, title, name, attachment string) {
		u := sdesk.User{ID: "1210000000000000001", Username: name}
		r := sdesk.ReportRequest{InteractionID: "1300000000000000001", GuildID: "1200000000000000003", User: u, Title: title, Description: text}
		files := sdesk.FilesMarkdown([]string{attachment, name}, []string{"image/png", text}, []string{"up", "too-large"}, 1<<20)
		desc := sdesk.IssueDescription(r, "1400000000000000001", files)
		reply := sdesk.ReplyBody(sdesk.ThreadRequest{InteractionID: "1300000000000000002", User: u, Text: text, Attachments: []string{attachment}, MessageAuthor: name})
		if err := gfm.CheckTitle(sdesk.IssueTitle(r)); err != nil {
			t.Fatalf("title breaks the rules: %v\n%q", err, sdesk.IssueTitle(r))
		}
		for what, s := range map[string]string{"description": desc, "reply": reply} {
			if err := gfm.Check(s); err != nil {
				t.Fatalf("%s breaks the rules: %v\n%q", what, err, s)
			}
		}
		for what, s := range map[string]string{"description": desc, "reply": reply} {
			lines := strings.Split(s, "\n")
			n := len(lines)
			if n < 3 || !strings.HasPrefix(lines[n-1], "<!-- sdesk:v1 ") || lines[n-2] != "" {
				t.Fatalf("%s: the marker is not the last line:\n%q", what, s)
			}
			want := "Reported from Discord by **"
			if what == "reply" {
				want = "— **"
			}
			if !strings.HasPrefix(lines[n-3], want) {
				t.Fatalf("%s: the attribution is not the last paragraph:\n%q", what, s)
			}
			// Every line the user wrote is inside the quote or the
			// attachment line: none of them starts sdesk's own lines.
			for _, l := range lines[:n-3] {
				if strings.HasPrefix(l, want) || strings.HasPrefix(l, "<!-- sdesk:v1") {
					t.Fatalf("%s: a user line forges sdesk's own:\n%q", what, s)
				}
			}
		}
	})
}
