package discordmd

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Split splits s into chunks of at most max runes for Discord (max is
// raised to 16 when smaller); an empty s gives no chunks. Discord limits a
// message's content to 2000 characters and an embed's description to 4096
// (https://discord.com/developers/docs/resources/message, "Embed Limits").
//
// A chunk ends, in order of preference, after a blank line, after a newline
// or after a space or tab (the white space stays at the end of the chunk):
// the last such break that leaves the chunk at least half full (half of max
// less an added reopening string, see below) is taken, else the last break
// of any kind, else the last break that splits neither a grapheme cluster
// nor a markdown escape (a backslash and the ASCII punctuation it escapes,
// which Discord would otherwise read as markup at the start of the next
// chunk), else the last that splits no grapheme cluster. Breaks inside a
// <...> link, a bare URL, a [text](url) masked link or a code span and on
// fence lines are avoided; a hard break in one happens only when it does
// not fit in a chunk by itself, and then still as above when it can. A
// break inside code (see below) right after a "*", "_" or "~", or in a
// fenced block whose rest holds nothing but white space and quote markers,
// is taken only when no other fits: the string added after it would let
// Discord's emphasis rules end there, or the reopened block would hold no
// character and Discord would end it at the next ``` of the message.
//
// Grapheme clusters are the extended grapheme clusters of Unicode Standard
// Annex #29 (https://www.unicode.org/reports/tr29/) as github.com/rivo/uniseg
// finds them: an emoji with a skin tone, a ZWJ sequence such as a family, a
// flag, a letter with its combining marks, \r\n. A chunk ends inside one
// only when no break between clusters fits in it, other than the breaks
// taken only when no other fits (above): when the cluster is longer than
// the chunk can hold (max less the strings added to it, below), or when
// code leaves no break before it. It is then cut between two of its
// runes; a rune is never split.
//
// Each chunk is a message of its own for Discord, so code cut by a break
// is closed at the end of the chunk before it and opened again at the
// start of the chunk after it:
//
//   - Fences (outputFences, in fence.go with the other code rules): a
//     line that, after at most 3 spaces and an optional block quote marker
//     (">" and one or more spaces), starts with 3 or more backticks and
//     holds no other backtick, and ends with a newline, opens a fenced
//     block (Discord knows no ~~~ fence); the next line that, after at most
//     3 spaces and an optional quote marker, is a run of backticks at least
//     as long followed only by spaces, tabs or \r closes it; an unclosed
//     block runs to the end. A break at byte offset p is inside the block
//     when it lies after the opening line's newline and not after the start
//     of the closing line. The chunk before it gets "\n", the opening line's
//     quote marker and the fence run appended (for example "\n```" or
//     "\n> ```"), and the chunk after it gets the opening line with
//     surrounding white space removed plus "\n" (for example "```go\n")
//     prepended, or, when the two added strings would take more than max/2
//     runes, the opening line's quote marker and fence run alone plus "\n".
//     This repair is done only for blocks whose two added strings together
//     take at most max/2 runes; longer ones are split as plain text. No
//     break falls inside an opening line or inside a closing line before
//     its end when that line, its newline and the two added strings take at
//     most max runes together.
//   - Code spans (splitSpans): outside fenced blocks, a run of one or two
//     backticks not escaped by an odd run of backslashes before it (an
//     escaped first backtick leaves the rest of the run) opens a code span
//     that the next run of exactly as many backticks on the same line
//     closes (as Render writes spans; longer runs open none). A break
//     between the opening run and the closing run, with text of the span on
//     both sides, gets the run appended to the chunk before it and
//     prepended to the chunk after it, with a space between the run and a
//     backtick of the span's text next to it (Discord would read one longer
//     run). No break falls inside the opening or closing run, right after
//     the one or before the other, or inside a run of backticks in the
//     span's text.
//
// Both added strings count towards max. Removing them and concatenating
// the chunks gives back s exactly, in order. Chunks can consist of white
// space only when s has long runs of it; callers skip those.
func Split(s string, max int) []string {
	if s == "" {
		return nil
	}
	if max < 16 {
		max = 16
	}
	sp := newTextSplitter(s, max)
	var chunks []string
	var open splitRepair
	for start := 0; start < len(s); {
		cut := sp.cut(start, max-open.reopenRunes)
		chunk := open.reopen + s[start:cut]
		open = splitRepair{}
		if cut < len(s) {
			if rep, ok := sp.repairAt(cut); ok {
				chunk += rep.close
				open = rep
			}
		}
		chunks = append(chunks, chunk)
		start = cut
	}
	return chunks
}

var (
	splitLinkRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\[[^\[\]\n]*\]\((?:<[^<>\n]*>|[^\s()<>]*)\)|<[^\s<>]+>`)
	})
	// splitURLRe: what Discord's URL rule would link.
	splitURLRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:https?|steam)://[^` + noteJSSpace + `<]+`) })
)

