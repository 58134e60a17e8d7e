package discordmd_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"github.com/sdesk/sdesk/pkg/discordmd"
	"github.com/sdesk/sdesk/pkg/emailquote"
)

const (
	project = "https://gitlab.example.com/acme/support"
	secret1 = "0123456789abcdef0123456789abcdef"
	secret2 = "fedcba9876543210fedcba9876543210"
	secret3 = "00112233445566778899aabbccddeeff"
	zwsp    = "\u200b"
)

func TestRender(t *testing.T) {
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
		{"image name is a sentinel rune", "![](\uE000)", "!\\[]\\(\uE000)"},
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
		{"mentions in e-mail addresses defused", "mail ops@here.example or x@everyone.example",
			"mail ops@" + zwsp + "here.example or x@" + zwsp + "everyone.example"},
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
			"Tom & Jerry \\<3 \"hi\" it's a b 😀 &bogus; &#0;"},
		{"entity in code kept", "`&amp;` and &amp;", "`&amp;` and &"},
		{"named entities", "&copy; 2024 &hellip; caf&eacute; a&NonBreakingSpace;b &frac12; &AMP; &semi;",
			"© 2024 … café a b ½ & ;"},
		{"references kept as written", "&notit; &amp x &#xD800; &#x110000; &#0; &#xE000;",
			"&notit; &amp x &#xD800; &#x110000; &#0; &#xE000;"},
		{"numeric references as HTML5 reads them", "&#128; &#xFFFD;", "€ \uFFFD"},
		{"entities in link targets", "[x](https://a.test/&quest;a&equals;1) <a href=\"https://a.test/&commat;here\">y</a>",
			"x (<https://a.test/?a=1>) y (<https://a.test/%40here>)"},
		{"toc", "[[_TOC_]]\n# Title\n[TOC]\ntext", "# Title\ntext"},
		{"tasks", "- [ ] todo\n- [x] done\n* [X] Done too\n1. [ ] first\n  - [ ] nested\n- [link](https://example.org)",
			"- ☐ todo\n- ☑ done\n* ☑ Done too\n1. ☐ first\n  - ☐ nested\n- link (<https://example.org>)"},
		{"headings", "# H1\n## H2\n### H3\n#### H4\n##### H5 ##\n###### H6\n####### seven\n####",
			"# H1\n## H2\n### H3\n**H4**\n**H5**\n**H6**\n####### seven\n####"},
		{"table", "| Name | Qty |\n|------|----:|\n| apple | 3 |\n| kiwi | 12 |\n\nafter",
			"```\nName  | Qty\n------|----\napple | 3\nkiwi  | 12\n```\n\nafter"},
		{"table widths by grapheme cluster", "| a | b |\n|---|---|\n| 👍🏽 | x |\n| 👨\u200d👩\u200d👧 | y |\n| 🇩🇪 | z |\n| e\u0301 | w |",
			"```\na   | b\n----|----\n👍🏽  | x\n👨\u200d👩\u200d👧  | y\n🇩🇪  | z\ne\u0301   | w\n```"},
		{"table cells rendered", "a | b\n--|--\n**x** &amp; | [l](/acme/support/-/issues/1)",
			"```\na       | b\n--------|-------------------------------------------------------\n**x** & | l (https://gitlab.example.com/acme/support/-/issues/1)\n```"},
		{"math block", "$$\na^2 + b^2\n$$\n", "```math\na^2 + b^2\n```\n"},
		{"math line", "$$ x_1 $$", "```math\nx_1\n```"},
		{"inline math", "inline $$x_1$$ and $`y_2`$", "inline `x_1` and `y_2`"},
		{"math fence kept", "```math\na_1\n```", "```math\na_1\n```"},
		{"fence untouched", "```\n@everyone <b>x</b> ~bug [a](/uploads/x) &amp;\n```\nafter ~bug",
			"```\n@everyone <b>x</b> ~bug [a](/uploads/x) &amp;\n```\nafter `bug`"},
		{"tilde fence", "~~~python\nprint('&amp;')\n~~~\n", "```python\nprint('&amp;')\n```\n"},
		{"tilde fence holding backticks", "~~~\n```\n~~~", "```\n``" + zwsp + "`\n```"},
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
			if got := discordmd.Render(tt.in, project); got != tt.want {
				t.Errorf("Render(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// Discord shows only the text of a masked link: every link from a note
// shows where it leads (issue 7, item 6).
func TestRenderShowsLinkTargets(t *testing.T) {
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
		{"reference definition", "[docs]: https://x.test/d", `\[docs]: https://x.test/d`},
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
		{"link text completes a link", "[x][(y)](https://z.test)", `\[x]\(y) (<https://z.test>)`},
		{"mention in link text", "[<@1> @everyone](https://x.test)", `\<@1> @` + zwsp + "everyone (<https://x.test>)"},
		{"link syntax left as text", "[a](b c) and [b](<c d>x)", `\[a]\(b c) and \[b]\(<c d>x)`},
		{"link syntax from entities", "&#91;x&#93;&#40;https://evil.example/&#41;", `\[x]\(https://evil.example/&#41;`},
		{"in code kept", "`[a](https://x.test)` and\n```\n[b](https://y.test)\n```",
			"`[a](https://x.test)` and\n```\n[b](https://y.test)\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := discordmd.Render(tt.in, project)
			if got != tt.want {
				t.Errorf("Render(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, project)
		})
	}
}

// The holes an attacker found in the rendering of GitLab notes for Discord
// (issue 7, item 6), and the shapes of the same kind found while closing
// them: GitLab code that Discord did not read as code, so that a masked
// link, a mention or a spoiler in it came alive; @everyone after a letter;
// an upload named like a URL.
func TestRenderAttackerShapes(t *testing.T) {
	evil := "[Refund form](https://evil.example/phish) <@&123> ||hidden||"
	broken := "``" + zwsp + "`" // ``` in code, as sdesk writes it
	up := project + "/uploads/" + secret1 + "/"
	tests := []struct {
		name, in, want string
	}{
		// Fences that Discord does not know: Discord ends a block at the
		// first ``` and knows no ~~~, ```` or $$.
		{"tilde fence holding backticks", "~~~\n```\n" + evil + "\n~~~", "```\n" + broken + "\n" + evil + "\n```"},
		{"longer fence holding backticks", "````\n```\n" + evil + "\n````", "```\n" + broken + "\n" + evil + "\n```"},
		{"math holding backticks", "$$\n```\n" + evil + "\n$$", "```math\n" + broken + "\n" + evil + "\n```"},
		{"quoted tilde fence", "> ~~~\n> ```\n> " + evil + "\n> ~~~", "> ```\n> " + broken + "\n> " + evil + "\n> ```"},
		{"quote ends before the closing fence", "> ```\n> " + evil + "\n\n```", "> ```\n> " + evil + "\n> ```"},
		{"info string holding backticks", "~~~ a```b\n" + evil + "\n~~~", "```\n" + evil + "\n```"},
		{"language Discord knows", "~~~ c++ {.numbered}\nx\n~~~", "```c++\nx\n```"},
		{"code element holding backticks", "<code>```\n" + evil + "</code>", "```\n" + broken + "\n" + evil + "\n```"},
		{"code span of three backticks", "````a```" + evil + "````", "`a```" + evil + "`"},
		{"code span over two lines", "`a\n" + evil + "`", "`a " + evil + "`"},
		{"code span holding one and two backticks", "```a`b``c```", "``a`b`" + zwsp + "`c``"},
		// Blocks with no character but line breaks: Discord would end them at
		// the next block's opening fence.
		{"empty fence before a fence", "```\n```\nx\n```\n" + evil + "\n```", "```\n" + zwsp + "\n```\nx\n```\n" + evil + "\n```"},
		{"empty math before a fence", "$$\n$$\n```\n" + evil + "\n```", "```math\n" + zwsp + "\n```\n```\n" + evil + "\n```"},
		{"blank code element before a fence", "a <code>\n</code> b\n```\n" + evil + "\n```", "a \n```\n" + zwsp + "\n```\n b\n```\n" + evil + "\n```"},
		{"empty quoted fence", "> ```\n>\n> ```", "> ```\n> " + zwsp + "\n> ```"},
		// Backticks that are not code in GitLab: Discord would pair them
		// with the code sdesk writes.
		{"stray backtick", "x `\n```\na ` " + evil + "\n```", "x \\`\n```\na ` " + evil + "\n```"},
		{"backticks from entities", "&#96;&#96;&#96;\n~~~\n" + evil + "\n~~~", "\\`\\`\\`\n```\n" + evil + "\n```"},
		{"backticks from named entities", "&grave;&grave;&grave;\n~~~\n" + evil + "\n~~~", "\\`\\`\\`\n```\n" + evil + "\n```"},
		{"link syntax from named entities", "&lsqb;x&rsqb;&lpar;https://evil.example/&rpar;", `\[x]\(https://evil.example/&rpar;`},
		{"mentions and spoiler from named entities", "&lt;&commat;1&gt; &commat;everyone &verbar;&verbar;x&verbar;&verbar;",
			`\<@1> @` + zwsp + `everyone \|\|x\|\|`},
		{"subtext after a named line break", "a&NewLine;-# b", "a\n\\-# b"},
		{"backslash from a named entity before code", "&bsol;`x` a `" + evil + "`", "\\\\`x` a `" + evil + "`"},
		{"backslash from an entity before code", "&#92;`x` a `" + evil + "`", "\\\\`x` a `" + evil + "`"},
		{"labels before code", "~bug`x` ~bug``y``", "`bug`" + zwsp + "`x` `bug`" + zwsp + "``y``"},
		// Links and URLs that Discord would run on into code.
		{"link text running into code", "[a `b](https://evil.example/phish) <@&1>`", "\\[a `b](https://evil.example/phish) <@&1>`"},
		{"URL running into code", "https://x.test/`a " + evil + "`", "<https://x.test/>`a " + evil + "`"},
		{"scheme running into code", "https://`a " + evil + "`", "https\\://`a " + evil + "`"},
		// Discord's URL rule runs on to white space or "<", over a backslash,
		// and its autolink rule over line breaks.
		{"URL running up to an escaped <", "https://x.test/a<@1>", `<https://x.test/a>\<@1>`},
		{"scheme in link text running up to an escaped <", "[see https://x.test/<@1>](https://y.test)", `see https\://x.test/\<@1> (<https://y.test>)`},
		{"autolink closing in a code block", "x <y:/z\n```\n[a](b)>\n" + evil + "\n```", "x \\<y:/z\n```\n[a](b)>\n" + evil + "\n```"},
		{"scheme before link text running up to an escaped <", "https:[//x.test/<@1>](https://y.test)", `https\://x.test/\<@1> (<https://y.test>)`},
		{"spoiler made with link texts", "x|[|a|](https://x.test) y|[|b](https://x.test)", `x\||a| (<https://x.test>) y\||b (<https://x.test>)`},
		{"reference definition of another scheme", "[a]: steam://x&lt;@1&gt;", `\[a]: steam\://x\<@1\>`},
		{"text ending in a URL before code", "[r]: &#95;https://x.test/a`b " + evil + "`", `\[r]: \_https://x.test/a ` + "`b " + evil + "`"},
		{"URL holding markup", "https://x.test/a[b]|c`d", "https://x.test/a%5Bb%5D%7Cc%60d"},
		{"URL holding a URL", "https://x.test/?u=https://y.test/", "https://x.test/?u=https%3A//y.test/"},
		{"link target holding code", "[x](]https://]x.test/<code>a\nb</code>~~~https://x.test/)", "\\[x]\\(]<https://%5Dx.test/>\n```\na\nb\n```\n~~~https://x.test/)"},
		// Code or a link inside what would be code: the text is kept as it is.
		{"inline math around code", "x $$a `b` c$$ y", "x $$a `b` c$$ y"},
		{"label around code", "~\"a `b` c\"", "~\"a `b` c\""},
		// @everyone and @here: Discord starts a mention at any @.
		{"mass mentions after a letter", "a@everyone x@here A@Everyone", "a@" + zwsp + "everyone x@" + zwsp + "here A@" + zwsp + "Everyone"},
		{"mass mention before a link", "@[everyone](https://x.test)", "@" + zwsp + "everyone (<https://x.test>)"},
		{"mass mention around empty code", "@<code></code>everyone", "@" + zwsp + "everyone"},
		{"mass mentions in URLs", "https://x.test/@everyone <https://x.test/@here>", "https://x.test/%40everyone <https://x.test/%40here>"},
		// Emphasis that Discord would close inside code.
		{"strong closing in code", "**a `b** " + evil + "`", "\\**a `b** " + evil + "`"},
		{"em closing in code", "*a `b* " + evil + "`", "\\*a `b* " + evil + "`"},
		{"underscores closing in code", "_a `b_ " + evil + "` __c `d__ " + evil + "`", "\\_a `b_ " + evil + "` \\__c `d__ " + evil + "`"},
		{"strike-through closing in code", "~~a `b~~ " + evil + "`", "\\~~a `b~~ " + evil + "`"},
		{"em closing in a fenced block", "*a\n```\nb* " + evil + "\n```", "\\*a\n```\nb* " + evil + "\n```"},
		{"emphasis closing before code kept", "**Note:** run `ls *.log`, _see_ `snake_case`", "**Note:** run `ls *.log`, _see_ `snake_case`"},
		// An upload named like a URL shows its URL.
		{"upload named like a URL", "[x](/uploads/" + secret1 + "/https:%2F%2Fgitlab.example%2Flogin)",
			"x (<" + up + "https:%2F%2Fgitlab.example%2Flogin>)"},
		{"upload named like a URL, no text", "![](/uploads/" + secret1 + "/https:%2F%2Fgitlab.example%2Flogin)",
			"<" + up + "https:%2F%2Fgitlab.example%2Flogin>"},
		{"upload named like a path", "[a.png](/uploads/" + secret1 + "/..%2Fa.png)", "a.png (<" + up + "..%2Fa.png>)"},
		{"upload named with a backslash", "![](/uploads/" + secret1 + "/a%5Cb.png)", "<" + up + "a%5Cb.png>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := discordmd.Render(tt.in, project)
			if got != tt.want {
				t.Errorf("Render(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, project)
		})
	}
}

// A note is split into several messages: code cut by a split is closed
// and opened again, so each message shows code where GitLab does.
func TestSplitRenderedNoteKeepsCode(t *testing.T) {
	evil := "[Refund form](https://evil.example/phish) <@&1> ||x||"
	var quoted strings.Builder
	quoted.WriteString("> ~~~\n")
	for range 80 {
		quoted.WriteString("> " + strings.Repeat("y", 60) + "\n")
	}
	quoted.WriteString("> " + evil + "\n> ~~~\n")
	tests := []struct {
		name, in string
	}{
		{"code span", "`" + strings.Repeat("x", 4500) + evil + " end`"},
		{"code span with backticks at the cut", "``" + strings.Repeat("`x", 2500) + evil + " end``"},
		{"code span after text", "see " + strings.Repeat("word ", 500) + "`" + strings.Repeat("x ", 2000) + evil + " end`"},
		{"quoted fence", quoted.String()},
		{"fence with a long info string", "```" + strings.Repeat("a", 3000) + "\n" + strings.Repeat("x\n", 2500) + evil + "\n```"},
		{"fence indented with a tab", "\t~~~\n" + strings.Repeat("y", 5000) + evil + "\n\t~~~"},
		{"code span holding runs of three backticks", "`" + strings.Repeat("ab```", 1000) + evil + "`"},
		{"long URL", "https://x.test/" + strings.Repeat("a", 5000) + "||hidden||[x](https://evil.example/phish)<@1> x"},
	}
	for _, tt := range tests {
		for _, max := range []int{2000, 4096} {
			t.Run(fmt.Sprint(tt.name, " ", max), func(t *testing.T) {
				out := discordmd.Render(tt.in, project)
				chunks := discordmd.Split(out, max)
				if len(chunks) < 2 {
					t.Fatalf("Split(Render(%.40q...), %d): %d chunk, want more: the test lost its point", tt.in, max, len(chunks))
				}
				checkSplit(t, out, max, chunks)
				checkChunksForDiscord(t, tt.in, out, max, chunks, project)
			})
		}
	}
}

// The test's model of Discord (discordShows) reads code, links and
// mentions as Discord's own rules do.
func TestDiscordShows(t *testing.T) {
	tests := []struct {
		name, in string
		live     bool
	}{
		{"code block with a language line", "```0\n```<#1>\n```", false},
		{"code block without one", "```0\n```<#1>", true},
		{"code block after text", "a ```\n<@1>\n``` b", false},
		{"code block ends at the first ```", "````\n```\n<@1>\n````", true},
		{"inline code", "`<@1>` ``a ` <@1>``", false},
		{"inline code with a shorter opening run", "``<@1>`", false},
		{"unclosed inline code", "`` <@1>", true},
		{"escaped backtick", "\\`<@1>`", true},
		{"spoiler", "a ||b||", true},
		{"escaped spoiler", `a \|\|b\|\|`, false},
		{"URL holds the pipes", "https://x.test/a||b||", false},
		{"URL ends at a space", "https://x.test/a ||b||", true},
		{"URL running into code", "https://x.test/`a <@1>`", true},
		{"autolink", "<https://x.test/a||b||>", false},
		{"mass mention", "a@everyone", true},
		{"mass mention in a URL", "https://x.test/@here", true},
		{"defused mass mention", "a@" + zwsp + "everyone", false},
		{"mention in link text", "[a <@1>](https://x.test) https://x.test", true},
		{"masked link", "[a](https://x.test)", true},
		{"link showing its target", "[https://x.test](https://x.test)", false},
		{"upload named after its file", "[a.png](" + project + "/uploads/" + secret1 + "/a.png)", false},
		{"upload named like a URL", "[https://x.test/a](" + project + "/uploads/" + secret1 + "/https:%2F%2Fx.test%2Fa)", true},
		{"strong closing in code", "**a `b** <@1>`", true},
		{"escaped strong", "\\**a `b** <@1>`", false},
		{"strong closing before code", "**a** `b`", false},
		{"em closing in a code block", "*a\n```\nb* x\n```", true},
		{"em after white space", "a * b `c * d`", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := discordShows(tt.in, project)
			if live := why != ""; live != tt.live {
				t.Errorf("discordShows(%q) = %q, want live %v", tt.in, why, tt.live)
			}
		})
	}
}

// Syntax that only Discord has shows in Discord as it does in GitLab.
func TestRenderDiscordOnlySyntax(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"mentions", "<@123> <@!1> <@&1> <#1> </cmd:1> <:e:1> <a:e:1> <id:guide> <t:0:R> <T:0>",
			`\<@123> \<@!1> \<@&1> \<#1> \</cmd:1> \<:e:1> \<a:e:1> \<id:guide> \<t:0:R> \<T:0>`},
		{"mention from entities", "&lt;@123&gt; &#60;#1&#62;", `\<@123> \<#1>`},
		{"already escaped", `\<@123> \|| \\<@1>`, `\<@123> \|\| \\\<@1>`},
		{"spoiler", "||hidden|| a | b |||", `\|\|hidden\|\| a | b \|\|\|`},
		{"subtext", "-# small\n  -# indented\n> -# quoted\nnot -# here", "\\-# small\n  \\-# indented\n> \\-# quoted\nnot -# here"},
		{"html and email kept", "<b>x</b> <jane@example.com> 1 < 2", `**x** <jane@example.com> 1 \< 2`},
		{"code kept", "`<@1> ||x||`\n```\n-# <t:0>\n```", "`<@1> ||x||`\n```\n-# <t:0>\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := discordmd.Render(tt.in, project)
			if got != tt.want {
				t.Errorf("Render(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
			checkNoteForDiscord(t, tt.in, got, project)
		})
	}
}

func TestRenderWithoutProjectURL(t *testing.T) {
	in := "![a](/uploads/" + secret1 + "/a.png) /acme/support/-/issues/3"
	want := "a (/uploads/" + secret1 + "/a.png) /acme/support/-/issues/3"
	if got := discordmd.Render(in, ""); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := discordmd.Render("[x](/a)", project+"/"); got != "x (<https://gitlab.example.com/a>)" {
		t.Errorf("trailing slash: got %q, want %q", got, "x (<https://gitlab.example.com/a>)")
	}
}

// A note as a project member writes it in GitLab's editor.
func TestRenderRealistic(t *testing.T) {
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
	if got := discordmd.Render(in, project); got != want {
		t.Errorf("Render:\ngot  %q,\nwant %q", got, want)
	}
}

func TestUploads(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []discordmd.UploadRef
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
			[]discordmd.UploadRef{
				{Secret: secret1, Filename: "app log.txt", Alt: "app log.txt"},
				{Secret: secret2, Filename: "screen.png", Alt: "screen"},
				{Secret: secret3, Filename: "b.pdf", Alt: "b"},
				{Secret: secret1, Filename: "h.png", Alt: "html & more"},
				{Secret: secret3, Filename: "r.zip", Alt: "ref"},
			}},
		{"badge", "[![logo](/uploads/" + secret1 + "/logo.png)](/uploads/" + secret1 + "/logo.png)",
			[]discordmd.UploadRef{{Secret: secret1, Filename: "logo.png", Alt: "logo"}}},
		{"anchor and table", "| file |\n|---|\n| <a href=\"/uploads/" + secret2 + "/t.csv\">t</a> |",
			[]discordmd.UploadRef{{Secret: secret2, Filename: "t.csv", Alt: "t"}}},
		{"service desk reply", "Response\n\n![23690422](/uploads/" + secret1 + "/23690422.png)",
			[]discordmd.UploadRef{{Secret: secret1, Filename: "23690422.png", Alt: "23690422"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discordmd.Uploads(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Uploads(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
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
		// No break inside a grapheme cluster (per uniseg), one case per
		// kind, unless the cluster is longer than a chunk.
		{"skin tone kept", "aaaaaaaaaaaaaaa👍🏽b", 16, []string{"aaaaaaaaaaaaaaa", "👍🏽b"}},
		{"flag kept", "aaaaaaaaaaaaaaa🇩🇪", 16, []string{"aaaaaaaaaaaaaaa", "🇩🇪"}},
		{"tag flag kept", "aaaaaaaaaaaaaa🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007Fb", 16,
			[]string{"aaaaaaaaaaaaaa", "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007Fb"}},
		{"spacing mark kept", "aaaaaaaaaaaaaaaकि", 16, []string{"aaaaaaaaaaaaaaa", "कि"}},
		{"hangul jamo kept", "aaaaaaaaaaaaaaa\u1100\u1161\u11a8", 16, []string{"aaaaaaaaaaaaaaa", "\u1100\u1161\u11a8"}},
		{"crlf kept", "aaaaaaaaaaaaaaa\r\nb", 16, []string{"aaaaaaaaaaaaaaa", "\r\nb"}},
		{"cluster longer than a chunk", "e" + strings.Repeat("\u0301", 20) + "x", 16,
			[]string{"e" + strings.Repeat("\u0301", 15), strings.Repeat("\u0301", 5) + "x"}},
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
			got := discordmd.Split(tt.in, tt.max)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q, %d)\ngot  %q,\nwant %q", tt.in, tt.max, got, tt.want)
			}
			checkSplit(t, tt.in, tt.max, got)
		})
	}
}

