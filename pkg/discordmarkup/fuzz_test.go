package discordmarkup_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/discordmarkup"
	"github.com/sdesk/sdesk/pkg/gfm"
)

// This file holds the property tests. Their checker reads the input with
// its own model of Discord's markup: the package documentation's grammar
// written again as regular expressions (Discord's own rules where it has
// them), applied at every position from left to right the way Discord's
// parser applies its rules, without any code of the package.

// maxFuzzLen bounds the inputs the checker looks at (a Discord message
// holds at most 4000 characters); maxFuzzRun bounds runs of backticks, for
// which the model compiles one regular expression per length.
const (
	maxFuzzLen = 4096
	maxFuzzRun = 64
)

var (
	// tokenRe matches a well-formed token at the start of a string. The
	// submatches: 1 user ID, 2 role ID, 3 channel ID, 4 emoji name, 5
	// seconds, 6 style, 7 command name.
	tokenRe = regexp.MustCompile(`^<(?:@!?([0-9]{1,20})|@&([0-9]{1,20})|#([0-9]{1,20})|a?:([A-Za-z0-9_]{2,32}):[0-9]{1,20}` +
		`|t:(-?[0-9]+)(?::([tTdDfFsSR]))?` +
		`|/([-_'\pL\pN\p{Devanagari}\p{Thai}]{1,32}(?: [-_'\pL\pN\p{Devanagari}\p{Thai}]{1,32}){0,2}):[0-9]{1,20})>`)

	// escapeRe is Discord's escape rule (simple-markdown's
	// /^\\([^0-9A-Za-z\s])/). Go's \s is ASCII white space only, which
	// changes nothing here: a backslash matters only before '\\', '`' and
	// '<'.
	escapeRe = regexp.MustCompile(`^\\[^0-9A-Za-z\s]`)

	// codeBlockRe is Discord's code block rule
	// (/^```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][^]*?)\n*```/i; JavaScript's
	// /i without u folds only ASCII letters onto [a-z], so the class is
	// spelled out instead of using Go's (?i), which would fold 'ſ' and the
	// Kelvin sign too).
	codeBlockRe = regexp.MustCompile("^```(?:[A-Za-z0-9_+\\-.#]+?\n)?\n*[^\n][\\s\\S]*?\n*```")

	// dateRe matches a translated timestamp at the start of a string.
	dateRe = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})? UTC`)

	// digitsRe matches the digit runs that may be IDs.
	digitsRe = regexp.MustCompile(`[0-9]+`)

	// inlineRes caches inlineRe's expressions by length.
	inlineRes sync.Map
)

// The range of translated timestamps: years 1 to 9999.
var (
	firstSecond = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	lastSecond  = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// inlineRe returns Discord's inline code rule, ^(`+)([\s\S]*?[^`])\1(?!`),
// for an opening of exactly n backticks; submatch 1 is the code span (Go
// has no backreference or lookahead, so the closing run is spelled out and
// the character after it matched).
func inlineRe(n int) *regexp.Regexp {
	if re, ok := inlineRes.Load(n); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(fmt.Sprintf("^(`{%d}[\\s\\S]*?[^`]`{%d})(?:[^`]|$)", n, n))
	inlineRes.Store(n, re)
	return re
}

// token is a well-formed token of the input as the model reads it.
type token struct {
	start, end int
	kind       string // "user", "role", "channel", "emoji", "timestamp", "command"
	id, name   string // the ID (users, roles, channels) or the name (emoji, commands)
	secs       int64
	style      string
}

// span is s[start:end].
type span struct{ start, end int }

// readToken returns the well-formed token at the start of s, if any.
func readToken(s string) (token, bool) {
	m := tokenRe.FindStringSubmatch(s)
	if m == nil {
		return token{}, false
	}
	tok := token{end: len(m[0])}
	switch {
	case m[1] != "":
		tok.kind, tok.id = "user", m[1]
	case m[2] != "":
		tok.kind, tok.id = "role", m[2]
	case m[3] != "":
		tok.kind, tok.id = "channel", m[3]
	case m[4] != "":
		tok.kind, tok.name = "emoji", m[4]
	case m[5] != "":
		secs, err := strconv.ParseInt(m[5], 10, 64)
		if err != nil || secs < firstSecond || secs > lastSecond {
			return token{}, false
		}
		tok.kind, tok.secs, tok.style = "timestamp", secs, m[6]
	case m[7] != "":
		tok.kind, tok.name = "command", m[7]
	}
	return tok, true
}

// model reads s as Discord does: at each position, an escape, code (a code
// block, else a code span) or a token, else one byte of text. It returns
// the tokens and the spans that escapes and code cover.
func model(s string) (tokens []token, protected []span) {
	for p := 0; p < len(s); {
		rest := s[p:]
		switch rest[0] {
		case '\\':
			if loc := escapeRe.FindStringIndex(rest); loc != nil {
				protected = append(protected, span{p, p + loc[1]})
				p += loc[1]
				continue
			}
		case '`':
			if loc := codeBlockRe.FindStringIndex(rest); loc != nil {
				protected = append(protected, span{p, p + loc[1]})
				p += loc[1]
				continue
			}
			n := 0
			for n < len(rest) && rest[n] == '`' {
				n++
			}
			found := false
			for ; n >= 1 && !found; n-- {
				if m := inlineRe(n).FindStringSubmatchIndex(rest); m != nil {
					protected = append(protected, span{p, p + m[3]})
					p += m[3]
					found = true
				}
			}
			if found {
				continue
			}
		case '<':
			if tok, ok := readToken(rest); ok {
				tok.start, tok.end = p, p+tok.end
				tokens = append(tokens, tok)
				p = tok.end
				continue
			}
		}
		p++
	}
	return tokens, protected
}

// replacementLen checks that out starts with what tok must become, and
// returns its length.
func replacementLen(out string, tok token, n discordmarkup.Names) (int, error) {
	named := func(sigil string, names map[string]string, unknown string) string {
		if name := names[tok.id]; name != "" {
			return sigil + name
		}
		return sigil + unknown
	}
	var want string
	switch tok.kind {
	case "user":
		want = named("@", n.Users, "unknown-user")
	case "role":
		want = named("@", n.Roles, "unknown-role")
	case "channel":
		want = named("#", n.Channels, "unknown-channel")
	case "emoji":
		want = ":" + tok.name + ":"
	case "command":
		want = "/" + tok.name
	case "timestamp":
		m := dateRe.FindStringSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("want a date, got %.30q", out)
		}
		seconds := tok.style == "T" || tok.style == "S"
		if (m[1] != "") != seconds {
			return 0, fmt.Errorf("style %q: got %q, want seconds shown: %v", tok.style, m[0], seconds)
		}
		layout := "2006-01-02 15:04 UTC"
		if seconds {
			layout = "2006-01-02 15:04:05 UTC"
		}
		got, err := time.Parse(layout, m[0])
		if err != nil {
			return 0, fmt.Errorf("got %q: %v", m[0], err)
		}
		want := time.Unix(tok.secs, 0).UTC()
		if !seconds {
			want = want.Truncate(time.Minute)
		}
		if !got.Equal(want) {
			return 0, fmt.Errorf("got %q, want %v", m[0], want)
		}
		return len(m[0]), nil
	}
	if !strings.HasPrefix(out, want) {
		return 0, fmt.Errorf("want %q, got %.40q", want, out)
	}
	return len(want), nil
}