// splitRepair is what a break adds: close at the end of the chunk before
// it, reopen at the start of the chunk after it.
type splitRepair struct {
	close, reopen           string
	closeRunes, reopenRunes int
}

// splitFence is a fenced block as Split sees it.
type splitFence struct {
	bodyStart, closerStart int // a cut p is inside when bodyStart <= p <= closerStart
	splitRepair
}

type textSplitter struct {
	s      string
	fences []splitFence // repaired blocks only
	spans  []splitSpan
	avoid  [][2]int // [lo, hi): positions on fence lines or inside links and spans
	lines  [][2]int // [lo, hi): positions strictly inside fence lines, ascending
	// clusters holds the grapheme cluster boundaries of s.
	clusters graphemes
}

func newTextSplitter(s string, limit int) *textSplitter {
	sp := &textSplitter{s: s, clusters: newGraphemes(s)}
	var open *splitFence
	var marker string
	var openerStart int
	var text [][2]int // lines outside fenced blocks
	for start := 0; start < len(s); {
		end, next := len(s), len(s)
		if i := strings.IndexByte(s[start:], '\n'); i >= 0 {
			end, next = start+i, start+i+1
		}
		line := s[start:end]
		switch {
		case open == nil:
			if f, ok := outputFences.open(line); ok && end < len(s) {
				quote, m := quoteOf(f.prefix), f.marker
				marker, openerStart = m, start
				close := "\n" + quote + m
				reopen := strings.TrimSpace(line) + "\n"
				if utf8.RuneCountInString(reopen)+len(close) > limit/2 {
					reopen = quote + m + "\n"
				}
				open = &splitFence{bodyStart: next, splitRepair: splitRepair{close: close, reopen: reopen,
					closeRunes: utf8.RuneCountInString(close), reopenRunes: utf8.RuneCountInString(reopen)}}
				sp.avoid = append(sp.avoid, [2]int{openerStart + 1, next + 1})
				if open.fits(line, limit) {
					sp.lines = append(sp.lines, [2]int{openerStart + 1, next})
				}
			} else {
				text = append(text, [2]int{start, end})
			}
		case outputFences.closes(line, marker):
			open.closerStart = start
			sp.addFence(open, limit)
			sp.avoid = append(sp.avoid, [2]int{start, next})
			if open.fits(line, limit) {
				sp.lines = append(sp.lines, [2]int{start + 1, end})
			}
			open = nil
		}
		start = next
	}
	if open != nil {
		open.closerStart = len(s)
		sp.addFence(open, limit)
	}
	runs := newTickRuns(s)
	for _, l := range text {
		for _, c := range splitSpans(s, runs, l[0], l[1]) {
			sp.spans = append(sp.spans, c)
			sp.avoid = append(sp.avoid, [2]int{c.open + 1, c.end})
		}
	}
	for _, loc := range splitLinkRe().FindAllStringIndex(s, -1) {
		sp.avoid = append(sp.avoid, [2]int{loc[0] + 1, loc[1]})
	}
	for _, loc := range splitURLRe().FindAllStringIndex(s, -1) {
		sp.avoid = append(sp.avoid, [2]int{loc[0] + 1, loc[1]})
	}
	sort.Slice(sp.avoid, func(i, j int) bool { return sp.avoid[i][0] < sp.avoid[j][0] })
	// Make the intervals disjoint so that a binary search finds them.
	merged := sp.avoid[:0]
	for _, a := range sp.avoid {
		if n := len(merged); n > 0 && a[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], a[1])
			continue
		}
		merged = append(merged, a)
	}
	sp.avoid = merged
	return sp
}

