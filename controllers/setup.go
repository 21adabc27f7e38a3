// Package controllers holds the ipkeeper operator's controllers: IPPool
// status, overlap resolution and deletion protection, and the claim garbage
// collector. None of them is on the allocation path: if the operator is down,
// nodes keep allocating and running pods keep their addresses.
package controllers

import (
	"errors"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// eventSource is the reporting controller of every event the operator emits.
const eventSource = "ipkeeper"

// Options tune the controllers.
type Options struct {
	// GCGracePeriod is how long a claim stays Orphaned before it is released.
	GCGracePeriod time.Duration
	// GCScanInterval is how often every claim is checked for a missing pod.
	GCScanInterval time.Duration
}

// SetupWithManager registers every controller with mgr. The manager's cache
// must already index IPClaim fields (claimindex.Register).
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.GCGracePeriod <= 0 || opts.GCScanInterval <= 0 {
		return errors.New("the claim garbage collector needs a positive grace period and scan interval (--gc-grace-period, --gc-scan-interval), such as 60s")
	}
	recorder := mgr.GetEventRecorder(eventSource)
	pools := &IPPoolReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder}
	if err := pools.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the IPPool controller: %w", err)
	}
	gc := &IPClaimReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder,
		GracePeriod: opts.GCGracePeriod, ScanInterval: opts.GCScanInterval,
	}
	if err := gc.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the claim garbage collector: %w", err)
	}
	return nil
}
