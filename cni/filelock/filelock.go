// Package filelock takes the advisory file locks that serialise the
// processes of a node: the plugin's ADDs on a pool, the node agents of a
// rolling update. The kernel releases a lock when its file is closed, or
// its process dies, so a crash never leaves one held.
package filelock

import (
	"errors"
	"os"
	"syscall"
)

// Exclusive takes an exclusive lock on f, waiting for it, and retrying
// when a signal interrupts the wait.
func Exclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
