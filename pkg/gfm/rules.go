package gfm

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// editKind is how Defuse repairs a finding.
type editKind int

const (
	joinBefore editKind = iota // insert U+200D before s[pos]
	joinAfter                  // insert U+200D after s[pos], an ASCII byte
	percent40                  // replace the '@' at s[pos] with "%40"
)

// finding is one place where s breaks a rule.
type finding struct {
	pos  int // byte offset of the offending ASCII character
	rule int // 1 to 4, as in the package documentation
	what string
	edit editKind
}

// scan calls visit for every finding in s, in order of position, until
// visit returns false. urls: URL spans count (Defuse, Check); without it,
// every reference is reported (Inline). rule4: report rule 4 too.
func scan(s string, urls, rule4 bool, visit func(finding) bool) {
	var spans []span
	if urls {
		spans = urlSpans(s)
	}
	sp := 0
	lineStart := true // only white space since the start of the line
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case size == 1: // invalid UTF-8: neither space nor a break
				lineStart = false
			case isLineBreak(r):
				lineStart = true
			case lineStart && isLeadingSpace(r):
			default:
				lineStart = false
			}
			i += size
			continue
		}
		if isLineBreak(rune(c)) {
			lineStart = true
			i++
			continue
		}
		if lineStart {
			if c == '/' {
				if !visit(finding{i, 1, `"/" begins a line`, joinBefore}) {
					return
				}
				lineStart = false
				i++
				continue
			}
			if isLeadingSpace(rune(c)) {
				i++
				continue
			}
			lineStart = false
		}
		for sp < len(spans) && spans[sp].end <= i {
			sp++
		}
		inURL := sp < len(spans) && spans[sp].start <= i
		var f finding
		switch c {
		case '@':
			if nameNext(s, i+1, false) {
				f = finding{i, 2, `"@" followed by a name character`, joinAfter}
				if inURL {
					f.edit = percent40
				}
			}
		case '#', '!', '$':
			if !inURL && digitNext(s, i+1) {
				f = finding{i, 3, `"` + s[i:i+1] + `" followed by a digit`, joinAfter}
			}
		case '&':
			if decodes(s, i) {
				f = finding{i, 3, `"&" starts a character reference`, joinAfter}
			} else if !inURL && digitNext(s, i+1) {
				f = finding{i, 3, `"&" followed by a digit`, joinAfter}
			}
		case '~', '%':
			if !inURL && nameNext(s, i+1, true) {
				f = finding{i, 3, `"` + s[i:i+1] + `" followed by a name character or '"'`, joinAfter}
			}
		case '<':
			if rule4 && i+1 < len(s) && isHTMLStart(s[i+1]) {
				f = finding{i, 4, `"<" followed by a letter, "/", "!" or "?"`, joinAfter}
			}
		case '[':
			if bracketRef(s, i+1) {
				f = finding{i, 3, `"[" followed by a reference type and ":"`, joinAfter}
			} else if rule4 && i+1 < len(s) && s[i+1] == '^' {
				f = finding{i, 4, `"[^" opens a footnote`, joinAfter}
			}
		case '-':
			if !inURL && i >= 2 && s[i-2:i] == "GL" && (i == 2 || !isASCIIAlnum(s[i-3])) && digitNext(s, i+1) {
				f = finding{i, 3, `"GL-" followed by a digit`, joinAfter}
			}
		}
		if f.rule != 0 && !visit(f) {
			return
		}
		i++
	}
}

// defuse applies the repair of every finding of scan(s, urls, true).
func defuse(s string, urls bool) string {
	var b strings.Builder
	last, changed := 0, false
	scan(s, urls, true, func(f finding) bool {
		if !changed {
			b.Grow(len(s) + 16*len(zwj))
			changed = true
		}
		switch f.edit {
		case joinBefore:
			b.WriteString(s[last:f.pos])
			b.WriteString(zwj)
			last = f.pos
		case joinAfter:
			b.WriteString(s[last : f.pos+1])
			b.WriteString(zwj)
			last = f.pos + 1
		case percent40:
			b.WriteString(s[last:f.pos])
			b.WriteString("%40")
			last = f.pos + 1
		}
		return true
	})
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isLineBreak reports whether r ends a line (see the package doc).
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// isLeadingSpace reports whether r may come before the '/' of rule 1.
func isLeadingSpace(r rune) bool { return unicode.IsSpace(r) || r == '\ufeff' }

func isNameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.'
}

// nameNext reports whether s[j:] starts with a name character, a
// backslash-escaped ASCII name character, or (quote) with '"' or `\"`.
func nameNext(s string, j int, quote bool) bool {
	if j >= len(s) {
		return false
	}
	switch c := s[j]; {
	case c == '\\':
		if j+1 < len(s) {
			switch s[j+1] {
			case '_', '-', '.':
				return true
			case '"':
				return quote
			}
		}
		return false
	case c == '"':
		return quote
	}
	r, _ := utf8.DecodeRuneInString(s[j:])
	return isNameRune(r)
}

// bracketRef reports whether s[j:] starts with one or more lower-case
// ASCII letters or '_' and then ':', as GitLab's [type:id] references do.
func bracketRef(s string, j int) bool {
	k := j
	for k < len(s) && ('a' <= s[k] && s[k] <= 'z' || s[k] == '_') {
		k++
	}
	return k > j && k < len(s) && s[k] == ':'
}

func digitNext(s string, j int) bool { return j < len(s) && '0' <= s[j] && s[j] <= '9' }

func isHTMLStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '/' || c == '!' || c == '?'
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// decodes reports whether html.UnescapeString decodes a character
// reference that starts at the '&' s[i]. The decoder reads at most '&', an
// optional '#', a run of ASCII letters and digits (the 'x' of a hexadecimal
// reference included) and an optional ';', and what follows them does not
// change its decision, so decoding exactly that candidate decides.
func decodes(s string, i int) bool {
	k := i + 1
	if k < len(s) && s[k] == '#' {
		k++
	}
	for k < len(s) && isASCIIAlnum(s[k]) {
		k++
	}
	if k < len(s) && s[k] == ';' {
		k++
	}
	cand := s[i:k]
	return html.UnescapeString(cand) != cand
}
