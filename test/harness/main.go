package harness

import (
	"fmt"
	"os"
	"testing"
)

// Run is the body of a test package's TestMain: it starts what the
// package's tests share, runs them, and stops it again. start returns the
// function that stops what it started, also when it fails halfway. Run
// prints what failed to start or stop and returns the exit code for os.Exit.
func Run(m *testing.M, start func() (stop func() error, err error)) int {
	stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if stop != nil {
			if err := stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
		return 1
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
