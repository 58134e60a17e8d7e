package discordmd

import (
	"regexp"
	"strings"
	"sync"

	"github.com/rivo/uniseg"
)

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
	mdDelimRowRe = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$`)
	})
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
		if f, ok := gitlabFences.open(line); ok {
			j := i + 1
			for j < len(lines) && !gitlabFences.closes(lines[j], f.marker) {
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
				if _, ok := gitlabFences.open(lines[j]); ok {
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

func mdTableStart(head, delim string) bool {
	d := strings.TrimRight(delim, "\r\n")
	if !strings.Contains(head, "|") || !strings.Contains(d, "|") || !mdDelimRowRe().MatchString(d) {
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
// RenderWith): ``` fences (after the block's indentation when that is
// at most three spaces), a language Discord knows as one or none, the
// content with its ``` runs broken, "> " before each line of a block in a
// quote, and a closing fence also for an unclosed block.
func renderFence(b mdBlock) string {
	f, _ := gitlabFences.open(b.lines[0])
	lead, lang := f.prefix, fenceLang(f.info)
	quotes := strings.Count(lead, ">")
	switch {
	case quotes > 0:
		lead = "> "
	case len(lead) > 3 || strings.Trim(lead, " ") != "":
		lead = "" // Split finds fences after at most three spaces (outputFences)
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
	for _, l := range strings.SplitAfter(blockContent(content.String()), "\n") {
		if l != "" {
			out.WriteString(quote + breakTicks(l))
		}
	}
	out.WriteString(lead + "```")
	if b.closed {
		closer := b.lines[last]
		out.WriteString(closer[len(strings.TrimRight(closer, "\r\n")):])
	}
	return out.String()
}

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
	out := codeBlock("math", content)
	if strings.HasSuffix(b.lines[len(b.lines)-1], "\n") {
		out += "\n"
	}
	return out
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
			widths[c] = max(widths[c], uniseg.StringWidth(cell))
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
				line.WriteString(strings.Repeat(" ", widths[c]-uniseg.StringWidth(cell)) + " | ")
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
	out := codeBlock("", b.String())
	if strings.HasSuffix(lines[len(lines)-1], "\n") {
		out += "\n"
	}
	return out
}