// checkTranslation states the rules of Translate(s, n) = out:
//
//  1. out is s with every token outside code and escapes replaced by its
//     translation: the text between the tokens is there, unchanged and in
//     order, and nothing else is;
//  2. every well-formed token in out overlaps a translation Translate
//     inserted, or is one the input holds in code or behind an escape.
func checkTranslation(s string, n discordmarkup.Names, out string) error {
	tokens, protected := model(s)
	type piece struct{ out, in, len int } // text copied from s[in:] to out[out:]
	var copied []piece
	var inserted []span
	q, prev := 0, 0
	for _, tok := range tokens {
		text := s[prev:tok.start]
		if !strings.HasPrefix(out[q:], text) {
			return fmt.Errorf("the text %q before the token %q at byte %d of the input is not at byte %d of the output", text, s[tok.start:tok.end], tok.start, q)
		}
		copied = append(copied, piece{q, prev, len(text)})
		q += len(text)
		size, err := replacementLen(out[q:], tok, n)
		if err != nil {
			return fmt.Errorf("token %q at byte %d: %v", s[tok.start:tok.end], tok.start, err)
		}
		inserted = append(inserted, span{q, q + size})
		q += size
		prev = tok.end
	}
	if out[q:] != s[prev:] {
		return fmt.Errorf("the output ends with %q after its last translation, want %q", out[q:], s[prev:])
	}
	copied = append(copied, piece{q, prev, len(s) - prev})

	for p := 0; p < len(out); p++ {
		if out[p] != '<' {
			continue
		}
		tok, ok := readToken(out[p:])
		if !ok {
			continue
		}
		end := p + tok.end
		fromName := false
		for _, in := range inserted {
			fromName = fromName || p < in.end && in.start < end
		}
		if fromName {
			continue
		}
		inPos := -1
		for _, c := range copied {
			if c.out <= p && p < c.out+c.len {
				inPos = c.in + p - c.out
			}
		}
		kept := false
		for _, pr := range protected {
			kept = kept || pr.start <= inPos && inPos < pr.end
		}
		if !kept {
			return fmt.Errorf("the output holds the token %q at byte %d (input byte %d), outside code and escapes and not from a translation", out[p:end], p, inPos)
		}
	}
	return nil
}