func TestSplitLongNote(t *testing.T) {
	note := longNote(9000)
	if n := utf8.RuneCountInString(note); n != 9000 {
		t.Fatalf("longNote has %d runes, want 9000", n)
	}
	for _, tt := range []struct{ max, minChunks int }{{4096, 3}, {2000, 5}} {
		chunks := discordmd.Split(note, tt.max)
		if len(chunks) < tt.minChunks || len(chunks) > tt.minChunks+2 {
			t.Errorf("Split(note, %d) gave %d chunks, want %d to %d", tt.max, len(chunks), tt.minChunks, tt.minChunks+2)
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
	rendered := discordmd.Render(note, project)
	checkSplit(t, rendered, 2000, discordmd.Split(rendered, 2000))
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

// checkSplit checks the documented properties of Split: every chunk has
// at most max runes and some text of s, chunks are valid UTF-8 when s is, no
// break falls inside a fence line that fits in a chunk, or in or next to a
// code span's opening or closing run or inside a run of backticks in a
// span; removing the added fence lines and code span runs and
// concatenating gives s back; and no chunk ends inside a grapheme cluster
// (as uniseg finds them) when a break between clusters, other than one
// Split takes only when no other fits, would have fitted in the chunk.
func checkSplit(t *testing.T, s string, max int, chunks []string) {
	t.Helper()
	if s == "" {
		if chunks != nil {
			t.Fatalf("Split(%q) = %q, want nil", s, chunks)
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
	m := newSplitModel(s, max)
	if !m.reassemble(0, chunks, "") {
		if m.anyCluster = true; m.reassemble(0, chunks, "") {
			t.Fatalf("a chunk ends inside a grapheme cluster, though a break between clusters fits\ninput  %q\nchunks %q", s, chunks)
		}
		t.Fatalf("chunks do not reassemble to the input\ninput  %q\nchunks %q", s, chunks)
	}
}

// splitModel mirrors the rules in Split's documentation: which
// strings a break at each position adds, and where no break may fall.
type splitModel struct {
	s      string
	max    int
	bounds map[int]bool // grapheme cluster boundaries, per uniseg
	// anyCluster lets a chunk end inside a grapheme cluster: to tell a
	// broken cluster from a broken reassembly.
	anyCluster bool
	fences     []testFence
	spans      []testSpan
	lines      [][2]int // [lo, hi): breaks inside fence lines
}

type testFence struct {
	bodyStart, closerStart int
	close, reopen          string
}

// fits: the fence line, its newline and both added strings fit in max.
func (f testFence) fits(line string, max int) bool {
	return utf8.RuneCountInString(line)+1+utf8.RuneCountInString(f.reopen)+utf8.RuneCountInString(f.close) <= max
}

type testSpan struct{ open, end, n int }

func newSplitModel(s string, max int) *splitModel {
	m := &splitModel{s: s, max: max, bounds: map[int]bool{0: true}}
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		_, to := g.Positions()
		m.bounds[to] = true
	}
	// prefix splits a line into its quote marker and the rest, after at
	// most three spaces.
	prefix := func(l string) (string, string) {
		for k := 0; k < 3 && strings.HasPrefix(l, " "); k++ {
			l = l[1:]
		}
		if rest := strings.TrimLeft(strings.TrimPrefix(l, ">"), " "); strings.HasPrefix(l, ">") && len(l)-len(rest) >= 2 {
			return l[:len(l)-len(rest)], rest
		}
		return "", l
	}
	var open *testFence
	var run string
	for start := 0; start < len(s); {
		end, next := len(s), len(s)
		if i := strings.IndexByte(s[start:], '\n'); i >= 0 {
			end, next = start+i, start+i+1
		}
		quote, line := prefix(s[start:end])
		if open == nil {
			n := 0
			for n < len(line) && line[n] == '`' {
				n++
			}
			if n >= 3 && end < len(s) && !strings.Contains(line[n:], "`") {
				run = line[:n]
				f := testFence{bodyStart: next, close: "\n" + quote + run, reopen: strings.TrimSpace(s[start:end]) + "\n"}
				if utf8.RuneCountInString(f.reopen)+utf8.RuneCountInString(f.close) > max/2 {
					f.reopen = quote + run + "\n"
				}
				if f.fits(s[start:end], max) {
					m.lines = append(m.lines, [2]int{start + 1, next})
				}
				open = &f
			} else {
				m.spans = append(m.spans, testSpans(s, start, end)...)
			}
		} else {
			n := 0
			for n < len(line) && line[n] == run[0] {
				n++
			}
			if n >= len(run) && strings.Trim(line[n:], " \t\r") == "" {
				if open.fits(s[start:end], max) {
					m.lines = append(m.lines, [2]int{start + 1, end})
				}
				open.closerStart = start
				m.fences = append(m.fences, *open)
				open = nil
			}
		}
		start = next
	}
	if open != nil {
		open.closerStart = len(s)
		m.fences = append(m.fences, *open)
	}
	kept := m.fences[:0]
	for _, f := range m.fences {
		if utf8.RuneCountInString(f.reopen)+utf8.RuneCountInString(f.close) <= max/2 {
			kept = append(kept, f)
		}
	}
	m.fences = kept
	return m
}

// testSpans returns the code spans of the line s[start:end].
func testSpans(s string, start, end int) []testSpan {
	var spans []testSpan
	type run struct{ at, n, eff int } // eff: the run's length as an opening run
	var runs []run
	for i := start; i < end; {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < end && s[j] == '`' {
			j++
		}
		slashes := 0
		for k := i - 1; k >= start && s[k] == '\\'; k-- {
			slashes++
		}
		eff := j - i
		if slashes%2 == 1 {
			eff--
		}
		runs = append(runs, run{i, j - i, eff})
		i = j
	}
	for k := 0; k < len(runs); k++ {
		n := runs[k].eff
		if n < 1 || n > 2 {
			continue
		}
		for c := k + 1; c < len(runs); c++ {
			if runs[c].n == n {
				spans = append(spans, testSpan{open: runs[k].at + runs[k].n - n, end: runs[c].at + n, n: n})
				k = c
				break
			}
		}
	}
	return spans
}

// repair returns what a break at p adds, and whether a break may fall there.
func (m *splitModel) repair(p int) (close, reopen string, ok bool) {
	for _, l := range m.lines {
		if l[0] <= p && p < l[1] {
			return "", "", false
		}
	}
	for _, f := range m.fences {
		if f.bodyStart <= p && p <= f.closerStart {
			return f.close, f.reopen, true
		}
	}
	for _, c := range m.spans {
		if p <= c.open || p >= c.end {
			continue
		}
		if p <= c.open+c.n || p >= c.end-c.n || m.s[p-1] == '`' && m.s[p] == '`' {
			return "", "", false
		}
		close, reopen = strings.Repeat("`", c.n), strings.Repeat("`", c.n)
		if m.s[p-1] == '`' {
			close = " " + close
		}
		if m.s[p] == '`' {
			reopen += " "
		}
		return close, reopen, true
	}
	return "", "", true
}

// reassemble reports whether chunks, from position pos of s on, are s[pos:]
// with the strings added exactly where the rules say; the first chunk starts
// with reopen.
func (m *splitModel) reassemble(pos int, chunks []string, reopen string) bool {
	s := m.s
	if len(chunks) == 0 {
		return pos == len(s)
	}
	c, ok := strings.CutPrefix(chunks[0], reopen)
	if !ok {
		return false
	}
	if len(chunks) == 1 {
		return c != "" && s[pos:] == c
	}
	// The chunk is s[pos:p] and then what a break at p adds.
	wholeFits := -1 // whether a break between clusters fits: -1 not yet known
	for k := 0; k <= len(c); k++ {
		p := pos + len(c) - k
		if p <= pos || p >= len(s) || s[pos:p] != c[:len(c)-k] {
			continue
		}
		close, next, ok := m.repair(p)
		if !ok || close != c[len(c)-k:] {
			continue
		}
		if !m.bounds[p] && !m.anyCluster {
			if wholeFits < 0 {
				wholeFits = 0
				if q := m.wholeBreak(pos, reopen); q > 0 {
					wholeFits = 1
				}
			}
			if wholeFits == 1 {
				continue // inside a grapheme cluster, though a break between clusters fits
			}
		}
		if m.reassemble(p, chunks[1:], next) {
			return true
		}
	}
	return false
}

// wholeBreak returns a break between grapheme clusters that the rules allow
// and that fits in a chunk starting at pos with reopen, other than one that
// Split takes only when no other fits; or -1.
func (m *splitModel) wholeBreak(pos int, reopen string) int {
	n := utf8.RuneCountInString(reopen)
	for q := pos; q < len(m.s); {
		_, size := utf8.DecodeRuneInString(m.s[q:])
		q += size
		if n++; n > m.max || q == len(m.s) {
			break
		}
		if !m.bounds[q] {
			continue
		}
		close, _, ok := m.repair(q)
		if ok && n+utf8.RuneCountInString(close) <= m.max && !m.lastResort(q, close) {
			return q
		}
	}
	return -1
}

// lastResort reports whether Split takes a break at p, which adds close,
// only when no other fits: right after a "*", "_" or "~" in code, or in a
// fenced block whose rest holds nothing but white space and quote markers.
func (m *splitModel) lastResort(p int, close string) bool {
	if close == "" {
		return false
	}
	if strings.IndexByte("*_~", m.s[p-1]) >= 0 {
		return true
	}
	for _, f := range m.fences {
		if f.bodyStart <= p && p <= f.closerStart {
			return strings.Trim(m.s[p:f.closerStart], "\n\r\t >") == ""
		}
	}
	return false
}

func FuzzSplit(f *testing.F) {
	f.Add("hello world", 16)
	f.Add("```go\nline 1\nline 2\nline 3\n```\n", 20)
	f.Add("aaaaaaaaaaaaa👨\u200d👩\u200d👧bbbb <https://a.io/x> [t](<u v>)", 16)
	f.Add("Hi 👋 日本語\n\n- [x] done\n\n```go\n\tfmt.Println(1) // 🚀\n```\n\nMore <https://a.io/12> ✅\n", 24)
	f.Add("🇩🇪🇫🇷🇯🇵 👍🏽👍🏿 कि e\u0301\u0302 \r\n👨\u200d👩\u200d👧\u200d👦 `a🇩🇪b👍🏽c` x\n```\n🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪🇩🇪\n```\n", 16)
	f.Add("`e"+strings.Repeat("\u0301", 30)+"` ```\n"+strings.Repeat("\u1100\u1161\u11a8", 12)+"\n```", 16)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if len(s) > 1024 {
			return // longer inputs add little and make minimizing slow
		}
		m := 16 + int(uint(max)%600)
		checkSplit(t, s, m, discordmd.Split(s, m))
	})
}

// FuzzRender states the rule for rendered notes (checkNoteForDiscord),
// for a note and for each part Split makes of it. Its seeds in
// testdata/fuzz/FuzzRender hold the shapes of issue 7, item 6.
func FuzzRender(f *testing.F) {
	f.Add("Hello <b>there</b> ~bug @everyone ![x](/uploads/"+secret1+"/x.png)", project)
	f.Add("```\ncode\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n$$\nx\n$$", project)
	f.Add("<details><summary>S</summary>`x` &amp; <!-- c --></details>", "")
	f.Add("`c` ![](/uploads/"+secret1+"/%EE%80%800%EE%80%81.png) [](%80)", project)
	f.Add("&grave;&grave;&grave;\n&lsqb;x&rsqb;&lpar;https://evil.example&rpar; &lt;&commat;1&gt; &commat;here &verbar;&verbar;s&verbar;&verbar;&NewLine;-# x &bsol;`y` &notit; &#128;", project)
	f.Add("[click](https://evil.example/a) <a href=\"https://e.example\">x</a> [x][(y)](https://z.test)\n"+
		"![](/uploads/"+secret1+"/a%E2%80%AEgnp.exe) <@1> <t:0:R> ||s|| &lt;#1&gt;\n-# small", project)
	f.Fuzz(func(t *testing.T, body, projectURL string) {
		if len(body) > 2048 {
			return // longer inputs add little and make minimizing slow
		}
		out := discordmd.Render(body, projectURL)
		if utf8.ValidString(body) && utf8.ValidString(projectURL) && !utf8.ValidString(out) {
			t.Fatalf("Render(%q, %q) = %q: not valid UTF-8", body, projectURL, out)
		}
		// Render works with \uE000<n>\uE001 placeholders: none may
		// reach the output unless the input had that rune itself. (An
		// input rune may be repeated, as a link target becomes the link's
		// text.)
		for _, r := range "\uE000\uE001" {
			if !strings.ContainsRune(body+projectURL, r) && strings.ContainsRune(out, r) {
				t.Fatalf("Render(%q, %q) = %q: leaked a placeholder", body, projectURL, out)
			}
		}
		checkNoteForDiscord(t, body, out, projectURL)
		// Posted in parts, each part on its own obeys the same rule; small
		// parts, so that the fuzzer splits often, but large enough to hold
		// the opening line of every fence Render writes and for
		// Split to repair it (max/2 runes).
		max := 64 + len(body)%64
		chunks := discordmd.Split(out, max)
		checkSplit(t, out, max, chunks)
		checkChunksForDiscord(t, body, out, max, chunks, projectURL)
		_ = discordmd.Uploads(body)
	})
}

// discordLinkRe is Discord's masked link rule (simple-markdown's link rule
// without its one lookahead, which Go's regexp lacks: a "]" inside the text
// is then not accepted, so a few links are missed rather than invented).
var discordLinkRe = regexp.MustCompile(`^\[((?:\[[^\]]*\]|[^\[\]])*)\]\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['"][\s\S]*?['"])?\s*\)`)

// discordNoteTagRe: what Discord reads as a mention, a channel or command
// link, a timestamp, a custom emoji or a guild link.
var discordNoteTagRe = regexp.MustCompile(`^<(?:[@#:/]|(?i:t|a|id|sound):)`)

// jsSpace is JavaScript's \s, which Discord's rules use.
const jsSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

var (
	// discordCodeBlockRe is Discord's codeBlock rule, as its client has it:
	// /^```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][^]*?)\n*```/i. Go's regexp
	// prefers, like JavaScript's backtracking, the language line when the
	// block can have one, so a block ends where Discord ends it.
	discordCodeBlockRe = regexp.MustCompile("(?i)^```(?:([a-z0-9_+\\-.#]+?)\n)?\n*([^\n][\\s\\S]*?)\n*```")
	// discordURLRuleRe is Discord's bare URL rule:
	// /^((?:https?|steam):\/\/[^\s<]+[^<.,:;"'\]\s])/ (then unbalanced
	// closing parentheses are dropped, see discordURLLen).
	discordURLRuleRe = regexp.MustCompile(`^(?:https?|steam)://[^` + jsSpace + `<]+[^<.,:;"'\]` + jsSpace + `]`)
	// discordAutolinkRe and discordMailtoRe: Discord's <scheme:/...> and
	// <name@host.tld> links.
	discordAutolinkRe = regexp.MustCompile(`^<[^: >]+:/[^ >]+>`)
	discordMailtoRe   = regexp.MustCompile(`^<[^` + jsSpace + `<>@]+@[^` + jsSpace + `<>@]+\.[^` + jsSpace + `<>@]+>`)
	// massMentionAtRe: Discord's mention rule for @everyone and @here
	// (^(@(?:everyone|here))), here in any case.
	massMentionAtRe = regexp.MustCompile(`^(?i)@(?:everyone|here)`)
	// discordEmphasisRes: simple-markdown's em, strong and u and Discord's s
	// (^~~([\s\S]+?)~~(?!_)), which look for their closing delimiter in
	// whatever follows, code included; group 1 is the closing delimiter.
	// Lookaheads are written as a character that must follow (or the end);
	// em's (?=\S) is checked apart.
	discordEmphasisRes = []*regexp.Regexp{
		regexp.MustCompile(`^_(?:__|\\[\s\S]|[^\\_])+?(_)\b`),
		regexp.MustCompile(`^\*(?:\*\*|\\[\s\S]|[` + jsSpace + `]+(?:\\[\s\S]|[^` + jsSpace + `*\\]|\*\*)|[^` + jsSpace + `*\\])+?(\*)(?:[^*]|$)`),
		regexp.MustCompile(`^\*\*(?:\\[\s\S]|[^\\])+?(\*\*)(?:[^*]|$)`),
		regexp.MustCompile(`^__(?:\\[\s\S]|[^\\])+?(__)(?:[^_]|$)`),
		regexp.MustCompile(`^~~[\s\S]+?(~~)(?:[^_]|$)`),
	}
)

// checkNoteForDiscord states the rule for a rendered note as Discord parses
// it (discordShows).
func checkNoteForDiscord(t *testing.T, body, out string, bases ...string) {
	t.Helper()
	if why := discordShows(out, bases...); why != "" {
		t.Fatalf("Render(%q, %q) = %q: %s", body, bases, out, why)
	}
}

// checkChunksForDiscord states the same rule for each chunk of a rendered
// note, as sdesk posts each in a message of its own.
func checkChunksForDiscord(t *testing.T, body, out string, max int, chunks []string, bases ...string) {
	t.Helper()
	for i, c := range chunks {
		if why := discordShows(c, bases...); why != "" {
			t.Fatalf("Render(%q, %q) = %q, Split(.., %d) chunk %d of %d = %q: %s", body, bases, out, max, i, len(chunks), c, why)
		}
	}
}

// discordShows returns what Discord would show of out that a note must
// not: "" when nothing. It walks out as Discord's parser reaches it, skipping
// what Discord reads as code (discordCodeEnd, with Discord's own rules),
// backslash escapes (simple-markdown's escape rule, \\([^0-9A-Za-z\s])),
// bare URLs (Discord's URL rule) and <...> links, and finds:
//   - a masked link [text](url) (its text checked like out) that neither has
//     its URL as its text, nor is sdesk's link to an upload under one of
//     bases (the project URL, the uploads URL) named after its file (a name
//     without "/", "\\" or ":", which could pass for a URL), nor has its URL
//     visible elsewhere in out;
//   - a mention, timestamp or the like (<@, <#, <t:, ...) or a spoiler (||);
//   - @everyone or @here, in any case, even in a URL (stricter than
//     Discord, whose mention rule is case-sensitive and which links a URL
//     whole: sdesk percent-encodes it there);
//   - a "*", "_" or "~" outside code from which emphasis, strong, underline
//     or strike-through (discordEmphasisRes) would end inside code: Discord
//     would then show the rest of that code as markdown. Every such
//     character counts as one that could start them (stricter than Discord,
//     where some are taken by what comes before them): a message can start
//     anywhere in a note split in parts.
func discordShows(out string, bases ...string) string {
	d := discordWalk{whole: out}
	var alts []string
	for _, b := range bases {
		if b != "" && utf8.ValidString(b) {
			alts = append(alts, regexp.QuoteMeta(strings.TrimRight(b, "/")))
		}
	}
	if len(alts) > 0 {
		d.uploadRe = regexp.MustCompile(`^(?:` + strings.Join(alts, "|") + `)/uploads/[0-9a-fA-F]{32}/([^/?#]+)$`)
	}
	d.code, d.delims = new([][2]int), new([]int)
	if why := d.walk(out, 0); why != "" {
		return why
	}
	return emphasisIntoCode(out, *d.code, *d.delims)
}

type discordWalk struct {
	whole    string
	uploadRe *regexp.Regexp // nil: no base URL to hold uploads
	// code and delims, when not nil, collect the code that walk skips and
	// the "*", "_" and "~" that it reaches.
	code   *[][2]int
	delims *[]int
}

// emphasisIntoCode returns where emphasis from one of delims would end
// inside code, or "".
func emphasisIntoCode(s string, code [][2]int, delims []int) string {
	for _, p := range delims {
		for _, re := range discordEmphasisRes {
			loc := re.FindStringSubmatchIndex(s[p:])
			if loc == nil {
				continue
			}
			if next, _ := utf8.DecodeRuneInString(s[p+1:]); re == discordEmphasisRes[1] && jsSpaceRune(next) {
				continue // em's (?=\S)
			}
			q := p + loc[2]
			k := sort.Search(len(code), func(k int) bool { return code[k][1] > q })
			if k < len(code) && code[k][0] < q {
				return fmt.Sprintf("%q at %d would end inside the code at %d: %q", s[p:p+loc[3]], p, code[k][0], s[code[k][0]:code[k][1]])
			}
		}
	}
	return ""
}

// jsSpaceRune reports whether r is in JavaScript's \s.
func jsSpaceRune(r rune) bool {
	return strings.ContainsRune("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff", r) || r >= 0x2000 && r <= 0x200a
}

// walk checks s, found at whole[base:].
func (d discordWalk) walk(s string, base int) string {
	code := newDiscordCode(s)
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			if r, size := utf8.DecodeRuneInString(s[i+1:]); !jsWordOrSpace(r) {
				i += 1 + size
				continue
			}
		case c == '`':
			if end := code.end(i); end > 0 {
				if d.code != nil {
					*d.code = append(*d.code, [2]int{i, end})
				}
				i = end
				continue
			}
		case (c == '*' || c == '_' || c == '~') && d.delims != nil:
			*d.delims = append(*d.delims, i)
		case c == 'h' || c == 's':
			if n := discordURLLen(s[i:]); n > 0 {
				if massMentionRe.MatchString(s[i : i+n]) {
					return fmt.Sprintf("@everyone or @here in the URL %q", s[i:i+n])
				}
				i += n
				continue
			}
		case c == '<':
			if discordNoteTagRe.MatchString(s[i:]) {
				return fmt.Sprintf("Discord markup %q at %d", s[i:min(len(s), i+4)], base+i)
			}
			loc := discordAutolinkRe.FindStringIndex(s[i:])
			if loc == nil {
				loc = discordMailtoRe.FindStringIndex(s[i:])
			}
			if loc != nil {
				if massMentionRe.MatchString(s[i : i+loc[1]]) {
					return fmt.Sprintf("@everyone or @here in the link %q", s[i:i+loc[1]])
				}
				i += loc[1]
				continue
			}
		case c == '[':
			m := discordLinkRe.FindStringSubmatchIndex(s[i:])
			if m == nil {
				break
			}
			link, text, target := s[i:i+m[1]], unescapeDiscord(s[i+m[2]:i+m[3]]), s[i+m[4]:i+m[5]]
			inner := discordWalk{whole: d.whole, uploadRe: d.uploadRe}
			if why := inner.walk(s[i+m[2]:i+m[3]], base+i+m[2]); why != "" {
				return fmt.Sprintf("in the text of the link %q: %s", link, why)
			}
			if !d.sdeskUpload(text, target) && target != "" && text != target &&
				!strings.Contains(d.whole[:base+i]+"\x00"+d.whole[base+i+m[1]:], target) {
				return fmt.Sprintf("masked link %q hides its target", link)
			}
			i += m[1]
			continue
		case c == '|' && strings.HasPrefix(s[i:], "||"):
			return fmt.Sprintf("spoiler at %d", base+i)
		case c == '@' && massMentionAtRe.MatchString(s[i:]):
			return fmt.Sprintf("%q at %d", s[i:i+massMentionAtRe.FindStringIndex(s[i:])[1]], base+i)
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return ""
}

// sdeskUpload reports whether [text](target) is sdesk's link to an upload,
// named after its file.
func (d discordWalk) sdeskUpload(text, target string) bool {
	if d.uploadRe == nil || strings.ContainsAny(text, "/\\:") {
		return false
	}
	sm := d.uploadRe.FindStringSubmatch(target)
	if sm == nil {
		return false
	}
	name, err := url.PathUnescape(sm[1])
	return text == sm[1] || err == nil && text == name
}

// jsWordOrSpace reports whether r is in [0-9A-Za-z\s] as JavaScript reads
// it: what a backslash does not escape.
func jsWordOrSpace(r rune) bool {
	return r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') || jsSpaceRune(r)
}

// discordURLLen returns the length of the URL that Discord links at the
// start of s, or 0: its URL rule, then its trimming of closing
// parentheses (one ")" is dropped when no "(" is left to match it).
func discordURLLen(s string) int {
	m := discordURLRuleRe.FindString(s)
	if m == "" {
		return 0
	}
	from := 0
	for n := len(m) - 1; n >= 0 && m[n] == ')'; n-- {
		k := strings.IndexByte(m[from:], '(')
		if k < 0 {
			m = m[:len(m)-1]
			break
		}
		from += k + 1
	}
	return len(m)
}

// discordCode finds code in s as Discord does.
type discordCode struct {
	s      string
	starts map[int][]int // run length -> starts of the maximal backtick runs that long, ascending
}

func newDiscordCode(s string) discordCode {
	c := discordCode{s: s, starts: map[int][]int{}}
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		c.starts[n] = append(c.starts[n], i)
		i += n
	}
	return c
}

// end returns the end of the code that starts at s[i] (a backtick), or -1.
// Discord's parser tries its rules at every position it reaches, also
// inside a run of backticks after the run's first positions failed:
// codeBlock (discordCodeBlockRe) first, then simple-markdown's inlineCode,
// ^(`+)([\s\S]*?[^`])\1(?!`): from the run of N backticks at s[i:] it tries
// N, N-1, ... 1 as the opening run, each closed by the first later run of
// exactly that many backticks with text between.
func (c discordCode) end(i int) int {
	s := c.s
	if strings.HasPrefix(s[i:], "```") {
		if loc := discordCodeBlockRe.FindStringIndex(s[i:]); loc != nil {
			return i + loc[1]
		}
	}
	runEnd := i
	for runEnd < len(s) && s[runEnd] == '`' {
		runEnd++
	}
	for n := runEnd - i; n >= 1; n-- {
		starts := c.starts[n]
		// The first run of n after this one: the opening run's own
		// backticks cannot close it, and text lies between.
		k := sort.SearchInts(starts, runEnd+1)
		if k < len(starts) {
			return starts[k] + n
		}
	}
	return -1
}

func BenchmarkRender(b *testing.B) {
	note := longNote(9000)
	b.SetBytes(int64(len(note)))
	for b.Loop() {
		discordmd.Render(note, project)
	}
}

func BenchmarkSplit(b *testing.B) {
	note := longNote(9000)
	b.SetBytes(int64(len(note)))
	for b.Loop() {
		discordmd.Split(note, 2000)
	}
}

// Service Desk lets anyone send a note body by e-mail: hostile shapes must
// not make the functions quadratic.
func TestRenderHostileInputs(t *testing.T) {
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
		"stars before code": strings.Repeat("*", 50_000) + "`*`",
		"open emphasis":     strings.Repeat("*a **b ", 7_000) + "`*`",
		"open underlines":   strings.Repeat("_a __b ", 7_000) + "`_`",
		"emphasis and code": strings.Repeat("**a `*` _b `_` ~~c `~` ", 2_000),
		"backtick pairs":    strings.Repeat("`a``", 12_000),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			out := discordmd.Render(in, project)
			discordmd.Uploads(in)
			discordmd.Split(out, 2000)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("%s took %v", name, d)
			}
		})
	}
}

