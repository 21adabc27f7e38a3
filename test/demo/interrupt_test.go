package demo

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoInterrupted starts the demo as a user does, interrupts it as
// Ctrl-C does once its nodes run (the control plane, the manager and
// the node agents, each a process), and checks that every process it
// started is gone and its directory removed.
func TestDemoInterrupted(t *testing.T) {
	demo := exec.Command(buildDemo(t), "--gc-grace-period=5s")
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	demo.Stderr = demo.Stdout
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = demo.Process.Kill() })
	out := readOutput(stdout)
	output, running := out.until("== 6. ", 5*time.Minute)
	t.Log(output)
	if !running {
		t.Fatal("the demo did not reach its sixth step")
	}
	started := descendants(demo.Process.Pid)
	if len(started) < 5 {
		t.Fatalf("the demo runs %d processes, want kube-apiserver, etcd, the manager and the node agents", len(started))
	}
	if err := demo.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, ended := out.until("", 2*time.Minute)
	t.Log(rest)
	if !ended {
		t.Fatal("the demo did not stop within 2 minutes of the interrupt")
	}
	if err := demo.Wait(); err == nil {
		t.Error("the interrupted demo exited 0, want the status of a run that did not finish")
	}
	for _, pid := range started {
		if alive(pid) {
			t.Errorf("process %d (%s) that the demo started still runs", pid, commandLine(pid))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	expectDirectoryGone(t, output)
}

// output is what a process writes, line by line, as it writes it.
type output chan string

func readOutput(r io.Reader) output {
	lines := make(output)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(r)
		for scanner.Scan() {
			lines <- scanner.Text() + "\n"
		}
	}()
	return lines
}

// until returns what the process writes until a line starts with marker
// (or, with no marker, until it closes its output), and whether it did so
// within timeout.
func (o output) until(marker string, timeout time.Duration) (string, bool) {
	var read strings.Builder
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-o:
			if !ok {
				return read.String(), marker == ""
			}
			read.WriteString(line)
			if marker != "" && strings.HasPrefix(line, marker) {
				return read.String(), true
			}
		case <-deadline:
			return read.String(), false
		}
	}
}

// descendants returns the processes below pid: its children, theirs, and
// so on.
func descendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: state, ppid.
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
		if parent, err := strconv.Atoi(fields[1]); err == nil {
			children[parent] = append(children[parent], child)
		}
	}
	var all []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		all = append(all, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return all
}

// alive reports whether pid runs: it exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return fields[0] != "Z"
}

func commandLine(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(data), "\x00", " ")
}
