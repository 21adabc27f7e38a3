package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// timestampSlack covers the precision of lastTransitionTime: the API server
// stores it in whole seconds, rounded down, so a claim could otherwise look
// up to a second longer orphaned than it is.
const timestampSlack = time.Second

// podRef is the pod an Address claim was made for.
type podRef struct {
	key types.NamespacedName
	uid types.UID
}

// String returns namespace/name (uid ...), for messages.
func (p podRef) String() string {
	return fmt.Sprintf("%s (uid %s)", p.key, p.uid)
}

// ownerPod returns the pod of an Address claim, and false when the claim
// has no full pod identity (a container runtime other than Kubernetes made
// it). Such claims are never collected by the operator: without a uid, a pod
// recreated under the same name could not be told from the original, and
// without a name the pod cannot be looked up at all.
func ownerPod(claim *ipamv1alpha1.IPClaim) (podRef, bool) {
	o := claim.Spec.Owner
	if o == nil || o.Namespace == "" || o.Name == "" || o.UID == "" {
		return podRef{}, false
	}
	return podRef{key: types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, uid: types.UID(o.UID)}, true
}

// podExists reports whether reader holds a pod with the namespace, name and
// uid of p. A pod recreated under the same name has another uid and does not
// count. A static pod's sandbox carries the uid the kubelet gave it, which
// its mirror pod on the API server keeps in an annotation: that pod exists.
// Only metadata is read: a pod's IPs are no evidence either way.
func podExists(ctx context.Context, reader client.Reader, p podRef) (bool, error) {
	pod := metadataOf("Pod", p.key.Namespace, p.key.Name)
	if err := reader.Get(ctx, p.key, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("get pod %s: %w", p.key, err)
	}
	return pod.UID == p.uid || pod.Annotations[corev1.MirrorPodAnnotationKey] == string(p.uid), nil
}

// reconcileAddress marks an Address claim Orphaned when the cache shows its
// pod gone and the API server confirms it, and releases it once it has been
// Orphaned for the grace period and the API server confirms again that the
// pod is still gone.
func (r *IPClaimReconciler) reconcileAddress(ctx context.Context, claim *ipamv1alpha1.IPClaim) (ctrl.Result, error) {
	pod, ok := ownerPod(claim)
	if !ok {
		return ctrl.Result{}, nil
	}
	alive, err := podExists(ctx, r.Client, pod)
	if err != nil {
		return ctrl.Result{}, err
	}
	if alive {
		return ctrl.Result{}, r.markFound(ctx, claim, pod)
	}
	orphaned := meta.FindStatusCondition(claim.Status.Conditions, ipamv1alpha1.ClaimOrphaned)
	if orphaned == nil || orphaned.Status != metav1.ConditionTrue {
		return r.markIfGone(ctx, claim, pod)
	}
	if wait := time.Until(orphaned.LastTransitionTime.Add(r.GracePeriod + timestampSlack)); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	// The cache might lag behind a pod that came back or never left: only
	// the API server may confirm a leak.
	if alive, err = podExists(ctx, r.APIReader, pod); err != nil {
		return ctrl.Result{}, err
	}
	if alive {
		return ctrl.Result{}, r.markFound(ctx, claim, pod)
	}
	since := orphaned.LastTransitionTime.UTC().Format(time.RFC3339)
	return r.release(ctx, claim, ipamv1alpha1.ReasonPodGone, fmt.Sprintf("pod %s has been gone since %s", pod, since))
}

// markIfGone marks claim Orphaned once the API server confirms that its
// pod is gone. The cache alone does not do: pods and claims are watched
// apart, so a claim made just after its pod can arrive before the pod does,
// and users would be told of a leak that is not one. A pod the cache has
// not seen yet needs nothing more: its deletion, or the periodic scan,
// brings the claim back.
func (r *IPClaimReconciler) markIfGone(ctx context.Context, claim *ipamv1alpha1.IPClaim, pod podRef) (ctrl.Result, error) {
	alive, err := podExists(ctx, r.APIReader, pod)
	if err != nil || alive {
		return ctrl.Result{}, err
	}
	if err := r.markOrphaned(ctx, claim, pod); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.GracePeriod + timestampSlack}, nil
}

// markOrphaned records, in the claim's status, that its pod was seen gone
// and when, so that users see what will happen before it does.
func (r *IPClaimReconciler) markOrphaned(ctx context.Context, claim *ipamv1alpha1.IPClaim, pod podRef) error {
	msg := fmt.Sprintf("Pod %s is gone: the claim is released %s after this time unless the pod is found again.", pod, r.GracePeriod)
	if err := r.setOrphaned(ctx, claim, metav1.ConditionTrue, ipamv1alpha1.ReasonPodGone, msg); err != nil {
		return err
	}
	gcClaimsOrphaned.WithLabelValues(ipamv1alpha1.ReasonPodGone).Inc()
	r.Recorder.Eventf(claim, nil, corev1.EventTypeNormal, eventOrphaned, "MarkOrphaned", "%s", msg)
	return nil
}

// markFound clears Orphaned when the pod turned out to exist. Claims never
// marked are left alone, so that live claims cost no writes.
func (r *IPClaimReconciler) markFound(ctx context.Context, claim *ipamv1alpha1.IPClaim, pod podRef) error {
	if !meta.IsStatusConditionTrue(claim.Status.Conditions, ipamv1alpha1.ClaimOrphaned) {
		return nil
	}
	msg := fmt.Sprintf("Pod %s exists: the claim is kept.", pod)
	return r.setOrphaned(ctx, claim, metav1.ConditionFalse, ipamv1alpha1.ReasonPodFound, msg)
}

// setOrphaned patches the Orphaned condition.
func (r *IPClaimReconciler) setOrphaned(ctx context.Context, claim *ipamv1alpha1.IPClaim, status metav1.ConditionStatus, reason, msg string) error {
	return r.setClaimCondition(ctx, claim, metav1.Condition{Type: ipamv1alpha1.ClaimOrphaned, Status: status, Reason: reason, Message: msg})
}

// setClaimCondition patches one condition of a claim's status. The
// optimistic lock makes the patch fail rather than mark a claim recreated
// in between.
func (r *IPClaimReconciler) setClaimCondition(ctx context.Context, claim *ipamv1alpha1.IPClaim, c metav1.Condition) error {
	orig := claim.DeepCopy()
	c.ObservedGeneration = claim.Generation
	meta.SetStatusCondition(&claim.Status.Conditions, c)
	if err := r.Status().Patch(ctx, claim, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("set condition %s=%s on IPClaim %s: %w", c.Type, c.Status, claim.Name, err)
	}
	return nil
}
