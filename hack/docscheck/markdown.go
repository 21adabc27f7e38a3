package docscheck

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// document is what the check reads from one Markdown file: its inline code
// spans, the lines of its fenced code blocks, its links and the anchors of
// its headings. It understands just enough Markdown for the repository's
// docs: paragraphs, lists, headings, GitHub tables and fenced blocks.
type document struct {
	spans   []span
	fenced  []fenceLine
	links   []link
	anchors map[string]bool

	headings map[string]int // how often each anchor was seen
}

// span is one inline code span.
type span struct {
	line int // of the opening backtick, from 1
	text string
	// column is the header of the table column that holds the span, in
	// lower case; empty outside tables.
	column string
}

// fenceLine is one line of a fenced code block.
type fenceLine struct {
	line int
	info string // the block's info string, e.g. "sh" or "message"
	text string
}

// link is the target of an inline link, e.g. "cni.md#errors".
type link struct {
	line   int
	target string
}

var (
	fenceRE     = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})\\s*([^`]*)$")
	headingRE   = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	delimiterRE = regexp.MustCompile(`^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$`)
	lineBreakRE = regexp.MustCompile(`\n[ \t]*`)
	linkRE      = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
)

// parseMarkdown reads src, the text of one Markdown file.
func parseMarkdown(src string) *document {
	d := &document{anchors: map[string]bool{}, headings: map[string]int{}}
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var block []int // the lines of the current paragraph or table
	flush := func() {
		d.readBlock(lines, block)
		block = nil
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			flush()
			i = d.readFence(lines, i, m[1], strings.TrimSpace(m[2]))
			continue
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			flush()
			d.addAnchor(m[2])
			d.readBlock(lines, []int{i})
			continue
		}
		block = append(block, i)
	}
	flush()
	return d
}

// readFence records the fenced block opened on line open by the fence
// marker and returns the index of its closing line.
func (d *document) readFence(lines []string, open int, marker, info string) int {
	i := open + 1
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if strings.HasPrefix(t, marker[:3]) && strings.Trim(t, marker[:1]) == "" && len(t) >= len(marker) {
			break
		}
		d.fenced = append(d.fenced, fenceLine{line: i + 1, info: info, text: lines[i]})
	}
	return i
}

// readBlock records the spans and links of a paragraph, a list or a table.
func (d *document) readBlock(lines []string, block []int) {
	if len(block) == 0 {
		return
	}
	if len(block) >= 2 && strings.Contains(lines[block[0]], "|") && delimiterRE.MatchString(lines[block[1]]) {
		d.readTable(lines, block)
		return
	}
	texts := make([]string, len(block))
	for i, n := range block {
		texts[i] = lines[n]
	}
	d.readInline(strings.Join(texts, "\n"), block[0]+1, "")
}

// readTable records the spans of each cell with the header of its column.
func (d *document) readTable(lines []string, block []int) {
	header := splitRow(lines[block[0]])
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(header[i]))
	}
	d.readInline(lines[block[0]], block[0]+1, "")
	for _, n := range block[2:] {
		for i, cell := range splitRow(lines[n]) {
			column := ""
			if i < len(header) {
				column = header[i]
			}
			d.readInline(strings.ReplaceAll(cell, `\|`, "|"), n+1, column)
		}
	}
}

// splitRow splits a table row at its unescaped pipes, as GitHub does, even
// inside code spans.
func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	var cells []string
	start := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			cells = append(cells, row[start:i])
			start = i + 1
		}
	}
	return append(cells, row[start:])
}

// readInline records the code spans and links of text, which starts on
// line first and may run over several lines.
func (d *document) readInline(text string, first int, column string) {
	lineAt := func(offset int) int { return first + strings.Count(text[:offset], "\n") }
	outside := []byte(text) // text with the code spans blanked, to find links in
	for i := 0; i < len(text); {
		if text[i] == '\\' {
			i += 2
			continue
		}
		if text[i] != '`' {
			i++
			continue
		}
		n := runLength(text, i)
		end := closingRun(text, i+n, n)
		if end < 0 {
			i += n // no closing run: the backticks are literal
			continue
		}
		d.spans = append(d.spans, span{line: lineAt(i), text: spanText(text[i+n : end]), column: column})
		for j := i; j < end+n; j++ {
			if outside[j] != '\n' {
				outside[j] = ' '
			}
		}
		i = end + n
	}
	for _, m := range linkRE.FindAllSubmatchIndex(outside, -1) {
		d.links = append(d.links, link{line: lineAt(m[0]), target: string(outside[m[2]:m[3]])})
	}
}

// runLength is the number of backticks at text[i:].
func runLength(text string, i int) int {
	n := 0
	for i+n < len(text) && text[i+n] == '`' {
		n++
	}
	return n
}

// closingRun returns where the first run of exactly n backticks at or
// after from starts, or -1.
func closingRun(text string, from, n int) int {
	for from < len(text) {
		k := strings.IndexByte(text[from:], '`')
		if k < 0 {
			return -1
		}
		k += from
		m := runLength(text, k)
		if m == n {
			return k
		}
		from = k + m
	}
	return -1
}

// spanText is the content of a code span as Markdown renders it: line
// endings, with the indentation of the next line, become spaces, and one
// space of padding on both sides goes.
func spanText(raw string) string {
	s := lineBreakRE.ReplaceAllString(raw, " ")
	if len(s) >= 2 && s[0] == ' ' && s[len(s)-1] == ' ' && strings.TrimSpace(s) != "" {
		s = s[1 : len(s)-1]
	}
	return s
}

// addAnchor records the anchor GitHub gives a heading: lower case, only
// letters, digits, spaces, hyphens and underscores kept, spaces as hyphens,
// and "-1", "-2"... for repeated headings.
func (d *document) addAnchor(heading string) {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	anchor := b.String()
	if n := d.headings[anchor]; n > 0 {
		d.anchors[anchor+"-"+strconv.Itoa(n)] = true
	} else {
		d.anchors[anchor] = true
	}
	d.headings[anchor]++
}