// The way sdesk posts a Service Desk e-mail reply: strip, render, split.
func TestRenderServiceDeskReply(t *testing.T) {
	body := "Hello,\n\nthe export still fails &amp; I attached a screenshot:\n\n" +
		"![export](/uploads/" + secret2 + "/export.png)\n\n" +
		"On Thu, 22 Apr 2021 at 21:04, GitLab Support <support@gitlab.example.com> wrote:\n\n" +
		"> Could you send us a screenshot?\n"
	want := []string{"Hello,\n\nthe export still fails & I attached a screenshot:\n\n" +
		"[export.png](" + project + "/uploads/" + secret2 + "/export.png)"}
	if got := discordmd.Split(discordmd.Render(emailquote.Strip(body), project), 2000); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The shared GitLab deliveries, when this checkout sits next to them.
func TestRenderSharedFixtures(t *testing.T) {
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
		stripped := emailquote.Strip(note)
		chunks := discordmd.Split(discordmd.Render(stripped, d.Body.Project.WebURL), 2000)
		if len(chunks) == 0 || strings.TrimSpace(chunks[0]) == "" {
			t.Errorf("%s: got %q, want text", filepath.Base(f), chunks)
		}
		if strings.HasPrefix(filepath.Base(f), "7_") {
			if stripped != "Response" {
				t.Errorf("%s: emailquote.Strip = %q, want %q", filepath.Base(f), stripped, "Response")
			}
			if ups := discordmd.Uploads(note); len(ups) != 1 || ups[0].Filename != "23690422.png" {
				t.Errorf("%s: Uploads = %q, want the one image", filepath.Base(f), ups)
			}
		}
	}
}
