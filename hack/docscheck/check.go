// Package docscheck checks that the repository's Markdown docs name only
// what exists: every repository path, make target, Go name and camelCase
// word in a backticked span, every relative link and its anchor, and every
// example message. Docs drift silently when code moves; this turns the drift into a
// test failure that names the file, the line and what to change.
//
// What a backticked span is taken for is decided by the rules written on
// classify; spans that are values, flags, field paths, label keys, snippets
// or output are not checked. Of fenced code blocks only make command lines
// are checked, and the lines of "message" blocks.
//
// Example messages are marked in one of two ways: a backticked span in a
// table column headed "example message", or a line of a fenced code block
// whose info string is "message". Each must appear word for word (after
// trimming) in a string literal of some _test.go file of the module, where
// the tests assert messages; a "…" in the message stands for text left out,
// and the pieces around it must appear in that order in the same literal.
package docscheck

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

const (
	// messageColumn heads a table column of example messages.
	messageColumn = "example message"
	// messageInfo is the info string of a fenced block of example messages.
	messageInfo = "message"
	// ellipsis stands for text left out of an example message.
	ellipsis = "…"
)

// Finding is one reference in a doc to something that does not exist.
type Finding struct {
	File string
	Line int
	// Span is the text referred to: a backticked span, a command or a link.
	Span string
	// Problem says what is wrong and what to do.
	Problem string
}

// String formats a Finding as file:line: `span`: problem.
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: `%s`: %s", f.File, f.Line, f.Span, f.Problem)
}

// Check reads the Markdown file name (a slash-separated path from the root
// of the checkout) and returns what it names that does not exist.
func (m *Module) Check(name string) ([]Finding, error) {
	src, err := fs.ReadFile(m.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	doc := parseMarkdown(string(src))
	var out []Finding
	report := func(line int, s, problem string) {
		out = append(out, Finding{File: name, Line: line, Span: s, Problem: problem})
	}
	for _, sp := range doc.spans {
		var problem string
		if sp.column == messageColumn {
			problem = m.checkMessage(sp.text)
		} else {
			problem = m.checkSpan(sp.text)
		}
		if problem != "" {
			report(sp.line, sp.text, problem)
		}
	}
	for _, fl := range doc.fenced {
		text := strings.TrimSpace(fl.text)
		var problem string
		switch {
		case text == "":
		case fl.info == messageInfo:
			problem = m.checkMessage(text)
		case strings.HasPrefix(strings.TrimPrefix(text, "$ "), "make "):
			if k, targets := m.classifyCommand(text); k == kindMake {
				problem = m.checkTargets(targets)
			}
		}
		if problem != "" {
			report(fl.line, text, problem)
		}
	}
	for _, l := range doc.links {
		if problem := m.checkLink(name, doc, l.target); problem != "" {
			report(l.line, l.target, problem)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out, nil
}

// checkSpan checks a span that is not an example message.
func (m *Module) checkSpan(s string) string {
	k, names := m.classify(s)
	switch k {
	case kindPath:
		p := strings.TrimSuffix(strings.TrimPrefix(names[0], "./"), "/")
		if _, err := fs.Stat(m.fsys, p); err != nil {
			return "no such file or directory in the repository: write the path as it is now, from the root of the checkout"
		}
	case kindMake:
		return m.checkTargets(names)
	case kindTest:
		if !m.testFuncs[names[0]] {
			return fmt.Sprintf("no _test.go file of the module declares %s: name the test as it is now", names[0])
		}
	case kindGo:
		return m.checkGoName(names[0])
	case kindWord:
		if !m.words[names[0]] {
			return "neither the module's Go code (as a name, a field tag or a word of a string) nor its manifests say this: write what the code says now, or reword"
		}
	}
	return ""
}

func (m *Module) checkTargets(targets []string) string {
	for _, t := range targets {
		if !m.targets[t] {
			return fmt.Sprintf("the Makefile has no target %q: name a target that `make help` lists", t)
		}
	}
	return ""
}

// checkGoName checks a Go name: pkg.Name, pkg.Type.Name, Name or Type.Name.
func (m *Module) checkGoName(name string) string {
	q, rest, qualified := strings.Cut(name, ".")
	dirs, known := m.qualifiers[q]
	if qualified && known {
		for _, dir := range dirs {
			if m.decls[dir][rest] {
				return ""
			}
		}
		return fmt.Sprintf("%s declares no %s: name what the code declares now, or reword", packageList(q, dirs), rest)
	}
	if qualified && !isExported(q) && !strings.Contains(rest, ".") && isExported(rest) {
		return fmt.Sprintf("no package of the module is named or imported as %s: qualify the name with its package's name or usual alias (ipamv1alpha1 for api/v1alpha1)", q)
	}
	for _, decls := range m.decls {
		if decls[name] {
			return ""
		}
	}
	return fmt.Sprintf("no package of the module declares %s: name what the code declares now, qualified by its package, or reword", name)
}

// packageList names the packages a qualifier stands for.
func packageList(q string, dirs []string) string {
	if len(dirs) == 1 && path.Base(dirs[0]) == q {
		return dirs[0]
	}
	return fmt.Sprintf("%s (%s)", strings.Join(dirs, ", "), q)
}

// checkMessage checks an example message against the tests' strings.
func (m *Module) checkMessage(msg string) string {
	var pieces []string
	for _, p := range strings.Split(msg, ellipsis) {
		if p = strings.TrimSpace(p); p != "" {
			pieces = append(pieces, p)
		}
	}
	for _, s := range m.testStrings {
		if containsInOrder(s, pieces) {
			return ""
		}
	}
	return "no _test.go file asserts this example message: quote, word for word, a message a test expects (… for text left out), or stop marking it as an example message"
}

// containsInOrder says whether s holds each of pieces, one after another.
func containsInOrder(s string, pieces []string) bool {
	for _, p := range pieces {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// checkLink checks a relative link of the doc name and its anchor.
func (m *Module) checkLink(name string, doc *document, target string) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return ""
	}
	file, anchor, _ := strings.Cut(target, "#")
	anchors := doc.anchors
	if file != "" {
		p := path.Join(path.Dir(name), file)
		if _, err := fs.Stat(m.fsys, p); err != nil {
			return fmt.Sprintf("%s does not exist: link to the file as it is now, relative to %s", p, path.Dir(name))
		}
		if anchor == "" || !strings.HasSuffix(p, ".md") {
			return ""
		}
		src, err := fs.ReadFile(m.fsys, p)
		if err != nil {
			return fmt.Sprintf("cannot read %s: %v", p, err)
		}
		anchors = parseMarkdown(string(src)).anchors
	}
	if anchor != "" && !anchors[anchor] {
		return fmt.Sprintf("no heading has the anchor #%s: link to a section that exists, or add it", anchor)
	}
	return ""
}
