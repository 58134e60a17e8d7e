package gfm_test

import (
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/gfm"
)

// Z is the zero-width joiner that Defuse inserts.
const Z = "\u200d"

// defuseTests holds every shape of issue 7 and the edges of the rules. The
// comments name what GitLab (or a renderer) would have done with the input.
var defuseTests = []struct {
	name, in, want string
}{
	{"plain", "My printer is on fire.", "My printer is on fire."},
	{"empty", "", ""},

	// Rule 1: quick actions, whatever the Markdown around them.
	{"quick action", "/close", Z + "/close"},
	{"quick action after text", "thanks\n/close\nbye", "thanks\n" + Z + "/close\nbye"},
	{"fence, closing fence at once, /close", "```\n```\n/close\n```", "```\n```\n" + Z + "/close\n```"},
	{"longer closing fence", "```\nx\n`````\n/close\n```", "```\nx\n`````\n" + Z + "/close\n```"},
	{"closing fence with trailing spaces", "```\nx\n```   \n/close\n```", "```\nx\n```   \n" + Z + "/close\n```"},
	{"indented fence", "  ```\n/close\n  ```", "  ```\n" + Z + "/close\n  ```"},
	{"info string with a backtick", "```a`b\n/close\n```", "```a`b\n" + Z + "/close\n```"},
	{"inside a closed fence", "```\n/close\n```", "```\n" + Z + "/close\n```"},
	{"tilde fence", "~~~\n/close\n~~~", "~~~\n" + Z + "/close\n~~~"},
	{"indented code", "    /close", "    " + Z + "/close"},
	{"block quote line", "> /close", "> /close"},
	{"lazy block quote continuation", "> a\n/close", "> a\n" + Z + "/close"},
	{"list item", "- /close", "- /close"},
	{"list item continuation", "- a\n  /close", "- a\n  " + Z + "/close"},
	{"HTML block", "<div>\n/close\n</div>", "<" + Z + "div>\n" + Z + "/close\n<" + Z + "/div>"},
	{"table cell line", "| a |\n|---|\n/close |", "| a |\n|---|\n" + Z + "/close |"},
	{"GitLab quote fence", ">>>\n/close\n>>>", ">>>\n" + Z + "/close\n>>>"},
	{"CRLF", "a\r\n/close\r\n", "a\r\n" + Z + "/close\r\n"},
	{"lone CR", "a\r/close", "a\r" + Z + "/close"},
	{"U+2028", "a\u2028/close", "a\u2028" + Z + "/close"},
	{"U+2029, U+0085, VT, FF", "\u2029/a\u0085/b\v/c\f/d", "\u2029" + Z + "/a\u0085" + Z + "/b\v" + Z + "/c\f" + Z + "/d"},
	{"leading tabs", "\t\t/assign @ada", "\t\t" + Z + "/assign @" + Z + "ada"},
	{"leading NBSP", "\u00a0/close", "\u00a0" + Z + "/close"},
	{"leading BOM", "\ufeff/close", "\ufeff" + Z + "/close"},
	{"slash mid-line", "see a/b and 1/2, /close", "see a/b and 1/2, /close"},
	{"escaped slash", `\/close`, `\/close`},

	// Rule 2: mentions, whatever surrounds them.
	{"mention", "ping @ada please", "ping @" + Z + "ada please"},
	{"emphasis", "_@all_", "_@" + Z + "all_"},
	{"strong", "**@all**", "**@" + Z + "all**"},
	{"link text", "[@all](x)", "[@" + Z + "all](x)"},
	{"code span", "`@all`", "`@" + Z + "all`"},
	{"decimal reference", "&#64;all", "&" + Z + "#" + Z + "64;all"},
	{"hex reference", "&#x40;all", "&" + Z + "#x40;all"},
	{"hex reference without ;", "&#X40all", "&" + Z + "#X40all"},
	{"named reference", "&commat;all", "&" + Z + "commat;all"},
	{"zero-padded reference", "&#0064;all", "&" + Z + "#" + Z + "0064;all"},
	{"backslash-escaped name character", `@\_bob @\.x @\-y`, "@" + Z + `\_bob @` + Z + `\.x @` + Z + `\-y`},
	{"e-mail address", "mail a@b.com", "mail a@" + Z + "b.com"},
	{"mention after a letter", "é@ada", "é@" + Z + "ada"},
	{"non-ASCII name", "@ümit", "@" + Z + "ümit"},
	{"not followed by a name", "meet @ 5, a @ b, @@, @!", "meet @ 5, a @ b, @@, @!"},
	{"double at", "@@ada", "@@" + Z + "ada"},
	{"Mastodon link", "https://mastodon.social/@user", "https://mastodon.social/%40user"},
	{"mention inside a URL's query", "see https://x.test/?u=@all.", "see https://x.test/?u=%40all."},
	{"mention after a URL", "https://x.test/a, @all", "https://x.test/a, @" + Z + "all"},

	// Rule 3: references, outside URL spans.
	{"issue", "#12", "#" + Z + "12"},
	{"merge request", "!3", "!" + Z + "3"},
	{"epic", "&5", "&" + Z + "5"},
	{"label", "~bug", "~" + Z + "bug"},
	{"quoted label", `~"two words"`, "~" + Z + `"two words"`},
	{"escaped quoted label", `~\"two words\"`, "~" + Z + `\"two words\"`},
	{"milestone", "%v1", "%" + Z + "v1"},
	{"quoted milestone", `%"v 1"`, "%" + Z + `"v 1"`},
	{"snippet", "$7", "$" + Z + "7"},
	{"cross-project", "group/project#7 and group/project!8", "group/project#" + Z + "7 and group/project!" + Z + "8"},
	{"heading is not a reference", "# 1 fan", "# 1 fan"},
	{"strikethrough", "~~gone~~", "~~" + Z + "gone~~"},
	{"full issue URL", "https://gitlab.com/group/project/-/issues/12#note_5", "https://gitlab.com/group/project/-/issues/12#note_5"},
	{"references inside a URL", "https://x.test/a#12/!3/%v1/&5/%40", "https://x.test/a#12/!3/%v1/&5/%40"},
	{"$ and ~ end a URL span", "https://x.test/a$7/~bug", "https://x.test/a$" + Z + "7/~" + Z + "bug"},
	{"www is no URL span", "www.x.test/#12", "www.x.test/#" + Z + "12"},
	{"NBSP is no URL boundary", "see\u00a0https://x.test/#12", "see\u00a0https://x.test/#" + Z + "12"},
	{"underscore ends a URL span", "https://x.test/_a_#12", "https://x.test/_a_#" + Z + "12"},
	{"bracket references", "[issue:12] [work_item:3] [epic:5] [vulnerability:1]", "[" + Z + "issue:12] [" + Z + "work_item:3] [" + Z + "epic:5] [" + Z + "vulnerability:1]"},
	{"GL- references", "GL-12 xGL-12 GL-x", "GL-" + Z + "12 xGL-12 GL-x"},
	{"footnote", "a[^1]\n\n[^1]: Reported from Discord by **mod**", "a[" + Z + "^1]\n\n[" + Z + "^1]: Reported from Discord by **mod**"},
	{"URL in parentheses", "(https://x.test/#12)", "(https://x.test/#12)"},
	{"URL then a reference", "https://x.test/ #12", "https://x.test/ #" + Z + "12"},
	{"URL trailing period", "see https://x.test/#12.", "see https://x.test/#12."},
	{"URL ends at a table pipe", "| https://x.test/a|#12 |", "| https://x.test/a|#" + Z + "12 |"},
	{"URL ends at a backtick", "`x https://x.test/`#12", "`x https://x.test/`#" + Z + "12"},
	{"URL ends at a bracket", "[x https://x.test/](y)#12", "[x https://x.test/](y)#" + Z + "12"},
	{"URL ends at a backslash", `https://x.test/\#12`, `https://x.test/\#` + Z + "12"},
	{"URL ends at an asterisk", "*x https://x.test/*#12", "*x https://x.test/*#" + Z + "12"},
	{"no URL after a tilde", "~www.x.test/#12", "~" + Z + "www.x.test/#" + Z + "12"},
	{"no URL after a letter", "xhttps://x.test/#12", "xhttps://x.test/#" + Z + "12"},
	{"no URL without a period", "https://localhost/#12", "https://localhost/#" + Z + "12"},
	{"no URL with an underscore at the end", "https://a.b_c.d/#12", "https://a.b_c.d/#" + Z + "12"},
	{"no URL in upper case", "HTTPS://X.TEST/#12", "HTTPS://X.TEST/#" + Z + "12"},
	{"www needs its own period", "www.x/#12", "www.x/#" + Z + "12"},
	{"query ampersand stays", "https://x.test/?a=1&b=2 and a=1&b=2", "https://x.test/?a=1&b=2 and a=1&b=2"},
	{"entity in a URL", "https://x.test/?a=1&lt=2", "https://x.test/?a=1&" + Z + "lt=2"},
	{"entity-like URL tail", "https://x.test/a&5;", "https://x.test/a&" + Z + "5;"},
	{"legacy entity without ;", "AT&amp T&ltx", "AT&" + Z + "amp T&" + Z + "ltx"},
	{"reference to a control character", "&#10;/close", "&" + Z + "#" + Z + "10;/close"},
	{"not decodable", "&#5x &#; &x; &", "&#" + Z + "5x &#; &x; &"},

	// Rule 4: HTML.
	{"HTML comment", "text <!--", "text <" + Z + "!--"},
	{"details", "<details><summary>x</summary>", "<" + Z + "details><" + Z + "summary>x<" + Z + "/summary>"},
	{"closing tag", "</p>", "<" + Z + "/p>"},
	{"processing instruction", "<?php", "<" + Z + "?php"},
	{"autolink", "<https://x.test/>", "<" + Z + "https://x.test/>"},
	{"less than", "a < b, a <= b, <3", "a < b, a <= b, <3"},

	{"already defused", "@" + Z + "ada\n" + Z + "/close #" + Z + "1", "@" + Z + "ada\n" + Z + "/close #" + Z + "1"},
	{"invalid UTF-8 passes", "\xff/close @\xff #\xff", "\xff/close @\xff #\xff"},
}

