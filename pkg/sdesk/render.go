package sdesk

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file turns GitLab note bodies into Discord messages: RenderNote and
// RenderNoteWith (GitLab-flavoured markdown to Discord markdown), Uploads
// (the attachments a note links to), StripEmailQuote (the quoted tail of a
// Service Desk email reply) and SplitText (chunks that fit Discord's length
// limits).

// RenderNote is RenderNoteWith(body, NoteLinks{Project: projectURL}): the
// project's uploads are linked under its path, as GitLab served them
// before 17.2.
func RenderNote(body, projectURL string) string {
	return RenderNoteWith(body, NoteLinks{Project: projectURL})
}

// NoteLinks says where the GitLab-relative links of a note lead.
type NoteLinks struct {
	// Project is the project's web URL, such as
	// https://gitlab.example.com/acme/support (a trailing slash is
	// ignored). "/..." targets are made absolute under its scheme and host.
	Project string
	// Uploads is the URL under which GitLab serves the project's uploads
	// as <Uploads>/uploads/<secret>/<file> (GitLab.UploadsURL), such as
	// https://gitlab.example.com/-/project/4242 on GitLab 17.2 and later
	// (a trailing slash is ignored). "" or anything but a plain http(s) URL
	// (valid UTF-8; no query, fragment, white space, control character,
	// bracket, parenthesis, backslash or angle bracket) means Project.
	Uploads string
}

