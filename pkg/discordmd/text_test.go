package discordmd_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmd"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain", "Ada Lovelace", "Ada Lovelace"},
		{"inner dash and hash kept", "Jean-Luc #1 fan", "Jean-Luc #1 fan"},
		{"issue 7 name", "@everyone [x](https://example.test)", "@" + zwsp + `everyone \[x\](https://example.test)`},
		{"mass mentions any case", "@here @Everyone @HERE", "@" + zwsp + "here @" + zwsp + "Everyone @" + zwsp + "HERE"},
		{"user and role mentions", "<@123> <@!123> <@&1>", `\<@123\> \<@!123\> \<@&1\>`},
		{"channel, command, emoji, guild link", "<#1> </cmd:1> <:e:1> <a:e:1> <id:customize>",
			`\<#1\> \</cmd:1\> \<:e:1\> \<a:e:1\> \<id:customize\>`},
		{"timestamp", "<t:1700000000:R>", `\<t:1700000000:R\>`},
		{"header", "# Staff", `\# Staff`},
		{"small header", "### x", `\### x`},
		{"subtext", "-# fine print", `\-# fine print`},
		{"header after spaces", "  # x", `  \# x`},
		{"block quote", "> quoted", `\> quoted`},
		{"multi-line quote", ">>> all", `\>\>\> all`},
		{"list", "- item", `\- item`},
		{"plus list", "+ item", `\+ item`},
		{"numbered list", "1. item", `1\. item`},
		{"numbered list paren", "12) item", `12\) item`},
		{"number without list", "2024 plans", "2024 plans"},
		{"emphasis", "*a* **b** _c_ __d__ ~~e~~", `\*a\* \*\*b\*\* \_c\_ \_\_d\_\_ \~\~e\~\~`},
		{"spoiler", "||secret||", `\|\|secret\|\|`},
		{"code", "`x` ```js", "\\`x\\` \\`\\`\\`js"},
		{"backslashes", `a\ \* \\`, `a\\ \\\* \\\\`},
		{"line breaks", "a\nb\r\nc\u2028d", "a b  c d"},
		{"fence over lines", "```\n@everyone\n```", "\\`\\`\\` @" + zwsp + "everyone \\`\\`\\`"},
		{"no line starts inside", "x\n# y", "x # y"},
		{"control characters", "a\x00b\tc\x7f", "a b c "},
		{"bidi overrides removed", "abc\u202Edef\u2066g\u2069\u200F", "abcdefg"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"url kept linkable", "see https://example.org/a_b*c~d?e=|f.", "see https://example.org/a%5Fb%2Ac%7Ed?e=%7Cf."},
		{"url with mass mention", "https://x.test/@everyone", "https://x.test/%40everyone"},
		{"url ends as Discord ends it", "https://x.test/a_, b_", `https://x.test/a%5F, b\_`},
		{"url in angle brackets", "<https://x.test/>", `\<https://x.test/%3E`},
		{"other scheme", "steam://x<@1> ftp://y", `steam\://x\<@1\> ftp\://y`},
		{"url running up to <", "https://x.test/a_b.(<@1>", `https\://x.test/a\_b.(\<@1\>`},
		{"link text is a url", "[https://bank.example](https://evil.example)", `\[https://bank.example%5D(https%3A//evil.example)`},
		{"emoji and accents", "Zoë 🚀 日本", "Zoë 🚀 日本"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := discordmd.Text(tt.in)
			if got != tt.want {
				t.Errorf("Text(%q)\ngot  %q,\nwant %q", tt.in, got, tt.want)
			}
			checkDiscordText(t, tt.in, got)
		})
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"markdown left alone", "J_Doe *x* <@1> @everyone", "J_Doe *x* <@1> @everyone"},
		{"one line", "Ada\nLovelace\r", "Ada Lovelace "},
		{"bidi override cannot flip the username", "Eve\u202E (@admin)", "Eve (@admin)"},
		{"isolates and marks", "\u2067x\u2069\u200E\u061C", "x"},
		{"invalid UTF-8", "\xff", "\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discordmd.PlainText(tt.in); got != tt.want {
				t.Errorf("PlainText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// discordMarkup is what Text promises never to leave unescaped.
const discordMarkup = "\\*_~|`[]<>"

var massMentionRe = regexp.MustCompile(`(?i)@(?:everyone|here)`)

// checkDiscordText states the rule for text from GitLab put into a Discord
// message: embedded anywhere in content, it carries no markup of its own.
func checkDiscordText(t *testing.T, in, out string) {
	t.Helper()
	fail := func(why string) {
		t.Helper()
		t.Fatalf("Text(%q) = %q: %s", in, out, why)
	}
	if !utf8.ValidString(out) {
		fail("not valid UTF-8")
	}
	for _, r := range out {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			fail(fmt.Sprintf("holds control character %U: it must stay one line", r))
		}
		if r == 0x061C || r == 0x200E || r == 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
			fail(fmt.Sprintf("holds bidirectional control %U", r))
		}
	}
	// raw[i]: out[i] is a character as Discord parses it, not escaped.
	raw := make([]bool, len(out))
	for i := 0; i < len(out); i++ {
		if out[i] != '\\' {
			raw[i] = true
			continue
		}
		// Every backslash must escape the next character: a stray one
		// would escape whatever follows the text in a message.
		if i+1 == len(out) || out[i+1] >= utf8.RuneSelf || !unicode.IsPunct(rune(out[i+1])) && !unicode.IsSymbol(rune(out[i+1])) {
			fail(fmt.Sprintf("backslash at %d escapes nothing", i))
		}
		i++
	}
	for i := range out {
		if raw[i] && strings.IndexByte(discordMarkup, out[i]) >= 0 {
			fail(fmt.Sprintf("unescaped %q at %d", out[i], i))
		}
	}
	if massMentionRe.MatchString(out) {
		fail("Discord would parse @everyone or @here")
	}
	// At the start of a line (after white space): no header, subtext,
	// quote or list.
	lead := strings.TrimLeftFunc(out, unicode.IsSpace)
	at := len(out) - len(lead)
	if lead != "" && raw[at] && strings.IndexByte("#->+", lead[0]) >= 0 {
		fail(fmt.Sprintf("starts a line with %q", lead[0]))
	}
	digits := strings.TrimLeft(lead, "0123456789")
	if d := len(lead) - len(digits); d > 0 && digits != "" && (digits[0] == '.' || digits[0] == ')') && raw[at+d] {
		fail("starts a numbered list")
	}
	// Readable: without URLs (percent-encoded), it shows the input as
	// written, on one line.
	if !strings.Contains(strings.ToLower(in), "http") {
		want := massMentionRe.ReplaceAllStringFunc(discordmd.PlainText(in), func(m string) string { return "@" + zwsp + m[1:] })
		if got := unescapeDiscord(out); got != want {
			fail(fmt.Sprintf("Discord shows %q, want %q", got, want))
		}
	}
}

// unescapeDiscord applies Discord's escape rule: a backslash before ASCII
// punctuation shows that character.
func unescapeDiscord(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] < utf8.RuneSelf && (unicode.IsPunct(rune(s[i+1])) || unicode.IsSymbol(rune(s[i+1]))) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func FuzzText(f *testing.F) {
	for _, s := range []string{
		"@everyone [x](https://example.test)", "<@123> <@&1> <#1> <t:1:R>", "# x", "-# x", "> x", ">>> x",
		"```\ncode\n```", "||spoiler|| *a* _b_ ~~c~~ `d`", "1. x", "  - x", "a\\", "https://x.test/a_b@here",
		"x\u202Ey", "\xff\xfe", "@@everyone", "<<@1>>", "\\<@1>", "[a](<https://x.test/a b>)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkDiscordText(t, s, discordmd.Text(s))
	})
}
