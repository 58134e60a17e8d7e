package discordmd

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

var (
	// noteAutolinkRe and noteMailtoRe: Discord's <scheme:/...> and
	// <name@host.tld> links, which it takes whole.
	noteAutolinkRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^<[^: >]+:/[^ >]+>`) })
	noteMailtoRe   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^<[^` + noteJSSpace + `<>@]+@[^` + noteJSSpace + `<>@]+\.[^` + noteJSSpace + `<>@]+>`)
	})
	// noteMaskedRe: the masked links Render writes, [file](url), which
	// Discord takes whole.
	noteMaskedRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\[(?:\\.|[^\[\]\\])*\]\((?:<[^<>\n]*>|[^\s()<>]*)\)`)
	})
)

// noteJSSpace is JavaScript's \s, which Discord's rules use.
const noteJSSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// noteEmphasisWindow is how far past a delimiter noteEmphasisSafe looks
// for the end of what Discord would start there: one it cannot find that
// close, with code holding the delimiter's character farther on, is escaped;
// so is every delimiter of a run of noteEmphasisRun or more, without
// looking (no emphasis starts there in a note, and hostile runs stay cheap).
const (
	noteEmphasisWindow = 256
	noteEmphasisRun    = 4
)

// noteEmphasisSafe gives a backslash to every "*", "_" and "~" of a
// rendered note, outside code, from which Discord's emphasis, strong,
// underline or strike-through rule (noteEmphasisEnd, each tried wherever it
// could start, as a message can start anywhere in a note split in parts)
// would end inside code, or could and is not looked at (noteEmphasisWindow,
// noteEmphasisRun). Discord's rules look for the closing delimiter in
// whatever follows, so "**a `b** [x](https://evil.example)`" would be bold
// up to "b**" and show the rest of the code, a masked link, as markdown;
// GitLab reads all of it after the backtick as code. In a link, which
// Discord takes whole unless Split cuts it, such a character is
// percent-encoded instead. Delimiters are decided from the last one back,
// as each escape changes how the rules read what lies before it.
func noteEmphasisSafe(s string) string {
	if !strings.ContainsAny(s, "*_~") || !strings.Contains(s, "`") {
		return s
	}
	regions, delims := noteDiscordRegions(s)
	var codes []noteRegion
	lastEnd := map[byte]int{} // delimiter character -> end of the last code holding it
	for _, g := range regions {
		if !g.code {
			continue
		}
		codes = append(codes, g)
		for _, c := range []byte("*_~") {
			if strings.IndexByte(s[g.start:g.end], c) >= 0 {
				lastEnd[c] = g.end
			}
		}
	}
	var esc []noteFix // descending
	lo, hi := 0, 0    // the run of one character that holds p
	for k := len(delims) - 1; k >= 0; k-- {
		p := delims[k].pos
		if lastEnd[s[p]] <= p {
			continue
		}
		if p < lo || p >= hi || s[lo] != s[p] {
			lo, hi = p, p+1
			for lo > 0 && s[lo-1] == s[p] {
				lo--
			}
			for hi < len(s) && s[hi] == s[p] {
				hi++
			}
		}
		if hi-lo >= noteEmphasisRun || noteEmphasisIntoCode(s, p, codes, lastEnd[s[p]], esc) {
			esc = append(esc, noteFix{p, delims[k].link})
		}
	}
	if len(esc) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*len(esc))
	last := 0
	for k := len(esc) - 1; k >= 0; k-- {
		b.WriteString(s[last:esc[k].pos])
		b.WriteString(esc[k].text(s[esc[k].pos]))
		last = esc[k].pos + 1
	}
	b.WriteString(s[last:])
	return b.String()
}

// noteFix is a delimiter that noteEmphasisSafe neutralizes: with a
// backslash, or percent-encoded in a link.
type noteFix struct {
	pos int
	pct bool
}

// text returns what the delimiter c becomes.
func (f noteFix) text(c byte) string {
	if f.pct {
		return fmt.Sprintf("%%%02X", c)
	}
	return "\\" + string(c)
}

