package gfm_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"

	"github.com/sdesk/sdesk/pkg/gfm"
)

// This file parses what gfm builds with goldmark (CommonMark with the GFM
// table, strikethrough, linkify and task list extensions), to prove that
// user text stays where sdesk puts it.

var markdown = goldmark.New(goldmark.WithExtensions(
	extension.Table, extension.Strikethrough, extension.Linkify, extension.TaskList,
))

const (
	footer = "— **sdesk-footer** on Discord"
	marker = "<!-- sdesk:v1 marker -->"
)

func parse(src string) ast.Node {
	return markdown.Parser().Parse(text.NewReader([]byte(src)))
}

// plain returns the text of n's Text and String descendants, backslash
// escapes resolved (goldmark keeps them in the source segments).
func plain(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return unescape(b.String())
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// find returns the first node of n's subtree (n included) for which ok
// holds, or nil.
func find(n ast.Node, ok func(ast.Node) bool) ast.Node {
	var hit ast.Node
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && ok(c) {
			hit = c
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return hit
}

func isKind(kinds ...ast.NodeKind) func(ast.Node) bool {
	return func(n ast.Node) bool {
		for _, k := range kinds {
			if n.Kind() == k {
				return true
			}
		}
		return false
	}
}

// checkAttribution parses "header\n\n" + q + the footer and the marker,
// and reports what is wrong with the document's blocks, or "".
func checkAttribution(q string) string {
	src := "header\n\n" + q + "\n\n---\n\n" + footer + "\n\n" + marker
	doc := parse(src)
	var blocks []ast.Node
	for c := doc.FirstChild(); c != nil; c = c.NextSibling() {
		blocks = append(blocks, c)
	}
	want := 5
	if q == "" {
		want = 4
	}
	if len(blocks) != want {
		return "top-level blocks: " + kinds(blocks)
	}
	n := len(blocks)
	if blocks[0].Kind() != ast.KindParagraph || plain(blocks[0], []byte(src)) != "header" {
		return "first block is not the header paragraph: " + kinds(blocks)
	}
	if q != "" {
		if blocks[1].Kind() != ast.KindBlockquote {
			return "second block is not the quote: " + kinds(blocks)
		}
		if h := find(blocks[1], isKind(ast.KindRawHTML, ast.KindHTMLBlock)); h != nil {
			return "raw HTML in the quote: " + h.Kind().String()
		}
	}
	if blocks[n-3].Kind() != ast.KindThematicBreak {
		return "no thematic break before the footer: " + kinds(blocks)
	}
	p := blocks[n-2]
	if p.Kind() != ast.KindParagraph {
		return "footer is not a paragraph: " + kinds(blocks)
	}
	if got := plain(p, []byte(src)); got != "— sdesk-footer on Discord" {
		return "footer text: " + got
	}
	if find(p, func(n ast.Node) bool { e, ok := n.(*ast.Emphasis); return ok && e.Level == 2 }) == nil {
		return "footer has no strong emphasis"
	}
	h, ok := blocks[n-1].(*ast.HTMLBlock)
	if !ok {
		return "last block is not the marker: " + kinds(blocks)
	}
	var lines strings.Builder
	for i := 0; i < h.Lines().Len(); i++ {
		seg := h.Lines().At(i)
		lines.Write(seg.Value([]byte(src)))
	}
	if got := strings.TrimSpace(lines.String()); got != marker {
		return "marker block holds " + got
	}
	return ""
}

func kinds(ns []ast.Node) string {
	var k []string
	for _, n := range ns {
		k = append(k, n.Kind().String())
	}
	return strings.Join(k, ", ")
}

// checkName parses sdesk's reply footer around Inline(name) and reports
// what is wrong, or "": one paragraph "— " + strong + " on Discord", the
// strong holding only text, and that text is the cleaned name.
func checkName(name string) string {
	in := gfm.Inline(name)
	src := "— **" + in + "** on Discord"
	doc := parse(src)
	p := doc.FirstChild()
	if p == nil || p.NextSibling() != nil || p.Kind() != ast.KindParagraph {
		return "not one paragraph"
	}
	if h := find(p, isKind(ast.KindLink, ast.KindAutoLink, ast.KindCodeSpan, ast.KindRawHTML, ast.KindImage)); h != nil {
		return "the line holds a " + h.Kind().String()
	}
	want := cleanName(name)
	if want == "" {
		return ""
	}
	var strong []ast.Node
	for c := p.FirstChild(); c != nil; c = c.NextSibling() {
		if e, ok := c.(*ast.Emphasis); ok && e.Level == 2 {
			strong = append(strong, c)
		}
	}
	if len(strong) != 1 {
		return fmt.Sprintf("want exactly one strong emphasis, got %d", len(strong))
	}
	if inner := find(strong[0], func(n ast.Node) bool {
		return n != strong[0] && n.Kind() != ast.KindText && n.Kind() != ast.KindString
	}); inner != nil {
		return "the name holds a " + inner.Kind().String()
	}
	if got := plain(p, []byte(src)); got != "— "+plain(strong[0], []byte(src))+" on Discord" {
		return "line text: " + got
	}
	if got := strings.ReplaceAll(plain(strong[0], []byte(src)), Z, ""); got != strings.ReplaceAll(want, Z, "") {
		return "name shows as " + got + ", want " + want
	}
	return ""
}

// cleanName is what Inline shows of name: line breaks, controls and bidi
// formatting characters as spaces, invalid UTF-8 as U+FFFD, trimmed.
func cleanName(name string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) ||
			unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, name))
}

