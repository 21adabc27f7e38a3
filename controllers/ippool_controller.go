package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Event reasons on pools, beside the condition types they announce.
const (
	eventOverlapping = "Overlapping"
	eventExhausted   = "Exhausted"
)

// IPPoolReconciler keeps every IPPool's status true to its claims, resolves
// overlaps between pools after the fact (the oldest wins), and keeps a
// deleted pool, Terminating, until its last claim is gone, so that a pool
// recreated with other settings never hands out an address still in use.
type IPPoolReconciler struct {
	// Client reads from the manager's cache, indexed by claim pool.
	client.Client
	// APIReader reads around the cache, to confirm that a pool is empty
	// before its finalizer is removed.
	APIReader client.Reader
	// Recorder emits events on pools.
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ippools,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ippools/status,verbs=patch
// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ippools/finalizers,verbs=update
// +kubebuilder:rbac:groups=ipam.ipkeeper.dev,resources=ipclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager reconciles a pool when it changes, when a pool
// overlapping it is created or deleted (so that a loser becomes Ready when
// the winner goes), and when one of its claims is created or deleted.
func (r *IPPoolReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&ipamv1alpha1.IPPool{}).
		Watches(&ipamv1alpha1.IPPool{}, handler.EnqueueRequestsFromMapFunc(r.overlappingPools),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: specChanged})).
		Watches(&ipamv1alpha1.IPClaim{}, poolOfClaimAfterChurn).
		Named("ippool").
		Complete(r)
}

// Reconcile brings the status of one IPPool up to date.
func (r *IPPoolReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pool := &ipamv1alpha1.IPPool{}
	if err := r.Get(ctx, req.NamespacedName, pool); err != nil {
		if apierrors.IsNotFound(err) {
			forgetPoolMetrics(req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get IPPool %s: %w", req.Name, err)
	}
	var err error
	if pool.DeletionTimestamp.IsZero() {
		err = r.reconcileNormal(ctx, pool)
	} else {
		err = r.reconcileDelete(ctx, pool)
	}
	return retryOnConflict(err)
}

// reconcileNormal protects a live pool with the finalizer and observes it.
func (r *IPPoolReconciler) reconcileNormal(ctx context.Context, pool *ipamv1alpha1.IPPool) error {
	if !controllerutil.ContainsFinalizer(pool, ipamv1alpha1.PoolFinalizer) {
		orig := pool.DeepCopy()
		controllerutil.AddFinalizer(pool, ipamv1alpha1.PoolFinalizer)
		if err := r.Patch(ctx, pool, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("add finalizer to IPPool %s: %w", pool.Name, err)
		}
	}
	claims, err := r.claimsOf(ctx, pool.Name)
	if err != nil {
		return err
	}
	return r.observe(ctx, pool, claims)
}

// reconcileDelete lets a deleted pool go once no claim of it remains, and
// until then reports it Terminating with the number of claims left. The
// cache may lag behind a claim just created, so an empty cache is confirmed
// with the API server before the finalizer goes.
func (r *IPPoolReconciler) reconcileDelete(ctx context.Context, pool *ipamv1alpha1.IPPool) error {
	if !controllerutil.ContainsFinalizer(pool, ipamv1alpha1.PoolFinalizer) {
		return nil
	}
	claims, err := r.claimsOf(ctx, pool.Name)
	if err != nil {
		return err
	}
	if len(claims) > 0 {
		return r.observe(ctx, pool, claims)
	}
	live := &ipamv1alpha1.IPClaimList{}
	if err := r.APIReader.List(ctx, live, client.MatchingFields{ipamv1alpha1.FieldPool: pool.Name}, client.Limit(1)); err != nil {
		return fmt.Errorf("list claims of IPPool %s from the API server: %w", pool.Name, err)
	}
	if len(live.Items) > 0 {
		return nil // the cache is behind; the claim's create event brings the pool back
	}
	orig := pool.DeepCopy()
	controllerutil.RemoveFinalizer(pool, ipamv1alpha1.PoolFinalizer)
	if err := r.Patch(ctx, pool, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("remove finalizer from IPPool %s: %w", pool.Name, err)
	}
	forgetPoolMetrics(pool.Name)
	logf.FromContext(ctx).Info("Released deleted IPPool: no claim remains")
	return nil
}

// observe recomputes the status of pool, announces what changed and patches
// the status once.
func (r *IPPoolReconciler) observe(ctx context.Context, pool *ipamv1alpha1.IPPool, claims []ipamv1alpha1.IPClaim) error {
	pools := &ipamv1alpha1.IPPoolList{}
	if err := r.List(ctx, pools); err != nil {
		return fmt.Errorf("list IPPools: %w", err)
	}
	orig := pool.DeepCopy()
	counts, ok := updateStatus(pool, claims, overlapWinner(pool, pools.Items))
	if ok {
		recordPoolMetrics(pool.Name, counts)
	} else {
		forgetPoolMetrics(pool.Name)
	}
	if equality.Semantic.DeepEqual(orig.Status, pool.Status) {
		return nil
	}
	// The status is recomputed whole from observed facts, so a plain merge
	// patch is right even when the cached copy was stale.
	if err := r.Status().Patch(ctx, pool, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("patch status of IPPool %s: %w", pool.Name, err)
	}
	r.announce(orig, pool)
	return nil
}

// announce emits a Warning event when the pool starts to overlap an older
// pool or runs out of addresses.
func (r *IPPoolReconciler) announce(before, after *ipamv1alpha1.IPPool) {
	for _, t := range []struct{ condition, reason string }{
		{ipamv1alpha1.PoolOverlapping, eventOverlapping},
		{ipamv1alpha1.PoolExhausted, eventExhausted},
	} {
		if meta.IsStatusConditionTrue(before.Status.Conditions, t.condition) ||
			!meta.IsStatusConditionTrue(after.Status.Conditions, t.condition) {
			continue
		}
		c := meta.FindStatusCondition(after.Status.Conditions, t.condition)
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, t.reason, "Reconcile", "%s", c.Message)
	}
}

// claimsOf lists the claims of a pool from the cache.
func (r *IPPoolReconciler) claimsOf(ctx context.Context, pool string) ([]ipamv1alpha1.IPClaim, error) {
	claims := &ipamv1alpha1.IPClaimList{}
	if err := r.List(ctx, claims, client.MatchingFields{ipamv1alpha1.FieldPool: pool}); err != nil {
		return nil, fmt.Errorf("list claims of IPPool %s: %w", pool, err)
	}
	return claims.Items, nil
}

// overlappingPools maps a pool event to the other pools whose cidr overlaps
// the pool's, since whether they win or lose may have changed.
func (r *IPPoolReconciler) overlappingPools(ctx context.Context, obj client.Object) []reconcile.Request {
	pool, ok := obj.(*ipamv1alpha1.IPPool)
	if !ok {
		return nil
	}
	pools := &ipamv1alpha1.IPPoolList{}
	if err := r.List(ctx, pools); err != nil {
		logf.FromContext(ctx).Error(err, "Cannot list IPPools to find those overlapping a changed pool", "ippool", pool.Name)
		return nil
	}
	var reqs []reconcile.Request
	for _, name := range overlappingPools(pool, pools.Items) {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: name}})
	}
	return reqs
}

