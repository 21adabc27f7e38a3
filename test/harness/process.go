package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessOptions tune a manager run as a process of its own.
type ProcessOptions struct {
	// Args are more flags, after those StartManagerProcess sets (a later
	// flag wins).
	Args []string
	// Log receives the manager's log; nil discards it.
	Log io.Writer
	// Env are more environment variables, NAME=VALUE, after this
	// process's own (a later one wins).
	Env []string
}

// ManagerProcess is the real manager binary running against an Env, as the
// operator's Deployment runs it: its own process, its own flags, its
// webhook server where the API server expects it.
type ManagerProcess struct {
	cmd  *exec.Cmd
	done chan error
	dir  string
	// MetricsAddr serves /metrics over plain HTTP.
	MetricsAddr string
}

// processReadyTimeout bounds the manager's start: its caches sync and its
// webhook server listens.
const processReadyTimeout = 60 * time.Second

// StartManagerProcess starts the manager binary at path with an
// administrator's kubeconfig, in the operator's namespace, serving the
// webhooks when e installed them, and waits until it is ready. Stop it
// with ManagerProcess.Stop.
func (e *Env) StartManagerProcess(path string, opts ProcessOptions) (*ManagerProcess, error) {
	dir, err := os.MkdirTemp("", "ipkeeper-manager-")
	if err != nil {
		return nil, fmt.Errorf("create a directory for the manager: %w", err)
	}
	p := &ManagerProcess{dir: dir, done: make(chan error, 1)}
	if err := p.start(e, path, opts); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

func (p *ManagerProcess) start(e *Env, path string, opts ProcessOptions) error {
	kubeconfig := filepath.Join(p.dir, "kubeconfig")
	if err := WriteKubeconfig(e.Config, kubeconfig); err != nil {
		return fmt.Errorf("write the manager's kubeconfig: %w", err)
	}
	probeAddr, err := FreeLocalAddr()
	if err != nil {
		return err
	}
	if p.MetricsAddr, err = FreeLocalAddr(); err != nil {
		return err
	}
	wh := e.WebhookOptions()
	args := []string{
		"--namespace=" + OperatorNamespace, "--node-service-account=" + NodeServiceAccount, "--deployment=",
		"--health-probe-bind-address=" + probeAddr, "--metrics-bind-address=" + p.MetricsAddr, "--metrics-secure=false",
		fmt.Sprintf("--webhook-enabled=%v", len(wh.ValidatingWebhooks) > 0),
		"--webhook-port=" + strconv.Itoa(wh.LocalServingPort), "--webhook-cert-dir=" + wh.LocalServingCertDir,
	}
	p.cmd = exec.Command(path, append(args, opts.Args...)...)
	p.cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), opts.Env...)
	p.cmd.Stdout, p.cmd.Stderr = opts.Log, opts.Log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", path, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p.waitReady(probeAddr)
}

// waitReady polls the manager's readiness probe.
func (p *ManagerProcess) waitReady(probeAddr string) error {
	deadline := time.Now().Add(processReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("the manager exited before it was ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("the manager was not ready within %s", processReadyTimeout)
}

// Stop sends the manager SIGTERM, as the kubelet does, waits for it to
// exit (killing it after 30 seconds) and removes its kubeconfig.
func (p *ManagerProcess) Stop() error {
	defer func() { _ = os.RemoveAll(p.dir) }()
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == -1 {
			return nil // killed by a signal: stopped
		}
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return errors.New("the manager did not stop within 30s of SIGTERM")
	}
}

// PID returns the manager's process ID.
func (p *ManagerProcess) PID() int {
	return p.cmd.Process.Pid
}

// PeakRSS returns the most resident memory the manager has used so far
// (VmHWM), in bytes.
func (p *ManagerProcess) PeakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read the manager's memory use: %w", err)
	}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kib * 1024, err
		}
	}
	return 0, errors.New("the manager's /proc status has no VmHWM")
}
