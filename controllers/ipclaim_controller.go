package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Event reasons on claims.
const (
	eventOrphaned = "Orphaned"
	eventReleased = "Released"
)

// IPClaimReconciler checks every claim against its pool, marking one that
// breaks a rule Invalid (never deleting it: a pod may use the address), and
// collects leaked claims: an Address claim whose pod
// (namespace, name and uid) is gone, because a CNI DEL never came or failed
// for good, and the empty Block claims of deleted nodes. It releases nothing
// on a single observation: an Address claim is first marked Orphaned, and
// only after a grace period and a fresh read from the API server is it
// deleted, with preconditions that refuse if the claim changed meanwhile.
// Pod IPs are never evidence: the kubelet reports them after ADD returns.
type IPClaimReconciler struct {
	// Client reads from the manager's cache, where pods and nodes are kept
	// as metadata only.
	client.Client
	// APIReader reads around the cache, to confirm that a pod or node is
	// gone before anything is released.
	APIReader client.Reader
	// Recorder emits events on the claims it marks and releases.
	Recorder events.EventRecorder
	// GracePeriod is how long a claim stays Orphaned before it is released.
	GracePeriod time.Duration
	// ScanInterval is how often every claim is looked at again.
	ScanInterval time.Duration
}

// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ipclaims,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ipclaims/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=pods;nodes;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager looks at a claim when it changes, when its pod or node is
// deleted, when an address inside a block is released, when its pool is
// created, deleted or changed, and on every scan.
// Pods and nodes are watched as metadata only, so that the cache stays
// small in large clusters.
func (r *IPClaimReconciler) SetupWithManager(mgr ctrl.Manager) error {
	deletions := builder.WithPredicates(predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&ipamv1alpha1.IPClaim{}).
		Watches(&ipamv1alpha1.IPClaim{}, handler.EnqueueRequestsFromMapFunc(blockOfAddress), deletions).
		WatchesMetadata(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.claimsOfPod), deletions).
		WatchesMetadata(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.blocksOfNode), deletions).
		Watches(&ipamv1alpha1.IPPool{}, handler.EnqueueRequestsFromMapFunc(r.claimsOfPool),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: specChangedOrDeleted})).
		WatchesRawSource(source.Func(r.scanPeriodically)).
		Named("ipclaim").
		Complete(r)
}

// Reconcile looks at one claim and marks or releases it when its holder is
// gone.
func (r *IPClaimReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	claim := &ipamv1alpha1.IPClaim{}
	if err := r.Get(ctx, req.NamespacedName, claim); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get IPClaim %s: %w", req.Name, err)
	}
	if !claim.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if err := r.reconcileValidity(ctx, claim); err != nil {
		return retryOnConflict(err)
	}
	var res ctrl.Result
	var err error
	switch claim.Spec.Type {
	case ipamv1alpha1.ClaimTypeAddress:
		res, err = r.reconcileAddress(ctx, claim)
	case ipamv1alpha1.ClaimTypeBlock:
		res, err = r.reconcileBlock(ctx, claim)
	}
	if err != nil {
		return retryOnConflict(err)
	}
	return res, nil
}

// release deletes claim only if it is still exactly the object observed:
// the UID and resourceVersion preconditions make the API server refuse when
// the claim was deleted and recreated for another pod, or changed, since.
// Such a claim is looked at again, never forced.
func (r *IPClaimReconciler) release(ctx context.Context, claim *ipamv1alpha1.IPClaim, reason, why string) (ctrl.Result, error) {
	uid, version := claim.UID, claim.ResourceVersion
	err := r.Delete(ctx, claim, client.Preconditions{UID: &uid, ResourceVersion: &version})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		logf.FromContext(ctx).V(1).Info("Claim changed since it was observed; looking at it again")
		return ctrl.Result{RequeueAfter: conflictRetryDelay}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("release IPClaim %s: %w", claim.Name, err)
	}
	gcClaimsReleased.WithLabelValues(reason).Inc()
	r.Recorder.Eventf(claim, nil, corev1.EventTypeNormal, eventReleased, "Release",
		"Released %s of pool %s: %s.", claimTarget(claim), claim.Spec.Pool, why)
	logf.FromContext(ctx).Info("Released claim", "ippool", claim.Spec.Pool, "reason", reason)
	return ctrl.Result{}, nil
}

