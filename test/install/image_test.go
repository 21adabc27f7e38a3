package install

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// build is one go build: the package, and the environment and flags it is
// built with, for one binary.
type build struct {
	pkg   string
	flags string
}

// TestDockerfileBuildsWhatMakeBuilds compares the go builds of the
// Dockerfile with those of make build: the same binaries from the same
// packages, with the same flags and environment, the version stamped in
// the same way.
func TestDockerfileBuildsWhatMakeBuilds(t *testing.T) {
	const version = "9.9.9-test"
	cmd := exec.Command("make", "-n", "build", "VERSION="+version, "LOCALBIN=/out")
	cmd.Dir = harness.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	makeBuilds := goBuilds(t, strings.Split(string(out), "\n"), nil)
	docker, env := dockerfileBuildLines(t)
	for k, v := range env {
		env[k] = strings.ReplaceAll(v, "${TARGETOS}", "linux")
	}
	for i := range docker {
		docker[i] = strings.ReplaceAll(docker[i], "${VERSION}", version)
	}
	dockerBuilds := goBuilds(t, docker, env)
	if len(makeBuilds) < 3 || !maps.Equal(makeBuilds, dockerBuilds) {
		t.Fatalf("make build builds\n%v\nthe Dockerfile builds\n%v", makeBuilds, dockerBuilds)
	}
}

// dockerfileBuildLines returns the shell commands of the Dockerfile's RUN
// instructions, one per command, and its ENV settings.
func dockerfileBuildLines(t *testing.T) ([]string, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	env := map[string]string{}
	var commands []string
	for _, line := range strings.Split(joined, "\n") {
		switch fields := strings.Fields(line); {
		case len(fields) > 1 && fields[0] == "ENV":
			for _, kv := range fields[1:] {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case len(fields) > 1 && fields[0] == "RUN":
			commands = append(commands, strings.Split(strings.TrimPrefix(strings.TrimSpace(line), "RUN"), "&&")...)
		}
	}
	return commands, env
}

// goBuilds parses the go build commands among lines, by the base name of
// the binary each writes. env is the environment they run in, besides what
// a command sets itself; only CGO_ENABLED matters to the binary here.
func goBuilds(t *testing.T, lines []string, env map[string]string) map[string]build {
	t.Helper()
	builds := map[string]build{}
	for _, line := range lines {
		words := shellWords(line)
		i := slices.Index(words, "go")
		if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
			continue
		}
		cgo := env["CGO_ENABLED"]
		for _, w := range words[:i] {
			if v, ok := strings.CutPrefix(w, "CGO_ENABLED="); ok {
				cgo = v
			}
		}
		args := words[i+2:]
		out := slices.Index(args, "-o")
		if out < 0 || out+1 >= len(args) {
			t.Fatalf("go build without -o: %s", line)
		}
		binary := path.Base(args[out+1])
		flags := slices.Delete(slices.Clone(args), out, out+2)
		pkg := flags[len(flags)-1]
		builds[binary] = build{pkg: pkg, flags: "CGO_ENABLED=" + cgo + " " + strings.Join(flags[:len(flags)-1], " ")}
	}
	return builds
}

// shellWords splits a command line at spaces outside double quotes and
// drops the quotes, as the shell does for these simple commands.
func shellWords(line string) []string {
	var words []string
	var word bytes.Buffer
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}
