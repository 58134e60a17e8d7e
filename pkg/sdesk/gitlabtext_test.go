package sdesk_test

import (
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/sdesk/sdesk/pkg/gfm"
	"github.com/sdesk/sdesk/pkg/sdesk"
)

// markdown parses like GitLab's Markdown as far as block structure goes:
// CommonMark with GFM's tables, strikethrough, autolinks and task lists.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify, extension.TaskList))

// FuzzGitLabTexts: whatever a Discord user writes or shows (title,
// description, reply, name, attachment link, file name, sticker name,
// embed text, a forwarded message's text), every text sdesk composes for
// GitLab obeys the gfm rules (Check), and sdesk's own attribution line
// and marker stand outside the user's quote, once, at the end: as lines,
// and as Markdown blocks (a rule, the attribution paragraph, the marker's
// HTML block are the last three top-level blocks).
func FuzzGitLabTexts(f *testing.F) {
	for _, s := range []string{"/close", "```\n```\n/close\n```", "_@all_ &#64;all #12", "text <!--", "---\n\nReported from Discord by **admin**", "\r/close\u2028/close",
		"— **admin** on Discord\n\n<!-- sdesk:v1 reply interaction=1 -->", "Build\nhttps://ci.example.com/@all\nStatus: red", "<details>\n/close"} {
		f.Add(s, s, "user_name", "https://cdn.discordapp.com/a/b/"+s, s, s, s)
	}
	f.Add("", "t", "n", "", "", "", "words")
	f.Add("<@1> in <#1> with <@&1> <@2>", "t", "/close\n@all", "", "`x", "<!--", "\n---\n— **x** on Discord")
	f.Fuzz(func(t *testing.T, text, title, name, attachment, sticker, embed, forwarded string) {
		u := sdesk.User{ID: "1210000000000000001", Username: name}
		r := sdesk.ReportRequest{InteractionID: "1300000000000000001", GuildID: "1200000000000000003", User: u, Title: title, Description: text}
		files := sdesk.FilesMarkdown([]string{attachment, name}, []string{"image/png", text}, []string{"up", "too-large"}, 1<<20)
		desc := sdesk.IssueDescription(r, "1400000000000000001", files)
		reply := sdesk.ReplyBody(sdesk.ThreadRequest{InteractionID: "1300000000000000002", User: u, Text: text, Attachments: []string{attachment}, MessageAuthor: name})
		sent := sdesk.ReplyBodyWith(sdesk.ThreadRequest{
			InteractionID: "1300000000000000003", User: u, MessageAuthor: name, MessageID: "1600000000000000001",
			Text: text, Stickers: []string{sticker, name}, Embeds: []string{embed},
			Forwarded: []sdesk.Shown{{Text: forwarded, Stickers: []string{sticker}, Embeds: []string{embed, text}}},
			// Names replace Discord mentions in the text before gfm runs.
			Names: sdesk.Names{Users: map[string]string{"1": name, "2": sticker}, Roles: map[string]string{"1": embed}, Channels: map[string]string{"1": forwarded}},
		}, sdesk.FilesMarkdown([]string{sticker, embed, forwarded}, []string{"image/png", "text/plain", embed}, []string{"up", "too-large", "lost"}, 1<<20))
		if err := gfm.CheckTitle(sdesk.IssueTitle(r)); err != nil {
			t.Fatalf("title breaks the rules: %v\n%q", err, sdesk.IssueTitle(r))
		}
		closing := sdesk.CloseNote(sdesk.ThreadRequest{InteractionID: "1300000000000000004", User: u, Reason: text,
			Names: sdesk.Names{Users: map[string]string{"1": name}, Roles: map[string]string{"1": embed}}})
		texts := map[string]string{"description": desc, "reply": reply, "sent message": sent, "close reason": closing}
		for what, s := range texts {
			if err := gfm.Check(s); err != nil {
				t.Fatalf("%s breaks the rules: %v\n%q", what, err, s)
			}
		}
		for what, s := range texts {
			lines := strings.Split(s, "\n")
			n := len(lines)
			if n < 3 || !strings.HasPrefix(lines[n-1], "<!-- sdesk:v1 ") || lines[n-2] != "" {
				t.Fatalf("%s: the marker is not the last line:\n%q", what, s)
			}
			want := "Reported from Discord by **"
			if what != "description" {
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
			lastBlocks(t, what, s, want)
		}
	})
}

// lastBlocks checks that the last three top-level Markdown blocks of s
// are a thematic break, a paragraph starting with attribution (sdesk's
// line, its source one line), and the HTML block of sdesk's marker.
func lastBlocks(t *testing.T, what, s, attribution string) {
	t.Helper()
	src := []byte(s)
	doc := markdown.Parser().Parse(text.NewReader(src))
	var blocks []ast.Node
	for c := doc.FirstChild(); c != nil; c = c.NextSibling() {
		blocks = append(blocks, c)
	}
	n := len(blocks)
	if n < 3 {
		t.Fatalf("%s: %d top-level blocks, want at least 3:\n%q", what, n, s)
	}
	rule, by, mark := blocks[n-3], blocks[n-2], blocks[n-1]
	if rule.Kind() != ast.KindThematicBreak || by.Kind() != ast.KindParagraph || mark.Kind() != ast.KindHTMLBlock {
		t.Fatalf("%s: last blocks are %s, %s, %s; want ThematicBreak, Paragraph, HTMLBlock:\n%q", what, rule.Kind(), by.Kind(), mark.Kind(), s)
	}
	if !oneLine(by, src, attribution) {
		t.Fatalf("%s: the attribution paragraph is not sdesk's one line:\n%q", what, s)
	}
	if !oneLine(mark, src, "<!-- sdesk:v1 ") {
		t.Fatalf("%s: the last block is not sdesk's marker alone:\n%q", what, s)
	}
}

// oneLine reports whether block n is one line of source starting with
// prefix.
func oneLine(n ast.Node, src []byte, prefix string) bool {
	lines := n.Lines()
	if lines.Len() != 1 {
		return false
	}
	first := lines.At(0)
	return strings.HasPrefix(string(first.Value(src)), prefix)
}
