package discordmd

import (
	"strings"
)

func noteStripTags(s string) string {
	return noteReplace(noteTagRe(), s, func(m []string) string {
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
	s = noteReplace(noteAnchorRe(), s, func(m []string) string {
		text := r.htmlTags(r.media(m[2]))
		href := strings.TrimSpace(noteAttr(m[1], "href"))
		lower := strings.ToLower(href)
		if href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(lower, "javascript:") {
			return text
		}
		return r.link(text, href)
	})
	s = r.media(s)
	s = noteReplace(noteSummaryRe(), s, func(m []string) string {
		t := strings.TrimSpace(r.htmlTags(m[1]))
		if t == "" {
			return ""
		}
		return "**" + t + "**\n"
	})
	return r.htmlTags(s)
}

func (r *noteRenderer) media(s string) string {
	return noteReplace(noteMediaRe(), s, func(m []string) string {
		src, alt := noteAttr(m[1], "src"), noteAttr(m[1], "alt")
		if strings.TrimSpace(src) == "" {
			return alt
		}
		return r.link(alt, src)
	})
}

// htmlTags replaces or strips the known HTML tags left in s.
func (r *noteRenderer) htmlTags(s string) string {
	locs := noteTagRe().FindAllStringSubmatchIndex(s, -1)
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
	for _, m := range noteAttrRe().FindAllStringSubmatch(attrs, -1) {
		if strings.EqualFold(m[1], name) {
			return decodeEntities(m[2] + m[3] + m[4])
		}
	}
	return ""
}