// noteEmphasisIntoCode reports whether a rule that Discord tries at s[p]
// (noteEmphasisEnd) could end inside codes (sorted), with the fixes esc
// (after p, descending) made to the text after p; lastEnd is where the last
// code holding s[p] ends.
func noteEmphasisIntoCode(s string, p int, codes []noteRegion, lastEnd int, esc []noteFix) bool {
	end := min(len(s), p+noteEmphasisWindow)
	cut := end < len(s) // the window does not reach the end of s
	w := s[p:end]
	var orig []int // index in w -> position in s (-1: added by a fix); nil: p+index
	if k := sort.Search(len(esc), func(k int) bool { return esc[k].pos < end }); k < len(esc) {
		var b strings.Builder
		orig = make([]int, 0, end-p+8)
		next := len(esc) - 1 // the first fix not yet made
		for q := p; q < end; q++ {
			if next >= k && esc[next].pos == q {
				fixed := esc[next].text(s[q])
				b.WriteString(fixed)
				for range fixed {
					orig = append(orig, -1)
				}
				next--
				continue
			}
			b.WriteByte(s[q])
			orig = append(orig, q)
		}
		w = b.String()
	}
	rules := []noteRule{noteEm, noteStrong}
	switch s[p] {
	case '_':
		rules = []noteRule{noteEmUnderscore, noteUnderline}
	case '~':
		rules = []noteRule{noteStrike}
	}
	for _, rule := range rules {
		q, atEnd := noteEmphasisEnd(w, rule)
		switch {
		case q < 0:
			if cut && lastEnd > end {
				return true // it could end past the window, in code
			}
			continue
		case cut && atEnd:
			return true // whether it ends there depends on what follows the window
		}
		if orig != nil {
			q = orig[q]
		} else {
			q += p
		}
		i := sort.Search(len(codes), func(i int) bool { return codes[i].end > q })
		if i < len(codes) && codes[i].start < q {
			return true
		}
	}
	return false
}

// noteRule is one of the rules with which Discord reads emphasis.
type noteRule int

const (
	// noteEm is simple-markdown's em in its * form:
	// ^\*(?=\S)((?:\*\*|\\[\s\S]|\s+(?:\\[\s\S]|[^\s\*\\]|\*\*)|[^\s\*\\])+?)\*(?!\*)
	noteEm noteRule = iota
	// noteEmUnderscore is its _ form: ^\b_((?:__|\\[\s\S]|[^\\_])+?)_\b
	// (the \b before is not looked at: any "_" may open).
	noteEmUnderscore
	// noteStrong is simple-markdown's strong: ^\*\*((?:\\[\s\S]|[^\\])+?)\*\*(?!\*)
	noteStrong
	// noteUnderline is simple-markdown's u: ^__((?:\\[\s\S]|[^\\])+?)__(?!_)
	noteUnderline
	// noteStrike is Discord's s: ^~~([\s\S]+?)~~(?!_)
	noteStrike
)