// claimsOfPod maps a pod deletion to the Address claims made for that pod,
// found by the pod's uid (or, for a mirror pod, the uid of its static pod),
// so that a new pod with the same name is no alibi.
func (r *IPClaimReconciler) claimsOfPod(ctx context.Context, pod client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, uid := range []string{string(pod.GetUID()), pod.GetAnnotations()[corev1.MirrorPodAnnotationKey]} {
		if uid != "" {
			reqs = append(reqs, r.claimsMatching(ctx, client.MatchingFields{ipamv1alpha1.FieldPodUID: uid}, ipamv1alpha1.ClaimTypeAddress)...)
		}
	}
	return reqs
}

// claimsOfPool maps the creation, deletion or change of spec of a pool to
// its claims, whose validity depends on it, and whose blocks go with it.
func (r *IPClaimReconciler) claimsOfPool(ctx context.Context, pool client.Object) []reconcile.Request {
	return r.claimsMatching(ctx, client.MatchingFields{ipamv1alpha1.FieldPool: pool.GetName()}, "")
}

// specChangedOrDeleted passes pool updates that change the spec or start
// the pool's deletion.
func specChangedOrDeleted(e event.UpdateEvent) bool {
	return specChanged(e) || e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
}

// blocksOfNode maps a node deletion to the node's Block claims.
func (r *IPClaimReconciler) blocksOfNode(ctx context.Context, node client.Object) []reconcile.Request {
	return r.claimsMatching(ctx, client.MatchingFields{ipamv1alpha1.FieldNode: node.GetName()}, ipamv1alpha1.ClaimTypeBlock)
}

// claimsMatching lists the claims of one type (every type when typ is
// empty) that match fields in the cache.
func (r *IPClaimReconciler) claimsMatching(ctx context.Context, fields client.MatchingFields, typ ipamv1alpha1.ClaimType) []reconcile.Request {
	claims := &ipamv1alpha1.IPClaimList{}
	if err := r.List(ctx, claims, fields); err != nil {
		logf.FromContext(ctx).Error(err, "Cannot list claims to look at", "fields", fields)
		return nil
	}
	var reqs []reconcile.Request
	for i := range claims.Items {
		if typ == "" || claims.Items[i].Spec.Type == typ {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: claims.Items[i].Name}})
		}
	}
	return reqs
}

// blockOfAddress maps the deletion of an Address claim to the Block claim
// its block label names, which may now be empty and releasable.
func blockOfAddress(_ context.Context, obj client.Object) []reconcile.Request {
	claim, ok := obj.(*ipamv1alpha1.IPClaim)
	if !ok || claim.Spec.Type != ipamv1alpha1.ClaimTypeAddress || claim.Labels[ipamv1alpha1.LabelBlock] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: claim.Labels[ipamv1alpha1.LabelBlock]}}}
}

// scanPeriodically is a source that enqueues every claim in the cache once
// per ScanInterval. Pod and node deletions already enqueue their claims at
// once; the scan is the safety net, as in Calico and Spiderpool, for what
// events cannot bring back: an address claim without a block label, a claim
// whose reconcile gave up on a transient error, a deletion handled while the
// claim was not yet cached. A ticker feeding the queue directly is the
// simplest way to get that: no channel, no extra Runnable, only the leader
// scans (sources start with the controller), and the workqueue stays empty
// between scans instead of holding a timer for every claim, as a RequeueAfter
// on each reconcile would.
func (r *IPClaimReconciler) scanPeriodically(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	go func() {
		ticker := time.NewTicker(r.ScanInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			claims := &ipamv1alpha1.IPClaimList{}
			if err := r.List(ctx, claims, client.UnsafeDisableDeepCopy); err != nil {
				logf.FromContext(ctx).Error(err, "Cannot list claims for the periodic scan")
				continue
			}
			for i := range claims.Items {
				queue.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: claims.Items[i].Name}})
			}
		}
	}()
	return nil
}

// claimTarget returns what a claim reserves: its address or block.
func claimTarget(claim *ipamv1alpha1.IPClaim) string {
	if claim.Spec.Type == ipamv1alpha1.ClaimTypeBlock {
		return "block " + claim.Spec.CIDR
	}
	return "address " + claim.Spec.Address
}
