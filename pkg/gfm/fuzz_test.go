package gfm_test

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sdesk/sdesk/pkg/gfm"
)

// This file holds the property tests. Their checker, violation, states
// rules 1 to 3 of the package documentation again with plain loops,
// strings functions and a regular expression, without calling Check, so
// that Check is tested too.

// maxFuzzLen bounds the inputs the checker looks at: it is quadratic.
const maxFuzzLen = 4096

// entityWindow is how far the checker looks for a character reference.
const entityWindow = 64

// violation returns the byte offset and rule number of the first place of
// s that breaks rules 1 to 3, or -1, 0. Rule 3's '&' clause is checked
// with html.UnescapeString itself.
func violation(s string) (pos, rule int) {
	first := func(p, r int) {
		if pos < 0 || p < pos {
			pos, rule = p, r
		}
	}
	pos = -1
	// Rule 1: split at the line breaks, trim the leading white space.
	start := 0
	for i, r := range s + "\n" {
		if i < len(s) && !strings.ContainsRune("\n\r\v\f\u0085\u2028\u2029", r) {
			continue
		}
		line := s[start:min(i, len(s))]
		rest := strings.TrimLeftFunc(line, func(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' })
		if strings.HasPrefix(rest, "/") {
			first(start+len(line)-len(rest), 1)
		}
		start = i + utf8.RuneLen(r)
	}
	inURL := urlMask(s)
	for i := 0; i < len(s); i++ {
		next, _ := utf8.DecodeRuneInString(s[i+1:])
		escaped := byte(0)
		if i+2 < len(s) && s[i+1] == '\\' {
			escaped = s[i+2]
		}
		nameNext := unicode.IsLetter(next) || unicode.IsDigit(next) || strings.ContainsRune("_-.", next) ||
			escaped != 0 && strings.IndexByte("_-.", escaped) >= 0
		digitNext := i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'
		switch s[i] {
		case '@': // rule 2, URL spans included
			if nameNext {
				first(i, 2)
			}
		case '#', '!', '$':
			if digitNext && !inURL[i] {
				first(i, 3)
			}
		case '&':
			// Whether a character reference starts here is decided
			// within entityWindow bytes (the longest entity name is 32
			// characters; a numeric one is known by "&#" and a digit):
			// looking at no more keeps the checker linear.
			win := s[i:min(len(s), i+entityWindow)]
			if html.UnescapeString(win) != "&"+html.UnescapeString(win[1:]) || digitNext && !inURL[i] {
				first(i, 3)
			}
		case '~', '%':
			if (nameNext || next == '"' || escaped == '"') && !inURL[i] {
				first(i, 3)
			}
		case '[':
			if regexp.MustCompile(`^\[[a-z_]+:`).MatchString(s[i:]) {
				first(i, 3)
			}
		case '-':
			if !inURL[i] && strings.HasSuffix(s[:i], "GL") && (i == 2 || !regexp.MustCompile(`[A-Za-z0-9]`).MatchString(s[i-3:i-2])) && digitNext {
				first(i, 3)
			}
		}
	}
	return pos, rule
}

// urlStart matches, at the start of a string, the longest run that can be
// a URL span before its trailing punctuation is dropped.
var urlStart = regexp.MustCompile(`^https?://[^\t\n\v\f\r \x{85}\p{Z}<>"` + "`" + `|\[\]\\*_~$]*`)

// urlDomain matches a URL span's valid domain, followed by a character
// that cannot continue it or by the end.
var urlDomain = regexp.MustCompile(`^https?://(?:[A-Za-z0-9_-]+\.)*[A-Za-z0-9-]+\.[A-Za-z0-9-]+(?:[^A-Za-z0-9_.-]|$)`)

// urlMask marks the bytes of s that lie in a URL span: the union of the
// spans that start at any position.
func urlMask(s string) []bool {
	mask := make([]bool, len(s))
	for i := range s {
		prev, _ := utf8.DecodeLastRuneInString(s[:i])
		if i > 0 && !strings.ContainsRune("*_( \t\n\r\v\f", prev) {
			continue
		}
		m := urlStart.FindString(s[i:])
		if m == "" {
			continue
		}
		prefix := len("https://")
		if strings.HasPrefix(m, "http://") {
			prefix = len("http://")
		}
		for len(m) > prefix {
			last := m[len(m)-1]
			switch {
			case strings.IndexByte("?!.,:*_~'\"", last) >= 0:
				m = m[:len(m)-1]
				continue
			case last == ')' && strings.Count(m, ")") > strings.Count(m, "("):
				m = m[:len(m)-1]
				continue
			case last == ';':
				body := strings.TrimRightFunc(m[:len(m)-1], func(r rune) bool {
					return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
				})
				if len(body) < len(m)-1 && len(body) > prefix && strings.HasSuffix(body, "&") {
					m = body[:len(body)-1]
				} else {
					m = m[:len(m)-1]
				}
				continue
			}
			break
		}
		if !urlDomain.MatchString(m) {
			continue
		}
		for j := range m {
			mask[i+j] = true
		}
	}
	return mask
}

// obeys reports whether s obeys rules 1 to 3 over the text and over its
// decoded text.
func obeys(s string) bool {
	p, _ := violation(s)
	q, _ := violation(html.UnescapeString(s))
	return p < 0 && q < 0
}

func seed(f *testing.F) {
	for _, tt := range defuseTests {
		f.Add(tt.in)
	}
	for _, s := range []string{
		"```\n```\n/close\n```", "<details>\n\n/close\n\n</details>", "[x](<y\n\nz", "*a\n\nb*",
		"---\ntitle: x\n---\n/close", "a | b\n--|--\n/close | @all", "<!--", "x\\", "> a\n>>> b",
		"Title\n---", "- [ ] task\n- [x] done", "www.x.test/a_b_#12", "~~x~~ https://x.test/~u",
		"https://x.test/)(https://y.test/(x)", "&#x;@all", "\ufeff\u2028\u00a0/close",
	} {
		f.Add(s)
	}
}

func FuzzDefuse(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzLen {
			t.Skip()
		}
		d := gfm.Defuse(s)
		if p, r := violation(d); p >= 0 {
			t.Fatalf("Defuse(%q) = %q breaks rule %d at byte %d", s, d, r, p)
		}
		if u := html.UnescapeString(d); u != d {
			t.Fatalf("Defuse(%q) = %q decodes to %q", s, d, u)
		}
		if err := gfm.Check(d); err != nil {
			t.Fatalf("Check(Defuse(%q) = %q): %v", s, d, err)
		}
		if i := htmlStart(d); i >= 0 {
			t.Fatalf("Defuse(%q) = %q breaks rule 4 at byte %d", s, d, i)
		}
		if again := gfm.Defuse(d); again != d {
			t.Fatalf("Defuse not idempotent on %q: %q, then %q", s, d, again)
		}
		if undo(d) != undo(s) {
			t.Fatalf("Defuse(%q) = %q: without the joiners and %%40 it is %q, want %q", s, d, undo(d), undo(s))
		}
		if utf8.ValidString(s) && !utf8.ValidString(d) {
			t.Fatalf("Defuse(%q) = %q is not valid UTF-8", s, d)
		}
	})
}

// FuzzCheck compares Check with the checker on any text.
func FuzzCheck(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzLen {
			t.Skip()
		}
		err := gfm.Check(s)
		p, r := violation(s)
		if p < 0 && !obeys(s) {
			t.Fatalf("%q: no violation in the text but one in its decoded text %q", s, html.UnescapeString(s))
		}
		switch {
		case p < 0 && err != nil:
			t.Fatalf("Check(%q) = %v, want nil", s, err)
		case p >= 0 && err == nil:
			t.Fatalf("Check(%q) = nil, want rule %d at byte %d", s, r, p)
		case p >= 0:
			if want := fmt.Sprintf("rule %d (", r); !strings.Contains(err.Error(), want) {
				t.Fatalf("Check(%q) = %v, want %s…", s, err, want)
			}
			if want := fmt.Sprintf(" at byte %d ", p); !strings.Contains(err.Error(), want) {
				t.Fatalf("Check(%q) = %v, want …%s…", s, err, want)
			}
		}
	})
}

// htmlStart returns the offset of the first '<' followed by an ASCII
// letter, '/', '!' or '?', or -1.
func htmlStart(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if c := s[i+1]; s[i] == '<' && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("/!?", c) >= 0) {
			return i
		}
	}
	return -1
}
