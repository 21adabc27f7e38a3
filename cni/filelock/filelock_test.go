package filelock

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExclusiveWaitsForTheHolder: a second open file of the same path
// takes the lock only once the first is closed.
func TestExclusiveWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	first, second := open(), open()
	defer func() { _ = second.Close() }()
	if err := Exclusive(first); err != nil {
		t.Fatal(err)
	}
	taken := make(chan error, 1)
	go func() { taken <- Exclusive(second) }()
	select {
	case err := <-taken:
		t.Fatalf("the second lock was taken while the first was held (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	_ = first.Close()
	select {
	case err := <-taken:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second lock was not taken after the first was released")
	}
}
