package discordmarkup_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sdesk/sdesk/pkg/discordmarkup"
	"github.com/sdesk/sdesk/pkg/gfm"
)

// testNames are the names the table tests translate with.
var testNames = discordmarkup.Names{
	Users: map[string]string{
		"160000000000000003":   "alice",
		"1":                    "one",
		"2":                    "<@3>", // a name that looks like markup stays as it is
		"3":                    "three",
		"4":                    "", // an empty name is unknown
		"6":                    "x\n/close",
		"7":                    "everyone",
		"12345678901234567":    "seventeen",
		"123456789012345678":   "eighteen",
		"1234567890123456789":  "nineteen",
		"12345678901234567890": "twenty",
	},
	Roles: map[string]string{
		"165511591545143296": "support",
		"1":                  "role-one",
	},
	Channels: map[string]string{
		"140000000000000001": "help",
		"1":                  "chan",
	},
}

var translateTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"plain", "My printer is on fire.", "My printer is on fire."},
	{"issue 10 example",
		"<@160000000000000003> asked for logs in <#140000000000000001> <:sadparrot:1120000000000000000> since <t:1764410400:f>",
		"@alice asked for logs in #help :sadparrot: since 2025-11-29 10:00 UTC"},

	// Users.
	{"user", "hi <@1>!", "hi @one!"},
	{"user with !", "hi <@!1>!", "hi @one!"},
	{"unknown user", "<@5>", "@unknown-user"},
	{"user with an empty name", "<@4>", "@unknown-user"},
	{"user named like markup", "<@2>", "@<@3>"},
	{"user name with a line break", "<@6>", "@x\n/close"},
	{"user named everyone", "<@7>", "@everyone"},
	{"ID of 17 digits", "<@12345678901234567>", "@seventeen"},
	{"ID of 18 digits", "<@123456789012345678>", "@eighteen"},
	{"ID of 19 digits", "<@1234567890123456789>", "@nineteen"},
	{"ID of 20 digits", "<@12345678901234567890>", "@twenty"},
	{"ID of 21 digits", "<@123456789012345678901>", "<@123456789012345678901>"},
	{"user ID is not a role ID", "<@&160000000000000003>", "@unknown-role"},

	// Roles and channels.
	{"role", "<@&165511591545143296> please", "@support please"},
	{"role 1", "<@&1>", "@role-one"},
	{"unknown role", "<@&9>", "@unknown-role"},
	{"channel", "see <#140000000000000001>", "see #help"},
	{"channel 1", "<#1>", "#chan"},
	{"unknown channel", "<#9>", "#unknown-channel"},
	{"everyone and here stay", "@everyone @here <@everyone>", "@everyone @here <@everyone>"},

	// Custom emoji.
	{"emoji", "<:sadparrot:1120000000000000000>", ":sadparrot:"},
	{"animated emoji", "<a:b1nzy:392938283556143104>", ":b1nzy:"},
	{"emoji name of 2", "<:ok:1>", ":ok:"},
	{"emoji name of 32", "<:" + strings.Repeat("e", 32) + ":1>", ":" + strings.Repeat("e", 32) + ":"},
	{"emoji name of 1", "<:e:1>", "<:e:1>"},
	{"emoji name of 33", "<:" + strings.Repeat("e", 33) + ":1>", "<:" + strings.Repeat("e", 33) + ":1>"},
	{"emoji name with -", "<:sad-parrot:1>", "<:sad-parrot:1>"},
	{"emoji name not ASCII", "<:é_é:1>", "<:é_é:1>"},
	{"emoji without ID", "<:sadparrot:>", "<:sadparrot:>"},
	{"emoji ID not digits", "<:sadparrot:12a>", "<:sadparrot:12a>"},
	{"emoji without second colon", "<a:sadparrot>", "<a:sadparrot>"},
	{"emoji with another prefix", "<b:sadparrot:1>", "<b:sadparrot:1>"},
	{"emoji unclosed", "<:sadparrot:1", "<:sadparrot:1"},
	{"emoji name digits and _", "<:_1_:2>", ":_1_:"},

	// Timestamps: every style, the range, malformed ones.
	{"timestamp", "<t:1764410400>", "2025-11-29 10:00 UTC"},
	{"style t", "<t:1764410459:t>", "2025-11-29 10:00 UTC"},
	{"style T", "<t:1764410459:T>", "2025-11-29 10:00:59 UTC"},
	{"style d", "<t:1764410459:d>", "2025-11-29 10:00 UTC"},
	{"style D", "<t:1764410459:D>", "2025-11-29 10:00 UTC"},
	{"style f", "<t:1764410459:f>", "2025-11-29 10:00 UTC"},
	{"style F", "<t:1764410459:F>", "2025-11-29 10:00 UTC"},
	{"style s", "<t:1764410459:s>", "2025-11-29 10:00 UTC"},
	{"style S", "<t:1764410459:S>", "2025-11-29 10:00:59 UTC"},
	{"style R is absolute", "<t:1764410459:R>", "2025-11-29 10:00 UTC"},
	{"zero", "<t:0>", "1970-01-01 00:00 UTC"},
	{"minus zero", "<t:-0:T>", "1970-01-01 00:00:00 UTC"},
	{"negative", "<t:-1:T>", "1969-12-31 23:59:59 UTC"},
	{"negative, minutes", "<t:-1>", "1969-12-31 23:59 UTC"},
	{"leading zeros", "<t:0001764410400>", "2025-11-29 10:00 UTC"},
	{"first second of year 1", "<t:-62135596800:S>", "0001-01-01 00:00:00 UTC"},
	{"before year 1", "<t:-62135596801:S>", "<t:-62135596801:S>"},
	{"last second of year 9999", "<t:253402300799:S>", "9999-12-31 23:59:59 UTC"},
	{"after year 9999", "<t:253402300800>", "<t:253402300800>"},
	{"huge", "<t:99999999999999999:R>", "<t:99999999999999999:R>"},
	{"past int64", "<t:9223372036854775808>", "<t:9223372036854775808>"},
	{"very long", "<t:" + strings.Repeat("9", 40) + ">", "<t:" + strings.Repeat("9", 40) + ">"},
	{"very negative", "<t:-999999999999:R>", "<t:-999999999999:R>"},
	{"not a number", "<t:notanumber>", "<t:notanumber>"},
	{"unknown style", "<t:1:Q>", "<t:1:Q>"},
	{"empty style", "<t:1:>", "<t:1:>"},
	{"two styles", "<t:1:ff>", "<t:1:ff>"},
	{"no number", "<t:>", "<t:>"},
	{"only minus", "<t:->", "<t:->"},
	{"plus sign", "<t:+1>", "<t:+1>"},
	{"fraction", "<t:1.5>", "<t:1.5>"},
	{"space", "<t: 1>", "<t: 1>"},
	{"capital T", "<T:1>", "<T:1>"},
	{"timestamp unclosed", "<t:1764410400:f", "<t:1764410400:f"},

	// Slash commands.
	{"command", "use </airhorn:816437322781949972>", "use /airhorn"},
	{"subcommand", "</foo bar:1>", "/foo bar"},
	{"subcommand group", "</foo group bar:1>", "/foo group bar"},
	{"four words", "</a b c d:1>", "</a b c d:1>"},
	{"two spaces", "</foo  bar:1>", "</foo  bar:1>"},
	{"trailing space", "</foo :1>", "</foo :1>"},
	{"leading space", "</ foo:1>", "</ foo:1>"},
	{"no name", "</:1>", "</:1>"},
	{"word of 32", "</" + strings.Repeat("c", 32) + ":1>", "/" + strings.Repeat("c", 32)},
	{"word of 33", "</" + strings.Repeat("c", 33) + ":1>", "</" + strings.Repeat("c", 33) + ":1>"},
	{"32 letters of two bytes", "</" + strings.Repeat("é", 32) + ":1>", "/" + strings.Repeat("é", 32)},
	{"letters", "</héllo_wörld-2:1>", "/héllo_wörld-2"},
	{"Devanagari with marks", "</नमस्ते:1>", "/नमस्ते"},
	{"Thai with marks", "</สวัสดี:1>", "/สวัสดี"},
	{"apostrophe", "</it's:1>", "/it's"},
	{"dot", "</a.b:1>", "</a.b:1>"},
	{"command without ID", "</foo:>", "</foo:>"},
	{"closing tag", "</div>", "</div>"},
	{"command starting a line", "a\n</close:1> now", "a\n/close now"},

	// Other forms and malformed ones stay.
	{"game profile", "<@$1402418491272986635>", "<@$1402418491272986635>"},
	{"guild navigation", "<id:customize>", "<id:customize>"},
	{"user not digits", "<@abc>", "<@abc>"},
	{"user without ID", "<@>", "<@>"},
	{"space before ID", "<@ 1>", "<@ 1>"},
	{"space after ID", "<@1 >", "<@1 >"},
	{"space after <", "< @1>", "< @1>"},
	{"negative ID", "<@-1>", "<@-1>"},
	{"two !", "<@!!1>", "<@!!1>"},
	{"& after !", "<@!&1>", "<@!&1>"},
	{"! after &", "<@&!1>", "<@&!1>"},
	{"channel without ID", "<#>", "<#>"},
	{"channel not digits", "<#a>", "<#a>"},
	{"unclosed user", "<@1", "<@1"},
	{"unclosed at the end", "text <", "text <"},
	{"only <@", "<@", "<@"},
	{"autolink", "<https://example.com/@1>", "<https://example.com/@1>"},
	{"full-width digits", "<@１>", "<@１>"},

	// Nested and adjacent.
	{"nested", "<<@1>>", "<@one>"},
	{"nested twice", "<@<@1>>", "<@@one>"},
	{"token inside a broken one", "<@1<@1>>", "<@1@one>"},
	{"adjacent", "<@1><@!1><#1><@&1><:ok:1><t:0></a:1>", "@one@one#chan@role-one:ok:1970-01-01 00:00 UTC/a"},
	{"new token from the parts", "<<#1>>", "<#chan>"},
	{"name not translated again", "<@2><@3>", "@<@3>@three"},

	// Code and escapes.
	{"code span", "`<@1>`", "`<@1>`"},
	{"code span among text", "`a` <@1> `b`", "`a` @one `b`"},
	{"double code span", "``<@1>``", "``<@1>``"},
	{"double code span holding a backtick", "`` ` <@1> ``", "`` ` <@1> ``"},
	{"shorter opening", "``<@1>`", "``<@1>`"},
	{"longer closing", "`<@1>``", "`@one``"},
	{"unclosed code span", "`<@1>", "`@one"},
	{"backtick after", "<@1>`", "@one`"},
	{"code span across lines", "`a\n<@1>`", "`a\n<@1>`"},
	{"code block", "```\n<@1>\n```", "```\n<@1>\n```"},
	{"code block on one line", "```<@1>```", "```<@1>```"},
	{"code block with language", "```js\n<@1> <t:0>\n```", "```js\n<@1> <t:0>\n```"},
	{"code block starting with a backtick", "```js\n```<@1>```", "```js\n```<@1>```"},
	// The Kelvin sign is no language letter (JavaScript's /i folds no
	// non-ASCII character), so the block is "```\u212a\n```".
	{"non-ASCII letter is no language", "```\u212a\n```<@1>```", "```\u212a\n```@one```"},
	{"language line and nothing after", "```js\n```<@1>", "```js\n```@one"},
	{"unclosed code block", "```\n<@1>", "```\n@one"},
	{"empty code block is a code span", "```\n\n```<@1>", "```\n\n```@one"},
	{"text after a code block", "```\nx\n```\n<@1>", "```\nx\n```\n@one"},
	{"seven backticks", "```````<@1>", "```````@one"},
	{"escaped mention", `\<@1>`, `\<@1>`},
	{"escaped backslash", `\\<@1>`, `\\@one`},
	{"three backslashes", `\\\<@1>`, `\\\<@1>`},
	{"escaped backtick", "\\`<@1>`", "\\`@one`"},
	{"escaped backslash before code", "\\\\`<@1>`", "\\\\`<@1>`"},
	{"escaped first backtick of two", "\\``<@1>`", "\\``<@1>`"},
	{"backslash before a letter", `\a<@1>`, `\a@one`},
	{"backslash inside code", "`\\`<@1>", "`\\`@one"},
	{"backslash at the end", `<@1>\`, `@one\`},

	// Bytes and lines.
	{"invalid UTF-8", "\xff<@1>\xfe", "\xff@one\xfe"},
	{"CRLF", "a\r\n<@1>\r\n", "a\r\n@one\r\n"},
	{"many lines", "<@1>\n<#1>\n<t:0:D>", "@one\n#chan\n1970-01-01 00:00 UTC"},
}

func TestTranslate(t *testing.T) {
	for _, tt := range translateTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discordmarkup.Translate(tt.in, testNames); got != tt.want {
				t.Errorf("Translate(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTranslateWithoutNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<@1> <@!1> <@&1> <#1>", "@unknown-user @unknown-user @unknown-role #unknown-channel"},
		{"<:ok:1> </a:1> <t:0>", ":ok: /a 1970-01-01 00:00 UTC"},
	}
	for _, tt := range tests {
		if got := discordmarkup.Translate(tt.in, discordmarkup.Names{}); got != tt.want {
			t.Errorf("Translate(%q, Names{}) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTranslateThenDefuse shows the trust rules doing what the package
// documentation leaves to them: a command at the start of a line and a
// name that mentions are inert once gfm has run.
func TestTranslateThenDefuse(t *testing.T) {
	const z = "\u200d"
	names := discordmarkup.Names{Users: map[string]string{"1": "all"}, Channels: map[string]string{"2": "12"}}
	tests := []struct{ in, want string }{
		{"</close:1>", z + "/close"},
		{"a\n </assign me:1>", "a\n " + z + "/assign me"},
		{"<@1>", "@" + z + "all"},
		{"<#2>", "#" + z + "12"},
	}
	for _, tt := range tests {
		got := gfm.Defuse(discordmarkup.Translate(tt.in, names))
		if got != tt.want {
			t.Errorf("Defuse(Translate(%q)) = %q, want %q", tt.in, got, tt.want)
		}
		if err := gfm.Check(got); err != nil {
			t.Errorf("Check(%q): %v", got, err)
		}
	}
}

func ExampleTranslate() {
	names := discordmarkup.Names{
		Users:    map[string]string{"160000000000000003": "alice"},
		Channels: map[string]string{"140000000000000001": "help"},
	}
	fmt.Println(discordmarkup.Translate("<@160000000000000003> asked for logs in <#140000000000000001> "+
		"<:sadparrot:1120000000000000000> since <t:1764410400:f>, cc <@999999999999999999>", names))
	fmt.Println(discordmarkup.Translate("try `<@160000000000000003>` or </report:1>", names))
	// Output:
	// @alice asked for logs in #help :sadparrot: since 2025-11-29 10:00 UTC, cc @unknown-user
	// try `<@160000000000000003>` or /report
}

// benchMessage returns a message of exactly n bytes that mixes text,
// every kind of token, code spans and a code block, as a long report
// would.
func benchMessage(n int) string {
	parts := []string{
		"Since <t:1764410400:f> the exporter fails for <@160000000000000003> and <@!1> in <#140000000000000001>. ",
		"Steps: run `export --all <@1>` then check the log <:sadparrot:1120000000000000000>; ",
		"```\nERROR at <t:1764410400>: <@&165511591545143296>\n```\n",
		"@here <@&165511591545143296> see </report:816437322781949972> and <a:b1nzy:392938283556143104>, ",
		"nothing changed since <t:1764410400:R> (not <t:bad> or <@abc>). \\<@1> is escaped.\n",
	}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()[:n]
}

func BenchmarkTranslate(b *testing.B) {
	msg := benchMessage(4000)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		discordmarkup.Translate(msg, testNames)
	}
}
