package gitlab

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// zwj (U+200D ZERO WIDTH JOINER) is what Neutralize inserts. It renders as
// nothing, so the text reads exactly as before, but GitLab no longer sees a
// quick action or a mention: its quick-action extractor wants `/` as the
// first character of a line (`^\/`) and its user-reference pattern wants a
// username character right after `@`.
const zwj = "\u200d"

// Neutralize makes user text safe to put into an issue title, description
// or note created through the API:
//
//   - Quick actions: GitLab runs any line that starts with `/<command>`
//     (after deleting every `\r`) with the rights of the token's user. A
//     zero-width joiner is inserted before the `/` of every line whose first
//     non-space character is `/`, leading whitespace or not.
//   - Mentions: `@user`, `@group` and `@all` notify. A zero-width joiner is
//     inserted after every `@` that is followed by a username character
//     ([A-Za-z0-9_.-]) and not preceded by an ASCII word character, so
//     e-mail addresses such as a@b.com stay untouched (GitLab does not read
//     them as mentions either). Inline code spans are not parsed: an `@` in
//     one is neutralized too, which is invisible and harmless.
//
// Lines inside a closed ``` fence are left alone, because neither runs
// there. Fences are recognised conservatively: an unterminated fence is
// treated as no fence, and after the first line that could start a block
// whose extent GitLab sees differently (an HTML block `<...`, a GitLab
// `>>>` quote, front matter, or an indented or otherwise unusual fence)
// nothing further is treated as fenced. Quick actions follow GitLab's
// extractor (a ``` line up to the next line that is exactly ```), mentions
// follow CommonMark (``` or ~~~ fences): each is neutralized unless the
// line is fenced under the rules that apply to it.
//
// Neutralize is idempotent, and deleting the zero-width joiners it added
// gives back the input.
func Neutralize(s string) string {
	return neutralizeQuickActions(neutralizeMentions(s))
}

// span is a byte range [start, end) of a string.
type span struct{ start, end int }

func neutralizeMentions(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	safe := mentionSafeRanges(s)
	var b strings.Builder
	last, r := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		for r < len(safe) && safe[r].end <= i {
			r++
		}
		if r < len(safe) && safe[r].start <= i {
			continue
		}
		if i > 0 && isASCIIWord(s[i-1]) {
			continue // part of a word or an e-mail address: never a mention
		}
		if i+1 >= len(s) || !isUsernameChar(s[i+1]) {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s) + 3*4)
		}
		b.WriteString(s[last : i+1])
		b.WriteString(zwj)
		last = i + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isASCIIWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isUsernameChar(c byte) bool {
	return isASCIIWord(c) || c == '.' || c == '-'
}

// cmLines splits s into lines the way CommonMark does (\n, \r\n or \r end
// a line) and returns the byte range of each line without its ending.
func cmLines(s string) []span {
	var out []span
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			out = append(out, span{start, i})
			start = i + 1
		case '\r':
			out = append(out, span{start, i})
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	return append(out, span{start, len(s)})
}

// mentionSafeRanges returns the byte ranges of the lines inside closed
// top-level CommonMark fences, in order. Only fences opened at column 0 are
// tracked (a column-0 line is never inside a list item or a block quote);
// tracking stops at the first line outside a fence that could open a block
// that would swallow a later fence line (HTML block, GitLab's `>>>` quote,
// front matter, indented fence).
func mentionSafeRanges(s string) []span {
	lines := cmLines(s)
	var out []span
	open := -1
	var fch byte
	var flen int
	for i, ln := range lines {
		text := s[ln.start:ln.end]
		if open >= 0 {
			if isCMCloser(text, fch, flen) {
				if i > open+1 {
					out = append(out, span{lines[open+1].start, lines[i-1].end})
				}
				open = -1
			}
			continue
		}
		if ch, n, ok := cmOpener(text); ok {
			open, fch, flen = i, ch, n
			continue
		}
		if i == 0 && isFrontMatterStart(text) {
			break
		}
		if mayHideFence(text) {
			break
		}
	}
	return out
}