// claimChurnDelay is how long a pool waits, after one of its claims is
// created or deleted, before its status is recounted. Claims come and go
// with every pod start and stop; recounting once per delay rather than once
// per claim keeps a status write (an etcd write and a watch event to every
// watcher) and a pass over the pool's claims off the path of every pod, for
// a status at most this much behind.
const claimChurnDelay = time.Second

// poolOfClaimAfterChurn enqueues the pool of a claim created or deleted,
// or marked or cleared Invalid, claimChurnDelay later: the events of one
// delay share one reconcile. A claim's spec never changes, so its other
// updates never change a count.
var poolOfClaimAfterChurn = handler.Funcs{
	CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		enqueuePoolOf(e.Object, q)
	},
	UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if invalid(e.ObjectOld) != invalid(e.ObjectNew) {
			enqueuePoolOf(e.ObjectNew, q)
		}
	},
	DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		enqueuePoolOf(e.Object, q)
	},
}

func enqueuePoolOf(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if claim, ok := obj.(*ipamv1alpha1.IPClaim); ok && claim.Spec.Pool != "" {
		q.AddAfter(reconcile.Request{NamespacedName: types.NamespacedName{Name: claim.Spec.Pool}}, claimChurnDelay)
	}
}

// invalid reports whether obj is a claim marked Invalid.
func invalid(obj client.Object) bool {
	claim, ok := obj.(*ipamv1alpha1.IPClaim)
	return ok && meta.IsStatusConditionTrue(claim.Status.Conditions, ipamv1alpha1.ClaimInvalid)
}

// specChanged passes pool updates that change the spec. Status updates
// cannot change which pool wins an overlap.
func specChanged(e event.UpdateEvent) bool {
	return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration()
}
