package discordmd

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Render is RenderWith(body, Links{Project: projectURL}): the
// project's uploads are linked under its path, as GitLab served them
// before 17.2.
func Render(body, projectURL string) string {
	return RenderWith(body, Links{Project: projectURL})
}

// Links says where the GitLab-relative links of a note lead.
type Links struct {
	// Project is the project's web URL, such as
	// https://gitlab.example.com/acme/support (a trailing slash is
	// ignored). "/..." targets are made absolute under its scheme and host.
	Project string
	// Uploads is the URL under which GitLab serves the project's uploads
	// as <Uploads>/uploads/<secret>/<file> (sdesk.GitLab.UploadsURL), such as
	// https://gitlab.example.com/-/project/4242 on GitLab 17.2 and later
	// (a trailing slash is ignored). "" or anything but a plain http(s) URL
	// (valid UTF-8; no query, fragment, white space, control character,
	// bracket, parenthesis, backslash or angle bracket) means Project.
	Uploads string
}

// RenderWith converts the GitLab Flavored Markdown of a note
// (https://docs.gitlab.com/user/markdown/) into text that reads well in
// Discord markdown (https://support.discord.com/hc/en-us/articles/210298617),
// with its links made absolute by links. Its output may be longer than
// Discord's limits: Split cuts it.
//
// Code shows in Discord as the code it is in GitLab, and nothing in it
// shows as markdown (issue 7, item 6). Discord ends a code block at the
// first ``` after its start, on whatever line, and knows no other fence, so:
//
//   - A fenced code block (``` or ~~~ of any length, also inside lists
//     and quotes; an unclosed one runs to the end; fence.go holds the
//     rules) is written with ``` fences and keeps its content, but every
//     run of three or more backticks in it gets a zero-width space after
//     each second backtick. Its language is the info string's first word
//     when Discord reads it as one (letters, digits and _ + - . #, at most
//     32), else none; the rest of the info string is dropped. In a block quote, each of its lines starts with
//     "> " (the content without its own quote markers), so that Discord's
//     quote holds the whole block. $$ display math $$, tables and a <code>
//     element over several lines (on lines of its own) become such blocks.
//   - An inline code span keeps its text, on one line (GitLab shows its line
//     breaks as spaces), between one or two backticks as Discord needs:
//     one when the text holds no lone backtick, else two, runs of exactly
//     two backticks in the text then broken by a zero-width space; a space
//     pads a text that starts or ends with a backtick. Spans of one or two
//     backticks on one line, as most are, are copied unchanged.
//   - Every other backtick gets a backslash, so that no code span or block
//     starts where GitLab has none.
//   - Discord looks for the end of emphasis, strong, underline and
//     strike-through in whatever follows, code included: a "*", "_" or "~"
//     from which one of these would end inside code gets a backslash (in a
//     URL it is percent-encoded), as does every one of a run of four or more
//     when code holding that character follows.
//
// Everywhere else:
//
//   - Links and images: "/uploads/..." targets are made absolute under
//     links.Uploads, and so are "/-/project/<id>/uploads/..." targets
//     (with or without its relative URL root) when links.Uploads is that
//     project's ID form; other "/..." targets are made absolute under
//     links.Project's scheme and host. No link hides its target (Discord
//     shows only the text of [text](url)): a
//     link becomes its text followed by its URL, "docs (<https://...>)",
//     or the URL alone when the text is the URL or empty; an upload of the
//     project (<Uploads or Project>/uploads/<32 hex digits>/<file>, either
//     form) stays a masked link named after its file, "[shot.png](url)",
//     after the text when the text is more than the file name, unless the
//     name holds a "/", "\" or ":" and could pass for a URL or path: then
//     the URL is shown like any other. An image is
//     a link like the others, its alt text being its text; GitLab's
//     {width=...} attributes and link titles are dropped. Bare
//     "/uploads/<secret>/<file>" paths and bare GitLab paths that contain
//     or start with "/-/" are made absolute too.
//   - References: ~label and ~"two words" become `label` and `two words`
//     (a label must start with a letter or _, so ~10min stays; a label
//     holding code or a link stays as written); #12, @user and :emoji: are
//     left as they are. @everyone and @here (any case) get a zero-width
//     space after the @ wherever they are outside code: after a letter too,
//     as in a@everyone (Discord starts a mention at any @), and when the @
//     comes before a link whose text starts with everyone; in a URL the @ is
//     percent-encoded as %40 instead.
//   - URLs that Render shows (bare, <...>, link targets) have white space,
//     < > [ ] | and backticks percent-encoded, and the ":" of every "://"
//     after the first: a URL cut in two messages by Split leaves no
//     markup and starts no link of its own. A bare URL that Discord would
//     run on into code or a link Render wrote, or up to a "<" (its URL rule
//     stops only at white space or "<", taking in the backslash of "\<"),
//     is put in <...>; a link, or text ending in a URL, gets a space after
//     it then.
//   - Discord-only syntax is shown as written: a "<" starting a mention,
//     channel or command link, timestamp, custom emoji or guild link, a "<"
//     that no ">" of the same text follows before code or a link (Discord's
//     autolink runs over line breaks), the pipes of a || spoiler, "-#"
//     subtext at the start of a line, every "[" and any "](" that Render did
//     not write, and the ":" of a "://" after which Discord would link what
//     Render wrote get a backslash; a backslash that would escape what
//     Render wrote after it gets another.
//   - HTML: <br> and <hr> become a line break, <details><summary>S</summary>
//     becomes **S** and a newline, <b>/<strong> **, <i>/<em> *, <s>/<del>
//     ~~, <u>/<ins> __, <h1>-<h6> **...**, <li> "- ", <code> a code span
//     (a fenced block when it spans lines), <a href="u">t</a> and
//     <img>/<video> a link, </p> a blank line, other block elements end
//     with a newline; comments are removed and other known HTML tags are
//     stripped, keeping their text.
//     Unknown <words> (placeholders, e-mail addresses, autolinks) are kept.
//   - Character references are decoded outside code, as GitLab decodes
//     them (decodeEntities): the named ones of HTML5 (&amp;, &lt;, &copy;,
//     ...; &nbsp; as a plain space) and numeric ones, each ending with ";".
//     What they decode to is text like any other: a decoded "[", "`", "<"
//     or "@everyone" is escaped or defused as above.
//   - GitLab-only syntax: lines holding only [[_TOC_]] or [TOC] are removed;
//     task list items "- [ ] x" and "- [x] x" become "- ☐ x" and "- ☑ x";
//     #### to ###### headings become **bold** lines (Discord renders only
//     #, ## and ###); $$ display math $$ becomes a ```math block and inline
//     $$math$$ (unless it holds code or a link) or $`math`$ a code span; a
//     table becomes a ``` block with its columns aligned by display width
//     (uniseg.StringWidth: a wide East Asian character or an emoji
//     sequence takes two columns, a combining mark or a zero-width
//     character none) and its cells rendered like the rest, one line
//     each, links as "text (url)".
//
// Runs of blank lines outside code are collapsed to one. No text is dropped
// except HTML comments, the TOC markers and markup.
func RenderWith(body string, links Links) string {
	r := &noteRenderer{project: strings.TrimRight(links.Project, "/")}
	r.origin = noteOrigin(r.project)
	r.uploads = r.project
	if u := strings.TrimRight(links.Uploads, "/"); noteUploadBase(u) {
		r.uploads = u
		if m := noteIDFormRe().FindStringSubmatch(u); m != nil {
			r.idRoot, r.idPath = m[1], m[2]
		}
	}
	var out strings.Builder
	out.Grow(len(body) + len(body)/8)
	for _, b := range mdBlocks(body) {
		switch b.kind {
		case mdFence:
			out.WriteString(renderFence(b))
		case mdMath:
			out.WriteString(renderMath(b))
		case mdTable:
			out.WriteString(r.table(b.lines))
		default:
			out.WriteString(r.prose(strings.Join(b.lines, "")))
		}
	}
	return noteEmphasisSafe(out.String())
}

