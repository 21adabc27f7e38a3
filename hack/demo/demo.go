package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// demo is one run: what it started, and where it writes.
type demo struct {
	out  io.Writer
	opts options
	// dir holds every file the demo writes; cleanup removes it.
	dir string
	// kubeconfig is an administrator's kubeconfig of the control plane.
	kubeconfig string
	bins       *harness.Binaries
	env        *harness.Env
	manager    *harness.ManagerProcess
	nodes      []*simNode
	// pods are the pods given addresses, with their sandboxes.
	pods []*podSandbox
}

func newDemo(out io.Writer, o options) (*demo, error) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		return nil, errors.New("kubectl is not on PATH: the demo shows what kubectl shows; install kubectl first (https://kubernetes.io/docs/tasks/tools/)")
	}
	dir, err := os.MkdirTemp("", "ipkeeper-demo-")
	if err != nil {
		return nil, fmt.Errorf("create the demo's directory: %w", err)
	}
	return &demo{out: out, opts: o, dir: dir, kubeconfig: filepath.Join(dir, "kubeconfig")}, nil
}

// step is one thing the demo shows: a title and what it does. It returns
// an error when it did not show what it should.
type step struct {
	title string
	run   func(context.Context) error
}

// runSteps runs steps in order, reporting each on out, and returns how many
// failed; an interrupt counts as a failure. A step whose failure leaves
// nothing for the next ones to build on stops the run.
func runSteps(ctx context.Context, out io.Writer, steps []step) int {
	failed := 0
	for i, s := range steps {
		if ctx.Err() != nil {
			return failed + 1
		}
		fmt.Fprintf(out, "\n== %d. %s\n", i+1, s.title)
		start := time.Now()
		err := s.run(ctx)
		if err == nil {
			fmt.Fprintf(out, "   ok (%s)\n", time.Since(start).Round(100*time.Millisecond))
			continue
		}
		failed++
		fmt.Fprintf(out, "   FAILED: %v\n", err)
		var fatal fatalError
		if errors.As(err, &fatal) {
			return failed
		}
	}
	return failed
}

// fatalError is a failure after which the demo cannot go on.
type fatalError struct{ error }

func fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}

// steps are the demo in order.
func (d *demo) steps() []step {
	return []step{
		{"Start a local control plane: kube-apiserver and etcd", d.startControlPlane},
		{"Install the node side of config/default: service accounts, roles, the admission policy", d.install},
		{"Run the operator: the real manager binary, serving its webhook over TLS", d.startOperator},
		{"Apply the sample pools", d.applySamples},
		{"Register three nodes and run the node agent on each", d.startNodes},
		{"Give pods addresses: the CNI plugin through libcni, as a container runtime calls it", d.givePodsAddresses},
		{"What kubectl shows", d.showState},
		{"The webhook refuses an overlapping pool", d.showOverlapRefused},
		{"The admission policy refuses node-a's credential a claim for node-b", d.showOtherNodeRefused},
		{"A pod gets its addresses while the operator is stopped", d.showOperatorDown},
		{"The claim of a pod deleted without a CNI DEL is collected after the grace period", d.showLeakCollected},
	}
}

// say prints an indented line.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "   "+format+"\n", args...)
}

// kubectl runs kubectl with the administrator's kubeconfig (or the one of
// args, when they name one), prints the command and its output, and
// returns the output. stdin, when set, is what kubectl reads.
func (d *demo) kubectl(stdin string, args ...string) (string, error) {
	fmt.Fprintf(d.out, "\n   $ kubectl %s\n", strings.Join(args, " "))
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+d.kubeconfig)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		fmt.Fprintln(d.out, "   "+line)
	}
	return out.String(), err
}

// expectOutput fails unless output holds want.
func expectOutput(output, want string) error {
	if !strings.Contains(output, want) {
		return fmt.Errorf("expected the output to say %q", want)
	}
	return nil
}

// cleanup stops everything the demo started, newest first, and removes its
// files.
func (d *demo) cleanup() {
	for _, n := range d.nodes {
		n.stopAgent()
	}
	if d.manager != nil {
		_ = d.manager.Stop()
	}
	if d.env != nil {
		_ = d.env.Stop()
	}
	if d.bins != nil {
		_ = d.bins.Remove()
	}
	_ = os.RemoveAll(d.dir)
}

// explain tells the user how to explore what runs.
func (d *demo) explain() {
	if len(d.nodes) == 0 {
		fmt.Fprintf(d.out, "\nThe demo stopped early; press Ctrl-C to remove its files (%s).\n", d.dir)
		return
	}
	fmt.Fprintf(d.out, `
== The demo stays up: explore it with kubectl

   export KUBECONFIG=%s
   kubectl get ipam                       pools and claims together
   kubectl get ipclaims -o wide           addresses, pools, nodes, pods
   kubectl describe ippool default-v4     a pool's status and conditions
   kubectl get validatingadmissionpolicy  the policy that binds node credentials
   kubectl get events -n default          what the operator announced

   Node node-a's files, as its node agent wrote them: %s
   The operator's log: %s

   Press Ctrl-C to stop everything and remove these files.
`, d.kubeconfig, d.nodes[0].dir, filepath.Join(d.dir, "manager.log"))
}
