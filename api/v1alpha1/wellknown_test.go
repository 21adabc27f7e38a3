package v1alpha1

import (
	"strings"
	"testing"
)

func TestLabelValue(t *testing.T) {
	short := "node-a.example.com"
	if got := LabelValue(short); got != short {
		t.Fatalf("LabelValue(%q) = %q, want it unchanged", short, got)
	}
	long := strings.Repeat("node.", 20) + "a"
	other := strings.Repeat("node.", 20) + "b"
	got := LabelValue(long)
	if len(got) > 63 || got == LabelValue(other) || !strings.HasPrefix(got, "node.node.") {
		t.Fatalf("LabelValue(%q) = %q: want at most 63 characters, readable, and distinct from %q", long, got, LabelValue(other))
	}
	if got != LabelValue(long) {
		t.Fatal("LabelValue is not deterministic")
	}
}
