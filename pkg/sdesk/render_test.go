package sdesk_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/sdesk"
)

const (
	project = "https://gitlab.example.com/acme/support"
	secret1 = "0123456789abcdef0123456789abcdef"
	secret2 = "fedcba9876543210fedcba9876543210"
	secret3 = "00112233445566778899aabbccddeeff"
	zwsp    = "\u200b"
)

func TestRenderNote(t *testing.T) {
	up := project + "/uploads/"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "Hello there, thanks!", "Hello there, thanks!"},
		{"relative link", "[log](/uploads/" + secret1 + "/app.log)", "log ([app.log](" + up + secret1 + "/app.log))"},
		{"upload named by its file", "[app.log](/uploads/" + secret1 + "/app.log)", "[app.log](" + up + secret1 + "/app.log)"},
		{"image becomes link", "![screenshot](/uploads/" + secret1 + "/shot.png)", "screenshot ([shot.png](" + up + secret1 + "/shot.png))"},
		{"image alt is the file name", "![Shot](/uploads/" + secret1 + "/shot.png)", "[shot.png](" + up + secret1 + "/shot.png)"},
		{"image without alt", "![](/uploads/" + secret1 + "/my%20shot.png)", "[my shot.png](" + up + secret1 + "/my%20shot.png)"},
		{"image name not UTF-8 kept escaped", "![](/uploads/" + secret1 + "/%80.png)", "[%80.png](" + up + secret1 + "/%80.png)"},
		{"image name decoded", "![](/uploads/" + secret1 + "/caf%C3%A9.png)", "[café.png](" + up + secret1 + "/caf%C3%A9.png)"},
		{"image name is a sentinel rune", "![](\uE000)", "\uE000"},
		{"image name decodes to a sentinel rune", "![](/uploads/" + secret1 + "/%EE%80%80.png)", "[%EE%80%80.png](" + up + secret1 + "/%EE%80%80.png)"},
		{"image name decodes to a placeholder", "`code` ![](/uploads/" + secret1 + "/%EE%80%800%EE%80%81.png)",
			"`code` [%EE%80%800%EE%80%81.png](" + up + secret1 + "/%EE%80%800%EE%80%81.png)"},
		{"image name decodes to link syntax", "![](/uploads/" + secret1 + "/a%5D%28b.png)", "[a%5D%28b.png](" + up + secret1 + "/a%5D%28b.png)"},
		{"image size attributes", "![b](/uploads/" + secret1 + "/a.png){width=100 height=50}", "b ([a.png](" + up + secret1 + "/a.png))"},
		{"image with title", `![a](/uploads/` + secret1 + `/a.png "Title")`, "[a.png](" + up + secret1 + "/a.png)"},
		{"link to issue", "see [#3](/acme/support/-/issues/3)", "see #3 (<https://gitlab.example.com/acme/support/-/issues/3>)"},
		{"bare gitlab path", "see /acme/support/-/issues/3.", "see https://gitlab.example.com/acme/support/-/issues/3."},
		{"bare upload path", "file: /uploads/" + secret1 + "/a.txt", "file: " + up + secret1 + "/a.txt"},
		{"other paths kept", "edit /etc/hosts and ../x", "edit /etc/hosts and ../x"},
		{"link shows its target", "[docs](https://example.org/docs)", "docs (<https://example.org/docs>)"},
		{"parenthesis in url", "[x](https://example.org/a_(b))", "x (<https://example.org/a_(b)>)"},
		{"autolink kept", "<https://example.org/a?b=1&amp;c=2>", "<https://example.org/a?b=1&c=2>"},
		{"url with tilde", "https://example.org/~jane/x ok", "https://example.org/~jane/x ok"},
		{"references kept", "#12, !4, @jane and :tada:", "#12, !4, @jane and :tada:"},
		{"labels", `~bug and ~"needs info", ~priority::high.`, "`bug` and `needs info`, `priority::high`."},
		{"not labels", "takes ~10min, ~~gone~~, ~/x, a~b", "takes ~10min, ~~gone~~, ~/x, a~b"},
		{"mentions defused", "@everyone @here @Here!", "@" + zwsp + "everyone @" + zwsp + "here @" + zwsp + "Here!"},
		{"email kept", "mail ops@here.example or x@everyone.example", "mail ops@here.example or x@everyone.example"},
		{"br", "a<br>b<br/>c<br />d<BR>e", "a\nb\nc\nd\ne"},
		{"details inline", "<details><summary>S</summary>body</details>", "**S**\nbody"},
		{"details block", "<details><summary>Logs</summary>\n\nline 1\n</details>", "**Logs**\n\nline 1\n"},
		{"inline html", "<b>bold</b> <strong>x</strong> <i>it</i> <em>e</em> <code>a &lt; b</code>", "**bold** **x** *it* *e* `a < b`"},
		{"code element with backtick", "<code>a`b</code>", "``a`b``"},
		{"anchor", `<a href="/uploads/` + secret1 + `/f.pdf">the file</a>`, "the file ([f.pdf](" + up + secret1 + "/f.pdf))"},
		{"anchor entities", `<a href="https://example.org/?a=1&amp;b=2" title="t">site</a>`, "site (<https://example.org/?a=1&b=2>)"},
		{"anchor without href", `<a name="x">text</a>`, "text"},
		{"img", `<img src="/uploads/` + secret1 + `/a.png" alt="diagram" width="200">`, "diagram ([a.png](" + up + secret1 + "/a.png))"},
		{"comment", "before<!-- hidden\nstuff -->after", "beforeafter"},
		{"comment line", "a\n<!-- note -->\nb", "a\nb"},
		{"other tags stripped", `<span style="color:red">red</span> x<sup>2</sup>`, "red x2"},
		{"list html", "<ul><li>one</li><li>two</li></ul>\nafter", "- one\n- two\nafter"},
		{"unknown tags kept", "Replace <name> with yours, mail Jane Doe <jane@example.com>, 1 < 2 > 0",
			"Replace <name> with yours, mail Jane Doe <jane@example.com>, 1 < 2 > 0"},
		{"entities", "Tom &amp; Jerry &lt;3 &quot;hi&quot; it&#39;s a&nbsp;b &#x1F600; &bogus; &#0;",
			"Tom & Jerry <3 \"hi\" it's a b 😀 &bogus; &#0;"},
		{"entity in code kept", "`&amp;` and &amp;", "`&amp;` and &"},
		{"toc", "[[_TOC_]]\n# Title\n[TOC]\ntext", "# Title\ntext"},
		{"tasks", "- [ ] todo\n- [x] done\n* [X] Done too\n1. [ ] first\n  - [ ] nested\n- [link](https://example.org)",
			"- ☐ todo\n- ☑ done\n* ☑ Done too\n1. ☐ first\n  - ☐ nested\n- link (<https://example.org>)"},
		{"headings", "# H1\n## H2\n### H3\n#### H4\n##### H5 ##\n###### H6\n####### seven\n####",
			"# H1\n## H2\n### H3\n**H4**\n**H5**\n**H6**\n####### seven\n####"},
		{"table", "| Name | Qty |\n|------|----:|\n| apple | 3 |\n| kiwi | 12 |\n\nafter",
			"```\nName  | Qty\n------|----\napple | 3\nkiwi  | 12\n```\n\nafter"},
		{"table cells rendered", "a | b\n--|--\n**x** &amp; | [l](/acme/support/-/issues/1)",
			"```\na       | b\n--------|-------------------------------------------------------\n**x** & | l (https://gitlab.example.com/acme/support/-/issues/1)\n```"},
		{"math block", "$$\na^2 + b^2\n$$\n", "```math\na^2 + b^2\n```\n"},
		{"math line", "$$ x_1 $$", "```math\nx_1\n```"},
		{"inline math", "inline $$x_1$$ and $`y_2`$", "inline `x_1` and `y_2`"},
		{"math fence kept", "```math\na_1\n```", "```math\na_1\n```"},
		{"fence untouched", "```\n@everyone <b>x</b> ~bug [a](/uploads/x) &amp;\n```\nafter ~bug",
			"```\n@everyone <b>x</b> ~bug [a](/uploads/x) &amp;\n```\nafter `bug`"},
		{"tilde fence", "~~~python\nprint('&amp;')\n~~~\n", "```python\nprint('&amp;')\n```\n"},
		{"tilde fence holding backticks", "~~~\n```\n~~~", "~~~\n```\n~~~"},
		{"unclosed fence", "```\ncode <b>", "```\ncode <b>\n```"},
		{"fence in list", "1. step\n\n   ```sh\n   rm -rf ~bug\n   ```\n", "1. step\n\n   ```sh\n   rm -rf ~bug\n   ```\n"},
		{"inline code untouched", "`<b>@everyone</b>` ~bug ``a ` b``", "`<b>@everyone</b>` `bug` ``a ` b``"},
		{"escaped backtick", "\\` ~bug \\`", "\\` `bug` \\`"},
		{"sentinel runes kept", "a\uE0000\uE001b \uE001", "a\uE0000\uE001b \uE001"},
		{"multibyte", "日本語 ~ラベル 😀 <b>太字</b>", "日本語 ~ラベル 😀 **太字**"},
		{"crlf", "#### Title\r\n- [ ] x\r\n", "**Title**\r\n- ☐ x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdesk.RenderNote(tt.in, project); got != tt.want {
				t.Errorf("RenderNote(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// Discord shows only the text of a masked link: every link from a note
// shows where it leads (issue 7, item 6).
func TestRenderNoteShowsLinkTargets(t *testing.T) {
	up := project + "/uploads/" + secret1 + "/"
	tests := []struct {
		name, in, want string
	}{
		{"masked link", "[click here](https://evil.example/phish)", "click here (<https://evil.example/phish>)"},
		{"text is its url", "[https://x.test/a](https://x.test/a)", "<https://x.test/a>"},
		{"text is another url", "[https://bank.example](https://evil.example)", "https://bank.example (<https://evil.example>)"},
		{"empty text", "[](https://x.test/a)", "<https://x.test/a>"},
		{"anchor", `<a href="https://evil.example/a">safe</a>`, "safe (<https://evil.example/a>)"},
		{"image elsewhere", "![logo](https://cdn.example/logo.png)", "logo (<https://cdn.example/logo.png>)"},
		{"badge", "[![build](https://ci.example/b.svg)](https://ci.example/job)", "build (<https://ci.example/job>)"},
		{"reference definition", "[docs]: https://x.test/d", "[docs]: https://x.test/d"},
		{"space in target", "[x](<https://a.test/b c>)", "x (<https://a.test/b%20c>)"},
		{"angle bracket in target", "[x](https://a.test/&gt;b)", "x (<https://a.test/%3Eb>)"},
		{"mass mention in target", "[x](https://a.test/@here)", "x (<https://a.test/%40here>)"},
		{"javascript target", "[x](javascript:alert(1))", "x (javascript:alert(1))"},
		{"mailto target", "[mail](mailto:a_b@x.test)", `mail (mailto:a\_b@x.test)`},
		{"relative target without project", "[x](relative/path)", "x (relative/path)"},
		{"upload text is a url", "[https://bank.example](/uploads/" + secret1 + "/x.html)", "https://bank.example ([x.html](" + up + "x.html))"},
		{"upload of another host", "[a.png](https://evil.example/uploads/" + secret1 + "/a.png)", "a.png (<https://evil.example/uploads/" + secret1 + "/a.png>)"},
		{"upload with a query", "[a.png](/uploads/" + secret1 + "/a.png?x=1)", "a.png (<" + up + "a.png?x=1>)"},
		{"upload name with markup", "![](/uploads/" + secret1 + "/my_file*.png)", `[my\_file\*.png](` + up + "my_file*.png)"},
		{"upload name with a bidi override", "![](/uploads/" + secret1 + "/a%E2%80%AEgnp.exe)", "[a%E2%80%AEgnp.exe](" + up + "a%E2%80%AEgnp.exe)"},
		{"upload name with a control character", "![](/uploads/" + secret1 + "/a%00b%0A.png)", "[a%00b%0A.png](" + up + "a%00b%0A.png)"},
		{"upload name blank", "![](/uploads/" + secret1 + "/%20)", "[%20](" + up + "%20)"},
		{"upload name with parentheses", "![](/uploads/" + secret1 + "/a(1).png)", "[a(1).png](<" + up + "a(1).png>)"},
		{"header in link text", "[# Title](https://x.test)", `\# Title (<https://x.test>)`},
		{"quote in link text", "[> q](https://x.test)", `\> q (<https://x.test>)`},
		{"list in link text", "[1. a](https://x.test) [- b](https://x.test) [#1](https://x.test)",
			`1\. a (<https://x.test>) \- b (<https://x.test>) #1 (<https://x.test>)`},
		{"link text completes a link", "[x][(y)](https://z.test)", `[x]\(y) (<https://z.test>)`},
		{"mention in link text", "[<@1> @everyone](https://x.test)", `\<@1> @` + zwsp + "everyone (<https://x.test>)"},
		{"link syntax left as text", "[a](b c) and [b](<c d>x)", `[a]\(b c) and [b]\(<c d>x)`},
		{"link syntax from entities", "&#91;x&#93;&#40;https://evil.example/&#41;", `[x]\(https://evil.example/&#41;`},
		{"in code kept", "`[a](https://x.test)` and\n```\n[b](https://y.test)\n```",
			"`[a](https://x.test)` and\n```\n[b](https://y.test)\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdesk.RenderNote(tt.in, project)
			if got != tt.want {
				t.Errorf("RenderNote(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, project)
		})
	}
}

// Syntax that only Discord has shows in Discord as it does in GitLab.
func TestRenderNoteDiscordOnlySyntax(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"mentions", "<@123> <@!1> <@&1> <#1> </cmd:1> <:e:1> <a:e:1> <id:guide> <t:0:R> <T:0>",
			`\<@123> \<@!1> \<@&1> \<#1> \</cmd:1> \<:e:1> \<a:e:1> \<id:guide> \<t:0:R> \<T:0>`},
		{"mention from entities", "&lt;@123&gt; &#60;#1&#62;", `\<@123> \<#1>`},
		{"already escaped", `\<@123> \|| \\<@1>`, `\<@123> \|\| \\\<@1>`},
		{"spoiler", "||hidden|| a | b |||", `\|\|hidden\|\| a | b \|\|\|`},
		{"subtext", "-# small\n  -# indented\n> -# quoted\nnot -# here", "\\-# small\n  \\-# indented\n> \\-# quoted\nnot -# here"},
		{"html and email kept", "<b>x</b> <jane@example.com> 1 < 2", "**x** <jane@example.com> 1 < 2"},
		{"code kept", "`<@1> ||x||`\n```\n-# <t:0>\n```", "`<@1> ||x||`\n```\n-# <t:0>\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdesk.RenderNote(tt.in, project)
			if got != tt.want {
				t.Errorf("RenderNote(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, project)
		})
	}
}

func TestRenderNoteWithoutProjectURL(t *testing.T) {
	in := "![a](/uploads/" + secret1 + "/a.png) /acme/support/-/issues/3"
	want := "a (/uploads/" + secret1 + "/a.png) /acme/support/-/issues/3"
	if got := sdesk.RenderNote(in, ""); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := sdesk.RenderNote("[x](/a)", project+"/"); got != "x (<https://gitlab.example.com/a>)" {
		t.Errorf("trailing slash: got %q, want %q", got, "x (<https://gitlab.example.com/a>)")
	}
}

// A note as a project member writes it in GitLab's editor.
func TestRenderNoteRealistic(t *testing.T) {
	in := "Hi Jane,\n\n" +
		"thanks for the report. I could reproduce it with the file you sent: ![crash](/uploads/" + secret1 + "/crash%20log.png)\n\n" +
		"#### Next steps\n" +
		"- [x] reproduce on 2.3.1\n" +
		"- [ ] ship the fix in ~\"release::2.3.2\"\n\n" +
		"<details><summary>Stack trace</summary>\n\n" +
		"```\npanic: runtime error: index out of range [3] with length 3 <b>\n```\n\n" +
		"</details>\n\n" +
		"Tracking in /acme/support/-/issues/12 &amp; #13. cc @everyone\n" +
		"<!-- internal: customer is on the enterprise plan -->"
	want := "Hi Jane,\n\n" +
		"thanks for the report. I could reproduce it with the file you sent: crash ([crash log.png](" + project + "/uploads/" + secret1 + "/crash%20log.png))\n\n" +
		"**Next steps**\n" +
		"- ☑ reproduce on 2.3.1\n" +
		"- ☐ ship the fix in `release::2.3.2`\n\n" +
		"**Stack trace**\n\n" +
		"```\npanic: runtime error: index out of range [3] with length 3 <b>\n```\n\n" +
		"\n" +
		"Tracking in https://gitlab.example.com/acme/support/-/issues/12 & #13. cc @" + zwsp + "everyone\n"
	if got := sdesk.RenderNote(in, project); got != want {
		t.Errorf("RenderNote:\ngot  %q,\nwant %q", got, want)
	}
}

func TestUploads(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []sdesk.UploadRef
	}{
		{"empty", "", nil},
		{"none", "no files [x](https://example.org/y.png) [short](/uploads/abc/x.png)", nil},
		{"mixed", "Here is the log: [app log.txt](/uploads/" + secret1 + "/app%20log.txt)\n" +
			"![screen](/uploads/" + secret2 + "/screen.png)\n" +
			"Again: ![screen again](/uploads/" + secret2 + "/screen.png)\n" +
			"Absolute: [b](" + project + "/uploads/" + secret3 + "/b.pdf)\n" +
			"`![no](/uploads/" + secret1 + "/code.png)`\n" +
			"```\n![no](/uploads/" + secret1 + "/fence.png)\n```\n" +
			`<img src="/uploads/` + secret1 + `/h.png" alt="html &amp; more">` + "\n" +
			"<!-- ![no](/uploads/" + secret1 + "/comment.png) -->\n" +
			"[ref]: /uploads/" + secret3 + "/r.zip\n",
			[]sdesk.UploadRef{
				{Secret: secret1, Filename: "app log.txt", Alt: "app log.txt"},
				{Secret: secret2, Filename: "screen.png", Alt: "screen"},
				{Secret: secret3, Filename: "b.pdf", Alt: "b"},
				{Secret: secret1, Filename: "h.png", Alt: "html & more"},
				{Secret: secret3, Filename: "r.zip", Alt: "ref"},
			}},
		{"badge", "[![logo](/uploads/" + secret1 + "/logo.png)](/uploads/" + secret1 + "/logo.png)",
			[]sdesk.UploadRef{{Secret: secret1, Filename: "logo.png", Alt: "logo"}}},
		{"anchor and table", "| file |\n|---|\n| <a href=\"/uploads/" + secret2 + "/t.csv\">t</a> |",
			[]sdesk.UploadRef{{Secret: secret2, Filename: "t.csv", Alt: "t"}}},
		{"service desk reply", "Response\n\n![23690422](/uploads/" + secret1 + "/23690422.png)",
			[]sdesk.UploadRef{{Secret: secret1, Filename: "23690422.png", Alt: "23690422"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdesk.Uploads(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Uploads(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStripEmailQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no quote", "Just text\n\n", "Just text"},
		{"gmail", "Thanks, that worked!\n\nOn Thu, 22 Apr 2021 at 21:04, Jane Doe <jane@example.com> wrote:\n" +
			"> Could you try restarting?\n> \n> GitLab Support\n", "Thanks, that worked!"},
		{"gmail wrapped", "Sure.\n\nOn Thu, 22 Apr 2021 at 21:04, Jane Doe <\njane@example.com> wrote:\n\n> hi\n", "Sure."},
		{"gmail unquoted tail", "Ok\nOn Thu, 22 Apr 2021 at 21:04, GitLab <support@example.com> wrote:\nold text", "Ok"},
		{"german", "Danke!\n\nAm 22.04.2021 um 21:04 schrieb Jane Doe <jane@example.com>:\n> Hallo", "Danke!"},
		{"french", "Merci\n\nLe jeu. 22 avr. 2021 à 21:04, Jane Doe <jane@example.com> a écrit\u00a0:\n> Bonjour", "Merci"},
		{"original message", "See below.\n\n-----Original Message-----\nFrom: Support <s@example.com>\nSent: Thursday\n\nold", "See below."},
		{"outlook", "Works now.\n\nFrom: GitLab Support <support@example.com>\nSent: Thursday, April 22, 2021 9:04 PM\n" +
			"To: Jane Doe <jane@example.com>\nSubject: Re: Login broken (#6)\n\nHello Jane", "Works now."},
		{"outlook bold", "Works.\n\n**From:** GitLab <support@example.com>\n**Sent:** Thursday\n", "Works."},
		{"underscores", "OK\n\n________________________________\nFrom: x\nold", "OK"},
		{"signature", "Hi,\nthe app crashes again.\n\n-- \nJane Doe\nACME Inc.", "Hi,\nthe app crashes again."},
		{"trailing quote", "Yes please.\n\n> Should we close this?\n>\n> Bob\n", "Yes please."},
		{"inline reply kept", "On Thu, 22 Apr 2021 at 21:04, Bob <bob@example.com> wrote:\n> Which version?\n2.3.1\n> Which OS?\nLinux",
			"On Thu, 22 Apr 2021 at 21:04, Bob <bob@example.com> wrote:\n> Which version?\n2.3.1\n> Which OS?\nLinux"},
		{"inline reply trailing quote", "Answers below.\n\n> Which version?\n2.3.1\n\n> Anything else?\n",
			"Answers below.\n\n> Which version?\n2.3.1"},
		{"middle quote kept", "> earlier point\nI disagree.", "> earlier point\nI disagree."},
		{"only quote", "> just a quote\n", "> just a quote\n"},
		{"only signature", "-- \nJane", "-- \nJane"},
		{"only whitespace", " \n\t", " \n\t"},
		{"attribution without date", "On second thought, as I wrote:\nthe fix works", "On second thought, as I wrote:\nthe fix works"},
		{"dash dash without space", "a\n--\nb", "a\n--\nb"},
		{"forwarded kept", "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Thu, 22 Apr 2021\nSubject: x\n\nbody",
			"FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Thu, 22 Apr 2021\nSubject: x\n\nbody"},
		{"crlf", "Thanks\r\n\r\nOn Thu, 22 Apr 2021 at 21:04, Jane <j@example.com> wrote:\r\n> x\r\n", "Thanks"},
		{"signature after quote", "Fine.\n> q\n-- \nsig", "Fine."},
		// The shape of a Service Desk reply sent from Zoho Mail: the quote
		// marker sits on the first line, after the new text.
		{"zoho", "Thanks, it works now ---- On Mo, 12 May 2024 09:15:00 +0200  gitlab@mg.gitlab.example.com  wrote ----\n\n\n\n" +
			"div.zm_1234_parse_-5678 img { max-width: 100%; height: auto }\n\n\n\n" +
			"Please try clearing the cache.\n\n\n—\n\nUnsubscribe\n\n![logo](/uploads/" + secret1 + "/logo.png)",
			"Thanks, it works now"},
		{"support bot reply", "Hello,\n\nthe export still fails with error 500, see the attached screenshot.\n\n" +
			"![export](/uploads/" + secret2 + "/export.png)\n\nBest regards\nJane\n\n" +
			"On Thu, 22 Apr 2021 at 21:04, Jane Doe <jane@example.com> wrote:\n\n" +
			"> Hello Jane,\n>\n> could you send us a screenshot of the error?\n>\n> -- \n> Reply to this email directly or view it on GitLab: https://gitlab.example.com/acme/support/-/issues/6\n",
			"Hello,\n\nthe export still fails with error 500, see the attached screenshot.\n\n" +
				"![export](/uploads/" + secret2 + "/export.png)\n\nBest regards\nJane"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdesk.StripEmailQuote(tt.in); got != tt.want {
				t.Errorf("StripEmailQuote(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"empty", "", 2000, nil},
		{"fits", "hello", 16, []string{"hello"}},
		{"exact fit", strings.Repeat("x", 16), 16, []string{strings.Repeat("x", 16)}},
		{"max raised to 16", "aaaa bbbb cccc dddd", 4, []string{"aaaa bbbb cccc ", "dddd"}},
		{"space", "aaaa bbbb cccc dddd eeee", 16, []string{"aaaa bbbb cccc ", "dddd eeee"}},
		{"blank line first", "first para\n\nsecond one here and more", 20,
			[]string{"first para\n\n", "second one here and ", "more"}},
		{"newline before space", "line one\nline two is here", 16, []string{"line one\n", "line two is here"}},
		{"hard", "abcdefghijklmnopqrstuvwxyz", 16, []string{"abcdefghijklmnop", "qrstuvwxyz"}},
		{"emoji runes", strings.Repeat("😀", 20), 16, []string{strings.Repeat("😀", 16), strings.Repeat("😀", 4)}},
		{"cjk", strings.Repeat("日本語", 7), 16, []string{strings.Repeat("日本語", 5) + "日", "本語" + strings.Repeat("日本語", 1)}},
		{"zwj sequence kept", "aaaaaaaaaaaaa👨\u200d👩\u200d👧bbbb", 16, []string{"aaaaaaaaaaaaa", "👨\u200d👩\u200d👧bbbb"}},
		{"escape kept", `aaaaaaaaaaaaaaa\<@1>`, 16, []string{"aaaaaaaaaaaaaaa", `\<@1>`}},
		{"escaped backslash may end a chunk", `aaaaaaaaaaaaaa\\<@1>`, 16, []string{`aaaaaaaaaaaaaa\\`, "<@1>"}},
		{"combining mark kept", "aaaaaaaaaaaaaaae\u0301xyz", 16, []string{"aaaaaaaaaaaaaaa", "e\u0301xyz"}},
		{"link kept whole", "xxxxxxxxxx<https://a.io>", 16, []string{"xxxxxxxxxx", "<https://a.io>"}},
		{"masked link kept whole", "intro [the docs](<https://a.io>)", 16,
			[]string{"intro ", "[the docs](<http", "s://a.io>)"}},
		{"fence crossing", "```go\nline 1\nline 2\nline 3\n```\n", 20,
			[]string{"```go\nline 1\n\n```", "```go\nline 2\n\n```", "```go\nline 3\n```\n"}},
		{"fence after text", "Look:\n```\nabc def ghi\n```\nend", 16,
			[]string{"Look:\n", "```\nabc def \n```", "```\nghi\n```\nend"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdesk.SplitText(tt.in, tt.max)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitText(%q, %d)\ngot  %q,\nwant %q", tt.in, tt.max, got, tt.want)
			}
			checkSplit(t, tt.in, tt.max, got)
		})
	}
}

func TestSplitTextLongNote(t *testing.T) {
	note := longNote(9000)
	if n := utf8.RuneCountInString(note); n != 9000 {
		t.Fatalf("longNote has %d runes, want 9000", n)
	}
	for _, tt := range []struct{ max, minChunks int }{{4096, 3}, {2000, 5}} {
		chunks := sdesk.SplitText(note, tt.max)
		if len(chunks) < tt.minChunks || len(chunks) > tt.minChunks+2 {
			t.Errorf("SplitText(note, %d) gave %d chunks, want %d to %d", tt.max, len(chunks), tt.minChunks, tt.minChunks+2)
		}
		checkSplit(t, note, tt.max, chunks)
		reopened := false
		for i := 1; i < len(chunks); i++ {
			if strings.HasPrefix(chunks[i], "```go\n") && strings.HasSuffix(chunks[i-1], "\n```") {
				reopened = true
			}
		}
		if tt.max == 2000 && !reopened {
			t.Errorf("max %d: no chunk boundary inside the code block, the test note lost its point", tt.max)
		}
		for i, c := range chunks[:len(chunks)-1] {
			// Break where a reader expects it: at the end of a line.
			if !strings.HasSuffix(c, "\n") && !strings.HasSuffix(c, "\n```") {
				t.Errorf("max %d: chunk %d ends mid-line: %q", tt.max, i, c[max(0, len(c)-40):])
			}
		}
	}
	// Rendered first, as sdesk posts it.
	rendered := sdesk.RenderNote(note, project)
	checkSplit(t, rendered, 2000, sdesk.SplitText(rendered, 2000))
}

// longNote builds a realistic note of exactly n runes: paragraphs, a list,
// emoji, CJK, links and a long code block.
func longNote(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < 4*n; i++ {
		b.WriteString("Hello Jane 👋, thanks for the details about the export problem (日本語のテキストも大丈夫です). ")
		b.WriteString("We looked at the logs you attached: [export.log](/uploads/" + secret1 + "/export.log).\n\n")
		b.WriteString("- [x] reproduced on 2.3.1\n- [ ] fix in ~\"release::2.3.2\"\n\n")
		if i%3 == 1 {
			b.WriteString("```go\n")
			for j := range 40 {
				b.WriteString("\tfmt.Println(\"line\", " + strings.Repeat("x", j%7) + ") // 🚀\n")
			}
			b.WriteString("```\n\n")
		}
		b.WriteString("More at <https://gitlab.example.com/acme/support/-/issues/12> — ça marche ? ✅\n\n")
	}
	r := []rune(b.String())
	return string(r[:n])
}

// checkSplit checks the documented properties of SplitText: every chunk has
// at most max runes and some text of s, chunks are valid UTF-8 when s is, and
// removing the added fence lines and concatenating gives s back.
func checkSplit(t *testing.T, s string, max int, chunks []string) {
	t.Helper()
	if s == "" {
		if chunks != nil {
			t.Fatalf("SplitText(%q) = %q, want nil", s, chunks)
		}
		return
	}
	if max < 16 {
		max = 16
	}
	for i, c := range chunks {
		if n := utf8.RuneCountInString(c); n > max {
			t.Fatalf("chunk %d has %d runes, max %d: %q", i, n, max, c)
		}
		if utf8.ValidString(s) && !utf8.ValidString(c) {
			t.Fatalf("chunk %d is not valid UTF-8: %q", i, c)
		}
	}
	fences := testFences(s, max)
	if !reassemble(s, 0, chunks, nil, fences) {
		t.Fatalf("chunks do not reassemble to the input\ninput  %q\nchunks %q", s, chunks)
	}
}

// testFence mirrors the fence rule in SplitText's documentation.
type testFence struct {
	bodyStart, closerStart int
	reopen, close          string
}

func testFences(s string, max int) []testFence {
	indent := func(l string) string {
		for k := 0; k < 3 && strings.HasPrefix(l, " "); k++ {
			l = l[1:]
		}
		return l
	}
	var fences []testFence
	var open *testFence
	var run string
	for start := 0; start < len(s); {
		end, next := len(s), len(s)
		if i := strings.IndexByte(s[start:], '\n'); i >= 0 {
			end, next = start+i, start+i+1
		}
		line := indent(s[start:end])
		if open == nil {
			n := 0
			for n < len(line) && (line[0] == '`' || line[0] == '~') && line[n] == line[0] {
				n++
			}
			if n >= 3 && end < len(s) && !(line[0] == '`' && strings.Contains(line[n:], "`")) {
				run = line[:n]
				open = &testFence{bodyStart: next, reopen: strings.TrimSpace(s[start:end]) + "\n", close: "\n" + run}
			}
		} else {
			n := 0
			for n < len(line) && line[n] == run[0] {
				n++
			}
			if n >= len(run) && strings.Trim(line[n:], " \t\r") == "" {
				open.closerStart = start
				fences = append(fences, *open)
				open = nil
			}
		}
		start = next
	}
	if open != nil {
		open.closerStart = len(s)
		fences = append(fences, *open)
	}
	kept := fences[:0]
	for _, f := range fences {
		if utf8.RuneCountInString(f.reopen)+utf8.RuneCountInString(f.close) <= max/2 {
			kept = append(kept, f)
		}
	}
	return kept
}

func fenceAt(fences []testFence, p int) *testFence {
	for i := range fences {
		if fences[i].bodyStart <= p && p <= fences[i].closerStart {
			return &fences[i]
		}
	}
	return nil
}

// reassemble reports whether chunks, from position pos of s on, are s[pos:]
// with fence lines added exactly where the rule says.
func reassemble(s string, pos int, chunks []string, reopen *testFence, fences []testFence) bool {
	if len(chunks) == 0 {
		return pos == len(s)
	}
	c := chunks[0]
	if reopen != nil {
		if !strings.HasPrefix(c, reopen.reopen) {
			return false
		}
		c = c[len(reopen.reopen):]
	}
	if len(chunks) == 1 {
		return c != "" && s[pos:] == c
	}
	// Without an added closing fence.
	if p := pos + len(c); p > pos && strings.HasPrefix(s[pos:], c) && p < len(s) && fenceAt(fences, p) == nil &&
		reassemble(s, p, chunks[1:], nil, fences) {
		return true
	}
	// With one: "\n" and a run of fence characters at the end.
	k := len(c)
	for k > 0 && (c[k-1] == '`' || c[k-1] == '~') && c[k-1] == c[len(c)-1] {
		k--
	}
	if k == 0 || c[k-1] != '\n' {
		return false
	}
	body := c[:k-1]
	p := pos + len(body)
	f := fenceAt(fences, p)
	return f != nil && f.close == c[k-1:] && p > pos && strings.HasPrefix(s[pos:], body) &&
		reassemble(s, p, chunks[1:], f, fences)
}

func FuzzSplitText(f *testing.F) {
	f.Add("hello world", 16)
	f.Add("```go\nline 1\nline 2\nline 3\n```\n", 20)
	f.Add("aaaaaaaaaaaaa👨\u200d👩\u200d👧bbbb <https://a.io/x> [t](<u v>)", 16)
	f.Add("Hi 👋 日本語\n\n- [x] done\n\n```go\n\tfmt.Println(1) // 🚀\n```\n\nMore <https://a.io/12> ✅\n", 24)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if len(s) > 1024 {
			return // longer inputs add little and make minimizing slow
		}
		m := 16 + int(uint(max)%600)
		checkSplit(t, s, m, sdesk.SplitText(s, m))
	})
}

func FuzzRenderNote(f *testing.F) {
	f.Add("Hello <b>there</b> ~bug @everyone ![x](/uploads/"+secret1+"/x.png)", project)
	f.Add("```\ncode\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n$$\nx\n$$", project)
	f.Add("<details><summary>S</summary>`x` &amp; <!-- c --></details>", "")
	f.Add("`c` ![](/uploads/"+secret1+"/%EE%80%800%EE%80%81.png) [](%80)", project)
	f.Add("[click](https://evil.example/a) <a href=\"https://e.example\">x</a> [x][(y)](https://z.test)\n"+
		"![](/uploads/"+secret1+"/a%E2%80%AEgnp.exe) <@1> <t:0:R> ||s|| &lt;#1&gt;\n-# small", project)
	f.Fuzz(func(t *testing.T, body, projectURL string) {
		if len(body) > 2048 {
			return // longer inputs add little and make minimizing slow
		}
		out := sdesk.RenderNote(body, projectURL)
		if utf8.ValidString(body) && utf8.ValidString(projectURL) && !utf8.ValidString(out) {
			t.Fatalf("RenderNote(%q, %q) = %q: not valid UTF-8", body, projectURL, out)
		}
		// RenderNote works with \uE000<n>\uE001 placeholders: none may
		// reach the output unless the input had that rune itself. (An
		// input rune may be repeated, as a link target becomes the link's
		// text.)
		for _, r := range "\uE000\uE001" {
			if !strings.ContainsRune(body+projectURL, r) && strings.ContainsRune(out, r) {
				t.Fatalf("RenderNote(%q, %q) = %q: leaked a placeholder", body, projectURL, out)
			}
		}
		checkNoteForDiscord(t, body, out, projectURL)
		_ = sdesk.Uploads(body)
		_ = sdesk.StripEmailQuote(body)
	})
}

// discordLinkRe is Discord's masked link rule (simple-markdown's link rule
// without its one lookahead, which Go's regexp lacks: a "]" inside the text
// is then not accepted, so a few links are missed rather than invented).
var discordLinkRe = regexp.MustCompile(`^\[((?:\[[^\]]*\]|[^\[\]])*)\]\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['"][\s\S]*?['"])?\s*\)`)

// discordNoteTagRe: what Discord reads as a mention, a channel or command
// link, a timestamp, a custom emoji or a guild link.
var discordNoteTagRe = regexp.MustCompile(`^<(?:[@#:/]|(?i:t|a|id|sound):)`)

// checkNoteForDiscord states the rule for a rendered note as Discord parses
// it, outside code spans and blocks (found as Discord finds them, erring
// towards less code) and backslash escapes:
//   - every masked link [text](url) either has its URL as its text, or is
//     sdesk's link to an upload under one of bases (the project URL, the
//     uploads URL) named after its file, or has its URL visible elsewhere
//     in the output;
//   - no mention, timestamp or the like (<@, <#, <t:, ...) and no spoiler
//     (||).
func checkNoteForDiscord(t *testing.T, body, out string, bases ...string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("RenderNote(%q, %q) = %q: %s", body, bases, out, fmt.Sprintf(format, args...))
	}
	var uploadRe *regexp.Regexp // nil: no base URL to hold uploads
	var alts []string
	for _, b := range bases {
		if b != "" && utf8.ValidString(b) {
			alts = append(alts, regexp.QuoteMeta(strings.TrimRight(b, "/")))
		}
	}
	if len(alts) > 0 {
		uploadRe = regexp.MustCompile(`^(?:` + strings.Join(alts, "|") + `)/uploads/[0-9a-fA-F]{32}/([^/?#]+)$`)
	}
	for i := 0; i < len(out); {
		switch c := out[i]; {
		case c == '\\' && i+1 < len(out) && out[i+1] < utf8.RuneSelf && (unicode.IsPunct(rune(out[i+1])) || unicode.IsSymbol(rune(out[i+1]))):
			i += 2
			continue
		case c == '`':
			if end := discordCodeEnd(out, i); end > 0 {
				i = end
				continue
			}
			for i < len(out) && out[i] == '`' {
				i++
			}
			continue
		case c == '[':
			m := discordLinkRe.FindStringSubmatch(out[i:])
			if m == nil {
				break
			}
			text, target := unescapeDiscord(m[1]), m[2]
			rest := out[:i] + "\x00" + out[i+len(m[0]):]
			var sm []string
			if uploadRe != nil {
				sm = uploadRe.FindStringSubmatch(target)
			}
			if sm != nil {
				name, err := url.PathUnescape(sm[1])
				if text == sm[1] || err == nil && text == name {
					i += len(m[0])
					continue
				}
			}
			if target != "" && text != target && !strings.Contains(rest, target) {
				fail("masked link %q hides its target", m[0])
			}
			i += len(m[0])
			continue
		case c == '<' && discordNoteTagRe.MatchString(out[i:]):
			fail("Discord markup %q at %d", out[i:min(len(out), i+4)], i)
		case c == '|' && strings.HasPrefix(out[i:], "||"):
			fail("spoiler at %d", i)
		}
		_, size := utf8.DecodeRuneInString(out[i:])
		i += size
	}
}

// discordCodeEnd returns the end of the code block or span that starts
// with the backticks at s[i:], or -1. A block (Discord's rule:
// ^```(?:lang\n)?\n*([^\n][^]*?)\n*```) runs from ``` past any newlines
// and one more character to the next ```; else a run of n backticks runs
// to the next run of exactly n.
func discordCodeEnd(s string, i int) int {
	if strings.HasPrefix(s[i:], "```") {
		k := i + 3
		for k < len(s) && s[k] == '\n' {
			k++
		}
		if k < len(s) {
			if j := strings.Index(s[k+1:], "```"); j >= 0 {
				return k + 1 + j + 3
			}
		}
	}
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	for j := i + n; j < len(s); {
		if s[j] != '`' {
			j++
			continue
		}
		k := j
		for k < len(s) && s[k] == '`' {
			k++
		}
		if k-j == n {
			return k
		}
		j = k
	}
	return -1
}

func BenchmarkRenderNote(b *testing.B) {
	note := longNote(9000)
	b.SetBytes(int64(len(note)))
	for b.Loop() {
		sdesk.RenderNote(note, project)
	}
}

func BenchmarkSplitText(b *testing.B) {
	note := longNote(9000)
	b.SetBytes(int64(len(note)))
	for b.Loop() {
		sdesk.SplitText(note, 2000)
	}
}

// Service Desk lets anyone send a note body by e-mail: hostile shapes must
// not make the functions quadratic.
func TestRenderNoteHostileInputs(t *testing.T) {
	var ticks strings.Builder
	for n := 1; ticks.Len() < 50_000; n++ {
		ticks.WriteString(strings.Repeat("`", n) + " x ")
	}
	inputs := map[string]string{
		"unclosed comments": strings.Repeat("<!--", 12_000),
		"unclosed code":     strings.Repeat("<code>x", 8_000),
		"backtick runs":     ticks.String(),
		"links":             strings.Repeat("[a](/uploads/"+secret1+"/f.png)", 1_200),
		"tags":              strings.Repeat("<b><i>x</i></b><br>", 2_500),
		"attributions":      strings.Repeat("On Thu, 22 Apr 2021, Jane <j@example.com> wrote:\n> q\nanswer\n", 800),
		"fences":            strings.Repeat("```\n", 12_000),
		"long line":         strings.Repeat("x", 50_000),
		"discord tags":      strings.Repeat("<@", 25_000),
		"pipes":             strings.Repeat("|", 50_000),
		"link halves":       strings.Repeat("](", 25_000),
		"shown links":       strings.Repeat("[a](https://x.test/a) ", 2_500),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			out := sdesk.RenderNote(in, project)
			sdesk.Uploads(in)
			sdesk.StripEmailQuote(in)
			sdesk.SplitText(out, 2000)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s took %v", name, d)
			}
		})
	}
}

// The way sdesk posts a Service Desk e-mail reply: strip, render, split.
func TestRenderNoteServiceDeskReply(t *testing.T) {
	body := "Hello,\n\nthe export still fails &amp; I attached a screenshot:\n\n" +
		"![export](/uploads/" + secret2 + "/export.png)\n\n" +
		"On Thu, 22 Apr 2021 at 21:04, GitLab Support <support@gitlab.example.com> wrote:\n\n" +
		"> Could you send us a screenshot?\n"
	want := []string{"Hello,\n\nthe export still fails & I attached a screenshot:\n\n" +
		"[export.png](" + project + "/uploads/" + secret2 + "/export.png)"}
	if got := sdesk.SplitText(sdesk.RenderNote(sdesk.StripEmailQuote(body), project), 2000); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The shared GitLab deliveries, when this checkout sits next to them.
func TestRenderNoteSharedFixtures(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/fixtures/gitlab/*.json")
	if len(files) == 0 {
		t.Skip("no shared fixtures next to the repository")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Body struct {
				Project struct {
					WebURL string `json:"web_url"`
				}
				ObjectAttributes struct{ Note string } `json:"object_attributes"`
			}
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		note := d.Body.ObjectAttributes.Note
		if note == "" {
			continue
		}
		stripped := sdesk.StripEmailQuote(note)
		chunks := sdesk.SplitText(sdesk.RenderNote(stripped, d.Body.Project.WebURL), 2000)
		if len(chunks) == 0 || strings.TrimSpace(chunks[0]) == "" {
			t.Errorf("%s: got %q, want text", filepath.Base(f), chunks)
		}
		if strings.HasPrefix(filepath.Base(f), "7_") {
			if stripped != "Response" {
				t.Errorf("%s: StripEmailQuote = %q, want %q", filepath.Base(f), stripped, "Response")
			}
			if ups := sdesk.Uploads(note); len(ups) != 1 || ups[0].Filename != "23690422.png" {
				t.Errorf("%s: Uploads = %q, want the one image", filepath.Base(f), ups)
			}
		}
	}
}