func TestDefuse(t *testing.T) {
	for _, tt := range defuseTests {
		t.Run(tt.name, func(t *testing.T) {
			got := gfm.Defuse(tt.in)
			if got != tt.want {
				t.Errorf("Defuse(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := gfm.Defuse(got); again != got {
				t.Errorf("Defuse(Defuse(%q)) = %q, want %q", tt.in, again, got)
			}
			if err := gfm.Check(got); err != nil {
				t.Errorf("Check(Defuse(%q)): %v", tt.in, err)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"blank", " \n\t\r\n\u2028", ""},
		{"one line", "hello", "> hello"},
		{"line endings", "a\r\n\r\nb\rc\nd", "> a\n>\n> b\n> c\n> d"},
		{"blank lines at the ends dropped", "\n\n  \na\n\n \n", "> a"},
		{"white space only line", "a\n \t\nb", "> a\n>\n> b"},
		{"indentation kept", "    code\n\tcode", ">     code\n> \tcode"},
		{"open fence and quick action", "```\n/close", "> ```\n> " + Z + "/close"},
		{"open comment", "text <!--", "> text <" + Z + "!--"},
		{"GitLab quote fence", ">>>\n/close\n>>>", "> >>>\n> " + Z + "/close\n> >>>"},
		{"front matter", "---\ntitle: x\n---", "> ---\n> title: x\n> ---"},
		{"setext underline", "Title\n===", "> Title\n> ==="},
		{"mention", "@all", "> @" + Z + "all"},
		{"other breaks stay in the line", "a\u2028/b", "> a\u2028" + Z + "/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gfm.Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInline(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Ada", "Ada"},
		{"empty", "", ""},
		{"spaces only", " \t\n ", ""},
		{"underscore", "ada_lovelace", `ada\_lovelace`},
		{"emphasis", "**x** _y_", `\*\*x\*\* \_y\_`},
		{"code span", "`x`", "\\`x\\`"},
		{"link and mention", "@everyone [x](https://e.test)", `\@` + Z + `everyone \[x\]\(https\:\/\/e\.test\)`},
		{"references, URL or not", "#12 https://x.test/#1 ~bug", `\#` + Z + `12 https\:\/\/x\.test\/\#` + Z + `1 \~` + Z + "bug"},
		{"mention in a URL gets a joiner", "https://m.test/@u", `https\:\/\/m\.test\/\@` + Z + "u"},
		{"line breaks and controls", "a\nb\tc\u2028d\re\x00f\u0085g", "a b c d e f g"},
		{"bidi override", "\u202eevil\u202c name", "evil  name"},
		{"trimmed", "  Ada\u3000", "Ada"},
		{"HTML", "<b>", `\<` + Z + `b\>`},
		{"entity", "&amp;", `\&` + Z + `amp\;`},
		{"quick action", "/close", Z + `\/close`},
		{"backslash", `a\b`, `a\\b`},
		{"all ASCII punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "\\!\\\"\\#\\$\\%\\&\\'\\(\\)\\*\\+\\,\\-\\.\\/\\:\\;\\<\\=\\>\\?\\@\\[\\\\\\]\\^\\_\\`\\{\\|\\}\\~"},
		{"invalid UTF-8", "a\xffb", "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gfm.Inline(tt.in)
			if got != tt.want {
				t.Errorf("Inline(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if err := gfm.Check(got); err != nil {
				t.Errorf("Check(Inline(%q)): %v", tt.in, err)
			}
		})
	}
}

// sdeskText builds a text the way the domain does: user parts through gfm,
// then sdesk's own footer and marker.
func sdeskText(body, name string) string {
	return gfm.Quote(body) +
		"\n\n---\n\nReported from Discord by **" + gfm.Inline(name) + "** (user ID `123456789012345678`)" +
		" · [Discord thread](https://discord.com/channels/111111111111111111/222222222222222222)" +
		"\n\n<!-- sdesk:v1 interaction=333333333333333333 guild=111111111111111111 thread=222222222222222222 user=123456789012345678 -->"
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means nil
	}{
		{"plain", "hello", ""},
		{"sdesk text", sdeskText("```\n```\n/close\n```\n@all &#64;all #12 <!--", "@everyone [x](https://e.test)"), ""},
		{"reply note", gfm.Quote("/close") + "\n\nAttachment: https://gitlab.test/uploads/0123abcd/a@b.png\n\n— **" +
			gfm.Inline("ada") + "** on Discord\n\n<!-- sdesk:v1 reply interaction=1 -->", `gfm: rule 2 (mention) broken at byte 63 (line 3): "@" followed by a name character in "@b.png\n\n"`},
		{"HTML is not checked", "<!-- x --> <details>", ""},
		{"quick action", "/close", `gfm: rule 1 (quick action) broken at byte 0 (line 1): "/" begins a line in "/close"`},
		{"quick action after CRLF", "a\r\n \t/close", `gfm: rule 1 (quick action) broken at byte 5 (line 2): "/" begins a line in "/close"`},
		{"quick action after U+2028", "a\u2028/close", `gfm: rule 1 (quick action) broken at byte 4 (line 2): "/" begins a line in "/close"`},
		{"mention", "hi @all", `gfm: rule 2 (mention) broken at byte 3 (line 1): "@" followed by a name character in "@all"`},
		{"mention in a URL", "https://m.test/@u", `gfm: rule 2 (mention) broken at byte 15 (line 1): "@" followed by a name character in "@u"`},
		{"issue", "x #12", `gfm: rule 3 (reference) broken at byte 2 (line 1): "#" followed by a digit in "#12"`},
		{"label", "~bug", `gfm: rule 3 (reference) broken at byte 0 (line 1): "~" followed by a name character or '"' in "~bug"`},
		{"entity", "&#64;all", `gfm: rule 3 (reference) broken at byte 0 (line 1): "&" starts a character reference in "&#64;all"`},
		{"epic", "&5", `gfm: rule 3 (reference) broken at byte 0 (line 1): "&" followed by a digit in "&5"`},
		{"first of several", "#1 @a /b\n/c", `gfm: rule 3 (reference) broken at byte 0 (line 1): "#" followed by a digit in "#1 @a /b"`},
		{"URL references", "https://x.test/-/issues/12#note_3", ""},
		{"position quotes whole runes", "@éééé", `gfm: rule 2 (mention) broken at byte 0 (line 1): "@" followed by a name character in "@éééé"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := gfm.Check(tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Check(%q):\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestDefuseLeavesText checks, on the table, the reversibility that the
// fuzz target checks on any input: dropping the joiners and turning %40
// back gives the input.
func TestDefuseLeavesText(t *testing.T) {
	for _, tt := range defuseTests {
		if got, want := undo(gfm.Defuse(tt.in)), undo(tt.in); got != want {
			t.Errorf("%s: undo(Defuse(%q)) = %q, want %q", tt.name, tt.in, got, want)
		}
	}
}

func undo(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, Z, ""), "%40", "@")
}