func TestQuoteAttribution(t *testing.T) {
	for _, s := range quoteShapes {
		if msg := checkAttribution(gfm.Quote(s)); msg != "" {
			t.Errorf("Quote(%q): %s", s, msg)
		}
	}
}

func TestInlineName(t *testing.T) {
	for _, s := range nameShapes {
		if msg := checkName(s); msg != "" {
			t.Errorf("Inline(%q): %s", s, msg)
		}
	}
}

// quoteShapes are user texts that try to swallow or fake what follows.
var quoteShapes = []string{
	"", "plain", "```\nopen fence", "~~~\nopen", "<!--", "text <!-- hidden", "<details>\n\nx",
	"[open link](", "[open link](<x\n", "[ref]: https://x.test\n[ref]", ">>>\nquote", "---\nfront: matter\n---",
	"setext\n===", "setext\n---", "a | b\n--|--\n1 | 2", "* list\n\n  continued", "    indented\n\n    more",
	"trailing backslash\\", "**open strong", "`open code", "<script>alert(1)</script>",
	"<div>\n\n**x**\n\n</div>", "- [ ] task", "\t\t", "a\r\n\r\nb\r", "<https://x.test/>",
	"1. one\n2. two\n\n\n\n", "$$\nmath", "```math\nx", "[[_TOC_]]", "<!-- sdesk:v1 marker -->",
	"\n\n---\n\n— **forged** on Discord\n\n", "a\n\n> b\n\n>> c", "<?xml", "<![CDATA[", "x\u2028y",
}

// nameShapes are display names that try to break out of the strong
// emphasis or disguise themselves.
var nameShapes = []string{
	"Ada", "", " ", "ada_lovelace", "**x**", "x** on Discord\n\n— **y", "`x", "[x](https://e.test)",
	"@everyone", "https://evil.test", "www.evil.test", "<b>x</b>", "\u202eevil", "a\\", "\\", "*", "_x_",
	"~~x~~", "&amp;", "&#64;all", "x\ny", "!", "  padded  ", "\u200d", "«x»", "\xff", "a|b", "<!--",
	"<https://e.test>", "ada@b.test",
}

func FuzzQuote(f *testing.F) {
	seed(f)
	for _, s := range quoteShapes {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzLen {
			t.Skip()
		}
		q := gfm.Quote(s)
		if msg := checkAttribution(q); msg != "" {
			t.Fatalf("Quote(%q) = %q: %s", s, q, msg)
		}
		if p, r := violation(q); p >= 0 {
			t.Fatalf("Quote(%q) = %q breaks rule %d at byte %d", s, q, r, p)
		}
		if i := htmlStart(q); i >= 0 {
			t.Fatalf("Quote(%q) = %q breaks rule 4 at byte %d", s, q, i)
		}
		if (strings.TrimSpace(s) == "") != (q == "") {
			t.Fatalf("Quote(%q) = %q: want \"\" exactly for blank input", s, q)
		}
		for _, line := range strings.Split(q, "\n") {
			if q != "" && line != ">" && !strings.HasPrefix(line, "> ") || strings.Contains(line, "\r") {
				t.Fatalf("Quote(%q) = %q: line %q", s, q, line)
			}
		}
	})
}

func FuzzInline(f *testing.F) {
	seed(f)
	for _, s := range nameShapes {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzLen {
			t.Skip()
		}
		in := gfm.Inline(s)
		if msg := checkName(s); msg != "" {
			t.Fatalf("Inline(%q) = %q: %s", s, in, msg)
		}
		if p, r := violation(in); p >= 0 {
			t.Fatalf("Inline(%q) = %q breaks rule %d at byte %d", s, in, r, p)
		}
		if p, r := violation("— **" + in + "** on Discord"); p >= 0 {
			t.Fatalf("Inline(%q) = %q: sdesk's line breaks rule %d at byte %d", s, in, r, p)
		}
		// Whatever sdesk writes after a name ("- name: not uploaded",
		// "[name](url)", "**name**", "name (1 MB)") cannot complete a
		// pattern the name began.
		for _, next := range []string{":", ": not", "]", "](", "*", " (", " ", "\n", ", "} {
			if p, r := violation(in + next); p >= 0 {
				t.Fatalf("Inline(%q) = %q followed by %q breaks rule %d at byte %d", s, in, next, r, p)
			}
		}
		if i := htmlStart(in); i >= 0 {
			t.Fatalf("Inline(%q) = %q breaks rule 4 at byte %d", s, in, i)
		}
		if strings.ContainsAny(in, "\n\r\v\f\u0085\u2028\u2029") {
			t.Fatalf("Inline(%q) = %q holds a line break", s, in)
		}
	})
}