// cmOpener reports whether line opens a fenced code block at column 0.
func cmOpener(line string) (byte, int, bool) {
	if line == "" || line[0] != '`' && line[0] != '~' {
		return 0, 0, false
	}
	ch := line[0]
	n := 0
	for n < len(line) && line[n] == ch {
		n++
	}
	if n < 3 {
		return 0, 0, false
	}
	if ch == '`' && strings.IndexByte(line[n:], '`') >= 0 {
		return 0, 0, false // a backtick in the info string: not a fence
	}
	return ch, n, true
}

// isCMCloser reports whether line closes a fence of n ch characters: up to
// three spaces, at least n ch, then only spaces or tabs.
func isCMCloser(line string, ch byte, n int) bool {
	i := 0
	for i < 3 && i < len(line) && line[i] == ' ' {
		i++
	}
	j := i
	for j < len(line) && line[j] == ch {
		j++
	}
	if j-i < n {
		return false
	}
	return strings.Trim(line[j:], " \t") == ""
}

// mayHideFence reports whether a line outside any fence could start a
// construct after which column-0 fence lines might not mean what they seem.
func mayHideFence(line string) bool {
	t := strings.TrimLeft(line, " \t")
	return strings.HasPrefix(t, "<") || strings.HasPrefix(t, ">>>") ||
		strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")
}

func isFrontMatterStart(line string) bool {
	return strings.HasPrefix(line, "---") || strings.HasPrefix(line, "+++") ||
		strings.HasPrefix(line, ";;;")
}

func neutralizeQuickActions(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	clean := make([]string, len(lines))
	for i, l := range lines {
		clean[i] = strings.ReplaceAll(strings.TrimSuffix(l, "\n"), "\r", "")
	}
	safe := quickActionSafeLines(clean)
	var b strings.Builder
	changed := false
	for i, l := range lines {
		if !safe[i] {
			if j := leadingSlash(l); j >= 0 {
				if !changed {
					b.Grow(len(s) + 3*4)
					for _, prev := range lines[:i] {
						b.WriteString(prev)
					}
					changed = true
				}
				b.WriteString(l[:j])
				b.WriteString(zwj)
				b.WriteString(l[j:])
				continue
			}
		}
		if changed {
			b.WriteString(l)
		}
	}
	if !changed {
		return s
	}
	return b.String()
}

// quickActionSafeLines marks the lines that GitLab's quick-action extractor
// skips as code. Its pattern is `^```.+?\n```$` (dot matches newline) on
// the text with `\r` deleted: a line starting with ``` up to the next line
// that is exactly ```; at least one character must lie between the
// opening ``` and the closing line's newline, so a bare ``` line cannot be
// closed by the very next line. Tracking stops at the first line outside a
// code block that could start one of the extractor's other skipped blocks
// (`<tag>` … `</tag>`, `>>>` … `>>>`), whose extent could shift the code
// blocks after it.
func quickActionSafeLines(lines []string) []bool {
	safe := make([]bool, len(lines))
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "```") {
			first := i + 1
			if l == "```" {
				first = i + 2
			}
			closed := false
			for j := first; j < len(lines); j++ {
				if lines[j] == "```" {
					for k := i + 1; k < j; k++ {
						safe[k] = true
					}
					i = j
					closed = true
					break
				}
			}
			if closed {
				continue
			}
		}
		t := strings.TrimLeftFunc(l, unicode.IsSpace)
		if strings.HasPrefix(t, "<") || strings.HasPrefix(t, ">>>") {
			break
		}
	}
	return safe
}

// leadingSlash returns the byte index of the `/` that is the first
// non-space character of line, or -1.
func leadingSlash(line string) int {
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		switch {
		case r == '/':
			return i
		case unicode.IsSpace(r) || r == '\ufeff':
			i += size
		default:
			return -1
		}
	}
	return -1
}
