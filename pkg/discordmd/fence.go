package discordmd

import (
	"regexp"
	"sort"
	"strings"
	"sync"
)

// This file holds the code rules of the package, in one place: where a
// fenced code block or a code span starts and ends in GitLab's markdown
// (CommonMark 0.31.2, which GitLab Flavored Markdown follows:
// https://spec.commonmark.org/0.31.2/#fenced-code-blocks and
// #code-spans), where it does in Discord's (simple-markdown's codeBlock
// and inlineCode rules, as Discord's client has them), and how Render
// writes code so that Discord reads it as GitLab does. The block parser
// (mdBlocks, renderFence), the prose renderer (GitLab's code spans), the
// emphasis guard (Discord's code) and the splitter (the code it closes and
// reopens around a break) find code through these functions only.

// fence is the opening line of a fenced code block.
type fence struct {
	prefix string // what comes before the fence run: indentation, quote markers
	marker string // the fence run: at least three backticks or tildes
	info   string // the rest of the line, without its line break
}

// fenceReader reads the fence lines of one kind of text. A fence line is,
// after its prefix, a run of at least three of the same fence character
// followed by the info string, which holds no backtick after a run of
// backticks; the block it opens ends at the next line that is, after its
// prefix, a run of the same character at least as long followed by
// nothing but spaces, tabs and the line break, or at the end of the text.
type fenceReader struct {
	chars  string                // the fence characters
	indent func(line string) int // the length of the prefix of line
}

var (
	// gitlabFences reads GitLab's markdown: ``` and ~~~ fences after any
	// run of spaces, tabs and ">" (sourceIndent).
	gitlabFences = fenceReader{chars: "`~", indent: sourceIndent}
	// outputFences reads the text Render writes, as Discord and Split
	// read it: ``` fences only (Discord knows no ~~~), after at most three
	// spaces and an optional block quote marker (outputIndent).
	outputFences = fenceReader{chars: "`", indent: outputIndent}
)

// open reports whether line (its line break included or not) opens a
// fenced code block, and returns its fence.
func (fr fenceReader) open(line string) (fence, bool) {
	t := strings.TrimRight(line, "\r\n")
	k := fr.indent(t)
	rest := t[k:]
	if len(rest) < 3 || strings.IndexByte(fr.chars, rest[0]) < 0 {
		return fence{}, false
	}
	n := tickRunOf(rest, 0, rest[0])
	if n < 3 || rest[0] == '`' && strings.IndexByte(rest[n:], '`') >= 0 {
		return fence{}, false
	}
	return fence{prefix: t[:k], marker: rest[:n], info: rest[n:]}, true
}

// closes reports whether line (its line break included or not) closes the
// block that marker opened.
func (fr fenceReader) closes(line, marker string) bool {
	rest := line[fr.indent(line):]
	n := tickRunOf(rest, 0, marker[0])
	return n >= len(marker) && strings.Trim(rest[n:], " \t\r\n") == ""
}

// sourceIndent returns the length of the run of spaces, tabs and ">" that
// starts line. GitLab takes a fence after a block quote marker and, in a
// list item, after the item's indentation; mdBlocks tracks neither, so it
// takes a fence after any such run.
func sourceIndent(line string) int {
	k := 0
	for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '>') {
		k++
	}
	return k
}

// outputIndent returns the length of what comes before a fence in a line
// that Render wrote: up to three spaces, then a block quote marker (">" and
// one or more spaces) if there is one. Render writes every fence so
// (renderFence), and Split finds fences so.
func outputIndent(line string) int {
	k := 0
	for k < 3 && k < len(line) && line[k] == ' ' {
		k++
	}
	if k < len(line) && line[k] == '>' {
		q := k + 1
		for q < len(line) && line[q] == ' ' {
			q++
		}
		if q > k+1 {
			return q
		}
	}
	return k
}

// quoteOf returns the block quote marker of an outputIndent prefix, such
// as "> ", or "".
func quoteOf(prefix string) string {
	return strings.TrimLeft(prefix, " ")
}