var (
	noteSentinelRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("\uE000([0-9]+)\uE001") })
	noteCodeOpenRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^<code(?:\s[^<>]*)?>`) })
	noteCodeEndRe  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)</code\s*>`) })
	noteAnchorRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)<a(\s[^<>]*)?>(.*?)</a\s*>`) })
	noteMediaRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)<(?:img|video)(\s[^<>]*)?>`) })
	noteSummaryRe  = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?is)<summary(?:\s[^<>]*)?>(.*?)</summary\s*>[ \t]*\n?`)
	})
	noteAttrRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile("([A-Za-z_:][-A-Za-z0-9_:.]*)\\s*=\\s*(?:\"([^\"]*)\"|'([^']*)'|([^\\s\"'=<>`]+))")
	})
	noteTagRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile("</?([A-Za-z][A-Za-z0-9]*)(?:\\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\\s*=\\s*(?:\"[^\"]*\"|'[^']*'|[^\\s\"'=<>`]+))?)*\\s*/?>")
	})
	noteLinkRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(!?)\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]\([ \t]*(<[^<>\n\x{E000}\x{E001}]*>|(?:[^\s()<>\x{E000}\x{E001}]|\([^\s()<>\x{E000}\x{E001}]*\))*)(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)(\{[^{}\n]*\})?`)
	})
	noteRefDefRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^([ \t]{0,3}\[[^\[\]\n]+\]:[ \t]*)(<[^<>\n]*>|[^\s\x{E000}\x{E001}]+)`)
	})
	noteAutoRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`<((?i:https?|ftp|mailto):[^\s<>\x{E000}\x{E001}]*)>`)
	})
	noteURLRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\bhttps?://[^` + noteJSSpace + `<>"\x{E000}\x{E001}]+`)
	})
	notePathRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(^|[\s(\[])(/(?:uploads/[0-9a-fA-F]{32}/[^\s<>()\[\]"\x{E000}\x{E001}]+|(?:[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*/)?-/[^\s<>()\[\]"\x{E000}\x{E001}]+))`)
	})
	noteTOCRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?im)^[ \t]*(?:\[\[_TOC_\]\]|\[TOC\])[ \t]*\r?(?:\n|$)`)
	})
	noteTaskRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^([ \t>]*(?:[-*+]|[0-9]{1,9}[.)])[ \t]+)\[([ xX])\]([ \t]|\r?$)`)
	})
	noteHeadingRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?m)^([ \t]{0,3})#{4,6}[ \t]+([^\n]*?)(?:[ \t]+#+)?[ \t]*(\r?)$`)
	})
	noteMathRe     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\$([^$\n]+)\$\$`) })
	noteDollarRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("\\$(\uE000[0-9]+\uE001)\\$") })
	noteBlankRunRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\n[ \t\r]*\n(?:[ \t\r]*\n)+`) })
	noteLabelRe    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile("(^|[^\\w~`\\\\/])~(?:\"([^\"\\n]+)\"|([A-Za-z_][A-Za-z0-9_\\-?.&]*(?:::[A-Za-z0-9_\\-?.&]+)*))")
	})
	entityRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`&(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});`)
	})
	noteMentionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)@(?:everyone|here)`) })
	noteUploadRe  = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?:^|/)uploads/([0-9a-fA-F]{32})/([^/?#\s]+)(?:[?#].*)?$`)
	})
	noteUploadPathRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9a-fA-F]{32}/[^/?#]+$`) })
	noteIDFormRe     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?i:https?)://[^/]+(/.*)?(/-/project/[0-9]+)$`) })
	noteSubtextRe    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^([ \t>]*)-#`) })
	noteDiscordTagRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^<(?:[@#:/]|(?i:t|a|id|sound):)`) })
)

// noteBlockTags end with a newline; noteKnownTags are stripped (keeping their
// text) unless handled by name in htmlTags.
var (
	noteBlockTags = setOf("div", "tr", "table", "ul", "ol", "blockquote", "pre",
		"details", "dl", "dt", "dd", "section", "article", "header", "footer",
		"figure", "figcaption", "nav", "main", "aside", "center", "thead", "tbody", "tfoot")
	noteKnownTags = setOf("a", "abbr", "b", "bdi", "bdo", "big", "br", "caption", "cite",
		"code", "col", "colgroup", "data", "del", "dfn", "em", "font", "h1", "h2", "h3",
		"h4", "h5", "h6", "hr", "i", "img", "input", "ins", "kbd", "label", "li", "mark",
		"p", "picture", "q", "rp", "rt", "ruby", "s", "samp", "small", "source", "span",
		"strike", "strong", "sub", "summary", "sup", "td", "th", "time", "tt", "u",
		"var", "video", "audio", "wbr")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// noteRenderer renders prose. Text that later steps must not touch (code,
// finished links, URLs) is swapped for a placeholder \uE000<n>\uE001 and put
// back at the end; sentinels already in the input are protected the same
// way, so every sentinel in the working text is a placeholder.
type noteRenderer struct {
	project, origin string
	// uploads is where the project's uploads are served (Links.Uploads
	// when usable, else project); idRoot and idPath split it when it is
	// the ID form: "/gitlab" and "/-/project/4242" (idPath "" otherwise).
	uploads, idRoot, idPath string
	saved                   []string
	bare                    map[int]bool // saved[i] is a bare URL (bareURL)
	code                    bool         // rendering table cells, which end up in a code block
}

func (r *noteRenderer) protect(s string) string {
	r.saved = append(r.saved, r.expand(s))
	return "\uE000" + strconv.Itoa(len(r.saved)-1) + "\uE001"
}

func (r *noteRenderer) expand(s string) string {
	if !strings.Contains(s, "\uE000") {
		return s
	}
	return noteSentinelRe().ReplaceAllStringFunc(s, func(m string) string {
		i, err := strconv.Atoi(m[len("\uE000") : len(m)-len("\uE001")])
		if err != nil || i >= len(r.saved) {
			return m
		}
		return r.saved[i]
	})
}

func (r *noteRenderer) prose(s string) string {
	s = r.protectSpans(s)
	s = r.html(s)
	s = r.links(s)
	s = noteReplace(noteRefDefRe(), s, func(m []string) string {
		u := r.target(m[2])
		if len(u) >= 2 && u[0] == '<' && u[len(u)-1] == '>' {
			if u = u[1 : len(u)-1]; noteHTTP(u) {
				return m[1] + r.protect(Link(u))
			}
			return m[1] + r.protect(Text("<"+u+">"))
		}
		return m[1] + r.bareURL(u)
	})
	s = noteReplace(noteAutoRe(), s, func(m []string) string {
		return r.protect("<" + discordEncodeURL(decodeEntities(m[1]), noteURLEscaped) + ">")
	})
	s = noteReplace(noteURLRe(), s, func(m []string) string {
		u, tail := noteTrimURL(m[0])
		return r.bareURL(decodeEntities(u)) + tail
	})
	if r.uploads != "" {
		s = noteReplace(notePathRe(), s, func(m []string) string {
			p, tail := noteTrimURL(m[2])
			return m[1] + r.bareURL(r.abs(p)) + tail
		})
	}
	s = noteTOCRe().ReplaceAllString(s, "")
	s = noteReplace(noteTaskRe(), s, func(m []string) string {
		box := "☑"
		if m[2] == " " {
			box = "☐"
		}
		return m[1] + box + m[3]
	})
	s = noteReplace(noteHeadingRe(), s, func(m []string) string {
		if strings.TrimSpace(m[2]) == "" {
			return m[0]
		}
		return m[1] + "**" + m[2] + "**" + m[3]
	})
	s = noteReplace(noteMathRe(), s, func(m []string) string {
		if strings.Contains(m[1], "\uE000") {
			return m[0] // code or a link inside: not math
		}
		return r.protect(codeSpan(strings.TrimSpace(m[1])))
	})
	s = noteDollarRe().ReplaceAllString(s, "$1")
	s = noteBlankRunRe().ReplaceAllString(s, "\n\n")
	s = r.inline(s)
	if !r.code {
		s = r.discordSafe(s)
	}
	return r.expand(s)
}

// bareURL protects u, a URL that the note shows as it is: an http(s) URL
// as Discord links it, with white space, noteURLEscaped and the @ of
// @everyone and @here percent-encoded (discordSafe puts it in <...> when
// Discord would run it on into what follows); anything else as Text.
func (r *noteRenderer) bareURL(u string) string {
	if !noteHTTP(u) {
		return r.protect(Text(u))
	}
	p := r.protect(discordEncodeURL(u, noteURLEscaped))
	if r.bare == nil {
		r.bare = map[int]bool{}
	}
	r.bare[len(r.saved)-1] = true
	return p
}

// noteSpan is a part of prose that markdown does not parse further: a code
// span, an HTML comment, a <code> element or a sentinel rune.
type noteSpan struct {
	start, end           int
	kind                 int
	innerStart, innerEnd int
}

const (
	spanCode = iota
	spanComment
	spanCodeElem
	spanSentinel
)

func noteSpans(s string) []noteSpan {
	var spans []noteSpan
	// The searches for closers below never rescan text, so that hostile
	// input (thousands of unclosed "<!--", "<code>" or backtick runs) stays
	// linear (gitlabCode finds a closing run by binary search).
	lastComment := strings.LastIndex(s, "-->")
	var codeEnds [][]int
	if strings.Contains(s, "</") {
		codeEnds = noteCodeEndRe().FindAllStringIndex(s, -1)
	}
	var code *gitlabCode // made at the first backtick
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && noteIsPunct(s[i+1]):
			i += 2
		case c == '`':
			if code == nil {
				g := newGitLabCode(s)
				code = &g
			}
			n := tickRun(s, i)
			end := code.spanEnd(i+n, n)
			if end < 0 {
				i += n
				continue
			}
			spans = append(spans, noteSpan{start: i, end: end, kind: spanCode})
			i = end
		case c == '<' && strings.HasPrefix(s[i:], "<!--"):
			if lastComment < i+4 {
				i += 4
				continue
			}
			j := i + 4 + strings.Index(s[i+4:], "-->") + 3
			spans = append(spans, noteSpan{start: i, end: j, kind: spanComment})
			i = j
		case c == '<' && len(s)-i >= 5 && strings.EqualFold(s[i:i+5], "<code"):
			open := noteCodeOpenRe().FindStringIndex(s[i:])
			for len(codeEnds) > 0 && open != nil && codeEnds[0][0] < i+open[1] {
				codeEnds = codeEnds[1:]
			}
			if open == nil || len(codeEnds) == 0 {
				i++
				continue
			}
			spans = append(spans, noteSpan{start: i, end: codeEnds[0][1], kind: spanCodeElem,
				innerStart: i + open[1], innerEnd: codeEnds[0][0]})
			i = codeEnds[0][1]
		case c == 0xEE && (strings.HasPrefix(s[i:], "\uE000") || strings.HasPrefix(s[i:], "\uE001")):
			spans = append(spans, noteSpan{start: i, end: i + 3, kind: spanSentinel})
			i += 3
		default:
			i++
		}
	}
	return spans
}

