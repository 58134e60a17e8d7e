// Package emailquote removes the quoted tail of an e-mail reply: the
// earlier messages that mail clients (Gmail, Outlook, Apple Mail,
// Thunderbird, Zoho) append under the new text. GitLab's Service Desk posts
// a reply to an issue as a note by its Support Bot with that tail included
// (https://docs.gitlab.com/user/project/service_desk/); sdesk strips it
// before the note reaches Discord. Standard library only.
package emailquote

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// Strip removes the quoted tail of an e-mail reply as GitLab's Service
// Desk delivers it. The tail starts at the first of:
//
//   - an attribution line with a digit in it, also wrapped over two lines:
//     "On <date>, <name> <addr> wrote:", "Am ... schrieb ...:",
//     "Le ... a écrit :", "El ... escribió:", "Il ... ha scritto:",
//     "Op ... schreef ...:", "Em ... escreveu:", "W dniu ... napisał(a):";
//     it is skipped when a "> " quoted line after it is followed by new,
//     unquoted text (an inline reply);
//   - Zoho's inline "---- On ... wrote ----" (cut where it starts, even in
//     the middle of a line);
//   - "-----Original Message-----" (and its German, French, Spanish,
//     Italian, Dutch and Polish forms);
//   - Outlook's header block: a "From:" line (also **From:**, Von:, De:)
//     with a "Sent:" or "Date:" line (or Gesendet:, Envoyé:, ...) among the
//     next four lines, unless it follows a "Forwarded message" line;
//   - a separator line of 20 or more underscores;
//   - a signature introduced by a line that is exactly "-- ".
//
// A run of ">" quoted lines (blank lines allowed in between) at the very end
// is removed as well; quotes followed by new text are kept. These rules are
// applied until nothing changes, and trailing white space is trimmed. When
// that would leave nothing, the original body is returned unchanged.
func Strip(body string) string {
	cur := body
	for {
		next := quoteCutOnce(cur)
		if strings.TrimSpace(next) == "" {
			return body
		}
		if next == cur {
			return cur
		}
		cur = next
	}
}

var (
	quoteAttributionRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:On\s.+\swrote|Am\s.+\sschrieb(?:\s.+)?|Le\s.+\sa\s+écrit|El\s.+\sescribió|Il\s.+\sha\s+scritto|Op\s.+\sschreef(?:\s.+)?|Em\s.+\sescreveu|(?:W\s+dniu|Dnia)\s.+\s(?:napisał(?:\(a\)|a)?|pisze))[\s\x{00A0}\x{202F}]*:$`)
	})
	quoteIntroRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:On|Am|Le|El|Il|Op|Em|W\s+dniu|Dnia)\s`) })
	quoteZohoRe     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`-{2,}[ \t]*On\s.*\swrote[ \t]*-{2,}`) })
	quoteOriginalRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^-{2,}[ \t]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Wiadomość oryginalna)[ \t]*-{2,}$`)
	})
	quoteFromRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[*_]*(?:From|Von|De|Van|Da|Od)[*_]*[ \t]*:[*_]*[ \t]*\S`)
	})
	quoteSentRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[*_]*(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Fecha|Inviato|Verzonden|Wysłano)[*_]*[ \t]*:`)
	})
	quoteForwardRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)forwarded message|weitergeleitete nachricht|message transféré`)
	})
	quoteRuleRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^_{20,}$`) })
)

type quoteLine struct {
	start int    // byte offset in the body
	raw   string // without "\n" and a final "\r"
	text  string // trimmed
}

func quoteLines(s string) []quoteLine {
	var lines []quoteLine
	for start := 0; start < len(s); {
		end := strings.IndexByte(s[start:], '\n')
		next := len(s)
		if end < 0 {
			end = len(s)
		} else {
			end += start
			next = end + 1
		}
		raw := strings.TrimSuffix(s[start:end], "\r")
		lines = append(lines, quoteLine{start: start, raw: raw, text: strings.TrimSpace(raw)})
		start = next
	}
	return lines
}

func (l quoteLine) quoted() bool { return strings.HasPrefix(l.text, ">") }

// quoteCutOnce cuts s at the first quote marker, or else before a trailing
// run of quoted lines, and trims trailing white space.
func quoteCutOnce(s string) string {
	lines := quoteLines(s)
	inline := quoteInlineReplies(lines)
	cut := len(s)
	for i := range lines {
		if off, ok := quoteMarker(lines, inline, i); ok {
			cut = off
			break
		}
	}
	if cut == len(s) {
		if i := quoteTrailing(lines); i >= 0 {
			cut = lines[i].start
		}
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace)
}

// quoteMarker reports whether the quoted tail starts on line i, and where.
func quoteMarker(lines []quoteLine, inline []bool, i int) (int, bool) {
	l := lines[i]
	switch {
	case l.raw == "-- ":
		return l.start, true
	case quoteOriginalRe().MatchString(l.text), quoteRuleRe().MatchString(l.text):
		return l.start, true
	}
	if loc := quoteZohoRe().FindStringIndex(l.raw); loc != nil {
		return l.start + loc[0], true
	}
	if quoteFromRe().MatchString(l.text) && !quoteForwarded(lines, i) {
		for k := i + 1; k < len(lines) && k <= i+4; k++ {
			if quoteSentRe().MatchString(lines[k].text) {
				return l.start, true
			}
		}
	}
	if !quoteIntroRe().MatchString(l.text) {
		return 0, false
	}
	after := -1
	if strings.ContainsAny(l.text, "0123456789") && quoteAttributionRe().MatchString(l.text) {
		after = i + 1
	} else if i+1 < len(lines) && lines[i+1].text != "" {
		joined := l.text + " " + lines[i+1].text
		if strings.ContainsAny(joined, "0123456789") && quoteAttributionRe().MatchString(joined) {
			after = i + 2
		}
	}
	if after < 0 || inline[after] {
		return 0, false
	}
	return l.start, true
}

func quoteForwarded(lines []quoteLine, i int) bool {
	for k := i - 1; k >= 0 && k >= i-2; k-- {
		if lines[k].text != "" {
			return quoteForwardRe().MatchString(lines[k].text)
		}
	}
	return false
}

// quoteInlineReplies reports for each line i (and len(lines)) whether a
// quoted line from i on is followed by new, unquoted text before any "-- "
// signature line: an inline reply.
func quoteInlineReplies(lines []quoteLine) []bool {
	inline := make([]bool, len(lines)+1)
	textAfter := false // an unquoted line follows, before any signature
	for k := len(lines) - 1; k >= 0; k-- {
		l := lines[k]
		switch {
		case l.raw == "-- ":
			textAfter = false
		case l.text == "":
			inline[k] = inline[k+1]
		case l.quoted():
			inline[k] = textAfter || inline[k+1]
		default:
			inline[k] = inline[k+1]
			textAfter = true
		}
	}
	return inline
}

// quoteTrailing returns the first line of the trailing run of quoted lines,
// or -1.
func quoteTrailing(lines []quoteLine) int {
	i := len(lines) - 1
	for i >= 0 && lines[i].text == "" {
		i--
	}
	first := -1
	for ; i >= 0 && (lines[i].text == "" || lines[i].quoted()); i-- {
		if lines[i].quoted() {
			first = i
		}
	}
	return first
}
