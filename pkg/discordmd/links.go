package discordmd

import (
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// links renders markdown links and images.
func (r *noteRenderer) links(s string) string {
	if !strings.Contains(s, "](") {
		return s
	}
	return noteReplace(noteLinkRe(), s, func(m []string) string {
		if m[1] == "!" {
			return r.link(m[2], m[3])
		}
		// Discord cannot nest links: an image or link in the text (a badge)
		// leaves its text.
		return r.link(noteLinkRe().ReplaceAllString(m[2], "$2"), m[3]) + m[4]
	})
}

// link renders a link or an image, protected. Discord shows only the text
// of a masked link [text](url), so a note could name one place and lead to
// another; Render therefore shows every target (issue 7, item 6):
//
//   - a link without text, or whose text is its URL, becomes the URL itself;
//   - a link to an upload of this project (<project>/uploads/<32 hex
//     digits>/<file>, a URL Render made absolute itself) stays a masked link
//     named after its file, [file](url), preceded by its text when that text
//     says more than the file name: "crash ([crash log.png](url))";
//   - any other link becomes its text followed by its URL in parentheses:
//     "the docs (<https://example.org/docs>)".
//
// The URL is shown by Link: an http(s) URL as <url> (Discord links
// it and shows it without the brackets), anything else as escaped text.
// Inside a table (a code block) the same shapes are written without any
// markup: "text (url)".
func (r *noteRenderer) link(text, target string) string {
	u := r.target(target)
	if len(u) >= 2 && u[0] == '<' && u[len(u)-1] == '>' {
		u = u[1 : len(u)-1]
	}
	t := strings.TrimSpace(text)
	plain := decodeEntities(r.expand(t))
	same := t == "" || plain == u
	if r.code {
		if same {
			return r.protect(u)
		}
		return r.protect(r.inline(t) + " (" + u + ")")
	}
	shown := Link(u)
	if name, ok := r.upload(u); ok {
		shown = "[" + Text(name) + "](" + noteMaskedTarget(u) + ")"
		same = same || strings.EqualFold(plain, name) || strings.EqualFold(plain, strings.TrimSuffix(name, path.Ext(name)))
	}
	if same {
		return r.protect(shown)
	}
	return r.protect(noteLeadEscape(r.discordSafe(r.inline(t))) + " (" + shown + ")")
}

// upload reports whether u is an upload of this project in either form,
// <uploads>/uploads/<32 hex digits>/<file> or <project>/uploads/<32 hex
// digits>/<file>, whose file name holds no "/", "\" or ":", and returns
// that name for link text. A base that is not a plain http(s) URL
// (noteUploadBase) has no uploads, so that the masked link Render writes
// cannot be broken by it.
func (r *noteRenderer) upload(u string) (string, bool) {
	for _, p := range []string{r.uploads, r.project} {
		if !noteUploadBase(p) {
			continue
		}
		rest, ok := strings.CutPrefix(u, p+"/uploads/")
		if !ok || !noteUploadPathRe().MatchString(rest) {
			continue
		}
		// Named after the file's segment as the link's target writes it,
		// so that the name is that segment or its decoded form; a name
		// that could pass for a URL or a path (https:%2F%2Fbank.example)
		// is no name: the link shows its URL.
		name := noteFileName(discordEncodeURL(rest[33:], noteMaskedEscaped))
		if strings.ContainsAny(name, "/\\:") {
			return "", false
		}
		return name, true
	}
	return "", false
}

// noteUploadBase reports whether p is a plain http(s) URL that uploads
// may be linked under in a masked link: valid UTF-8, and no query,
// fragment, white space, control character, bracket, parenthesis,
// backslash, angle bracket or placeholder rune.
func noteUploadBase(p string) bool {
	return noteHTTP(p) && utf8.ValidString(p) && !strings.ContainsAny(p, "?#()[]\uE000\uE001") &&
		discordEncodeURL(p, noteMaskedEscaped) == p
}

// noteMaskedEscaped lists what is percent-encoded in the target of a
// masked link, besides white space, control characters and the @ of
// @everyone and @here.
const noteMaskedEscaped = "\\" + noteURLEscaped

// noteMaskedTarget writes u as the target of a masked link: white space,
// control characters, backslashes and noteURLEscaped percent-encoded, and
// in <...> when it holds parentheses.
func noteMaskedTarget(u string) string {
	u = discordEncodeURL(u, noteMaskedEscaped)
	if strings.ContainsAny(u, "()") {
		return "<" + u + ">"
	}
	return u
}

// noteLeadEscape escapes what would make the rendered text of a link a
// block of its own when the link starts a line (in GitLab it does not): a
// leading "# " (also ## and ###), "> ", "- ", "-# ", "+ ", "* ", "1. " or
// "1) ", and a leading "(" that would complete a "[...](" before it. The
// text is followed by a space in the output, so "#" alone counts as "# ".
func noteLeadEscape(t string) string {
	spaceAt := func(i int) bool { return i >= len(t) || t[i] == ' ' || t[i] == '\t' }
	if t == "" {
		return t
	}
	n := 0
	switch c := t[0]; {
	case c == '(' || c == '>':
		return "\\" + t
	case c == '#':
		for n < len(t) && t[n] == '#' {
			n++
		}
		if spaceAt(n) {
			return "\\" + t
		}
	case c == '-' || c == '+' || c == '*':
		if spaceAt(1) || c == '-' && t[1] == '#' {
			return "\\" + t
		}
	case c >= '0' && c <= '9':
		for n < len(t) && t[n] >= '0' && t[n] <= '9' {
			n++
		}
		if n < len(t) && (t[n] == '.' || t[n] == ')') && spaceAt(n+1) {
			return t[:n] + "\\" + t[n:]
		}
	}
	return t
}

// target decodes and absolutizes a link target, keeping <...> around it.
// Code that GitLab does not see in a target (an href holding backticks) is
// put back as the text it was.
func (r *noteRenderer) target(t string) string {
	t = strings.TrimSpace(r.expand(t))
	if len(t) >= 2 && t[0] == '<' && t[len(t)-1] == '>' {
		return "<" + r.abs(decodeEntities(t[1:len(t)-1])) + ">"
	}
	return r.abs(decodeEntities(t))
}

// abs makes a GitLab-relative target absolute (see RenderWith).
func (r *noteRenderer) abs(u string) string {
	if r.uploads == "" || !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
		return u
	}
	if strings.HasPrefix(u, "/uploads/") {
		return r.uploads + u
	}
	if r.idPath != "" {
		for _, p := range []string{r.idRoot + r.idPath, r.idPath} {
			if rest, ok := strings.CutPrefix(u, p+"/uploads/"); ok {
				return r.uploads + "/uploads/" + rest
			}
		}
	}
	if r.origin == "" {
		return u
	}
	return r.origin + u
}

