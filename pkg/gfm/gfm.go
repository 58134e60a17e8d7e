// Package gfm is GitLab Flavored Markdown: the bridge's rules for Discord
// text sent to GitLab.
//
// GitLab acts on the text of issue titles, descriptions and notes written
// through its API, with the rights of the token's user: it runs quick
// actions (lines starting with /command), notifies @user, @group and @all,
// and adds "mentioned in" notes to the issues, merge requests, snippets and
// epics that #12, !3, $4 and &5 (also group/project#7) refer to
// (GitLab's lib/gitlab/quick_actions/extractor.rb and the reference filters
// of lib/banzai/filter/references; issue 7 of this project lists the inputs
// that got through an earlier, Markdown-aware neutralizer). Its idea of what
// is "inside code" differs between versions, so these rules ignore Markdown
// structure: they hold for every byte, fenced or not.
//
// # Definitions
//
// A line is s split at \n, \r, \v, \f, U+0085, U+2028 and U+2029 (GitLab
// deletes \r before it looks for quick actions; the other breaks are
// counted as well so that no renderer's idea of a line can start one).
//
// The decoded text is html.UnescapeString(s): numeric character references
// with or without ';', named references, and the legacy named references
// that need no ';' (&amp, &lt, …), as Go's html package decodes them.
//
// A name character is a Unicode letter or digit, '_', '-' or '.'. After a
// trigger character (the '@' of rule 2, the '~' and '%' of rule 3), a
// backslash followed by one of the ASCII name characters '_', '-', '.' (or
// by '"', where '"' counts) counts as that character: Markdown drops the
// backslash, so "@\_bob" renders as "@_bob".
//
// A URL span is a conservative part of what GitHub Flavored Markdown's
// extended autolink links (https://github.github.com/gfm/#autolinks-extension-),
// so that text sdesk treats as inside a link is inside a link for GitLab
// too:
//
//   - it starts at "http://" or "https://" (lower case) at the start of s,
//     after ASCII white space (cmark-gfm and comrak count no other) or
//     after '*', '_' or '('; never at "www.", which GitLab's renderer
//     leaves unlinked in some contexts (a title, an open '[');
//   - a valid domain follows: segments of ASCII letters, digits, '_' and
//     '-', separated by single periods, at least two segments, no '_' in
//     the last two;
//   - then any characters up to white space or one of < > " ` | [ ] \ * _
//     ~ $, which a URL rarely holds unencoded and which can end a link or
//     start other Markdown (a table cell, a code span, a link, emphasis
//     that splits the link) in some renderer;
//   - minus GFM's trailing punctuation, repeatedly: a trailing ? ! . , : *
//     _ ~ ' or ", a trailing ')' while the span holds more ')' than '(',
//     a trailing ';' and, when it ends an entity-like tail ('&', ASCII
//     letters or digits, ';'), that whole tail.
//
// # Rules
//
// Over the text and over its decoded text:
//
//  1. Quick actions: no line begins, after optional white space
//     (unicode.IsSpace or U+FEFF), with '/'.
//  2. Mentions: no '@' directly followed by a name character, anywhere,
//     URL spans included. E-mail addresses are no exception: "a@b.com" is
//     defused like "@b" (GitLab does not notify for an address, but a rule
//     without exceptions needs no parser of addresses).
//  3. References: outside URL spans, no '#', '!', '$' or '&' directly
//     followed by an ASCII digit, and no '~' or '%' directly followed by a
//     name character or '"' (GitLab: #12 issues, !3 merge requests, $4
//     snippets, &5 epics, ~label and ~"two words" labels, %v1 and %"v 1"
//     milestones), and no '[' directly followed by lower-case letters or
//     '_' and then ':' ([issue:12], [work_item:12], [epic:5],
//     [vulnerability:1] references), no "GL-" followed by a digit at the
//     start of a word (GL-12 issue references). Full issue URLs are URL
//     spans and are left alone. Not covered: bare commit SHAs and keys of
//     an external issue tracker (ABC-123), which need the commit or the
//     integration to exist.
//     Anywhere, URL spans included: no '&' that starts something that
//     html.UnescapeString decodes, so the decoded text is the text itself
//     and decoding cannot make "@all" or anything else. A '&' in "?a=1&b=2"
//     decodes to nothing and is allowed.
//  4. HTML and footnotes (Defuse and what is built on it; not Check): no
//     '<' directly followed by an ASCII letter, '/', '!' or '?', and no
//     "[^". Text obeying it opens no HTML tag, comment, declaration,
//     processing instruction or HTML block, so it cannot hide what follows
//     it, and defines no footnote, which GitLab would render after sdesk's
//     attribution line.
//
// Rule 3 makes the second half of "over the text and over its decoded text"
// follow from the first: text in which no '&' decodes is its own decoded
// text. Check relies on that.
//
// # How text is made to obey them
//
// Defuse inserts U+200D ZERO WIDTH JOINER, which renders as nothing: before
// the '/' that begins a line, and after every other character a rule
// forbids at that place. The one exception is an '@' of rule 2 inside a URL
// span, which becomes "%40" so that a link such as
// https://mastodon.social/@user still leads to the same page.
package gfm

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// zwj is U+200D ZERO WIDTH JOINER, what Defuse inserts.
const zwj = "\u200d"

