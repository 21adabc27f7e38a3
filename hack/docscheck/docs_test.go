package docscheck

import (
	"io/fs"
	"os"
	"testing"
)

// ownDir is this package's directory in the checkout.
const ownDir = "hack/docscheck"

// TestDocs checks README.md and docs/*.md of this checkout.
func TestDocs(t *testing.T) {
	root := os.DirFS("../..")
	m, err := LoadModule(root, ownDir)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := fs.Glob(root, "docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append([]string{"README.md"}, docs...) {
		findings, err := m.Check(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			t.Error(f)
		}
	}
}