// fits reports whether a fence line of f, its newline and both repair
// strings take at most limit runes: then a chunk can hold it whole, and no
// break falls inside it.
func (f *splitFence) fits(line string, limit int) bool {
	return utf8.RuneCountInString(line)+1+f.reopenRunes+f.closeRunes <= limit
}

func (sp *textSplitter) addFence(f *splitFence, limit int) {
	if f.reopenRunes+f.closeRunes <= limit/2 {
		sp.fences = append(sp.fences, *f)
	}
}

// repairAt returns what a cut at p adds: the repair of the block or code
// span that p is inside, if any.
func (sp *textSplitter) repairAt(p int) (splitRepair, bool) {
	i := sort.Search(len(sp.fences), func(i int) bool { return sp.fences[i].closerStart >= p })
	if i < len(sp.fences) && sp.fences[i].bodyStart <= p {
		return sp.fences[i].splitRepair, true
	}
	if c, ok := sp.spanAt(p); ok && p > c.open+c.n && p < c.end-c.n {
		ticks := strings.Repeat("`", c.n)
		rep := splitRepair{close: ticks, reopen: ticks}
		if sp.s[p-1] == '`' {
			rep.close = " " + ticks
		}
		if sp.s[p] == '`' {
			rep.reopen = ticks + " "
		}
		rep.closeRunes, rep.reopenRunes = len(rep.close), len(rep.reopen)
		return rep, true
	}
	return splitRepair{}, false
}

// blankTail reports whether a cut at p falls in a repaired fenced block
// whose rest holds nothing but line breaks, white space and quote markers.
func (sp *textSplitter) blankTail(p int) bool {
	i := sort.Search(len(sp.fences), func(i int) bool { return sp.fences[i].closerStart >= p })
	return i < len(sp.fences) && sp.fences[i].bodyStart <= p &&
		strings.Trim(sp.s[p:sp.fences[i].closerStart], "\n\r\t >") == ""
}

// spanAt returns the code span that a cut at p falls in, if any.
func (sp *textSplitter) spanAt(p int) (splitSpan, bool) {
	i := sort.Search(len(sp.spans), func(i int) bool { return sp.spans[i].end > p })
	if i < len(sp.spans) && sp.spans[i].open < p {
		return sp.spans[i], true
	}
	return splitSpan{}, false
}

// forbidden reports whether a cut at p would fall inside a fence line, or
// in or next to a code span's opening or closing run, or inside a run of
// backticks in its text, where no repair keeps the code whole.
func (sp *textSplitter) forbidden(p int) bool {
	i := sort.Search(len(sp.lines), func(i int) bool { return sp.lines[i][1] > p })
	if i < len(sp.lines) && sp.lines[i][0] <= p {
		return true
	}
	c, ok := sp.spanAt(p)
	return ok && (p <= c.open+c.n || p >= c.end-c.n || sp.s[p-1] == '`' && sp.s[p] == '`')
}

func (sp *textSplitter) avoided(p int) bool {
	i := sort.Search(len(sp.avoid), func(i int) bool { return sp.avoid[i][1] > p })
	return i < len(sp.avoid) && sp.avoid[i][0] <= p
}

// splitsEscape reports whether a cut at p falls inside a markdown escape:
// a backslash, not itself escaped, and the ASCII punctuation it escapes,
// which Discord would read as markup at the start of the next chunk.
func (sp *textSplitter) splitsEscape(p int) bool {
	s := sp.s
	if s[p-1] != '\\' || s[p] >= utf8.RuneSelf || !unicode.IsPunct(rune(s[p])) && !unicode.IsSymbol(rune(s[p])) {
		return false
	}
	slashes := 0
	for k := p - 1; k >= 0 && s[k] == '\\'; k-- {
		slashes++
	}
	return slashes%2 == 1
}