// Defuse makes untrusted text inert in GitLab Markdown (issue title,
// description, note, file name): the result obeys rules 1 to 4 of the
// package documentation.
//
// Defuse only inserts U+200D and turns '@' into "%40" in URL spans:
// removing the inserted joiners and turning those "%40" back into '@' gives
// s again. It is idempotent (Defuse(Defuse(s)) == Defuse(s)), keeps valid
// UTF-8 valid, and passes invalid bytes through unchanged; it never moves a
// line break, so the text reads and wraps as before.
func Defuse(s string) string {
	return defuse(s, true)
}

// DefuseTitle is Defuse for text GitLab shows without Markdown, where
// nothing is a link: an issue title. No URL span is exempt from rules 2
// and 3.
func DefuseTitle(s string) string {
	return defuse(s, false)
}

// CheckTitle is Check for text GitLab shows without Markdown (an issue
// title): no URL span is exempt.
func CheckTitle(s string) error {
	var err error
	scan(s, false, false, func(f finding) bool {
		err = f.err(s)
		return false
	})
	return err
}

// Quote returns Defuse(s) laid out as a Markdown block quote: "> " before
// every line, line endings \r\n and \r normalized to \n, lines of white
// space only written as ">", blank lines at the start and the end dropped,
// and no trailing newline. It returns "" when s is blank (white space
// only).
//
// Whatever s contains (open code fences, open links, `<!--`, `>>>`, front
// matter, setext underlines, tables), the quote ends where s ends: every
// line of it starts with '>', so the first line that does not (such as the
// blank line of "\n\n" after it) closes every block the user opened, and a
// paragraph after "\n\n" is a top-level paragraph of its own. GitLab's
// multi-line quote fence needs ">>>" at the start of a line, which a line
// starting "> " is not. Line breaks other than \n and \r (\v, \f, U+0085,
// U+2028, U+2029) stay inside their Markdown line.
func Quote(s string) string {
	d := Defuse(s)
	d = strings.ReplaceAll(d, "\r\n", "\n")
	d = strings.ReplaceAll(d, "\r", "\n")
	lines := strings.Split(d, "\n")
	for len(lines) > 0 && isBlank(lines[0]) {
		lines = lines[1:]
	}
	for len(lines) > 0 && isBlank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(len(d) + 2*len(lines))
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		if isBlank(l) {
			b.WriteByte('>')
			continue
		}
		b.WriteString("> ")
		b.WriteString(l)
	}
	return b.String()
}

// asciiPunct is CommonMark's ASCII punctuation: the characters a backslash
// escapes (https://spec.commonmark.org/0.31.2/#backslash-escapes).
const asciiPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

func isBlank(line string) bool { return strings.TrimSpace(line) == "" }

// Inline returns untrusted text for use inside sdesk's own line (a name in
// "— **name** on Discord"): control characters (unicode.IsControl), line
// breaks (U+2028, U+2029) and bidirectional formatting characters (U+061C,
// U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, which could reverse the
// rest of sdesk's line) become spaces, white space at both ends is
// removed, invalid UTF-8 becomes U+FFFD, then the text is defused, then
// every ASCII punctuation character is backslash-escaped, so it cannot end
// the emphasis, open a link, a code span or HTML, or become an autolink.
//
// Defusing here treats no part of the text as a URL span (the escaping
// unlinks every URL), so every reference of rule 3 gets its joiner. The
// result is one line that obeys rules 1 to 4; it is "" when the cleaned
// text is empty. It is defused as if a ':' followed it, since sdesk may
// write one right after a name ("- name: not uploaded"): a name ending
// in "[issue" would complete a [type: reference there. No other character
// sdesk writes after a name completes a pattern (FuzzInline).
func Inline(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || isBidiControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	d := strings.TrimSuffix(defuse(s+":", false), ":")
	var b strings.Builder
	b.Grow(len(d) + len(d)/4)
	for i := 0; i < len(d); i++ {
		if strings.IndexByte(asciiPunct, d[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(d[i])
	}
	return b.String()
}

// isBidiControl reports whether r is one of Unicode's bidirectional
// formatting characters (UAX #9, table 4): ALM, LRM, RLM, the embeddings
// and overrides LRE..RLO with PDF, and the isolates LRI..PDI.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// Check returns an error naming the first violated rule and its position
// (byte offset and line, both counted in s), or nil when s obeys rules 1
// to 3. It does not check rule 4, so it can be run on a whole text sdesk
// built (user parts defused, plus sdesk's own footer and its HTML-comment
// marker) right before it is sent. The error's text is for logs; it quotes
// at most a few characters of s.
func Check(s string) error {
	var err error
	scan(s, true, false, func(f finding) bool {
		err = f.err(s)
		return false
	})
	return err
}

// rule names, indexed by rule number.
var ruleNames = [...]string{1: "quick action", 2: "mention", 3: "reference", 4: "HTML"}

func (f finding) err(s string) error {
	line := 1
	for i, r := range s[:f.pos] {
		if isLineBreak(r) && !(r == '\n' && i > 0 && s[i-1] == '\r') {
			line++
		}
	}
	end := min(len(s), f.pos+8)
	for end < len(s) && !utf8.RuneStart(s[end]) {
		end++
	}
	return fmt.Errorf("gfm: rule %d (%s) broken at byte %d (line %d): %s in %q",
		f.rule, ruleNames[f.rule], f.pos, line, f.what, s[f.pos:end])
}
