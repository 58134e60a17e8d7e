package gitlab_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/gitlab"
)

const zwj = "\u200d"

func TestNeutralize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text", "Hello, my printer is broken.", "Hello, my printer is broken."},
		{"empty", "", ""},
		{"quick action", "/close", zwj + "/close"},
		{"quick action after text", "thanks\n/close\nbye", "thanks\n" + zwj + "/close\nbye"},
		{"indented quick action", "  \t/assign me", "  \t" + zwj + "/assign me"},
		{"CRLF", "a\r\n/close\r\n", "a\r\n" + zwj + "/close\r\n"},
		{"CR before slash", "\r/close", "\r" + zwj + "/close"},
		{"slash mid-line", "see a/b and 1/2", "see a/b and 1/2"},
		{"url", "https://example.com/close", "https://example.com/close"},
		{"mention", "ping @ada please", "ping @" + zwj + "ada please"},
		{"mention at start", "@all look", "@" + zwj + "all look"},
		{"group mention", "cc @acme/support", "cc @" + zwj + "acme/support"},
		{"mention after punctuation", "(@ada)", "(@" + zwj + "ada)"},
		{"email", "mail a@b.com or first.last@example.org", "mail a@b.com or first.last@example.org"},
		{"bare at", "meet @ 5, a @ b, @@", "meet @ 5, a @ b, @@"},
		{"double at", "@@ada", "@@" + zwj + "ada"},
		{"mention after non-ASCII letter", "é@ada", "é@" + zwj + "ada"},
		{"closed fence kept", "```\n/close\n@all\n```\n/close", "```\n/close\n@all\n```\n" + zwj + "/close"},
		{"fence with info string", "```sh\n/usr/bin/env @x\n```", "```sh\n/usr/bin/env @x\n```"},
		{"unterminated fence", "```\n/close\n@all", "```\n" + zwj + "/close\n@" + zwj + "all"},
		{"indented fence is not trusted", "  ```\n/close\n  ```", "  ```\n" + zwj + "/close\n  ```"},
		{"tilde fence: mentions kept, quick actions not", "~~~\n/close @all\n~~~", "~~~\n" + zwj + "/close @all\n~~~"},
		{
			// GitLab's extractor cannot close a bare ``` on the next line, so
			// it sees lines 1-3 as one block and runs /close on line 4.
			"extractor needs a char between fences",
			"```\n```\n```\n/close\n```",
			"```\n```\n```\n" + zwj + "/close\n```",
		},
		{"html block stops trust", "<div>\n```\n</div>\n/close\n```", "<div>\n```\n</div>\n" + zwj + "/close\n```"},
		{"gitlab quote stops trust", ">>>\n```\n>>>\n@all\n```", ">>>\n```\n>>>\n@" + zwj + "all\n```"},
		{"front matter stops trust", "---\n```\n---\n@all\n```", "---\n```\n---\n@" + zwj + "all\n```"},
		{"tilde fence hides backticks", "~~~\n```\n~~~\n@all\n```", "~~~\n```\n~~~\n@" + zwj + "all\n```"},
		{"email quote", "> On Tue, Ada <ada@x.org> wrote:\n> /close", "> On Tue, Ada <ada@x.org> wrote:\n> /close"},
		{"already neutral", "@" + zwj + "ada\n" + zwj + "/close", "@" + zwj + "ada\n" + zwj + "/close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gitlab.Neutralize(tt.in)
			if got != tt.want {
				t.Errorf("Neutralize(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
			checkNeutral(t, tt.in, got)
		})
	}
}

// gitlabQuickActions is GitLab's quick-action extractor pattern (code
// blocks, HTML blocks and >>> quotes are skipped), with the command
// alternative widened to any line whose first non-blank character is `/`.
// RE2 picks the same leftmost-first matches as Ruby's backtracking engine.
var gitlabQuickActions = regexp.MustCompile("(?ims)" +
	"(?P<code>^```.+?\\n```$)" +
	"|(?P<html>^<[^>]+?>\\n.+?\\n</[^>]+?>$)" +
	"|(?P<quote>^>>>.+?\\n>>>$)" +
	"|(?P<cmd>^[\\t\\f\\v ]*/)")

// commonMarkFenced returns, per CommonMark line, whether it lies inside a
// closed fenced code block (top-level tracking, any indentation up to 3).
func commonMarkFenced(s string) (lines []string, fenced []bool) {
	lines = regexp.MustCompile("\r\n|\r|\n").Split(s, -1)
	fenced = make([]bool, len(lines))
	open, fch, flen := -1, byte(0), 0
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		indent := len(l) - len(t)
		if open >= 0 {
			n := len(t) - len(strings.TrimLeft(t, string(fch)))
			if indent <= 3 && n >= flen && strings.Trim(t[n:], " \t") == "" {
				for k := open + 1; k < i; k++ {
					fenced[k] = true
				}
				open = -1
			}
			continue
		}
		if indent > 3 || t == "" || (t[0] != '`' && t[0] != '~') {
			continue
		}
		n := len(t) - len(strings.TrimLeft(t, t[:1]))
		if n >= 3 && (t[0] == '~' || !strings.Contains(t[n:], "`")) {
			open, fch, flen = i, t[0], n
		}
	}
	return lines, fenced
}

// checkNeutral asserts the properties Neutralize promises.
func checkNeutral(t *testing.T, in, out string) {
	t.Helper()
	noCR := strings.ReplaceAll(out, "\r", "")
	cmd := gitlabQuickActions.SubexpIndex("cmd")
	for _, m := range gitlabQuickActions.FindAllStringSubmatchIndex(noCR, -1) {
		if m[2*cmd] >= 0 {
			end := min(len(noCR), m[1]+20)
			t.Errorf("Neutralize(%q) = %q: GitLab would run a quick action at %q", in, out, noCR[m[0]:end])
		}
	}
	lines, fenced := commonMarkFenced(out)
	for i, l := range lines {
		if fenced[i] {
			continue
		}
		for j := 0; j < len(l); j++ {
			if l[j] != '@' || j+1 >= len(l) || !isWordByte(l[j+1]) {
				continue
			}
			if j > 0 && isWordByte(l[j-1]) {
				continue // e-mail address
			}
			t.Errorf("Neutralize(%q) = %q: mention left at %q", in, out, l[j:])
		}
	}
	if again := gitlab.Neutralize(out); again != out {
		t.Errorf("Neutralize is not idempotent on %q: %q then %q", in, out, again)
	}
	if strings.ReplaceAll(out, zwj, "") != strings.ReplaceAll(in, zwj, "") {
		t.Errorf("Neutralize(%q) = %q: changed more than zero-width joiners", in, out)
	}
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func FuzzNeutralize(f *testing.F) {
	f.Add("/close\n@all")
	f.Fuzz(func(t *testing.T, s string) {
		checkNeutral(t, s, gitlab.Neutralize(s))
	})
}