// discordLangRe is what Discord reads as the language of a code block
// (its codeBlock rule: ^```(?:([a-z0-9_+\-.#]+?)\n)?..., case-insensitive).
var discordLangRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?i:[a-z0-9_+\-.#]+)$`) })

// fenceLang returns the language of a code block with the info string
// info, as Discord can show it: the info string's first word when Discord
// reads it as a language (letters, digits and _ + - . #, at most 32
// bytes), else "".
func fenceLang(info string) string {
	if f := strings.Fields(info); len(f) > 0 && len(f[0]) <= 32 && discordLangRe().MatchString(f[0]) {
		return f[0]
	}
	return ""
}

// tickRun returns the length of the run of backticks at s[i:].
func tickRun(s string, i int) int {
	return tickRunOf(s, i, '`')
}

// tickRunOf returns the length of the run of the byte c at s[i:].
func tickRunOf(s string, i int, c byte) int {
	n := 0
	for i+n < len(s) && s[i+n] == c {
		n++
	}
	return n
}

// tickRuns indexes the maximal runs of backticks of a text by length
// (length -> starts, ascending): the closing run of a code span is the
// next run exactly as long as its opening run, in GitLab's rule, in
// Discord's and in Split's alike, and the index finds it in O(log n).
type tickRuns map[int][]int

func newTickRuns(s string) tickRuns {
	runs := tickRuns{}
	for i := 0; i < len(s); {
		k := strings.IndexByte(s[i:], '`')
		if k < 0 {
			break
		}
		i += k
		n := tickRun(s, i)
		runs[n] = append(runs[n], i)
		i += n
	}
	return runs
}

// next returns the start of the first run exactly n backticks long that
// starts at or after from, or -1.
func (t tickRuns) next(n, from int) int {
	starts := t[n]
	if k := sort.SearchInts(starts, from); k < len(starts) {
		return starts[k]
	}
	return -1
}

// gitlabCode finds GitLab's code spans in a block of prose: a run of n
// backticks opens a span that the next run of exactly n backticks in the
// same paragraph closes (a blank line ends the paragraph).
type gitlabCode struct {
	runs   tickRuns
	breaks []int // ascending: the "\n" that start a blank line, or white space up to the end
}

func newGitLabCode(s string) gitlabCode {
	g := gitlabCode{runs: newTickRuns(s)}
	for j := strings.IndexByte(s, '\n'); j >= 0; {
		k := j + 1
		for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r') {
			k++
		}
		if k == len(s) || s[k] == '\n' {
			g.breaks = append(g.breaks, j)
		}
		next := strings.IndexByte(s[j+1:], '\n')
		if next < 0 {
			break
		}
		j += 1 + next
	}
	return g
}

// spanEnd returns the end of the span whose opening run of n backticks
// ends at from, or -1 when no run closes it.
func (g gitlabCode) spanEnd(from, n int) int {
	j := g.runs.next(n, from)
	if j < 0 {
		return -1
	}
	if k := sort.SearchInts(g.breaks, from); k < len(g.breaks) && g.breaks[k] < j {
		return -1
	}
	return j + n
}

// discordCodeBlockRe is Discord's codeBlock rule (its client's
// /^```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][^]*?)\n*```/i); Go's regexp
// prefers the same match as JavaScript's backtracking. The letters are
// spelled out: JavaScript's /i without the u flag folds no other
// character to them, where Go's (?i) would take "ſ" and the Kelvin sign.
var discordCodeBlockRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile("^```(?:[a-zA-Z0-9_+\\-.#]+?\n)?\n*[^\n][\\s\\S]*?\n*```")
})

// discordCode finds code in a rendered note as Discord does: its codeBlock
// rule (discordCodeBlockRe), then simple-markdown's inlineCode,
// ^(`+)([\s\S]*?[^`])\1(?!`), which tries every length of the opening run
// from the longest down, each closed by the next run exactly as long.
type discordCode struct {
	s    string
	runs tickRuns
}

func newDiscordCode(s string) discordCode {
	return discordCode{s: s, runs: newTickRuns(s)}
}

// end returns the end of the code that starts at the backtick s[i], or -1.
func (c discordCode) end(i int) int {
	if strings.HasPrefix(c.s[i:], "```") {
		if loc := discordCodeBlockRe().FindStringIndex(c.s[i:]); loc != nil {
			return i + loc[1]
		}
	}
	runEnd := i + tickRun(c.s, i)
	for n := runEnd - i; n >= 1; n-- {
		if j := c.runs.next(n, runEnd+1); j >= 0 {
			return j + n
		}
	}
	return -1
}

// Code finds code in a text as Discord reads it: Discord's code block and
// inline code rules (see discordCode), the one place they are written.
// pkg/discordmarkup uses it to keep markup inside code literal.
type Code struct{ c discordCode }

// NewCode indexes s for Code.End (O(len(s))).
func NewCode(s string) Code { return Code{newDiscordCode(s)} }

// End returns the end of the code block or code span that starts at the
// backtick s[i], or -1 when Discord reads none there.
func (c Code) End(i int) int { return c.c.end(i) }

