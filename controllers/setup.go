// Package controllers holds the ipkeeper operator's controllers: IPPool
// status, overlap resolution and deletion protection; the claim reconciler,
// which marks claims that break a rule of their pool and collects leaked
// ones; the node agent's DaemonSet; and the admission rules (the node-claims
// policy, the webhook's match condition) it keeps in force. None of them is
// on the allocation path: if the operator is down, nodes keep allocating
// and running pods keep their addresses.
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
	// Namespace is the operator's namespace, where the node agent's service
	// account lives.
	Namespace string
	// NodeServiceAccount is the name of the node agent's service account,
	// the only credential the CNI plugin uses.
	NodeServiceAccount string
	// Deployment is the name of the operator's Deployment, which owns the
	// node agent's DaemonSet.
	Deployment string
	// NodeAgent describes the node agent; its ServiceAccount is
	// NodeServiceAccount.
	NodeAgent NodeAgentOptions
}

// Timing of AdmissionSetup: retry soon after a failure (the API server may
// be starting too); otherwise check every minute that nobody removed or
// rewrote the rules (OLM rewrites the webhook registration it owns when it
// renews its certificate). A check that finds everything in place costs a
// list and two no-op applies.
const (
	admissionRetryInterval = 10 * time.Second
	admissionResync        = time.Minute
)

// SetupWithManager registers every controller with mgr. The manager's cache
// must already index IPClaim fields (claimindex.Register).
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.GCGracePeriod <= 0 || opts.GCScanInterval <= 0 {
		return errors.New("the claim garbage collector needs a positive grace period and scan interval (--gc-grace-period, --gc-scan-interval), such as 60s")
	}
	if opts.Namespace == "" || opts.NodeServiceAccount == "" {
		return errors.New("the node admission policy needs the operator's namespace and the node service account's name (--namespace, --node-service-account)")
	}
	if err := opts.NodeAgent.Check(); err != nil {
		return err
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
	admission := &AdmissionSetup{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(),
		Authority:     NodeAuthority{NamePrefix: PolicyNamePrefix, NodeUser: ServiceAccountUser(opts.Namespace, opts.NodeServiceAccount)},
		RetryInterval: admissionRetryInterval, Resync: admissionResync,
	}
	if err := mgr.Add(admission); err != nil {
		return fmt.Errorf("set up the node admission policy: %w", err)
	}
	agent := &NodeAgentReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Namespace: opts.Namespace, Deployment: opts.Deployment,
		Agent: opts.NodeAgent,
	}
	agent.Agent.ServiceAccount = opts.NodeServiceAccount
	if err := agent.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up the node agent controller: %w", err)
	}
	return nil
}
