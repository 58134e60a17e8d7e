package gfm

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// span is a byte range [start, end) of a string.
type span struct{ start, end int }

// urlStop holds the ASCII characters that end a URL span besides white
// space (see the package doc).
const urlStop = "<>\"`|[]\\*_~$"

// urlTrailing holds the characters GFM drops from the end of an autolink
// (cmark-gfm's autolink_delim also drops quotes).
const urlTrailing = "?!.,:*_~'\""

// urlSpans returns the URL spans of s in order; they do not overlap.
func urlSpans(s string) []span {
	var out []span
	for i := 0; i < len(s); {
		if s[i] == 'h' && urlBoundary(s, i) {
			if end, ok := urlSpanAt(s, i); ok {
				out = append(out, span{i, end})
				i = end
				continue
			}
		}
		i++
	}
	return out
}

// urlBoundary reports whether a URL span may start at s[i]: at the start,
// after ASCII white space, or after '*', '_' or '('.
func urlBoundary(s string, i int) bool {
	if i == 0 {
		return true
	}
	switch s[i-1] {
	case '*', '_', '(', ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// urlSpanAt returns the end of the URL span that starts at s[i], if one
// does.
func urlSpanAt(s string, i int) (int, bool) {
	var rest int // start of the domain
	switch {
	case strings.HasPrefix(s[i:], "https://"):
		rest = i + len("https://")
	case strings.HasPrefix(s[i:], "http://"):
		rest = i + len("http://")
	default:
		return 0, false
	}
	end, opens, closes := rest, 0, 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if unicode.IsSpace(r) || r < utf8.RuneSelf && strings.IndexByte(urlStop, byte(r)) >= 0 {
			break
		}
		switch r {
		case '(':
			opens++
		case ')':
			closes++
		}
		end += size
	}
trim:
	for end > rest {
		switch c := s[end-1]; {
		case strings.IndexByte(urlTrailing, c) >= 0:
			end--
		case c == ')' && closes > opens:
			closes--
			end--
		case c == ';':
			k := end - 1
			for k > rest && isASCIIAlnum(s[k-1]) {
				k--
			}
			if k < end-1 && k > rest && s[k-1] == '&' {
				end = k - 1
			} else {
				end--
			}
		default:
			break trim
		}
	}
	d := rest
	for d < end && (isASCIIAlnum(s[d]) || s[d] == '_' || s[d] == '-' || s[d] == '.') {
		d++
	}
	return end, validDomain(s[rest:d])
}

// validDomain reports whether d is segments of ASCII letters, digits, '_'
// and '-', separated by single periods, at least two, with no '_' in the
// last two.
func validDomain(d string) bool {
	segs := strings.Split(d, ".")
	if len(segs) < 2 {
		return false
	}
	for i, seg := range segs {
		if seg == "" || i >= len(segs)-2 && strings.Contains(seg, "_") {
			return false
		}
	}
	return true
}
