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
// Ctrl-C does, with SIGINT to its process group, once its nodes run (the
// control plane, the manager and the node agents, each a process), and
// checks that every process it started is gone, its directory removed and
// no temporary file of any of them left.
func TestDemoInterrupted(t *testing.T) {
	demo := exec.Command(buildDemo(t), "--gc-grace-period=5s")
	tmp := ownTempDir(t, demo)
	// Its own process group, as a shell gives a foreground job.
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	demo.Stderr = demo.Stdout
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, nothing the demo started outlives the test.
	t.Cleanup(func() {
		left := descendants(demo.Process.Pid)
		_ = demo.Process.Kill()
		killAll(left)
	})
	out := readOutput(stdout)
	output, running := out.until("== 6. ", 5*time.Minute)
	t.Log(output)
	if !running {
		t.Fatal("the demo did not reach its sixth step")
	}
	started := descendants(demo.Process.Pid)
	t.Cleanup(func() { killAll(started) })
	if len(started) < 5 {
		t.Fatalf("the demo runs %d processes, want kube-apiserver, etcd, the manager and the node agents", len(started))
	}
	if err := syscall.Kill(-demo.Process.Pid, syscall.SIGINT); err != nil {
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
	for _, p := range started {
		if p.alive() {
			t.Errorf("process %d (%s) that the demo started still runs", p.pid, p.commandLine())
		}
	}
	expectDirectoryGone(t, output)
	expectEmpty(t, tmp)
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

// process is a process as /proc shows it: its ID and its start time, which
// tell it apart from a later process given the same ID.
type process struct {
	pid   int
	start string
}

// stat returns the fields of /proc/pid/stat after the command name: the
// state is the first, the parent the second, the start time the
// twentieth.
func stat(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	return strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
}

// descendants returns the processes below pid: its children, theirs, and
// so on.
func descendants(pid int) []process {
	children := map[int][]process{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		child, _ := strconv.Atoi(filepath.Base(dir))
		if fields := stat(child); len(fields) > 19 {
			parent, _ := strconv.Atoi(fields[1])
			children[parent] = append(children[parent], process{pid: child, start: fields[19]})
		}
	}
	var all []process
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		all = append(all, queue[0])
		queue = append(queue, children[queue[0].pid]...)
	}
	return all
}

// alive reports whether p runs: its ID names a process started when p
// was, which is no zombie.
func (p process) alive() bool {
	fields := stat(p.pid)
	return len(fields) > 19 && fields[19] == p.start && fields[0] != "Z"
}

func (p process) commandLine() string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline")
	return strings.ReplaceAll(string(data), "\x00", " ")
}

// killAll kills the processes of ps that still run.
func killAll(ps []process) {
	for _, p := range ps {
		if p.alive() {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
}