// splitSpan is a code span as Split sees it: s[open:end], its runs n
// backticks long.
type splitSpan struct {
	open, end, n int
}

// splitSpans returns the code spans of the line s[start:end] as Split
// finds them in what Render writes: a run of one or two backticks not
// escaped by an odd run of backslashes before it (an escaped first
// backtick leaves the rest of the run) opens a span that the next run of
// exactly as many backticks on the line closes; longer runs open none.
func splitSpans(s string, runs tickRuns, start, end int) []splitSpan {
	var spans []splitSpan
	for i := start; i < end; {
		k := strings.IndexByte(s[i:end], '`')
		if k < 0 {
			break
		}
		i += k
		n := tickRun(s[:end], i)
		at, open := i, n
		slashes := 0
		for b := i - 1; b >= start && s[b] == '\\'; b-- {
			slashes++
		}
		if slashes%2 == 1 {
			at, open = i+1, n-1
		}
		if open >= 1 && open <= 2 {
			if j := runs.next(open, i+n); j >= 0 && j < end {
				spans = append(spans, splitSpan{open: at, end: j + open, n: open})
				i = j + open
				continue
			}
		}
		i += n
	}
	return spans
}

// breakTicks puts a zero-width space after every second backtick of a run
// of three or more, so that s holds no ```: Discord would end a code block
// there.
func breakTicks(s string) string {
	if !strings.Contains(s, "```") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		n := tickRun(s, i)
		if n == 0 {
			b.WriteByte(s[i])
			i++
			continue
		}
		for k := 0; k < n; k++ {
			if k > 0 && k%2 == 0 {
				b.WriteString("\u200b")
			}
			b.WriteByte('`')
		}
		i += n
	}
	return b.String()
}

// breakPairs puts a zero-width space inside every run of exactly two
// backticks.
func breakPairs(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch n := tickRun(s, i); n {
		case 0:
			b.WriteByte(s[i])
			i++
		case 2:
			b.WriteString("`\u200b`")
			i += 2
		default:
			b.WriteString(s[i : i+n])
			i += n
		}
	}
	return b.String()
}

// codeBlock writes content (ending with a newline, or empty) as a ```
// block with the language lang.
func codeBlock(lang, content string) string {
	return "```" + lang + "\n" + breakTicks(blockContent(content)) + "```"
}

// blockContent returns the content of a code block as it is written:
// ending with one newline (Discord does not show trailing blank lines), and
// a zero-width space on its one line when it holds nothing but line breaks.
// Discord's code block needs a character that is not a line break
// (^```...\n*([^\n][^]*?)\n*```): it would take the first backtick of the
// closing fence for it and end at the next ``` of the message, the opening
// fence of the next block, whose content would show as markdown.
func blockContent(content string) string {
	if content = strings.TrimRight(content, "\n"); content == "" {
		return "\u200b\n"
	}
	return content + "\n"
}

// gitlabSpan renders a code span of the note, span being its text with
// its backticks. Discord reads a span of one or two backticks on one line
// as GitLab does (the text holds no run as long as the delimiters, and does
// not start or end with a backtick), so that is kept; any other is written
// anew from its text as GitLab reads it: line breaks as spaces, and one
// space removed from both ends when both are spaces.
func gitlabSpan(span string) string {
	n := tickRun(span, 0)
	if n <= 2 && !strings.ContainsAny(span, "\r\n") {
		return span
	}
	text := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(span[n : len(span)-n])
	if len(text) >= 2 && text[0] == ' ' && text[len(text)-1] == ' ' && strings.Trim(text, " ") != "" {
		text = text[1 : len(text)-1]
	}
	return codeSpan(text)
}

// codeSpan writes s as an inline code span that Discord reads as exactly
// that: line breaks become spaces; the delimiters are one backtick, or two
// when s holds a lone backtick, runs of exactly two backticks in s then
// getting a zero-width space between them (simple-markdown's inlineCode
// rule, ^(`+)([\s\S]*?[^`])\1(?!`), ends a span at the first run as long
// as its opening one, and a span opened by ``` would be Discord's code
// block); a space pads s when it starts or ends with a backtick.
func codeSpan(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	runs := newTickRuns(s)
	ticks := "`"
	if len(runs[1]) > 0 {
		ticks = "``"
		if len(runs[2]) > 0 {
			s = breakPairs(s)
		}
	}
	if s[0] == '`' || s[len(s)-1] == '`' {
		return ticks + " " + s + " " + ticks
	}
	return ticks + s + ticks
}