// RenderNoteWith converts the GitLab-flavoured markdown of a note into text
// that reads well in Discord markdown, with its links made absolute by
// links.
//
// Code shows in Discord as the code it is in GitLab, and nothing in it
// shows as markdown (issue 7, item 6). Discord ends a code block at the
// first ``` after its start, on whatever line, and knows no other fence, so:
//
//   - A fenced code block (``` or ~~~ of any length, also inside lists and
//     quotes; an unclosed one runs to the end) is written with ``` fences
//     and keeps its content, but every run of three or more backticks in it
//     gets a zero-width space after each second backtick. Its language is
//     the info string's first word when Discord reads it as one (letters,
//     digits and _ + - . #, at most 32), else none; the rest of the info
//     string is dropped. In a block quote, each of its lines starts with
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
//   - URLs that sdesk shows (bare, <...>, link targets) have white space,
//     < > [ ] | and backticks percent-encoded, and the ":" of every "://"
//     after the first: a URL cut in two messages by SplitText leaves no
//     markup and starts no link of its own. A bare URL that Discord would
//     run on into code or a link sdesk wrote, or up to a "<" (its URL rule
//     stops only at white space or "<", taking in the backslash of "\<"),
//     is put in <...>; a link, or text ending in a URL, gets a space after
//     it then.
//   - Discord-only syntax is shown as written: a "<" starting a mention,
//     channel or command link, timestamp, custom emoji or guild link, a "<"
//     that no ">" of the same text follows before code or a link (Discord's
//     autolink runs over line breaks), the pipes of a || spoiler, "-#"
//     subtext at the start of a line, every "[" and any "](" that sdesk did
//     not write, and the ":" of a "://" after which Discord would link what
//     sdesk wrote get a backslash; a backslash that would escape what sdesk
//     wrote after it gets another.
//   - HTML: <br> and <hr> become a line break, <details><summary>S</summary>
//     becomes **S** and a newline, <b>/<strong> **, <i>/<em> *, <s>/<del>
//     ~~, <u>/<ins> __, <h1>-<h6> **...**, <li> "- ", <code> a code span
//     (a fenced block when it spans lines), <a href="u">t</a> and
//     <img>/<video> a link, </p> a blank line, other block elements end
//     with a newline; comments are removed and other known HTML tags are
//     stripped, keeping their text.
//     Unknown <words> (placeholders, e-mail addresses, autolinks) are kept.
//     The entities &amp; &lt; &gt; &quot; &apos; &nbsp; (as a plain space)
//     and numeric ones are decoded.
//   - GitLab-only syntax: lines holding only [[_TOC_]] or [TOC] are removed;
//     task list items "- [ ] x" and "- [x] x" become "- ☐ x" and "- ☑ x";
//     #### to ###### headings become **bold** lines (Discord renders only
//     #, ## and ###); $$ display math $$ becomes a ```math block and inline
//     $$math$$ (unless it holds code or a link) or $`math`$ a code span; a
//     table becomes a ``` block with
//     its columns aligned (cells rendered like the rest, one line each,
//     links as "text (url)").
//
// Runs of blank lines outside code are collapsed to one. No text is dropped
// except HTML comments, the TOC markers and markup.
func RenderNoteWith(body string, links NoteLinks) string {
	r := &noteRenderer{project: strings.TrimRight(links.Project, "/")}
	r.origin = noteOrigin(r.project)
	r.uploads = r.project
	if u := strings.TrimRight(links.Uploads, "/"); noteUploadBase(u) {
		r.uploads = u
		if m := noteIDFormRe.FindStringSubmatch(u); m != nil {
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

// UploadRef is a file uploaded to GitLab and linked from a note as
// /uploads/<Secret>/<Filename>, relative or under a project's path or ID
// (/-/project/<id>/uploads/...). Filename is URL-decoded; Alt is the image's
// alt text or the link's text.
type UploadRef struct {
	Secret, Filename, Alt string
}

// Uploads lists the uploads that the markdown body links to, in order of
// appearance and without duplicates (same secret and filename). It looks at
// markdown links, images and reference definitions and at HTML <a href>,
// <img src> and <video src>, whose target is a relative /uploads/<32 hex
// digits>/<file> path or any path or absolute URL whose path ends that
// way: the project-path form (/acme/support/uploads/...) and the
// project-ID form of GitLab 17.2 and later (/-/project/4242/uploads/...)
// alike. Links in code blocks, code spans and HTML comments are ignored.
func Uploads(body string) []UploadRef {
	type hit struct {
		pos int
		ref UploadRef
	}
	var hits []hit
	add := func(pos int, target, alt string) {
		target = strings.TrimSpace(target)
		if len(target) >= 2 && target[0] == '<' && target[len(target)-1] == '>' {
			target = target[1 : len(target)-1]
		}
		m := noteUploadRe.FindStringSubmatch(noteDecodeEntities(target))
		if m == nil {
			return
		}
		name, err := url.PathUnescape(m[2])
		if err != nil {
			name = m[2]
		}
		hits = append(hits, hit{pos, UploadRef{Secret: m[1], Filename: name, Alt: alt}})
	}
	offset := 0
	for _, b := range mdBlocks(body) {
		text := strings.Join(b.lines, "")
		if b.kind == mdProse || b.kind == mdTable {
			masked := noteMaskSpans(text)
			for _, loc := range noteLinkRe.FindAllStringSubmatchIndex(masked, -1) {
				label := masked[loc[4]:loc[5]]
				add(offset+loc[0], masked[loc[6]:loc[7]], noteLinkText(label))
				// An image inside a link's text: [![alt](img)](target).
				for _, in := range noteLinkRe.FindAllStringSubmatchIndex(label, -1) {
					add(offset+loc[4]+in[0], label[in[6]:in[7]], noteLinkText(label[in[4]:in[5]]))
				}
			}
			for _, loc := range noteRefDefRe.FindAllStringSubmatchIndex(masked, -1) {
				label := strings.TrimSpace(masked[loc[2]:loc[3]])
				label = strings.TrimSuffix(strings.TrimPrefix(label, "["), "]:")
				add(offset+loc[0], masked[loc[4]:loc[5]], strings.TrimSpace(label))
			}
			for _, loc := range noteAnchorRe.FindAllStringSubmatchIndex(masked, -1) {
				attrs := ""
				if loc[2] >= 0 {
					attrs = masked[loc[2]:loc[3]]
				}
				inner := noteDecodeEntities(noteStripTags(masked[loc[4]:loc[5]]))
				add(offset+loc[0], noteAttr(attrs, "href"), strings.TrimSpace(inner))
			}
			for _, loc := range noteMediaRe.FindAllStringSubmatchIndex(masked, -1) {
				attrs := ""
				if loc[2] >= 0 {
					attrs = masked[loc[2]:loc[3]]
				}
				add(offset+loc[0], noteAttr(attrs, "src"), noteAttr(attrs, "alt"))
			}
		}
		offset += len(text)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].pos < hits[j].pos })
	var refs []UploadRef
	seen := map[[2]string]bool{}
	for _, h := range hits {
		k := [2]string{h.ref.Secret, h.ref.Filename}
		if !seen[k] {
			seen[k] = true
			refs = append(refs, h.ref)
		}
	}
	return refs
}

// StripEmailQuote removes the quoted tail of an e-mail reply as GitLab's
// Service Desk delivers it. The tail starts at the first of:
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
func StripEmailQuote(body string) string {
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

// SplitText splits s into chunks of at most max runes for Discord (max is
// raised to 16 when smaller); an empty s gives no chunks.
//
// A chunk ends, in order of preference, after a blank line, after a newline
// or after a space or tab (the white space stays at the end of the chunk):
// the last such break that leaves the chunk at least half full (half of max
// less an added reopening string, see below) is taken,
// else the last break of any kind, else a break between two runes that does
// not split a grapheme sequence (combining marks, ZWJ, variation selectors,
// skin tones, \r\n) or a markdown escape (a backslash and the ASCII
// punctuation it escapes, which Discord would otherwise read as markup at
// the start of the next chunk). Breaks inside a <...> link, a bare URL, a
// [text](url) masked link or a code span and on fence lines are avoided; a
// hard break in one happens only when it does not fit in a chunk by itself,
// and then still between two runes as above when it can. A break inside
// code (see below) right after a "*", "_" or "~", or in a fenced block
// whose rest holds nothing but white space and quote markers, is taken only
// when no other fits: the string added after it would let Discord's
// emphasis rules end there, or the reopened block would hold no character
// and Discord would end it at the next ``` of the message. A rune is never
// split.
//
// Each chunk is a message of its own for Discord, so code cut by a break
// is closed at the end of the chunk before it and opened again at the
// start of the chunk after it:
//
//   - Fences: a line that, after at most 3 spaces and an optional block
//     quote marker (">" and one or more spaces), starts with 3 or more
//     backticks and holds no other backtick, and ends with a newline, opens
//     a fenced block (Discord knows no ~~~ fence); the next line that, after
//     at most 3 spaces and an optional quote marker, is a run of backticks at
//     least as long followed only by spaces, tabs or \r closes it; an
//     unclosed block runs to the end. A break at byte offset p is inside the
//     block when it lies after the opening line's newline and not after the
//     start of the closing line. The chunk before it gets "\n", the opening
//     line's quote marker and the fence run appended (for example "\n```"
//     or "\n> ```"), and the chunk after it gets the opening line with
//     surrounding white space removed plus "\n" (for example "```go\n")
//     prepended, or, when the two added strings would take more than max/2
//     runes, the opening line's quote marker and fence run alone plus "\n".
//     This repair is done only for blocks whose two added strings together
//     take at most max/2 runes; longer ones are split as plain text. No break
//     falls inside an opening line or inside a closing line before its end
//     when that line, its newline and the two added strings take at most max
//     runes together.
//   - Code spans: outside fenced blocks, a run of one or two backticks not
//     escaped by an odd run of backslashes before it (an escaped first
//     backtick leaves the rest of the run) opens a code span that the next
//     run of exactly as many backticks on the same line closes (as RenderNote
//     writes spans; longer runs open none). A break between the opening run
//     and the closing run, with text of the span on both sides, gets the
//     run appended to the chunk before it and prepended to the chunk after
//     it, with a space between the run and a backtick of the span's text
//     next to it (Discord would read one longer run). No break falls inside
//     the opening or closing run, right after the one or before the other,
//     or inside a run of backticks in the span's text.
//
// Both added strings count towards max. Removing them and concatenating
// the chunks gives back s exactly, in order. Chunks can consist of white
// space only when s has long runs of it; callers skip those.
func SplitText(s string, max int) []string {
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

// ---------------------------------------------------------------------------
// Discord text

// DiscordText escapes one line of text from GitLab (a user's name, an issue
// title, a label, an issue reference, a file name) for a Discord field that
// renders markdown: message content, an embed's description or title. It is
// the one escaper for such text; whatever the text holds, Discord shows it
// as written and it cannot pass for anything sdesk or Discord would show:
//
//   - line breaks and other control characters become spaces, and the
//     bidirectional marks, embeddings, overrides and isolates (U+061C,
//     U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which could reorder the
//     text around it, are removed: the result is one line;
//   - \ * _ ~ | ` [ ] < > get a backslash before them. Discord's markdown
//     (simple-markdown's escape rule: a backslash before any character other
//     than a letter, digit or space shows that character) then forms no
//     emphasis, underline, strike-through, spoiler, code, masked link, block
//     quote, mention (<@1>, <@!1>, <@&1>, <#1>, </cmd:1>), timestamp (<t:1>),
//     custom emoji or guild link from it, whatever surrounds the result;
//   - a # (header), -# (subtext), - or + (list) or a number followed by . or
//     ) (list) that starts the text, after white space, gets a backslash too,
//     so the result may start a line;
//   - @everyone and @here (any case) get a zero-width space after the @;
//   - in an http(s) URL, which Discord links as it stands (a backslash
//     would become part of the link), those characters are percent-encoded
//     instead (%5C %2A %5F %7E %7C %60 %5B %5D %3E, and %40 for the @ of
//     @everyone and @here), which leads to the same place; but a URL that
//     Discord would run on up to a "<" (its URL rule stops only at white
//     space or "<", and would take in the backslash before it) is written
//     as text, as below;
//   - the ":" of any other "://" after a letter gets a backslash: Discord
//     does not link the URL then (it links steam:// URLs too, and such a
//     link would run on over the backslashes after it).
//
// Embed author names and footers are shown as plain text by Discord (no
// markdown, no mentions): they take DiscordPlainText, not this.
func DiscordText(s string) string {
	s = DiscordPlainText(s)
	urls := discordURLRe.FindAllStringIndex(s, -1)
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	lead := true
	for i := 0; i < len(s); {
		if len(urls) > 0 && urls[0][0] == i {
			if !noteURLRunsOn(s[urls[0][1]:]) {
				b.WriteString(discordEncodeURL(s[i:urls[0][1]], discordMarkup))
				i, urls, lead = urls[0][1], urls[1:], false
				continue
			}
			urls = urls[1:] // written as text, its ":" escaped below
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case lead && unicode.IsSpace(r):
			b.WriteRune(r)
			i += size
			continue
		case strings.ContainsRune(discordMarkup, r),
			r == ':' && i > 0 && noteASCIILetter(s[i-1]) && strings.HasPrefix(s[i+1:], "//"):
			b.WriteByte('\\')
		case lead && (r == '#' || r == '-' || r == '+'):
			b.WriteByte('\\')
		case lead && r >= '0' && r <= '9':
			n := i
			for n < len(s) && s[n] >= '0' && s[n] <= '9' {
				n++
			}
			b.WriteString(s[i:n])
			if n < len(s) && (s[n] == '.' || s[n] == ')') {
				b.WriteByte('\\')
			}
			i, lead = n, false
			continue
		case r == '@' && discordMassMentionRe.MatchString(s[i+1:]):
			b.WriteString("@\u200b")
			i += size
			lead = false
			continue
		}
		b.WriteRune(r)
		i += size
		lead = false
	}
	return b.String()
}

// DiscordPlainText prepares text from GitLab for a Discord field shown as
// plain text, where markdown and mentions are not parsed (an embed's author
// name and footer; see DiscordText for the rest): control characters become
// spaces and bidirectional controls are removed, so that the text stays on
// one line and cannot reorder what follows it (such as " (@username)").
// Invalid UTF-8 becomes U+FFFD.
func DiscordPlainText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == 0x061C, r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		case unicode.IsControl(r), r == 0x2028, r == 0x2029:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// discordLink shows a URL as itself in Discord. An http(s) URL becomes
// <url>, which Discord links (without a preview) and shows without the
// brackets; its white space and angle brackets are percent-encoded so that
// the link ends where the URL does, and so are the @ of @everyone and
// @here and the brackets, pipes and backticks, which would be markup where
// a long URL is cut in two messages (noteURLEscaped). Anything else (a
// relative path, mailto:, javascript:) is not a link in Discord and is
// shown as DiscordText.
func discordLink(u string) string {
	if !noteHTTP(u) {
		return DiscordText(u)
	}
	return "<" + discordEncodeURL(u, noteURLEscaped) + ">"
}

// noteURLEscaped lists what is percent-encoded in a URL that sdesk shows,
// besides white space, control characters and the @ of @everyone and @here.
const noteURLEscaped = "<>[]|`"

// discordEncodeURL percent-encodes, in a URL, what Discord would read as
// the end of a link (white space, control characters), the @ of @everyone
// and @here, the ":" of every "://" after the first (a part of the URL cut
// off by SplitText would start a link of its own in Discord, which would
// run on over the escapes after it), and the ASCII characters in chars. The
// URL leads to the same place.
func discordEncodeURL(u, chars string) string {
	var b strings.Builder
	b.Grow(len(u))
	scheme := false // a "://" came before
	for i, r := range u {
		nested := false
		if r == ':' && strings.HasPrefix(u[i+1:], "//") {
			nested, scheme = scheme, true
		}
		if r < utf8.RuneSelf && strings.IndexByte(chars, byte(r)) >= 0 || nested ||
			r == '@' && discordMassMentionRe.MatchString(u[i+1:]) ||
			unicode.IsSpace(r) || unicode.IsControl(r) {
			var buf [utf8.UTFMax]byte
			for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// discordMarkup lists the characters that DiscordText escapes everywhere.
const discordMarkup = "\\*_~|`[]<>"

var (
	// discordURLRe is Discord's bare URL rule (simple-markdown's url rule,
	// with JavaScript's \s).
	discordURLRe         = regexp.MustCompile(`(?i)https?://[^\s\p{Z}\x{FEFF}<]+[^\s\p{Z}\x{FEFF}<.,:;"')\]]`)
	discordMassMentionRe = regexp.MustCompile(`^(?i:everyone|here)`)
)

// noteHTTP reports whether u starts with http:// or https:// (any case).
func noteHTTP(u string) bool {
	l := strings.ToLower(u[:min(len(u), 8)])
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// ---------------------------------------------------------------------------
// Markdown blocks

type mdBlockKind int

const (
	mdProse mdBlockKind = iota
	mdFence
	mdMath
	mdTable
)

// mdBlock is a run of whole lines (each with its "\n", except perhaps the
// last line of the body).
type mdBlock struct {
	kind   mdBlockKind
	lines  []string
	closed bool // mdFence: has a closing line
}

var (
	mdDelimRowRe = regexp.MustCompile(`^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$`)
)

// mdBlocks cuts body into fenced code, display math, tables and prose.
func mdBlocks(body string) []mdBlock {
	lines := strings.SplitAfter(body, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var blocks []mdBlock
	for i := 0; i < len(lines); {
		line := lines[i]
		if _, marker, ok := mdFenceOpen(line); ok {
			j := i + 1
			for j < len(lines) && !mdFenceClose(lines[j], marker) {
				j++
			}
			b := mdBlock{kind: mdFence, lines: lines[i:len(lines):len(lines)]}
			if j < len(lines) {
				b.lines, b.closed = lines[i:j+1:j+1], true
			}
			blocks = append(blocks, b)
			i += len(b.lines)
			continue
		}
		if t := strings.TrimSpace(line); t == "$$" {
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) != "$$" {
				j++
			}
			if j < len(lines) {
				blocks = append(blocks, mdBlock{kind: mdMath, lines: lines[i : j+1 : j+1]})
				i = j + 1
				continue
			}
		} else if len(t) > 4 && strings.HasPrefix(t, "$$") && strings.HasSuffix(t, "$$") &&
			strings.TrimSpace(t[2:len(t)-2]) != "" && !strings.Contains(t[2:len(t)-2], "$$") {
			blocks = append(blocks, mdBlock{kind: mdMath, lines: lines[i : i+1 : i+1]})
			i++
			continue
		}
		if i+1 < len(lines) && mdTableStart(line, lines[i+1]) {
			j := i + 2
			for j < len(lines) && strings.TrimSpace(lines[j]) != "" && strings.Contains(lines[j], "|") {
				if _, _, ok := mdFenceOpen(lines[j]); ok {
					break
				}
				j++
			}
			blocks = append(blocks, mdBlock{kind: mdTable, lines: lines[i:j:j]})
			i = j
			continue
		}
		if n := len(blocks); n > 0 && blocks[n-1].kind == mdProse {
			blocks[n-1].lines = append(blocks[n-1].lines, line)
		} else {
			blocks = append(blocks, mdBlock{kind: mdProse, lines: []string{line}})
		}
		i++
	}
	return blocks
}

// mdFenceOpen reports whether line opens a fenced code block. Blockquote
// markers and any indentation may come first (fences in lists and quotes).
func mdFenceOpen(line string) (prefix int, marker string, ok bool) {
	t := strings.TrimRight(line, "\r\n")
	k := 0
	for k < len(t) && (t[k] == ' ' || t[k] == '\t' || t[k] == '>') {
		k++
	}
	rest := t[k:]
	if len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return 0, "", false
	}
	n := 0
	for n < len(rest) && rest[n] == rest[0] {
		n++
	}
	if n < 3 || (rest[0] == '`' && strings.IndexByte(rest[n:], '`') >= 0) {
		return 0, "", false
	}
	return k, rest[:n], true
}

// mdFenceClose reports whether line closes a block opened with marker.
func mdFenceClose(line, marker string) bool {
	k := 0
	for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '>') {
		k++
	}
	n := 0
	for k+n < len(line) && line[k+n] == marker[0] {
		n++
	}
	return n >= len(marker) && strings.Trim(line[k+n:], " \t\r\n") == ""
}

func mdTableStart(head, delim string) bool {
	d := strings.TrimRight(delim, "\r\n")
	if !strings.Contains(head, "|") || !strings.Contains(d, "|") || !mdDelimRowRe.MatchString(d) {
		return false
	}
	return len(mdSplitRow(head)) == len(mdSplitRow(d))
}

// mdSplitRow splits a table row at its unescaped pipes.
func mdSplitRow(line string) []string {
	t := strings.TrimSpace(line)
	t = strings.TrimPrefix(t, "|")
	if strings.HasSuffix(t, "|") && !strings.HasSuffix(t, `\|`) {
		t = t[:len(t)-1]
	}
	var cells []string
	last := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '\\':
			i++
		case '|':
			cells = append(cells, strings.TrimSpace(t[last:i]))
			last = i + 1
		}
	}
	return append(cells, strings.TrimSpace(t[last:]))
}

// renderFence writes a fenced block as Discord reads one (see
// RenderNoteWith): ``` fences (after the block's indentation when that is
// at most three spaces), a language Discord knows as one or none, the
// content with its ``` runs broken, "> " before each line of a block in a
// quote, and a closing fence also for an unclosed block.
func renderFence(b mdBlock) string {
	prefix, marker, _ := mdFenceOpen(b.lines[0])
	lead := b.lines[0][:prefix]
	lang := ""
	if f := strings.Fields(b.lines[0][prefix+len(marker):]); len(f) > 0 && len(f[0]) <= 32 && discordLangRe.MatchString(f[0]) {
		lang = f[0]
	}
	quotes := strings.Count(lead, ">")
	switch {
	case quotes > 0:
		lead = "> "
	case len(lead) > 3 || strings.Trim(lead, " ") != "":
		lead = "" // SplitText finds fences after at most three spaces
	}
	last := len(b.lines)
	if b.closed {
		last--
	}
	var content strings.Builder
	for _, l := range b.lines[1:last] {
		if quotes > 0 {
			l = noteUnquote(l, quotes)
		}
		content.WriteString(l)
	}
	quote := "" // before each content line
	if quotes > 0 {
		quote = lead
	}
	var out strings.Builder
	out.WriteString(lead + "```" + lang + "\n")
	for _, l := range strings.SplitAfter(noteBlockContent(content.String()), "\n") {
		if l != "" {
			out.WriteString(quote + noteBreakTicks(l))
		}
	}
	out.WriteString(lead + "```")
	if b.closed {
		closer := b.lines[last]
		out.WriteString(closer[len(strings.TrimRight(closer, "\r\n")):])
	}
	return out.String()
}

// ---------------------------------------------------------------------------
// Emphasis that Discord would close inside code

var (
	// noteCodeBlockRe is Discord's codeBlock rule (its client's
	// /^```(?:([a-z0-9_+\-.#]+?)\n)?\n*([^\n][^]*?)\n*```/i); Go's regexp
	// prefers the same match as JavaScript's backtracking.
	noteCodeBlockRe = regexp.MustCompile("(?i)^```(?:[a-z0-9_+\\-.#]+?\n)?\n*[^\n][\\s\\S]*?\n*```")
	// noteAutolinkRe and noteMailtoRe: Discord's <scheme:/...> and
	// <name@host.tld> links, which it takes whole.
	noteAutolinkRe = regexp.MustCompile(`^<[^: >]+:/[^ >]+>`)
	noteMailtoRe   = regexp.MustCompile(`^<[^` + noteJSSpace + `<>@]+@[^` + noteJSSpace + `<>@]+\.[^` + noteJSSpace + `<>@]+>`)
	// noteMaskedRe: the masked links sdesk writes, [file](url), which
	// Discord takes whole.
	noteMaskedRe = regexp.MustCompile(`^\[(?:\\.|[^\[\]\\])*\]\((?:<[^<>\n]*>|[^\s()<>]*)\)`)
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
// Discord takes whole unless SplitText cuts it, such a character is
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
	code := newNoteCode(s)
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
			loc := noteMaskedRe.FindStringIndex(s[i:])
			if c == '<' {
				if loc = noteAutolinkRe.FindStringIndex(s[i:]); loc == nil {
					loc = noteMailtoRe.FindStringIndex(s[i:])
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
// s[start:end] that no backslash escapes: text, should SplitText cut the
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
var noteDiscordURLRe = regexp.MustCompile(`^(?:https?|steam)://[^` + noteJSSpace + `<]+[^<.,:;"'\]` + noteJSSpace + `]`)

// noteDiscordURLLen returns the length of the URL that Discord links at
// the start of s, or 0: its URL rule, then one unbalanced ")" dropped.
func noteDiscordURLLen(s string) int {
	m := noteDiscordURLRe.FindString(s)
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

// noteCode finds code in a rendered note as Discord does: its codeBlock
// rule (noteCodeBlockRe), then simple-markdown's inlineCode,
// ^(`+)([\s\S]*?[^`])\1(?!`), which tries every length of the opening run
// from the longest down, each closed by the next run exactly as long.
type noteCode struct {
	s      string
	starts map[int][]int // run length -> starts of the backtick runs that long, ascending
}

func newNoteCode(s string) noteCode {
	c := noteCode{s: s, starts: map[int][]int{}}
	for i := 0; i < len(s); {
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		if n == 0 {
			i++
			continue
		}
		c.starts[n] = append(c.starts[n], i)
		i += n
	}
	return c
}

// end returns the end of the code that starts at the backtick s[i], or -1.
func (c noteCode) end(i int) int {
	if strings.HasPrefix(c.s[i:], "```") {
		if loc := noteCodeBlockRe.FindStringIndex(c.s[i:]); loc != nil {
			return i + loc[1]
		}
	}
	runEnd := i
	for runEnd < len(c.s) && c.s[runEnd] == '`' {
		runEnd++
	}
	for n := runEnd - i; n >= 1; n-- {
		starts := c.starts[n]
		if k := sort.SearchInts(starts, runEnd+1); k < len(starts) {
			return starts[k] + n
		}
	}
	return -1
}

// discordLangRe is what Discord reads as the language of a code block
// (its codeBlock rule: ^```(?:([a-z0-9_+\-.#]+?)\n)?..., case-insensitive).
var discordLangRe = regexp.MustCompile(`^(?i:[a-z0-9_+\-.#]+)$`)

// noteUnquote removes up to n block quote markers (each after at most three
// spaces, with one space or tab after it) from the start of a line.
func noteUnquote(line string, n int) string {
	for ; n > 0; n-- {
		t := strings.TrimLeft(line, " ")
		if len(line)-len(t) > 3 || !strings.HasPrefix(t, ">") {
			break
		}
		line = t[1:]
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			line = line[1:]
		}
	}
	return line
}

// noteBreakTicks puts a zero-width space after every second backtick of a
// run of three or more, so that s holds no ```: Discord would end a code
// block there.
func noteBreakTicks(s string) string {
	if !strings.Contains(s, "```") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '`' {
			run = 0
		} else if run++; run == 3 {
			b.WriteString("\u200b")
			run = 1
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// noteCodeBlock writes content (ending with a newline, or empty) as a ```
// block with the language lang.
func noteCodeBlock(lang, content string) string {
	return "```" + lang + "\n" + noteBreakTicks(noteBlockContent(content)) + "```"
}

// noteBlockContent returns the content of a code block as it is written:
// ending with one newline (Discord does not show trailing blank lines), and
// a zero-width space on its one line when it holds nothing but line breaks.
// Discord's code block needs a character that is not a line break
// (^```...\n*([^\n][^]*?)\n*```): it would take the first backtick of the
// closing fence for it and end at the next ``` of the message, the opening
// fence of the next block, whose content would show as markdown.
func noteBlockContent(content string) string {
	if content = strings.TrimRight(content, "\n"); content == "" {
		return "\u200b\n"
	}
	return content + "\n"
}

// renderMath turns $$ display math $$ into a ```math block.
func renderMath(b mdBlock) string {
	var content string
	if len(b.lines) == 1 {
		t := strings.TrimSpace(b.lines[0])
		content = strings.TrimSpace(t[2:len(t)-2]) + "\n"
	} else {
		content = strings.Join(b.lines[1:len(b.lines)-1], "")
		if content != "" && !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
	}
	out := noteCodeBlock("math", content)
	if strings.HasSuffix(b.lines[len(b.lines)-1], "\n") {
		out += "\n"
	}
	return out
}

// ---------------------------------------------------------------------------
// Prose

var (
	noteSentinelRe   = regexp.MustCompile("\uE000([0-9]+)\uE001")
	noteCodeOpenRe   = regexp.MustCompile(`(?i)^<code(?:\s[^<>]*)?>`)
	noteCodeEndRe    = regexp.MustCompile(`(?i)</code\s*>`)
	noteAnchorRe     = regexp.MustCompile(`(?is)<a(\s[^<>]*)?>(.*?)</a\s*>`)
	noteMediaRe      = regexp.MustCompile(`(?i)<(?:img|video)(\s[^<>]*)?>`)
	noteSummaryRe    = regexp.MustCompile(`(?is)<summary(?:\s[^<>]*)?>(.*?)</summary\s*>[ \t]*\n?`)
	noteAttrRe       = regexp.MustCompile("([A-Za-z_:][-A-Za-z0-9_:.]*)\\s*=\\s*(?:\"([^\"]*)\"|'([^']*)'|([^\\s\"'=<>`]+))")
	noteTagRe        = regexp.MustCompile("</?([A-Za-z][A-Za-z0-9]*)(?:\\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\\s*=\\s*(?:\"[^\"]*\"|'[^']*'|[^\\s\"'=<>`]+))?)*\\s*/?>")
	noteLinkRe       = regexp.MustCompile(`(!?)\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]\([ \t]*(<[^<>\n\x{E000}\x{E001}]*>|(?:[^\s()<>\x{E000}\x{E001}]|\([^\s()<>\x{E000}\x{E001}]*\))*)(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*\)(\{[^{}\n]*\})?`)
	noteRefDefRe     = regexp.MustCompile(`(?m)^([ \t]{0,3}\[[^\[\]\n]+\]:[ \t]*)(<[^<>\n]*>|[^\s\x{E000}\x{E001}]+)`)
	noteAutoRe       = regexp.MustCompile(`<((?i:https?|ftp|mailto):[^\s<>\x{E000}\x{E001}]*)>`)
	noteURLRe        = regexp.MustCompile(`(?i)\bhttps?://[^` + noteJSSpace + `<>"\x{E000}\x{E001}]+`)
	notePathRe       = regexp.MustCompile(`(^|[\s(\[])(/(?:uploads/[0-9a-fA-F]{32}/[^\s<>()\[\]"\x{E000}\x{E001}]+|(?:[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*/)?-/[^\s<>()\[\]"\x{E000}\x{E001}]+))`)
	noteTOCRe        = regexp.MustCompile(`(?im)^[ \t]*(?:\[\[_TOC_\]\]|\[TOC\])[ \t]*\r?(?:\n|$)`)
	noteTaskRe       = regexp.MustCompile(`(?m)^([ \t>]*(?:[-*+]|[0-9]{1,9}[.)])[ \t]+)\[([ xX])\]([ \t]|\r?$)`)
	noteHeadingRe    = regexp.MustCompile(`(?m)^([ \t]{0,3})#{4,6}[ \t]+([^\n]*?)(?:[ \t]+#+)?[ \t]*(\r?)$`)
	noteMathRe       = regexp.MustCompile(`\$\$([^$\n]+)\$\$`)
	noteDollarRe     = regexp.MustCompile("\\$(\uE000[0-9]+\uE001)\\$")
	noteBlankRunRe   = regexp.MustCompile(`\n[ \t\r]*\n(?:[ \t\r]*\n)+`)
	noteLabelRe      = regexp.MustCompile("(^|[^\\w~`\\\\/])~(?:\"([^\"\\n]+)\"|([A-Za-z_][A-Za-z0-9_\\-?.&]*(?:::[A-Za-z0-9_\\-?.&]+)*))")
	noteEntityRe     = regexp.MustCompile(`&(?:(amp|lt|gt|quot|apos|nbsp)|#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6}));`)
	noteMentionRe    = regexp.MustCompile(`(?i)@(?:everyone|here)`)
	noteUploadRe     = regexp.MustCompile(`(?:^|/)uploads/([0-9a-fA-F]{32})/([^/?#\s]+)(?:[?#].*)?$`)
	noteUploadPathRe = regexp.MustCompile(`^[0-9a-fA-F]{32}/[^/?#]+$`)
	noteIDFormRe     = regexp.MustCompile(`^(?i:https?)://[^/]+(/.*)?(/-/project/[0-9]+)$`)
	noteSubtextRe    = regexp.MustCompile(`(?m)^([ \t>]*)-#`)
	noteDiscordTagRe = regexp.MustCompile(`^<(?:[@#:/]|(?i:t|a|id|sound):)`)
)

var noteEntities = map[string]string{
	"amp": "&", "lt": "<", "gt": ">", "quot": `"`, "apos": "'", "nbsp": " ",
}

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
	// uploads is where the project's uploads are served (NoteLinks.Uploads
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
	return noteSentinelRe.ReplaceAllStringFunc(s, func(m string) string {
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
	s = noteReplace(noteRefDefRe, s, func(m []string) string {
		u := r.target(m[2])
		if len(u) >= 2 && u[0] == '<' && u[len(u)-1] == '>' {
			if u = u[1 : len(u)-1]; noteHTTP(u) {
				return m[1] + r.protect(discordLink(u))
			}
			return m[1] + r.protect(DiscordText("<"+u+">"))
		}
		return m[1] + r.bareURL(u)
	})
	s = noteReplace(noteAutoRe, s, func(m []string) string {
		return r.protect("<" + discordEncodeURL(noteDecodeEntities(m[1]), noteURLEscaped) + ">")
	})
	s = noteReplace(noteURLRe, s, func(m []string) string {
		u, tail := noteTrimURL(m[0])
		return r.bareURL(noteDecodeEntities(u)) + tail
	})
	if r.uploads != "" {
		s = noteReplace(notePathRe, s, func(m []string) string {
			p, tail := noteTrimURL(m[2])
			return m[1] + r.bareURL(r.abs(p)) + tail
		})
	}
	s = noteTOCRe.ReplaceAllString(s, "")
	s = noteReplace(noteTaskRe, s, func(m []string) string {
		box := "☑"
		if m[2] == " " {
			box = "☐"
		}
		return m[1] + box + m[3]
	})
	s = noteReplace(noteHeadingRe, s, func(m []string) string {
		if strings.TrimSpace(m[2]) == "" {
			return m[0]
		}
		return m[1] + "**" + m[2] + "**" + m[3]
	})
	s = noteReplace(noteMathRe, s, func(m []string) string {
		if strings.Contains(m[1], "\uE000") {
			return m[0] // code or a link inside: not math
		}
		return r.protect(noteCodeSpan(strings.TrimSpace(m[1])))
	})
	s = noteDollarRe.ReplaceAllString(s, "$1")
	s = noteBlankRunRe.ReplaceAllString(s, "\n\n")
	s = r.inline(s)
	if !r.code {
		s = r.discordSafe(s)
	}
	return r.expand(s)
}

// bareURL protects u, a URL that the note shows as it is: an http(s) URL
// as Discord links it, with white space, noteURLEscaped and the @ of
// @everyone and @here percent-encoded (discordSafe puts it in <...> when
// Discord would run it on into what follows); anything else as DiscordText.
func (r *noteRenderer) bareURL(u string) string {
	if !noteHTTP(u) {
		return r.protect(DiscordText(u))
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
	// linear.
	lastComment := strings.LastIndex(s, "-->")
	var codeEnds [][]int
	if strings.Contains(s, "</") {
		codeEnds = noteCodeEndRe.FindAllStringIndex(s, -1)
	}
	noCloser := map[int]int{} // run length -> where a failed search stopped
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && noteIsPunct(s[i+1]):
			i += 2
		case c == '`':
			n := 1
			for i+n < len(s) && s[i+n] == '`' {
				n++
			}
			if stop, ok := noCloser[n]; ok && i+n < stop {
				i += n
				continue
			}
			end, stop := noteCodeSpanEnd(s, i+n, n)
			if end < 0 {
				noCloser[n] = stop
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
			open := noteCodeOpenRe.FindStringIndex(s[i:])
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

// noteCodeSpanEnd finds the end of the closing run of exactly n backticks
// within the paragraph. When there is none it returns -1 and where the
// search stopped: a search from any later run boundary before that fails too.
func noteCodeSpanEnd(s string, from, n int) (end, stop int) {
	for j := from; j < len(s); {
		switch s[j] {
		case '`':
			k := j
			for k < len(s) && s[k] == '`' {
				k++
			}
			if k-j == n {
				return k, 0
			}
			j = k
		case '\n':
			k := j + 1
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r') {
				k++
			}
			if k == len(s) || s[k] == '\n' {
				return -1, j
			}
			j++
		default:
			j++
		}
	}
	return -1, len(s)
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
			b.WriteString(r.protect(noteGitLabSpan(s[sp.start:sp.end])))
		}
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// noteCodeElement renders the content of an HTML <code> element.
func noteCodeElement(inner string) string {
	inner = noteDecodeEntities(noteStripTags(inner))
	if strings.Contains(inner, "\n") {
		return noteCodeBlock("", strings.Trim(inner, "\r\n")+"\n")
	}
	return noteCodeSpan(inner)
}

// noteGitLabSpan renders a code span of the note, span being its text with
// its backticks. Discord reads a span of one or two backticks on one line
// as GitLab does (the text holds no run as long as the delimiters, and does
// not start or end with a backtick), so that is kept; any other is written
// anew from its text as GitLab reads it: line breaks as spaces, and one
// space removed from both ends when both are spaces.
func noteGitLabSpan(span string) string {
	n := 0
	for n < len(span) && span[n] == '`' {
		n++
	}
	if n <= 2 && !strings.ContainsAny(span, "\r\n") {
		return span
	}
	text := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(span[n : len(span)-n])
	if len(text) >= 2 && text[0] == ' ' && text[len(text)-1] == ' ' && strings.Trim(text, " ") != "" {
		text = text[1 : len(text)-1]
	}
	return noteCodeSpan(text)
}

// noteCodeSpan writes s as an inline code span that Discord reads as
// exactly that: line breaks become spaces; the delimiters are one backtick,
// or two when s holds a lone backtick, runs of exactly two backticks in s
// then getting a zero-width space between them (simple-markdown's
// inlineCode rule, ^(`+)([\s\S]*?[^`])\1(?!`), ends a span at the first run
// as long as its opening one, and a span opened by ``` would be Discord's
// code block); a space pads s when it starts or ends with a backtick.
func noteCodeSpan(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	runs := map[int]bool{}
	for i := 0; i < len(s); {
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		if n > 0 {
			runs[n] = true
			i += n
		} else {
			i++
		}
	}
	ticks := "`"
	if runs[1] {
		ticks = "``"
		if runs[2] {
			s = noteBreakPairs(s)
		}
	}
	if s[0] == '`' || s[len(s)-1] == '`' {
		return ticks + " " + s + " " + ticks
	}
	return ticks + s + ticks
}

// noteBreakPairs puts a zero-width space inside every run of exactly two
// backticks.
func noteBreakPairs(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		n := 0
		for i+n < len(s) && s[i+n] == '`' {
			n++
		}
		switch n {
		case 0:
			b.WriteByte(s[i])
			i++
		case 2:
			b.WriteString("`\u200b`")
			i += 2
		default:
			b.WriteString(s[i : i+n])
			i += n
		}
	}
	return b.String()
}

func noteStripTags(s string) string {
	return noteReplace(noteTagRe, s, func(m []string) string {
		if noteKnownTags[strings.ToLower(m[1])] || noteBlockTags[strings.ToLower(m[1])] {
			return ""
		}
		return m[0]
	})
}

func (r *noteRenderer) html(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	s = noteReplace(noteAnchorRe, s, func(m []string) string {
		text := r.htmlTags(r.media(m[2]))
		href := strings.TrimSpace(noteAttr(m[1], "href"))
		lower := strings.ToLower(href)
		if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(lower, "javascript:") {
			return text
		}
		return r.link(text, href)
	})
	s = r.media(s)
	s = noteReplace(noteSummaryRe, s, func(m []string) string {
		t := strings.TrimSpace(r.htmlTags(m[1]))
		if t == "" {
			return ""
		}
		return "**" + t + "**\n"
	})
	return r.htmlTags(s)
}

func (r *noteRenderer) media(s string) string {
	return noteReplace(noteMediaRe, s, func(m []string) string {
		src, alt := noteAttr(m[1], "src"), noteAttr(m[1], "alt")
		if strings.TrimSpace(src) == "" {
			return alt
		}
		return r.link(alt, src)
	})
}

// htmlTags replaces or strips the known HTML tags left in s.
func (r *noteRenderer) htmlTags(s string) string {
	locs := noteTagRe.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		name := strings.ToLower(s[loc[2]:loc[3]])
		if !noteKnownTags[name] && !noteBlockTags[name] {
			continue
		}
		b.WriteString(s[last:loc[0]])
		last = loc[1]
		closing := s[loc[0]+1] == '/'
		out := b.String()
		atLineStart := out == "" || strings.HasSuffix(out, "\n")
		nextNL := loc[1] == len(s) || s[loc[1]] == '\n' || s[loc[1]] == '\r'
		newline := "\n"
		if nextNL {
			newline = ""
		}
		before := b.Len()
		switch name {
		case "br", "hr":
			// The line break that follows, if any, does the job; a <br>
			// alone on its line leaves that line blank.
			if !nextNL {
				b.WriteString("\n")
			}
			before = -1
		case "b", "strong":
			b.WriteString("**")
		case "i", "em":
			b.WriteString("*")
		case "s", "del", "strike":
			b.WriteString("~~")
		case "u", "ins":
			b.WriteString("__")
		case "h1", "h2", "h3", "h4", "h5", "h6":
			if closing {
				b.WriteString("**" + newline)
			} else {
				if !atLineStart {
					b.WriteString("\n")
				}
				b.WriteString("**")
			}
		case "li":
			if !closing {
				if !atLineStart {
					b.WriteString("\n")
				}
				b.WriteString("- ")
			}
		case "p":
			if closing && !nextNL {
				b.WriteString("\n\n")
			} else if !closing && !atLineStart {
				b.WriteString("\n")
			}
		case "td", "th":
			if closing {
				b.WriteString(" ")
			}
		default:
			if noteBlockTags[name] {
				if closing {
					b.WriteString(newline)
				} else if !atLineStart {
					b.WriteString("\n")
				}
			}
		}
		// A tag alone on its line that leaves nothing takes the line with it.
		if b.Len() == before && atLineStart && nextNL {
			last += noteNewlineAt(s, last)
		}
	}
	b.WriteString(s[last:])
	return b.String()
}

// noteNewlineAt returns the length of the line break at s[i:], or 0.
func noteNewlineAt(s string, i int) int {
	switch {
	case strings.HasPrefix(s[i:], "\n"):
		return 1
	case strings.HasPrefix(s[i:], "\r\n"):
		return 2
	}
	return 0
}

// noteAttr returns the entity-decoded value of an HTML attribute.
func noteAttr(attrs, name string) string {
	for _, m := range noteAttrRe.FindAllStringSubmatch(attrs, -1) {
		if strings.EqualFold(m[1], name) {
			return noteDecodeEntities(m[2] + m[3] + m[4])
		}
	}
	return ""
}

// links renders markdown links and images.
func (r *noteRenderer) links(s string) string {
	if !strings.Contains(s, "](") {
		return s
	}
	return noteReplace(noteLinkRe, s, func(m []string) string {
		if m[1] == "!" {
			return r.link(m[2], m[3])
		}
		// Discord cannot nest links: an image or link in the text (a badge)
		// leaves its text.
		return r.link(noteLinkRe.ReplaceAllString(m[2], "$2"), m[3]) + m[4]
	})
}

// link renders a link or an image, protected. Discord shows only the text
// of a masked link [text](url), so a note could name one place and lead to
// another; sdesk therefore shows every target (issue 7, item 6):
//
//   - a link without text, or whose text is its URL, becomes the URL itself;
//   - a link to an upload of this project (<project>/uploads/<32 hex
//     digits>/<file>, a URL sdesk made absolute itself) stays a masked link
//     named after its file, [file](url), preceded by its text when that text
//     says more than the file name: "crash ([crash log.png](url))";
//   - any other link becomes its text followed by its URL in parentheses:
//     "the docs (<https://example.org/docs>)".
//
// The URL is shown by discordLink: an http(s) URL as <url> (Discord links
// it and shows it without the brackets), anything else as escaped text.
// Inside a table (a code block) the same shapes are written without any
// markup: "text (url)".
func (r *noteRenderer) link(text, target string) string {
	u := r.target(target)
	if len(u) >= 2 && u[0] == '<' && u[len(u)-1] == '>' {
		u = u[1 : len(u)-1]
	}
	t := strings.TrimSpace(text)
	plain := noteDecodeEntities(r.expand(t))
	same := t == "" || plain == u
	if r.code {
		if same {
			return r.protect(u)
		}
		return r.protect(r.inline(t) + " (" + u + ")")
	}
	shown := discordLink(u)
	if name, ok := r.upload(u); ok {
		shown = "[" + DiscordText(name) + "](" + noteMaskedTarget(u) + ")"
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
// (noteUploadBase) has no uploads, so that the masked link sdesk writes
// cannot be broken by it.
func (r *noteRenderer) upload(u string) (string, bool) {
	for _, p := range []string{r.uploads, r.project} {
		if !noteUploadBase(p) {
			continue
		}
		rest, ok := strings.CutPrefix(u, p+"/uploads/")
		if !ok || !noteUploadPathRe.MatchString(rest) {
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
		return "<" + r.abs(noteDecodeEntities(t[1:len(t)-1])) + ">"
	}
	return r.abs(noteDecodeEntities(t))
}

// abs makes a GitLab-relative target absolute (see RenderNoteWith).
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
		d != DiscordPlainText(d) || strings.TrimSpace(d) == "" {
		return seg
	}
	return d
}

// noteLinkText reduces nested links and images in a link text to their text.
func noteLinkText(s string) string {
	for range 3 {
		t := noteLinkRe.ReplaceAllString(s, "$2")
		if t == s {
			break
		}
		s = t
	}
	return strings.TrimSpace(noteDecodeEntities(s))
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

// inline renders label references (as protected code spans), entities and
// @everyone/@here.
func (r *noteRenderer) inline(s string) string {
	if strings.Contains(s, "~") {
		s = noteReplace(noteLabelRe, s, func(m []string) string {
			if strings.Contains(m[0], "\uE000") {
				return m[0] // code or a link inside: not a label
			}
			if m[2] != "" {
				return m[1] + r.protect(noteCodeSpan(m[2]))
			}
			name := strings.TrimRight(m[3], ".?&")
			return m[1] + r.protect(noteCodeSpan(name)) + m[3][len(name):]
		})
	}
	return noteDefuse(noteDecodeEntities(s))
}

func noteDecodeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return noteReplace(noteEntityRe, s, func(m []string) string {
		if m[1] != "" {
			return noteEntities[m[1]]
		}
		var n int64
		if m[2] != "" {
			n, _ = strconv.ParseInt(m[2], 10, 32)
		} else {
			n, _ = strconv.ParseInt(m[3], 16, 32)
		}
		r := rune(n)
		if n <= 0 || !utf8.ValidRune(r) || r == 0xE000 || r == 0xE001 {
			return m[0]
		}
		return string(r)
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
	return noteMentionRe.ReplaceAllStringFunc(s, func(m string) string { return "@\u200b" + m[1:] })
}

// discordSafe escapes, in rendered prose (placeholders in it), the syntax
// that Discord has and GitLab has not, and what would let Discord read
// something across the code and links that sdesk wrote, so that a note
// reads in Discord as it does in GitLab:
//
//   - a "<" that would start a mention, a channel or command link, a
//     timestamp, a custom emoji or a guild link (<@, <#, </, <:, <t:, <a:,
//     <id:, <sound:) gets a backslash: it shows as written; so does a "<"
//     that no ">" of s follows before a placeholder (Discord's autolink,
//     which runs over line breaks, would end in what sdesk wrote, or in a
//     code block after s);
//   - every | of a || run gets a backslash, also when the second | starts
//     a placeholder: no spoiler hides text;
//   - every "[" gets a backslash, and "](" becomes "]\(": no masked link
//     forms except those sdesk wrote;
//   - every backtick gets a backslash: code starts only where sdesk wrote
//     it (GitLab's code spans are placeholders at this point);
//   - the ":" of a "://" (the "//" perhaps starting a placeholder) after a
//     letter gets a backslash when a placeholder or a "<" follows before
//     white space (noteURLRunsOn): Discord's URL
//     rule, which runs on to the next white space or "<", would take in what
//     sdesk wrote, or the backslash before the "<";
//   - "-#" at the start of a line (after white space and quote markers)
//     gets a backslash: no subtext;
//   - before a placeholder: an odd run of backslashes gets one more (it
//     would escape what sdesk wrote); an "@" gets a zero-width space when
//     the placeholder's text starts with everyone or here; a placeholder
//     ending with a backtick is kept apart from the next one starting with
//     one by a zero-width space (the runs would merge);
//   - a bare URL (bareURL) that Discord would run on into a placeholder or
//     up to a "<" (noteURLRunsOn) is put in <...>;
//   - a code block (a <code> element over several lines) gets the lines of
//     its own that SplitText needs to find its fences;
//   - any other placeholder whose last word holds a URL (noteEndsInURL: a
//     link, whose URL SplitText may leave bare by cutting it, or text
//     showing one) gets a space after it when Discord would run that URL on
//     into what follows (noteURLRunsOn).
//
// A character already escaped by an odd run of backslashes is left alone.
func (r *noteRenderer) discordSafe(s string) string {
	if strings.Contains(s, "-#") {
		s = noteSubtextRe.ReplaceAllString(s, "$1\\-#")
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
			case i > 0 && s[i-1] == '@' && discordMassMentionRe.MatchString(text):
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
			if noteDiscordTagRe.MatchString(s[i:]) {
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
// everything up to white space or "<", so it would take in what sdesk wrote,
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

// table renders a markdown table as a ``` block with aligned columns.
func (r *noteRenderer) table(lines []string) string {
	var rows [][]string
	cols := 0
	for k, l := range lines {
		if k == 1 {
			continue
		}
		cells := mdSplitRow(l)
		r.code = true
		for c := range cells {
			cells[c] = strings.TrimSpace(strings.NewReplacer("\r", "", "\n", " ").Replace(r.prose(cells[c])))
		}
		r.code = false
		rows = append(rows, cells)
		cols = max(cols, len(cells))
	}
	widths := make([]int, cols)
	for c := range widths {
		widths[c] = 3
	}
	for _, row := range rows {
		for c, cell := range row {
			widths[c] = max(widths[c], noteWidth(cell))
		}
	}
	var b strings.Builder
	writeRow := func(row []string) {
		var line strings.Builder
		for c := range cols {
			cell := ""
			if c < len(row) {
				cell = row[c]
			}
			line.WriteString(cell)
			if c < cols-1 {
				line.WriteString(strings.Repeat(" ", widths[c]-noteWidth(cell)) + " | ")
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	for k, row := range rows {
		writeRow(row)
		if k == 0 {
			dashes := make([]string, cols)
			for c := range dashes {
				dashes[c] = strings.Repeat("-", widths[c])
			}
			b.WriteString(strings.Join(dashes, "-|-") + "\n")
		}
	}
	out := noteCodeBlock("", b.String())
	if strings.HasSuffix(lines[len(lines)-1], "\n") {
		out += "\n"
	}
	return out
}

// noteWidth approximates the monospace width of s: wide East Asian runes and
// emoji count 2, combining marks 0.
func noteWidth(s string) int {
	w := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || r == 0x200B || r == 0x200D || r == 0xFE0F:
		case r >= 0x1100 && r <= 0x115F, r >= 0x2E80 && r <= 0xA4CF, r >= 0xAC00 && r <= 0xD7A3,
			r >= 0xF900 && r <= 0xFAFF, r >= 0xFE30 && r <= 0xFE4F, r >= 0xFF00 && r <= 0xFF60,
			r >= 0xFFE0 && r <= 0xFFE6, r >= 0x1F300 && r <= 0x1FAFF, r >= 0x20000 && r <= 0x3FFFD:
			w += 2
		default:
			w++
		}
	}
	return w
}

// ---------------------------------------------------------------------------
// E-mail quotes

var (
	quoteAttributionRe = regexp.MustCompile(`^(?:On\s.+\swrote|Am\s.+\sschrieb(?:\s.+)?|Le\s.+\sa\s+écrit|El\s.+\sescribió|Il\s.+\sha\s+scritto|Op\s.+\sschreef(?:\s.+)?|Em\s.+\sescreveu|(?:W\s+dniu|Dnia)\s.+\s(?:napisał(?:\(a\)|a)?|pisze))[\s\x{00A0}\x{202F}]*:$`)
	quoteIntroRe       = regexp.MustCompile(`^(?:On|Am|Le|El|Il|Op|Em|W\s+dniu|Dnia)\s`)
	quoteZohoRe        = regexp.MustCompile(`-{2,}[ \t]*On\s.*\swrote[ \t]*-{2,}`)
	quoteOriginalRe    = regexp.MustCompile(`(?i)^-{2,}[ \t]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Wiadomość oryginalna)[ \t]*-{2,}$`)
	quoteFromRe        = regexp.MustCompile(`^[*_]*(?:From|Von|De|Van|Da|Od)[*_]*[ \t]*:[*_]*[ \t]*\S`)
	quoteSentRe        = regexp.MustCompile(`^[*_]*(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Fecha|Inviato|Verzonden|Wysłano)[*_]*[ \t]*:`)
	quoteForwardRe     = regexp.MustCompile(`(?i)forwarded message|weitergeleitete nachricht|message transféré`)
	quoteRuleRe        = regexp.MustCompile(`^_{20,}$`)
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
	case quoteOriginalRe.MatchString(l.text), quoteRuleRe.MatchString(l.text):
		return l.start, true
	}
	if loc := quoteZohoRe.FindStringIndex(l.raw); loc != nil {
		return l.start + loc[0], true
	}
	if quoteFromRe.MatchString(l.text) && !quoteForwarded(lines, i) {
		for k := i + 1; k < len(lines) && k <= i+4; k++ {
			if quoteSentRe.MatchString(lines[k].text) {
				return l.start, true
			}
		}
	}
	if !quoteIntroRe.MatchString(l.text) {
		return 0, false
	}
	after := -1
	if strings.ContainsAny(l.text, "0123456789") && quoteAttributionRe.MatchString(l.text) {
		after = i + 1
	} else if i+1 < len(lines) && lines[i+1].text != "" {
		joined := l.text + " " + lines[i+1].text
		if strings.ContainsAny(joined, "0123456789") && quoteAttributionRe.MatchString(joined) {
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
			return quoteForwardRe.MatchString(lines[k].text)
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

// ---------------------------------------------------------------------------
// Splitting

var (
	splitLinkRe = regexp.MustCompile(`\[[^\[\]\n]*\]\((?:<[^<>\n]*>|[^\s()<>]*)\)|<[^\s<>]+>`)
	// splitURLRe: what Discord's URL rule would link.
	splitURLRe = regexp.MustCompile(`(?:https?|steam)://[^` + noteJSSpace + `<]+`)
)

// splitRepair is what a break adds: close at the end of the chunk before
// it, reopen at the start of the chunk after it.
type splitRepair struct {
	close, reopen           string
	closeRunes, reopenRunes int
}

// splitFence is a fenced block as SplitText sees it.
type splitFence struct {
	bodyStart, closerStart int // a cut p is inside when bodyStart <= p <= closerStart
	splitRepair
}

// splitSpan is a code span as SplitText sees it: s[open:end], its runs
// n backticks long.
type splitSpan struct {
	open, end, n int
}

type textSplitter struct {
	s      string
	fences []splitFence // repaired blocks only
	spans  []splitSpan
	avoid  [][2]int // [lo, hi): positions on fence lines or inside links and spans
	lines  [][2]int // [lo, hi): positions strictly inside fence lines, ascending
}

func newTextSplitter(s string, limit int) *textSplitter {
	sp := &textSplitter{s: s}
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
			if quote, m, ok := splitFenceOpen(line); ok && end < len(s) {
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
		case splitFenceClose(line, marker):
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
	for _, l := range text {
		sp.findSpans(l[0], l[1])
	}
	for _, loc := range splitLinkRe.FindAllStringIndex(s, -1) {
		sp.avoid = append(sp.avoid, [2]int{loc[0] + 1, loc[1]})
	}
	for _, loc := range splitURLRe.FindAllStringIndex(s, -1) {
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

// findSpans records the code spans of the line s[start:end].
func (sp *textSplitter) findSpans(start, end int) {
	s := sp.s
	type run struct {
		at, n   int
		escaped bool // after an odd run of backslashes
	}
	var runs []run
	slashes := 0
	for i := start; i < end; {
		if s[i] != '`' {
			if s[i] == '\\' {
				slashes++
			} else {
				slashes = 0
			}
			i++
			continue
		}
		n := 0
		for i+n < end && s[i+n] == '`' {
			n++
		}
		runs = append(runs, run{i, n, slashes%2 == 1})
		i += n
		slashes = 0
	}
	for k := 0; k < len(runs); k++ {
		at, n := runs[k].at, runs[k].n
		if runs[k].escaped {
			at, n = at+1, n-1
		}
		if n < 1 || n > 2 {
			continue
		}
		for c := k + 1; c < len(runs); c++ {
			if runs[c].n == n {
				sp.spans = append(sp.spans, splitSpan{open: at, end: runs[c].at + n, n: n})
				sp.avoid = append(sp.avoid, [2]int{at + 1, runs[c].at + n})
				k = c
				break
			}
		}
	}
}

func splitFenceOpen(line string) (quote, marker string, ok bool) {
	quote, t := splitIndent(line)
	n := 0
	for n < len(t) && t[n] == '`' {
		n++
	}
	if n < 3 || strings.IndexByte(t[n:], '`') >= 0 {
		return "", "", false
	}
	return quote, t[:n], true
}

func splitFenceClose(line, marker string) bool {
	_, t := splitIndent(line)
	n := 0
	for n < len(t) && t[n] == marker[0] {
		n++
	}
	return n >= len(marker) && strings.Trim(t[n:], " \t\r") == ""
}

// splitIndent drops up to three leading spaces and then a block quote
// marker (">" and one or more spaces), which it returns.
func splitIndent(line string) (quote, rest string) {
	for k := 0; k < 3 && strings.HasPrefix(line, " "); k++ {
		line = line[1:]
	}
	if t := strings.TrimLeft(strings.TrimPrefix(line, ">"), " "); strings.HasPrefix(line, ">") && len(line)-len(t) > 1 {
		return line[:len(line)-len(t)], t
	}
	return "", line
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

// graphemeCut reports whether a cut at p keeps grapheme sequences, and a
// markdown escape (a backslash and the punctuation it escapes), together.
func (sp *textSplitter) graphemeCut(p int) bool {
	s := sp.s
	if s[p-1] == '\r' && s[p] == '\n' {
		return false
	}
	if s[p-1] == '\\' && s[p] < utf8.RuneSelf && (unicode.IsPunct(rune(s[p])) || unicode.IsSymbol(rune(s[p]))) {
		slashes := 0
		for k := p - 1; k >= 0 && s[k] == '\\'; k-- {
			slashes++
		}
		if slashes%2 == 1 {
			return false
		}
	}
	prev, _ := utf8.DecodeLastRuneInString(s[:p])
	next, _ := utf8.DecodeRuneInString(s[p:])
	if prev == 0x200D {
		return false
	}
	switch {
	case next == 0x200D, next == 0xFE0E, next == 0xFE0F, next >= 0x1F3FB && next <= 0x1F3FF,
		next >= 0xE0020 && next <= 0xE007F, unicode.Is(unicode.Mn, next), unicode.Is(unicode.Me, next):
		return false
	}
	return true
}

// cut returns where the chunk that starts at start ends, given room runes.
func (sp *textSplitter) cut(start, room int) int {
	s := sp.s
	type cand struct{ p, n int }
	blank, nl, space, hard, hardAvoided, anyCut, poor := cand{-1, 0}, cand{-1, 0}, cand{-1, 0}, cand{-1, 0}, cand{-1, 0}, cand{-1, 0}, cand{-1, 0}
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
		if repaired && (strings.IndexByte("*_~", s[p-1]) >= 0 || sp.blankTail(p)) {
			// The added closing string would let Discord end emphasis
			// at that character, which the rest of s does not; or the
			// reopened block would hold no character.
			poor = c
			continue
		}
		anyCut = c
		if sp.avoided(p) {
			if sp.graphemeCut(p) {
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
		if sp.graphemeCut(p) {
			hard = c
		}
	}
	half := room / 2
	for _, c := range []cand{blank, nl, space} {
		if c.p >= 0 && c.n >= half {
			return c.p
		}
	}
	best := max(blank.p, nl.p, space.p)
	if best < 0 {
		best = hard.p
	}
	if best < 0 {
		best = hardAvoided.p
	}
	if best < 0 {
		best = anyCut.p
	}
	if best < 0 {
		best = poor.p
	}
	if best < 0 {
		// Only code whose every break is forbidden fills the room.
		_, size := utf8.DecodeRuneInString(s[start:])
		best = start + size
	}
	return best
}
