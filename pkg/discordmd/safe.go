package discordmd

import (
	"strconv"
	"strings"
)

// discordSafe escapes, in rendered prose (placeholders in it), the syntax
// that Discord has and GitLab has not, and what would let Discord read
// something across the code and links that Render wrote, so that a note
// reads in Discord as it does in GitLab:
//
//   - a "<" that would start a mention, a channel or command link, a
//     timestamp, a custom emoji or a guild link (<@, <#, </, <:, <t:, <a:,
//     <id:, <sound:) gets a backslash: it shows as written; so does a "<"
//     that no ">" of s follows before a placeholder (Discord's autolink,
//     which runs over line breaks, would end in what Render wrote, or in a
//     code block after s);
//   - every | of a || run gets a backslash, also when the second | starts
//     a placeholder: no spoiler hides text;
//   - every "[" gets a backslash, and "](" becomes "]\(": no masked link
//     forms except those Render wrote;
//   - every backtick gets a backslash: code starts only where Render wrote
//     it (GitLab's code spans are placeholders at this point);
//   - the ":" of a "://" (the "//" perhaps starting a placeholder) after a
//     letter gets a backslash when a placeholder or a "<" follows before
//     white space (noteURLRunsOn): Discord's URL
//     rule, which runs on to the next white space or "<", would take in what
//     Render wrote, or the backslash before the "<";
//   - "-#" at the start of a line (after white space and quote markers)
//     gets a backslash: no subtext;
//   - before a placeholder: an odd run of backslashes gets one more (it
//     would escape what Render wrote); an "@" gets a zero-width space when
//     the placeholder's text starts with everyone or here; a placeholder
//     ending with a backtick is kept apart from the next one starting with
//     one by a zero-width space (the runs would merge);
//   - a bare URL (bareURL) that Discord would run on into a placeholder or
//     up to a "<" (noteURLRunsOn) is put in <...>;
//   - a code block (a <code> element over several lines) gets the lines of
//     its own that Split needs to find its fences;
//   - any other placeholder whose last word holds a URL (noteEndsInURL: a
//     link, whose URL Split may leave bare by cutting it, or text
//     showing one) gets a space after it when Discord would run that URL on
//     into what follows (noteURLRunsOn).
//
// A character already escaped by an odd run of backslashes is left alone.
func (r *noteRenderer) discordSafe(s string) string {
	if strings.Contains(s, "-#") {
		s = noteSubtextRe().ReplaceAllString(s, "$1\\-#")
	}
	if !strings.ContainsAny(s, "<|([`:\\\uE000") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	var stop []int // stop[i]: the first ">" or placeholder at or after i
	slashes := 0   // backslashes just before s[i]
	tickEnd := -1  // the end of a placeholder whose text ends with a backtick
	for i := 0; i < len(s); i++ {
		c := s[i]
		if idx, end, ok := r.placeholderAt(s, i); ok {
			text := r.saved[idx]
			switch {
			case slashes%2 == 1:
				b.WriteByte('\\')
			case i > 0 && s[i-1] == '@' && discordMassMentionRe().MatchString(text):
				b.WriteString("\u200b")
			case tickEnd == i && strings.HasPrefix(text, "`"):
				b.WriteString("\u200b")
			}
			block := strings.HasPrefix(text, "```")
			if block && b.Len() > 0 && s[i-1] != '\n' {
				b.WriteByte('\n')
			}
			if r.bare[idx] && noteURLRunsOn(s[end:]) {
				b.WriteString("<" + s[i:end] + ">")
			} else {
				b.WriteString(s[i:end])
			}
			switch {
			case block && end < len(s) && s[end] != '\n' && s[end] != '\r':
				b.WriteByte('\n')
			case !r.bare[idx] && noteEndsInURL(text) && noteURLRunsOn(s[end:]):
				b.WriteByte(' ')
			}
			tickEnd = -1
			if strings.HasSuffix(text, "`") {
				tickEnd = end
			}
			slashes = 0
			i = end - 1
			continue
		}
		switch {
		case slashes%2 == 1:
		case c == '`', c == '[',
			c == '|' && (r.peek(s, i+1, 1) == "|" || i > 0 && s[i-1] == '|'),
			c == '(' && i > 0 && s[i-1] == ']',
			c == ':' && i > 0 && noteASCIILetter(s[i-1]) && r.peek(s, i+1, 2) == "//" && noteURLRunsOn(s[i+1:]):
			b.WriteByte('\\')
		case c == '<':
			if noteDiscordTagRe().MatchString(s[i:]) {
				b.WriteByte('\\')
				break
			}
			if stop == nil {
				stop = noteStops(s)
			}
			if j := stop[i+1]; j == len(s) || s[j] != '>' {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(c)
		if c == '\\' {
			slashes++
		} else {
			slashes = 0
		}
	}
	return b.String()
}

// peek returns up to n bytes of what s reads from s[i] on, with its
// placeholders put back.
func (r *noteRenderer) peek(s string, i, n int) string {
	var b strings.Builder
	for i < len(s) && b.Len() < n {
		if idx, end, ok := r.placeholderAt(s, i); ok {
			b.WriteString(r.saved[idx][:min(len(r.saved[idx]), n-b.Len())])
			i = end
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// placeholderAt reports whether a placeholder \uE000<n>\uE001 starts at
// s[i], and its index and end.
func (r *noteRenderer) placeholderAt(s string, i int) (idx, end int, ok bool) {
	if !strings.HasPrefix(s[i:], "\uE000") {
		return 0, 0, false
	}
	j := i + len("\uE000")
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j || !strings.HasPrefix(s[k:], "\uE001") {
		return 0, 0, false
	}
	n, err := strconv.Atoi(s[j:k])
	if err != nil || n >= len(r.saved) {
		return 0, 0, false
	}
	return n, k + len("\uE001"), true
}

// noteStops returns, for each i in 0..len(s), the index of the first ">"
// or placeholder start at or after i (len(s) when none).
func noteStops(s string) []int {
	stop := make([]int, len(s)+1)
	stop[len(s)] = len(s)
	for i := len(s) - 1; i >= 0; i-- {
		stop[i] = stop[i+1]
		if s[i] == '>' || strings.HasPrefix(s[i:], "\uE000") {
			stop[i] = i
		}
	}
	return stop
}

// noteURLRunsOn reports whether a URL that Discord links just before s
// would run on into a placeholder or up to a "<": its URL rule takes in
// everything up to white space or "<", so it would take in what Render wrote,
// or the backslash that escapes the "<".
func noteURLRunsOn(s string) bool {
	for _, r := range s {
		switch {
		case r == 0xE000, r == '<':
			return true
		case noteJSSpaceRune(r):
			return false
		}
	}
	return false
}

// noteEndsInURL reports whether the last word of s (after its last white
// space or "<") holds the start of a URL that Discord links: http://,
// https:// or steam://.
func noteEndsInURL(s string) bool {
	tail := s[strings.LastIndexFunc(s, func(r rune) bool { return r == '<' || noteJSSpaceRune(r) })+1:]
	return strings.Contains(tail, "http://") || strings.Contains(tail, "https://") || strings.Contains(tail, "steam://")
}

func noteASCIILetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
