package harness

import (
	"testing"
	"time"
)

// pollInterval is how often Poll and Consistently check: often enough that
// a wait ends soon after the cluster catches up, seldom enough to leave the
// shared CPU to the control plane.
const pollInterval = 50 * time.Millisecond

// Poll calls check until it returns nil, and returns the last error once
// timeout has passed first. It is Eventually for code that has no test to
// fail, such as the shared fixtures of the benchmarks.
func Poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pollInterval)
	}
}

// Eventually polls check until it returns nil, failing the test with the
// last error when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := Poll(timeout, check); err != nil {
		t.Fatalf("not true within %s: %v", timeout, err)
	}
}

// Consistently fails the test as soon as check returns an error during d.
func Consistently(t testing.TB, d time.Duration, check func() error) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(pollInterval) {
		if err := check(); err != nil {
			t.Fatalf("stopped being true within %s: %v", d, err)
		}
	}
}
