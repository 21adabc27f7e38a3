package harness

import (
	"bytes"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Command is a process a test runs as a node runs it (the node agent's
// binary), with its output kept for the test to read while it runs.
type Command struct {
	cmd *exec.Cmd
	// exited is closed once the process has exited, and err then holds
	// how.
	exited chan struct{}
	err    error
	mu     sync.Mutex
	out    bytes.Buffer
}

// StartCommand starts cmd, its standard output and error kept, and kills
// it when the test ends if it still runs.
func StartCommand(t *testing.T, cmd *exec.Cmd) *Command {
	t.Helper()
	c := &Command{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c, c
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// Write keeps what the process writes.
func (c *Command) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}

// Output returns what the process has written so far.
func (c *Command) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// Stop sends the process SIGTERM, as the kubelet does, and returns how it
// exited (Wait).
func (c *Command) Stop(timeout time.Duration) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	return c.Wait(timeout)
}

// Wait returns how the process exited; when it has not within timeout, it
// is killed and Wait says so.
func (c *Command) Wait(timeout time.Duration) error {
	select {
	case <-c.exited:
		return c.err
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not exit within %s, and was killed", c.cmd.Path, timeout)
	}
}
