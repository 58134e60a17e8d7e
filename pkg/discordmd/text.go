package discordmd

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Text escapes one line of text from GitLab (a user's name, an issue
// title, a label, an issue reference, a file name) for a Discord field that
// renders markdown: message content, an embed's description or title. It is
// the one escaper for such text; whatever the text holds, Discord shows it
// as written and it cannot pass for anything sdesk or Discord would show:
//
//   - line breaks and other control characters become spaces, and the
//     bidirectional marks, embeddings, overrides and isolates (U+061C,
//     U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which could reorder the
//     text around it, are removed: the result is one line;
//   - \ * _ ~ | ` [ ] < > get a backslash before them. Discord's markdown
//     (simple-markdown's escape rule: a backslash before any character other
//     than a letter, digit or space shows that character) then forms no
//     emphasis, underline, strike-through, spoiler, code, masked link, block
//     quote, mention (<@1>, <@!1>, <@&1>, <#1>, </cmd:1>), timestamp (<t:1>),
//     custom emoji or guild link from it, whatever surrounds the result;
//   - a # (header), -# (subtext), - or + (list) or a number followed by . or
//     ) (list) that starts the text, after white space, gets a backslash too,
//     so the result may start a line;
//   - @everyone and @here (any case) get a zero-width space after the @;
//   - in an http(s) URL, which Discord links as it stands (a backslash
//     would become part of the link), those characters are percent-encoded
//     instead (%5C %2A %5F %7E %7C %60 %5B %5D %3E, and %40 for the @ of
//     @everyone and @here), which leads to the same place; but a URL that
//     Discord would run on up to a "<" (its URL rule stops only at white
//     space or "<", and would take in the backslash before it) is written
//     as text, as below;
//   - the ":" of any other "://" after a letter gets a backslash: Discord
//     does not link the URL then (it links steam:// URLs too, and such a
//     link would run on over the backslashes after it).
//
// Embed author names and footers are shown as plain text by Discord (no
// markdown, no mentions): they take PlainText, not this.
func Text(s string) string {
	s = PlainText(s)
	urls := discordURLRe().FindAllStringIndex(s, -1)
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	lead := true
	for i := 0; i < len(s); {
		if len(urls) > 0 && urls[0][0] == i {
			if !noteURLRunsOn(s[urls[0][1]:]) {
				b.WriteString(discordEncodeURL(s[i:urls[0][1]], discordMarkup))
				i, urls, lead = urls[0][1], urls[1:], false
				continue
			}
			urls = urls[1:] // written as text, its ":" escaped below
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case lead && unicode.IsSpace(r):
			b.WriteRune(r)
			i += size
			continue
		case strings.ContainsRune(discordMarkup, r),
			r == ':' && i > 0 && noteASCIILetter(s[i-1]) && strings.HasPrefix(s[i+1:], "//"):
			b.WriteByte('\\')
		case lead && (r == '#' || r == '-' || r == '+'):
			b.WriteByte('\\')
		case lead && r >= '0' && r <= '9':
			n := i
			for n < len(s) && s[n] >= '0' && s[n] <= '9' {
				n++
			}
			b.WriteString(s[i:n])
			if n < len(s) && (s[n] == '.' || s[n] == ')') {
				b.WriteByte('\\')
			}
			i, lead = n, false
			continue
		case r == '@' && discordMassMentionRe().MatchString(s[i+1:]):
			b.WriteString("@\u200b")
			i += size
			lead = false
			continue
		}
		b.WriteRune(r)
		i += size
		lead = false
	}
	return b.String()
}

// PlainText prepares text from GitLab for a Discord field shown as
// plain text, where markdown and mentions are not parsed (an embed's author
// name and footer; see Text for the rest): control characters become
// spaces and bidirectional controls are removed, so that the text stays on
// one line and cannot reorder what follows it (such as " (@username)").
// Invalid UTF-8 becomes U+FFFD.
func PlainText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		case unicode.IsControl(r), r == 0x2028, r == 0x2029:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Link shows a URL from GitLab (an issue's or a note's web URL) as itself
// in a Discord field that renders markdown. An http(s) URL becomes <url>,
// which Discord links (without a preview) and shows without the brackets; its white space and angle brackets are percent-encoded so that
// the link ends where the URL does, and so are the @ of @everyone and
// @here and the brackets, pipes and backticks, which would be markup where
// a long URL is cut in two messages (noteURLEscaped). Anything else (a
// relative path, mailto:, javascript:) is not a link in Discord and is
// shown as Text.
func Link(u string) string {
	if !noteHTTP(u) {
		return Text(u)
	}
	return "<" + discordEncodeURL(u, noteURLEscaped) + ">"
}

// noteURLEscaped lists what is percent-encoded in a URL that Render shows,
// besides white space, control characters and the @ of @everyone and @here.
const noteURLEscaped = "<>[]|`"

// discordEncodeURL percent-encodes, in a URL, what Discord would read as
// the end of a link (white space, control characters), the @ of @everyone
// and @here, the ":" of every "://" after the first (a part of the URL cut
// off by Split would start a link of its own in Discord, which would
// run on over the escapes after it), and the ASCII characters in chars. The
// URL leads to the same place.
func discordEncodeURL(u, chars string) string {
	var b strings.Builder
	b.Grow(len(u))
	scheme := false // a "://" came before
	for i, r := range u {
		nested := false
		if r == ':' && strings.HasPrefix(u[i+1:], "//") {
			nested, scheme = scheme, true
		}
		if r < utf8.RuneSelf && strings.IndexByte(chars, byte(r)) >= 0 || nested ||
			r == '@' && discordMassMentionRe().MatchString(u[i+1:]) ||
			unicode.IsSpace(r) || unicode.IsControl(r) {
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// discordMarkup lists the characters that Text escapes everywhere.
const discordMarkup = "\\*_~|`[]<>"

var (
	// discordURLRe is Discord's bare URL rule (simple-markdown's url rule,
	// with JavaScript's \s).
	discordURLRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)https?://[^\s\p{Z}\x{FEFF}<]+[^\s\p{Z}\x{FEFF}<.,:;"')\]]`)
	})
	discordMassMentionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?i:everyone|here)`) })
)

// noteHTTP reports whether u starts with http:// or https:// (any case).
func noteHTTP(u string) bool {
	l := strings.ToLower(u[:min(len(u), 8)])
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}
