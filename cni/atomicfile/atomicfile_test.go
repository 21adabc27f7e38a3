package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterruptedWriteKeepsTheOldFile writes half a new file and fails, as
// a copy interrupted by a full disk or a dying source would: the old
// content stays, whole, and no temporary file is left.
func TestInterruptedWriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ipkeeper")
	if err := os.WriteFile(path, []byte("old binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Write(path, 0o755, func(w io.Writer) error {
		if _, err := w.Write([]byte("half of the new")); err != nil {
			return err
		}
		return errors.New("source went away")
	})
	if err == nil || !strings.Contains(err.Error(), "source went away") {
		t.Fatalf("Write = %v, want the source's error", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old binary" {
		t.Fatalf("after an interrupted write the file holds %q, want the old content", data)
	}
	assertOnlyFiles(t, dir, "ipkeeper")
}

func TestCopyReplacesOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if err := os.WriteFile(src, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		content   string
		mode      os.FileMode
		wantWrote bool
	}{
		{name: "new file", content: "v1", mode: 0o755, wantWrote: true},
		{name: "same content and mode", content: "v1", mode: 0o755, wantWrote: false},
		{name: "new mode", content: "v1", mode: 0o700, wantWrote: true},
		{name: "new content", content: "v2", mode: 0o700, wantWrote: true},
	}
	for _, s := range steps {
		if err := os.WriteFile(src, []byte(s.content), 0o644); err != nil {
			t.Fatal(err)
		}
		wrote, err := Copy(src, dst, s.mode)
		if err != nil || wrote != s.wantWrote {
			t.Fatalf("%s: Copy = %v, %v; want wrote=%v", s.name, wrote, err, s.wantWrote)
		}
		info, err := os.Stat(dst)
		if data, _ := os.ReadFile(dst); err != nil || string(data) != s.content || info.Mode().Perm() != s.mode {
			t.Fatalf("%s: dst holds %q with mode %v, want %q with %v", s.name, data, info.Mode(), s.content, s.mode)
		}
	}
	assertOnlyFiles(t, dir, "dst", "src")
}

func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{tempPrefix + "ipkeeper-123", "ipkeeper", "bridge"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveLeftovers(dir); err != nil {
		t.Fatal(err)
	}
	assertOnlyFiles(t, dir, "bridge", "ipkeeper")
}

func assertOnlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, want)
	}
}