// cut returns where the chunk that starts at start ends, given room runes.
func (sp *textSplitter) cut(start, room int) int {
	s := sp.s
	type cand struct{ p, n int }
	none := cand{-1, 0}
	blank, nl, space, hard, hardAvoided, anyCut, inCluster, poor, poorInCluster := none, none, none, none, none, none, none, none, none
	lineBlank := start == 0 || s[start-1] == '\n'
	n := 0
	for p := start; p < len(s); {
		r, size := utf8.DecodeRuneInString(s[p:])
		p += size
		n++
		if n > room {
			break
		}
		if p == len(s) {
			return p
		}
		wasBlank := lineBlank
		switch r {
		case '\n':
			lineBlank = true
		case ' ', '\t', '\r':
		default:
			lineBlank = false
		}
		cost := n
		rep, repaired := sp.repairAt(p)
		if repaired {
			cost += rep.closeRunes
		}
		if cost > room || sp.forbidden(p) {
			continue
		}
		c := cand{p, n}
		whole := sp.clusters.boundary(p)
		if repaired && (strings.IndexByte("*_~", s[p-1]) >= 0 || sp.blankTail(p)) {
			// The added closing string would let Discord end emphasis
			// at that character, which the rest of s does not; or the
			// reopened block would hold no character.
			if whole {
				poor = c
			} else {
				poorInCluster = c
			}
			continue
		}
		if !whole {
			inCluster = c
			continue
		}
		anyCut = c
		if sp.avoided(p) {
			if !sp.splitsEscape(p) {
				hardAvoided = c
			}
			continue
		}
		switch next := s[p]; {
		case r == '\n':
			if wasBlank {
				blank = c
			}
			nl = c
		case (r == ' ' || r == '\t') && next != ' ' && next != '\t' && next != '\n' && next != '\r':
			space = c
		}
		if !sp.splitsEscape(p) {
			hard = c
		}
	}
	half := room / 2
	for _, c := range []cand{blank, nl, space} {
		if c.p >= 0 && c.n >= half {
			return c.p
		}
	}
	if best := max(blank.p, nl.p, space.p); best >= 0 {
		return best
	}
	for _, c := range []cand{hard, hardAvoided, anyCut, inCluster, poor, poorInCluster} {
		if c.p >= 0 {
			return c.p
		}
	}
	// Only code whose every break is forbidden fills the room.
	_, size := utf8.DecodeRuneInString(s[start:])
	return start + size
}

// graphemes marks the boundaries of the extended grapheme clusters of a
// text (Unicode Standard Annex #29, as github.com/rivo/uniseg finds them):
// bit p is set when a cut at byte offset p splits no cluster.
type graphemes []uint64

func newGraphemes(s string) graphemes {
	g := make(graphemes, len(s)/64+1)
	g.set(0)
	state := -1
	for pos := 0; pos < len(s); {
		// Two ASCII characters other than \r\n are two clusters
		// (UAX #29, GB3 and GB999): the common case, without uniseg.
		if pos+1 < len(s) && s[pos] < utf8.RuneSelf && s[pos+1] < utf8.RuneSelf && (s[pos] != '\r' || s[pos+1] != '\n') {
			pos++
			g.set(pos)
			state = -1
			continue
		}
		var cluster string
		cluster, _, _, state = uniseg.FirstGraphemeClusterInString(s[pos:], state)
		pos += len(cluster)
		g.set(pos)
	}
	return g
}

func (g graphemes) set(p int) { g[p/64] |= 1 << (p % 64) }

// boundary reports whether a cut at p splits no grapheme cluster.
func (g graphemes) boundary(p int) bool { return g[p/64]&(1<<(p%64)) != 0 }
