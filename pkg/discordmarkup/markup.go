// Package discordmarkup translates Discord's message markup into text a
// reader in GitLab can read: mentions of users, roles and channels become
// their names, custom emoji their :name:, timestamps a date in UTC, and
// slash-command mentions the command. It uses the standard library and
// pkg/discordmd, whose code rules say where Discord shows code.
//
// The formats are Discord's "Message Formatting" reference
// (https://discord.com/developers/docs/reference#message-formatting).
// Translate knows these tokens, written exactly so (an ID is 1 to 20 ASCII
// digits: a snowflake is an unsigned 64-bit integer,
// https://discord.com/developers/docs/reference#snowflakes):
//
//	<@ID> <@!ID>        user        "@" + name, or "@unknown-user"
//	<@&ID>              role        "@" + name, or "@unknown-role"
//	<#ID>               channel     "#" + name, or "#unknown-channel"
//	<:NAME:ID>          custom emoji           ":" + NAME + ":"
//	<a:NAME:ID>         animated custom emoji  ":" + NAME + ":"
//	<t:SECONDS>         timestamp              "2006-01-02 15:04 UTC"
//	<t:SECONDS:STYLE>   styled timestamp       the same, or with seconds
//	</NAME:ID>          slash command          "/" + NAME
//
// NAME of an emoji is 2 to 32 ASCII letters, digits and '_' (Discord's
// rule for custom emoji names). NAME of a slash command is one to three
// words separated by one space (command, subcommand group, subcommand),
// each 1 to 32 characters that are letters, numbers, '-', '_',
// apostrophes or of the Devanagari or Thai scripts (the command naming
// rule,
// https://discord.com/developers/docs/interactions/application-commands#application-command-object-application-command-naming);
// the words stay as written: "</foo group bar:1>" becomes "/foo group bar".
//
// SECONDS is an optional '-' and ASCII digits: Unix time in seconds, from
// -62135596800 (0001-01-01 00:00:00 UTC) to 253402300799 (9999-12-31
// 23:59:59 UTC); a timestamp outside that range stays as written. STYLE is
// one of the styles Discord documents: t, T, d, D, f, F, s, S and R
// (t and T short and medium time, d and D short and long date, f and F
// long and full date with short time, s and S short date with short and
// medium time, R relative). What Discord shows depends on the reader's
// time zone and, for R, on the moment of reading; a reader in GitLab
// reads later and elsewhere, so every style becomes the full date and
// time in UTC: "2025-11-29 10:00 UTC", and for T and S, whose Discord
// rendering shows seconds, "2025-11-29 10:00:30 UTC". R too is absolute.
//
// Names come from Names (the interaction's resolved data, the message's
// mentions); an ID that is absent, or whose name is "", is unknown.
//
// Everything else stays as written: text that only looks like a token
// (<@abc>, <t:1:Q>, <@1 without '>', an ID of 21 digits), the game
// profile mention <@$ID> and guild navigation <id:TYPE>, which name
// nothing a GitLab reader could look up, and @everyone and @here, which
// mention no one once in GitLab text defused by pkg/gfm.
//
// # Code and escapes
//
// As in Discord, markup in code and escaped markup is not markup, so it
// stays as written. Code and escapes are found as Discord's client finds
// them (its simple-markdown rules, which pkg/discordmd's fence.go
// describes too), scanning left to right:
//
//   - a backslash followed by a character other than an ASCII letter or
//     digit or white space escapes it: "\<@1>" is the text "<@1>", and
//     "\`" is a backtick that opens no code;
//   - a run of three or more backticks opens a code block when Discord's
//     code block rule, ^```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][^]*?)\n*```
//     (case-insensitive, ASCII letters only), matches there: the block's
//     text starts after the language line when there is one and a block
//     can end after it (else right after the ```), and after the line
//     breaks that follow; the block ends with the first ``` that starts
//     after the text's first character;
//   - otherwise a run of n backticks opens a code span that the next run
//     of exactly n backticks closes (runs are maximal: two backticks in a
//     row are no run of one); when none does, the run's first m backticks
//     are tried the same way for m = n-1, …, 1, the rest of the run being
//     text of the span (Discord's ^(`+)([\s\S]*?[^`])\1(?!`)); a run
//     that opens nothing is text.
//
// Code spans may cross line breaks, as in Discord.
//
// Other formatting is not modelled: where Discord's emphasis, spoilers or
// links would start before a code span and end inside it, Discord may
// show a token that Translate keeps as written, or the reverse. Either
// way the text stays readable and, after pkg/gfm, inert.
//
// # Not safe for GitLab on its own
//
// The output is NOT safe to send to GitLab: names are inserted exactly as
// they are, and they, like the rest of the text, may hold anything ("@all",
// "#12", line breaks, HTML). A slash-command mention at the start of a
// line becomes a line starting with "/", which GitLab would run as a
// quick action. Translate runs before the trust rules: the caller defuses
// the whole result with pkg/gfm (gfm.Quote, gfm.Defuse), which puts a
// joiner before such a '/' and defuses every mention and reference, as
// for any text from Discord.
package discordmarkup

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmd"
)