// noteEmphasisEnd returns where rule, tried at the start of w, finds its
// closing delimiter in w, or -1; atEnd reports that it took the end of w
// for the end of the text (the rule looks at what follows the delimiter).
// At every point of each rule at most one way on can match (the rules
// backtrack only into what cannot), so walking w once finds the match that
// JavaScript's regular expression finds.
func noteEmphasisEnd(w string, rule noteRule) (closer int, atEnd bool) {
	runeLen := func(i int) int {
		_, size := utf8.DecodeRuneInString(w[i:])
		return size
	}
	space := func(i int) bool {
		r, _ := utf8.DecodeRuneInString(w[i:])
		return noteJSSpaceRune(r)
	}
	switch rule {
	case noteStrong, noteUnderline, noteStrike:
		if len(w) < 2 || w[1] != w[0] {
			return -1, false
		}
		c := w[0]
		for i, units := 2, 0; i < len(w); units++ {
			if units > 0 && strings.HasPrefix(w[i:], w[:2]) {
				if i+2 == len(w) {
					return i, true
				}
				if next := w[i+2]; rule == noteStrike && next != '_' || rule != noteStrike && next != c {
					return i, false
				}
			}
			switch {
			case w[i] == '\\' && rule != noteStrike:
				if i+1 == len(w) {
					return -1, false
				}
				i += 1 + runeLen(i+1)
			default:
				i += runeLen(i)
			}
		}
	case noteEmUnderscore:
		for i, units := 1, 0; i < len(w); units++ {
			if units > 0 && w[i] == '_' {
				if i+1 == len(w) {
					return i, true
				}
				if !noteWordByte(w[i+1]) {
					return i, false
				}
			}
			switch {
			case strings.HasPrefix(w[i:], "__"):
				i += 2
			case w[i] == '\\' && i+1 < len(w):
				i += 1 + runeLen(i+1)
			case w[i] != '\\' && w[i] != '_':
				i += runeLen(i)
			default:
				return -1, false
			}
		}
	case noteEm:
		for i, units := 1, 0; i < len(w); units++ {
			if units > 0 && w[i] == '*' {
				if i+1 == len(w) {
					return i, true
				}
				if w[i+1] != '*' {
					return i, false
				}
			}
			if units > 0 && space(i) {
				// \s+, then one of the units that do not start with white
				// space.
				for i < len(w) && space(i) {
					i += runeLen(i)
				}
				if i == len(w) || w[i] == '*' && !strings.HasPrefix(w[i:], "**") {
					return -1, false
				}
			}
			switch {
			case strings.HasPrefix(w[i:], "**"):
				i += 2
			case w[i] == '\\' && i+1 < len(w):
				i += 1 + runeLen(i+1)
			case w[i] != '\\' && w[i] != '*' && !space(i):
				i += runeLen(i)
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

// noteWordByte reports whether c is in [A-Za-z0-9_], a word character for
// a regular expression's \b.
func noteWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// noteRegion is a part of a rendered note that Discord takes whole: code,
// or a link.
type noteRegion struct {
	start, end int
	code       bool
}

// noteDelim is a "*", "_" or "~" of a rendered note, outside code; link
// when in a link.
type noteDelim struct {
	pos  int
	link bool
}

// noteDiscordRegions walks a rendered note as Discord's parser reaches it
// and returns, in order, its code (Discord's codeBlock and inlineCode rules),
// bare URLs (its URL rule), <...> links and masked links, and the "*", "_"
// and "~" outside code and backslash escapes.
func noteDiscordRegions(s string) (regions []noteRegion, delims []noteDelim) {
	code := newDiscordCode(s)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if r, size := utf8.DecodeRuneInString(s[i+1:]); !noteJSWordOrSpace(r) {
				i += 1 + size
				continue
			}
		case c == '`':
			if end := code.end(i); end > 0 {
				regions = append(regions, noteRegion{i, end, true})
				i = end
				continue
			}
		case c == 'h' || c == 's':
			if n := noteDiscordURLLen(s[i:]); n > 0 {
				regions = append(regions, noteRegion{i, i + n, false})
				delims = noteLinkDelims(s, i, i+n, delims)
				i += n
				continue
			}
		case c == '<' || c == '[':
			loc := noteMaskedRe().FindStringIndex(s[i:])
			if c == '<' {
				if loc = noteAutolinkRe().FindStringIndex(s[i:]); loc == nil {
					loc = noteMailtoRe().FindStringIndex(s[i:])
				}
			}
			if loc != nil {
				regions = append(regions, noteRegion{i, i + loc[1], false})
				delims = noteLinkDelims(s, i, i+loc[1], delims)
				i += loc[1]
				continue
			}
		case c == '*' || c == '_' || c == '~':
			delims = append(delims, noteDelim{i, false})
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return regions, delims
}

// noteLinkDelims appends to delims the "*", "_" and "~" of the link
// s[start:end] that no backslash escapes: text, should Split cut the
// link.
func noteLinkDelims(s string, start, end int, delims []noteDelim) []noteDelim {
	slashes := 0
	for i := start; i < end; i++ {
		switch c := s[i]; {
		case c == '\\':
			slashes++
			continue
		case (c == '*' || c == '_' || c == '~') && slashes%2 == 0:
			delims = append(delims, noteDelim{i, true})
		}
		slashes = 0
	}
	return delims
}

// noteJSWordOrSpace reports whether r is in JavaScript's [0-9A-Za-z\s]:
// what Discord's escape rule, ^\\([^0-9A-Za-z\s]), does not escape.
func noteJSWordOrSpace(r rune) bool {
	return r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') ||
		noteJSSpaceRune(r)
}

// noteJSSpaceRune reports whether r is in JavaScript's \s.
func noteJSSpaceRune(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// noteDiscordURLRe is Discord's URL rule,
// ^((?:https?|steam):\/\/[^\s<]+[^<.,:;"'\]\s]).
var noteDiscordURLRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:https?|steam)://[^` + noteJSSpace + `<]+[^<.,:;"'\]` + noteJSSpace + `]`)
})

// noteDiscordURLLen returns the length of the URL that Discord links at
// the start of s, or 0: its URL rule, then one unbalanced ")" dropped.
func noteDiscordURLLen(s string) int {
	m := noteDiscordURLRe().FindString(s)
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