func noteIsPunct(c byte) bool {
	return c < utf8.RuneSelf && unicode.IsPunct(rune(c)) || strings.IndexByte("$+<=>^`|~", c) >= 0
}

// noteMaskSpans blanks code spans, comments and <code> elements.
func noteMaskSpans(s string) string {
	spans := noteSpans(s)
	if len(spans) == 0 {
		return s
	}
	b := []byte(s)
	for _, sp := range spans {
		for i := sp.start; i < sp.end; i++ {
			b[i] = ' '
		}
	}
	return string(b)
}

func (r *noteRenderer) protectSpans(s string) string {
	spans := noteSpans(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		switch sp.kind {
		case spanComment:
			// A comment alone on its line takes the line with it.
			if sp.start == 0 || s[sp.start-1] == '\n' {
				sp.end += noteNewlineAt(s, sp.end)
			}
		case spanCodeElem:
			if code := noteCodeElement(s[sp.innerStart:sp.innerEnd]); code != "" {
				b.WriteString(r.protect(code))
			}
		default:
			b.WriteString(r.protect(gitlabSpan(s[sp.start:sp.end])))
		}
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// noteCodeElement renders the content of an HTML <code> element.
func noteCodeElement(inner string) string {
	inner = decodeEntities(noteStripTags(inner))
	if strings.Contains(inner, "\n") {
		return codeBlock("", strings.Trim(inner, "\r\n")+"\n")
	}
	return codeSpan(inner)
}

// inline renders label references (as protected code spans), entities and
// @everyone/@here.
func (r *noteRenderer) inline(s string) string {
	if strings.Contains(s, "~") {
		s = noteReplace(noteLabelRe(), s, func(m []string) string {
			if strings.Contains(m[0], "\uE000") {
				return m[0] // code or a link inside: not a label
			}
			if m[2] != "" {
				return m[1] + r.protect(codeSpan(m[2]))
			}
			name := strings.TrimRight(m[3], ".?&")
			return m[1] + r.protect(codeSpan(name)) + m[3][len(name):]
		})
	}
	return noteDefuse(decodeEntities(s))
}

// decodeEntities decodes the character references in s as GitLab does in
// text (CommonMark 0.31.2, "Entity and numeric character references",
// https://spec.commonmark.org/0.31.2/#entity-and-numeric-character-references):
// an HTML5 named reference or a numeric one of 1 to 7 decimal or 1 to 6
// hexadecimal digits, each ending with ";", decoded by html.UnescapeString.
// A named reference decoding to a no-break space becomes a plain space; a
// numeric one naming no character (&#0;, a surrogate, past U+10FFFF), one
// naming a placeholder rune (U+E000, U+E001) and a name of which only a
// prefix is a reference (&notit;, which HTML reads as "¬it;") are kept as
// written.
func decodeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return entityRe().ReplaceAllStringFunc(s, func(ref string) string {
		d := html.UnescapeString(ref)
		switch {
		case d == ref, strings.HasSuffix(d, ref[len(ref)-2:]):
			return ref // no reference, or only a prefix of the name is one
		case strings.ContainsAny(d, "\uE000\uE001"):
			return ref
		case ref[1] != '#' && d == "\u00a0":
			return " "
		case ref[1] == '#' && d == "\uFFFD":
			// html.UnescapeString's U+FFFD for a reference to no
			// character: kept, unless it names U+FFFD itself.
			digits, base := ref[2:len(ref)-1], 10
			if digits[0] == 'x' || digits[0] == 'X' {
				digits, base = digits[1:], 16
			}
			if n, err := strconv.ParseInt(digits, base, 32); err != nil || n != 0xFFFD {
				return ref
			}
		}
		return d
	})
}

// noteDefuse puts a zero-width space after the @ of every @everyone and
// @here (any case): Discord starts a mention at any @ (its mention rule,
// ^<@!?(\d+)>|^(@(?:everyone|here)), is tried after a letter too, so an
// e-mail address is no exception).
func noteDefuse(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return noteMentionRe().ReplaceAllStringFunc(s, func(m string) string { return "@\u200b" + m[1:] })
}

// noteReplace is ReplaceAllStringFunc with submatches (unmatched groups "").
func noteReplace(re *regexp.Regexp, s string, fn func(m []string) string) string {
	locs := re.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, loc := range locs {
		m := make([]string, len(loc)/2)
		for g := range m {
			if loc[2*g] >= 0 {
				m[g] = s[loc[2*g]:loc[2*g+1]]
			}
		}
		b.WriteString(s[last:loc[0]])
		b.WriteString(fn(m))
		last = loc[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