// noteOrigin returns the scheme and host of a URL.
func noteOrigin(p string) string {
	i := strings.Index(p, "://")
	if i < 0 {
		return ""
	}
	if j := strings.IndexByte(p[i+3:], '/'); j >= 0 {
		return p[:i+3+j]
	}
	return p
}

// noteFileName returns the file name a path segment stands for: the
// segment decoded, or the segment as it is when decoding fails or would
// bring what link text must not hold: invalid UTF-8, placeholder runes,
// link syntax, control characters, bidirectional controls (which could make
// "gnp.exe" read "exe.png") or nothing but white space.
func noteFileName(seg string) string {
	d, err := url.PathUnescape(seg)
	if err != nil || !utf8.ValidString(d) || strings.ContainsAny(d, "\uE000\uE001[]()") ||
		d != PlainText(d) || strings.TrimSpace(d) == "" {
		return seg
	}
	return d
}

// noteLinkText reduces nested links and images in a link text to their text.
func noteLinkText(s string) string {
	for range 3 {
		t := noteLinkRe().ReplaceAllString(s, "$2")
		if t == s {
			break
		}
		s = t
	}
	return strings.TrimSpace(decodeEntities(s))
}

// noteTrimURL splits trailing punctuation (and an unbalanced ")") off a bare URL.
func noteTrimURL(u string) (string, string) {
	end := len(u)
	for end > 0 {
		c := u[end-1]
		if strings.IndexByte(".,;:!?'*_~", c) >= 0 ||
			c == ')' && strings.Count(u[:end], "(") < strings.Count(u[:end], ")") {
			end--
			continue
		}
		break
	}
	return u[:end], u[end:]
}