// Names maps Discord IDs (snowflakes as decimal strings) to the names to
// show for them: users (display name or username), roles and channels.
// Nil maps are empty. It has the shape of sdesk.Names.
type Names struct {
	Users    map[string]string
	Roles    map[string]string
	Channels map[string]string
}

// The names shown for IDs that Names does not name.
const (
	unknownUser    = "unknown-user"
	unknownRole    = "unknown-role"
	unknownChannel = "unknown-channel"
)

// Timestamp layouts: the date and time in UTC, with seconds for the styles
// that show them.
const (
	layoutMinutes = "2006-01-02 15:04 UTC"
	layoutSeconds = "2006-01-02 15:04:05 UTC"
)

// The range of timestamps Translate writes as a date: years 1 to 9999, so
// that the year always has four digits.
const (
	minUnix = -62135596800 // 0001-01-01T00:00:00Z
	maxUnix = 253402300799 // 9999-12-31T23:59:59Z
)

// Limits of the token grammar (see the package documentation).
const (
	maxIDDigits      = 20 // a snowflake is a uint64: at most 20 decimal digits
	minEmojiName     = 2
	maxEmojiName     = 32
	maxCommandWord   = 32 // characters (code points)
	maxCommandWords  = 3  // command, subcommand group, subcommand
	maxSecondsDigits = 19 // more digits overflow int64 and are out of range anyway
)

// Translate returns s with Discord's markup outside code written as
// readable text, as the package documentation describes; all other bytes,
// invalid UTF-8 included, are copied unchanged and in order. The result
// is NOT safe for GitLab until pkg/gfm has defused it.
//
// It runs in time linear in len(s) up to a logarithmic factor for code
// spans, and returns s itself when s holds no token.
func Translate(s string, n Names) string {
	if strings.IndexByte(s, '<') < 0 {
		return s
	}
	t := translator{s: s, names: n}
	return t.run()
}

// translator holds the state of one Translate call.
type translator struct {
	s     string
	names Names
	b     strings.Builder
	done  int             // s[:done] is written to b (or needs no change)
	code  *discordmd.Code // built at the first backtick
	date  [32]byte        // room for a formatted timestamp
}

// replacement is what a token becomes: pre + text + post, or the time
// secs formatted with layout when layout is not "".
type replacement struct {
	pre, text, post string
	secs            int64
	layout          string
}

// emit writes the text before the token at s[i] and the token's
// replacement r to b.
func (t *translator) emit(i int, r replacement) {
	if t.b.Cap() == 0 {
		t.b.Grow(len(t.s) + 64)
	}
	t.b.WriteString(t.s[t.done:i])
	if r.layout != "" {
		t.b.Write(time.Unix(r.secs, 0).UTC().AppendFormat(t.date[:0], r.layout))
		return
	}
	t.b.WriteString(r.pre)
	t.b.WriteString(r.text)
	t.b.WriteString(r.post)
}

func (t *translator) run() string {
	s := t.s
	for i := 0; i < len(s); {
		k := strings.IndexAny(s[i:], "\\`<")
		if k < 0 {
			break
		}
		i += k
		switch s[i] {
		case '\\':
			// An escape: the next character is text. When it is a letter,
			// digit or white space the backslash escapes nothing, but such
			// a character starts no markup either, so skipping it is the
			// same. Skipping a byte of a multi-byte character is harmless:
			// no continuation byte is '\\', '`' or '<'.
			i += 2
		case '`':
			i = t.codeEnd(i)
		case '<':
			r, end := t.token(i)
			if end < 0 {
				i++
				continue
			}
			t.emit(i, r)
			t.done, i = end, end
		}
	}
	if t.done == 0 {
		return s
	}
	t.b.WriteString(s[t.done:])
	return t.b.String()
}

// codeEnd returns the end of the code block or code span that the run of
// backticks at s[i] opens (Discord's rules, in pkg/discordmd), or the end
// of the run when it opens none.
func (t *translator) codeEnd(i int) int {
	if t.code == nil {
		c := discordmd.NewCode(t.s)
		t.code = &c
	}
	if end := t.code.End(i); end >= 0 {
		return end
	}
	for i < len(t.s) && t.s[i] == '`' {
		i++
	}
	return i
}

