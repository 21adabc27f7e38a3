package docscheck

import (
	"regexp"
	"strings"
)

// kind says what a backticked span names, and so how it is checked.
type kind int

const (
	// kindOther spans (values, flags, field paths, label keys, snippets, shell
	// commands other than make, output) are not checked.
	kindOther kind = iota
	// kindPath is a file or directory of the checkout.
	kindPath
	// kindMake is "make" and its targets.
	kindMake
	// kindGo is a declaration of a package of the module.
	kindGo
	// kindTest is a test, benchmark, fuzz test or example function.
	kindTest
	// kindWord is a camelCase or CamelCase word (blockSize, NextFreeBlock,
	// PodGone): a name, a field or a reason the code must still say.
	kindWord
)

// notChecked lists the spans that look like a path or a Go name but are
// not one: the exceptions to the rules of classify.
var notChecked = map[string]bool{
	"apps/daemonsets": true, // an API group and resource
	"namespace/name":  true, // a format
	"B/op":            true, // benchmark units
	"allocs/op":       true,
	"add-ms/op":       true,
	"del-ms/op":       true,
	"adds/s":          true,
	"b.RunParallel":   true, // a method of testing.B, on its usual variable
	"rate()":          true, // PromQL functions
	"increase()":      true,
	"caBundle":        true, // fields of other projects' objects
	"defaultNetworks": true,
}

var (
	pathRE      = regexp.MustCompile(`^(\./)?[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_.-]+)*/?$`)
	rootFileRE  = regexp.MustCompile(`\.(go|Dockerfile)$`)
	testNameRE  = regexp.MustCompile(`^(Test|Benchmark|Fuzz|Example)([A-Z_0-9][A-Za-z0-9_]*)?(/\S*)?$`)
	callRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}\(\)$`)
	qualifiedRE = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
	camelRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*$`)
)

// classify says what a backticked span names. The rules, first match wins:
//
//  1. A span listed in notChecked is not checked.
//
//  2. A span with a space is a command: `make` with targets is checked
//     (arguments with "=" or "-" are variables and flags); of any other
//     command, a first word that is a path by rule 4 is checked.
//
//  3. Test, Benchmark, Fuzz or Example, then nothing or a capital letter
//     and more (TestLoad, optionally followed by /subtest) is a test
//     function of some _test.go file.
//
//  4. A relative path (letters, digits, "_", "-", "." and "/" only, "./"
//     allowed in front) is a path of the checkout when it has a "/" and its
//     first element has no "." (that would be a domain: a label key, an API
//     group, an import path, an address), or when it is a single file name
//     ending in .go or .Dockerfile. Paths under bin/ are build outputs and
//     are not checked.
//
//  5. A name ending in "()" (`retryOnConflict()`, `plugin.Load()`) is Go.
//
//  6. pkg.Name and pkg.Type.Name are Go when pkg is a name the module's
//     packages go by (their package name or an alias the module imports them
//     under: ipamv1alpha1 is api/v1alpha1), or when Name is exported and pkg
//     is no package the module imports from outside (those, metav1 or skel,
//     are not checked): such a pkg is a package that was renamed or moved.
//     Lower-case pairs that are no package (spec.pool, ipam.timeout) are
//     field paths.
//
//  7. Any other word with a lower-case letter followed by an upper-case
//     one (blockSize, NextFreeBlock, PodGone) is a name, a field or a
//     reason that the module must still say: as an identifier, a field tag
//     or a word of a string of its Go code, or a word of its manifests.
//
// Other unqualified words (IPPool, Ready, ipam) are not checked: to name Go
// code precisely, qualify it or add "()".
func (m *Module) classify(s string) (kind, []string) {
	switch {
	case notChecked[s]:
		return kindOther, nil
	case strings.ContainsAny(s, " \t"):
		return m.classifyCommand(s)
	case testNameRE.MatchString(s):
		name, _, _ := strings.Cut(s, "/")
		return kindTest, []string{name}
	case isPath(s):
		if rel := strings.TrimPrefix(s, "./"); rel == "bin" || strings.HasPrefix(rel, "bin/") {
			return kindOther, nil
		}
		return kindPath, []string{s}
	case callRE.MatchString(s):
		return kindGo, []string{strings.TrimSuffix(s, "()")}
	}
	if camelRE.MatchString(s) {
		return kindWord, []string{s}
	}
	g := qualifiedRE.FindStringSubmatch(s)
	if g == nil {
		return kindOther, nil
	}
	if _, ok := m.qualifiers[g[1]]; ok {
		return kindGo, []string{s}
	}
	if !m.external[g[1]] && isExported(g[2]) {
		return kindGo, []string{s}
	}
	return kindOther, nil
}

// classifyCommand applies rule 2 of classify.
func (m *Module) classifyCommand(s string) (kind, []string) {
	words := shellWords(s)
	if len(words) > 0 && words[0] == "$" {
		words = words[1:]
	}
	if len(words) == 0 {
		return kindOther, nil
	}
	if words[0] == "make" {
		var targets []string
		for _, w := range words[1:] {
			if strings.ContainsAny(w, "|;&>#") {
				break
			}
			if !strings.Contains(w, "=") && !strings.HasPrefix(w, "-") {
				targets = append(targets, w)
			}
		}
		return kindMake, targets
	}
	if isPath(words[0]) && !notChecked[words[0]] {
		return kindPath, []string{words[0]}
	}
	return kindOther, nil
}

// isPath applies rule 4 of classify, bin/ aside.
func isPath(s string) bool {
	if !pathRE.MatchString(s) {
		return false
	}
	first, _, hasSlash := strings.Cut(s, "/")
	switch {
	case first == ".":
		return true
	case hasSlash:
		return !strings.Contains(first, ".")
	default:
		return rootFileRE.MatchString(s)
	}
}

func isExported(name string) bool {
	return name != "" && name[0] >= 'A' && name[0] <= 'Z'
}

// shellWords splits a command line into words, keeping quoted text
// together: enough for a make command line with VAR='a b'.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
