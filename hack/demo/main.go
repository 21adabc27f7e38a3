// Command demo runs ipkeeper end to end on a local control plane, as make
// demo does: a real kube-apiserver and etcd, the operator's real manager
// binary serving its webhook over TLS, the node agent on a few simulated
// nodes with tokens bound to pods on them, and the CNI plugin giving pods
// addresses through libcni, as a container runtime calls it. It shows what
// a user sees with kubectl, then stays up until Ctrl-C, which stops
// everything it started and removes every file it wrote.
//
// With --once it runs the same steps and exits, with status 1 when a step
// did not show what it should: make test runs it so.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.BoolVar(&o.once, "once", false, "Run every step and exit, with status 1 when one did not show what it should.")
	flag.DurationVar(&o.gracePeriod, "gc-grace-period", 10*time.Second, "The operator's grace period before it releases the claim of a pod that is gone.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, o))
}

// options are the demo's flags.
type options struct {
	once        bool
	gracePeriod time.Duration
}

// run runs the demo and returns the process's exit status.
func run(ctx context.Context, o options) int {
	d, err := newDemo(os.Stdout, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer d.cleanup()
	failed := runSteps(ctx, d.out, d.steps())
	if o.once || ctx.Err() != nil {
		return exitStatus(failed)
	}
	d.explain()
	<-ctx.Done()
	fmt.Fprintln(d.out, "\nStopping everything the demo started and removing its files...")
	return exitStatus(failed)
}

func exitStatus(failed int) int {
	if failed > 0 {
		return 1
	}
	return 0
}
