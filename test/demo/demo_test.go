// Package demo runs make demo's program non-interactively, as
// `make demo DEMO_FLAGS=--once` does: every step must show what it should,
// and the demo must leave nothing behind.
package demo

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestDemoOnce builds and runs the demo with --once: it exits 0, every
// step reports ok, the refusals and the collection it shows are the real
// ones, and its directory is gone afterwards, as is every temporary file
// of the processes it ran (the control plane, the manager, the agents).
func TestDemoOnce(t *testing.T) {
	var out bytes.Buffer
	run := exec.Command(buildDemo(t), "--once", "--gc-grace-period=5s")
	tmp := ownTempDir(t, run)
	run.Stdout, run.Stderr = &out, &out
	err := run.Run()
	t.Log(out.String())
	if err != nil {
		t.Fatalf("the demo failed: %v", err)
	}
	text := out.String()
	if steps, oks := strings.Count(text, "\n== "), strings.Count(text, "   ok ("); steps < 10 || oks != steps || strings.Contains(text, "FAILED") {
		t.Fatalf("%d steps, %d ok; want every step ok", steps, oks)
	}
	for _, want := range []string{
		`overlaps pool "default-v4"`,
		"ValidatingAdmissionPolicy 'ipkeeper-node-claims' with binding 'ipkeeper-node-claims' denied request: credentials bound to node node-a",
		"pod default/web-while-down on node-b: ",
		"Orphaned=True (PodGone)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	expectDirectoryGone(t, text)
	expectEmpty(t, tmp)
}

// buildDemo builds the demo's program into a temporary directory, as make
// demo builds it: not with harness.Build, whose -trimpath would hide from
// the demo the checkout it finds by its source path (harness.RepoRoot).
func buildDemo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("the demo shows kubectl's output: install kubectl")
	}
	demo := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", demo, "./hack/demo")
	build.Dir = harness.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}
	return demo
}

// expectDirectoryGone fails unless the directory of the demo's files,
// which its output names, is gone.
func expectDirectoryGone(t *testing.T, output string) {
	t.Helper()
	dir := regexp.MustCompile(`kubeconfig: (\S+)/kubeconfig`).FindStringSubmatch(output)
	if dir == nil {
		t.Fatal("the demo did not say where its kubeconfig is")
	}
	if _, err := os.Stat(dir[1]); !os.IsNotExist(err) {
		t.Errorf("the demo left %s behind (%v)", dir[1], err)
	}
}

// ownTempDir gives cmd, and every process it starts, a temporary directory
// (TMPDIR) of its own, which the test removes, and returns it.
func ownTempDir(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	dir := t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	return dir
}

// expectEmpty fails unless dir, the demo's TMPDIR, is empty: the demo
// removed every temporary file of every process it ran.
func expectEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("the demo left %s in its temporary directory", filepath.Join(dir, e.Name()))
	}
}