// ids returns the digit runs of s that can be IDs, each once.
func ids(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range digitsRe.FindAllString(s, -1) {
		if len(id) <= 20 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// fuzzNames names the IDs that s holds with the '|'-separated pieces of
// seed, each byte of a piece mapped through alphabet when one is given;
// every fifth ID stays unknown, and an empty piece gives an empty name.
func fuzzNames(s, seed string, alphabet []rune) discordmarkup.Names {
	n := discordmarkup.Names{Users: map[string]string{}, Roles: map[string]string{}, Channels: map[string]string{}}
	if seed == "" {
		return n
	}
	pieces := strings.Split(seed, "|")
	name := func(k int) string {
		p := pieces[k%len(pieces)]
		if alphabet == nil {
			return p
		}
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			b.WriteRune(alphabet[int(p[i])%len(alphabet)])
		}
		return b.String()
	}
	for k, id := range ids(s) {
		if k%5 == 4 {
			continue
		}
		n.Users[id], n.Roles[id], n.Channels[id] = name(k), name(k+1), name(k+2)
	}
	return n
}

// nameAlphabet is what FuzzTranslate's names are made of: no '<', so that
// no name holds a whole token, but the other characters of the markup,
// code and escapes, a line break and letters of two and three bytes.
var nameAlphabet = []rune("abcXYZ019 _-.:!&@#/>*`\\\n\té€")

func seedFuzz(f *testing.F) {
	for _, tt := range translateTests {
		f.Add(tt.in, "alice|bob||c@rol")
	}
	for _, s := range []string{
		"<@1> <@&2> <#3> <:ok:4> <a:ok:5> <t:6:R> </a b c:7>",
		"`<@1>` ``<@2>`` ```\n<@3>\n``` \\<@4> \\\\<@5>",
		"```js\n```<@1>``` <@2>", "``<@1>`<@2>`", "<<@1>><<#2>>",
		"<@1><@1><@1>" + strings.Repeat("`", 10) + "<@1>",
		benchMessage(600),
	} {
		f.Add(s, "")
		f.Add(s, "x|<#1>|`|\\|\n/close|@all")
	}
}

// FuzzTranslate checks Translate against the model: checkTranslation's
// two rules, with names drawn from nameAlphabet.
func FuzzTranslate(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, s, seed string) {
		if len(s) > maxFuzzLen || strings.Contains(s, strings.Repeat("`", maxFuzzRun+1)) {
			t.Skip()
		}
		n := fuzzNames(s, seed, nameAlphabet)
		out := discordmarkup.Translate(s, n)
		if err := checkTranslation(s, n, out); err != nil {
			t.Fatalf("Translate(%q, %v) = %q: %v", s, n, out, err)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("Translate(%q, %v) = %q is not valid UTF-8", s, n, out)
		}
	})
}

// FuzzTranslateDefused checks that whatever the text and the names (any
// bytes), the translation defused by gfm obeys gfm's rules.
func FuzzTranslateDefused(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, s, seed string) {
		if len(s) > maxFuzzLen {
			t.Skip()
		}
		n := fuzzNames(s, seed, nil)
		out := gfm.Defuse(discordmarkup.Translate(s, n))
		if err := gfm.Check(out); err != nil {
			t.Fatalf("Check(Defuse(Translate(%q, %v))) = Check(%q): %v", s, n, out, err)
		}
	})
}
