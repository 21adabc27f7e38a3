package install

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestTheImageBuildContextHoldsEverySourceItBuilds checks that the
// Dockerfile's build of the three binaries finds every file it needs:
// each Go source of the module that go list says the manager, the plugin
// and the node agent compile, and go.mod and go.sum, is in the build
// context .dockerignore leaves and is copied by a COPY of the Dockerfile.
// A source left out fails only the image build, which cannot run here.
func TestTheImageBuildContextHoldsEverySourceItBuilds(t *testing.T) {
	ignore := readDockerignore(t)
	copied := dockerfileCopies(t)
	for _, file := range append([]string{"go.mod", "go.sum"}, moduleSources(t, ".", "./cni", "./cni/agent")...) {
		if ignore.excludes(file) {
			t.Errorf("the image build compiles %s, which .dockerignore leaves out of the build context", file)
		}
		if !copied(file) {
			t.Errorf("the image build compiles %s, which no COPY of the Dockerfile copies", file)
		}
	}
}

// TestDockerignoreLetsTheBuildContextIn checks that .dockerignore, which
// leaves everything out but what the image needs, leaves in every file of
// the repository that the Dockerfile copies, tests and test data aside.
func TestDockerignoreLetsTheBuildContextIn(t *testing.T) {
	ignore := readDockerignore(t)
	copied := dockerfileCopies(t)
	out, err := gitCommand("ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, file := range strings.Fields(string(out)) {
		if copied(file) && ignore.excludes(file) && !isTestFile(file) {
			t.Errorf("the Dockerfile copies %s, which .dockerignore leaves out of the build context", file)
		}
	}
}

func isTestFile(file string) bool {
	return strings.HasSuffix(file, "_test.go") || strings.Contains("/"+file, "/testdata/")
}

func gitCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = harness.RepoRoot()
	return cmd
}

// moduleSources returns the Go sources of the module, relative to its
// root, that building pkgs for linux without cgo compiles or embeds.
func moduleSources(t *testing.T, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{$dir := .Dir}}{{range .GoFiles}}{{$dir}}/{{.}} {{end}}{{range .EmbedFiles}}{{$dir}}/{{.}} {{end}}{{end}}`}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0") // the Dockerfile's defaults
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(harness.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, file := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, file)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	if len(files) < 10 {
		t.Fatalf("go list found only %v", files)
	}
	return files
}

// dockerfileCopies returns whether a COPY of the Dockerfile from the build
// context copies file: a source names it, a directory above it, or a
// pattern that matches it.
func dockerfileCopies(t *testing.T) func(file string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 3 || fields[0] != "COPY" || strings.HasPrefix(fields[1], "--from") {
			continue
		}
		if strings.HasPrefix(fields[1], "[") || strings.HasPrefix(fields[1], "--") {
			t.Fatalf("the Dockerfile's %q: this test reads only COPY <sources> <destination>; teach it the rest", line)
		}
		sources = append(sources, fields[1:len(fields)-1]...)
	}
	return func(file string) bool {
		for _, src := range sources {
			src = path.Clean(src)
			if matched, _ := path.Match(src, file); matched || strings.HasPrefix(file, src+"/") {
				return true
			}
		}
		return false
	}
}

// dockerignore is the patterns of a .dockerignore file, in order.
type dockerignore []ignorePattern

type ignorePattern struct {
	re        *regexp.Regexp
	exception bool
}

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns dockerignore
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pattern, exception := strings.CutPrefix(line, "!")
		pattern = strings.TrimPrefix(path.Clean(pattern), "/")
		if !translatable(pattern) {
			t.Fatalf(".dockerignore pattern %q: this test reads only *, ? and ** as a whole path element; teach it the rest", line)
		}
		patterns = append(patterns, ignorePattern{re: ignoreRegexp(pattern), exception: exception})
	}
	return patterns
}

// translatable reports whether ignoreRegexp translates pattern as Docker
// reads it: no character classes or escapes, and ** only as a whole path
// element.
func translatable(pattern string) bool {
	if strings.ContainsAny(pattern, "[\\") {
		return false
	}
	for _, element := range strings.Split(pattern, "/") {
		if strings.Contains(element, "**") && element != "**" {
			return false
		}
	}
	return true
}

// ignoreRegexp translates a .dockerignore pattern, relative to the root of
// the build context, as Docker does: `**` matches any number of
// directories, `*` and `?` anything but a slash.
func ignoreRegexp(pattern string) *regexp.Regexp {
	var re strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch {
		case strings.HasPrefix(pattern[i:], "**/"):
			re.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(pattern[i:], "**"):
			re.WriteString(".*")
			i++
		case pattern[i] == '*':
			re.WriteString("[^/]*")
		case pattern[i] == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	return regexp.MustCompile("^" + re.String() + "$")
}

// excludes reports whether file is left out of the build context: the last
// pattern that matches it or a directory above it decides.
func (d dockerignore) excludes(file string) bool {
	excluded := false
	for _, p := range d {
		if p.matchesOrParent(file) {
			excluded = !p.exception
		}
	}
	return excluded
}

func (p ignorePattern) matchesOrParent(file string) bool {
	for dir := file; dir != "." && dir != "/"; dir = path.Dir(dir) {
		if p.re.MatchString(dir) {
			return true
		}
	}
	return false
}