// token reads the token that starts with the '<' at s[i]. It returns its
// replacement and the end of the token, or -1 when s[i] starts no
// well-formed token.
func (t *translator) token(i int) (replacement, int) {
	s := t.s
	j := i + 1
	if j >= len(s) {
		return replacement{}, -1
	}
	switch s[j] {
	case '@':
		j++
		kind, fallback, names := "@", unknownUser, t.names.Users
		if j < len(s) && s[j] == '&' {
			fallback, names = unknownRole, t.names.Roles
			j++
		} else if j < len(s) && s[j] == '!' {
			j++
		}
		return named(s, j, kind, fallback, names)
	case '#':
		return named(s, j+1, "#", unknownChannel, t.names.Channels)
	case ':':
		return emoji(s, j+1)
	case 'a':
		if j+1 < len(s) && s[j+1] == ':' {
			return emoji(s, j+2)
		}
	case 't':
		if j+1 < len(s) && s[j+1] == ':' {
			return timestamp(s, j+2)
		}
	case '/':
		return command(s, j+1)
	}
	return replacement{}, -1
}

// idEnd returns the end of the ID at s[j:] when a '>' follows it (the end
// is after the '>'), else -1.
func idEnd(s string, j int) int {
	k := j
	for k < len(s) && k-j <= maxIDDigits && isDigit(s[k]) {
		k++
	}
	if k == j || k-j > maxIDDigits || k >= len(s) || s[k] != '>' {
		return -1
	}
	return k + 1
}

// named reads "ID>" at s[j:]: kind + the ID's name, or kind + fallback.
func named(s string, j int, kind, fallback string, names map[string]string) (replacement, int) {
	end := idEnd(s, j)
	if end < 0 {
		return replacement{}, -1
	}
	name := names[s[j:end-1]]
	if name == "" {
		name = fallback
	}
	return replacement{pre: kind, text: name}, end
}

// emoji reads "NAME:ID>" at s[j:].
func emoji(s string, j int) (replacement, int) {
	k := j
	for k < len(s) && k-j <= maxEmojiName && isEmojiNameByte(s[k]) {
		k++
	}
	if n := k - j; n < minEmojiName || n > maxEmojiName || k >= len(s) || s[k] != ':' {
		return replacement{}, -1
	}
	end := idEnd(s, k+1)
	if end < 0 {
		return replacement{}, -1
	}
	return replacement{pre: ":", text: s[j:k], post: ":"}, end
}

// timestamp reads "SECONDS>" or "SECONDS:STYLE>" at s[j:].
func timestamp(s string, j int) (replacement, int) {
	k := j
	if k < len(s) && s[k] == '-' {
		k++
	}
	digits := k
	for k < len(s) && k-digits <= maxSecondsDigits && isDigit(s[k]) {
		k++
	}
	if k == digits || k-digits > maxSecondsDigits {
		return replacement{}, -1
	}
	secs, err := strconv.ParseInt(s[j:k], 10, 64)
	if err != nil || secs < minUnix || secs > maxUnix {
		return replacement{}, -1
	}
	layout := layoutMinutes
	if k < len(s) && s[k] == ':' {
		if k+1 >= len(s) || !strings.Contains("tTdDfFsSR", s[k+1:k+2]) {
			return replacement{}, -1
		}
		if s[k+1] == 'T' || s[k+1] == 'S' {
			layout = layoutSeconds
		}
		k += 2
	}
	if k >= len(s) || s[k] != '>' {
		return replacement{}, -1
	}
	return replacement{secs: secs, layout: layout}, k + 1
}

// command reads "NAME:ID>" at s[j:], NAME being one to three words.
func command(s string, j int) (replacement, int) {
	k := j
	for words := 1; ; words++ {
		n := 0
		for k < len(s) && n <= maxCommandWord {
			r, size := utf8.DecodeRuneInString(s[k:])
			if !isCommandRune(r) {
				break
			}
			k += size
			n++
		}
		if n == 0 || n > maxCommandWord || k >= len(s) {
			return replacement{}, -1
		}
		if s[k] == ':' {
			break
		}
		if s[k] != ' ' || words == maxCommandWords {
			return replacement{}, -1
		}
		k++
	}
	end := idEnd(s, k+1)
	if end < 0 {
		return replacement{}, -1
	}
	return replacement{pre: "/", text: s[j:k]}, end
}

// isCommandRune reports whether r may appear in a command name: the
// naming rule's [-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}].
func isCommandRune(r rune) bool {
	return r == '-' || r == '_' || r == '\'' || unicode.IsLetter(r) || unicode.IsNumber(r) ||
		unicode.Is(unicode.Devanagari, r) || unicode.Is(unicode.Thai, r)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isEmojiNameByte(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}
