package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// eventInvalid is the reason of the Warning event on a claim found Invalid.
const eventInvalid = "Invalid"

// reconcileValidity checks a claim against its pool and records the outcome
// in its Invalid condition. Only a change is written: valid claims that were
// never marked cost nothing.
func (r *IPClaimReconciler) reconcileValidity(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	pool := &ipamv1alpha1.IPPool{}
	if err := r.Get(ctx, client.ObjectKey{Name: claim.Spec.Pool}, pool); err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get IPPool %s: %w", claim.Spec.Pool, err)
		}
		pool = nil
	}
	siblings, err := r.containerClaims(ctx, claim)
	if err != nil {
		return err
	}
	namespace, err := r.namespaceLabels(ctx, claim, pool)
	if err != nil {
		return err
	}
	return r.recordValidity(ctx, claim, checkClaim(claim, pool, siblings, namespace))
}

// namespaceLabels returns, from the cache, the labels of the namespace of
// the claim's pod when the pool restricts namespaces; nil when it does not
// or the namespace is gone.
func (r *IPClaimReconciler) namespaceLabels(ctx context.Context, claim *ipamv1alpha1.IPClaim, pool *ipamv1alpha1.IPPool) (map[string]string, error) {
	if pool == nil || claim.Spec.Owner == nil || claim.Spec.Owner.Namespace == "" {
		return nil, nil
	}
	if selector, err := pool.Spec.NamespaceSelection(); selector == nil || err != nil {
		return nil, nil
	}
	ns := metadataOf("Namespace", "", claim.Spec.Owner.Namespace)
	if err := r.Get(ctx, client.ObjectKeyFromObject(ns), ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get namespace %s: %w", claim.Spec.Owner.Namespace, err)
	}
	if ns.Labels == nil {
		return map[string]string{}, nil
	}
	return ns.Labels, nil
}

// containerClaims lists, from the cache, the claims of an Address claim's
// container, without copying them: they are only read.
func (r *IPClaimReconciler) containerClaims(ctx context.Context, claim *ipamv1alpha1.IPClaim) ([]ipamv1alpha1.IPClaim, error) {
	if claim.Spec.Type != ipamv1alpha1.ClaimTypeAddress || claim.Spec.Owner == nil || claim.Spec.Owner.ContainerID == "" {
		return nil, nil
	}
	claims := &ipamv1alpha1.IPClaimList{}
	if err := r.List(ctx, claims, client.MatchingFields{ipamv1alpha1.FieldContainerID: claim.Spec.Owner.ContainerID}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list claims of container %s: %w", claim.Spec.Owner.ContainerID, err)
	}
	return claims.Items, nil
}

// recordValidity sets the Invalid condition to problem (nil: valid) when it
// says something else, and announces a claim that became invalid.
func (r *IPClaimReconciler) recordValidity(ctx context.Context, claim *ipamv1alpha1.IPClaim, problem *claimProblem) error {
	current := meta.FindStatusCondition(claim.Status.Conditions, ipamv1alpha1.ClaimInvalid)
	wasInvalid := current != nil && current.Status == metav1.ConditionTrue
	c := metav1.Condition{Type: ipamv1alpha1.ClaimInvalid, Status: metav1.ConditionFalse, Reason: ipamv1alpha1.ReasonValid,
		Message: "The claim keeps every rule of its pool."}
	if problem != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, problem.reason, problem.message
	}
	switch {
	case problem == nil && !wasInvalid:
		return nil
	case problem != nil && wasInvalid && current.Reason == c.Reason && current.Message == c.Message:
		return nil
	}
	if err := r.setClaimCondition(ctx, claim, c); err != nil {
		return err
	}
	// Counted and announced once per rule broken, not again when only the
	// message changes.
	if problem != nil && (!wasInvalid || current.Reason != problem.reason) {
		claimsInvalid.WithLabelValues(problem.reason).Inc()
		r.Recorder.Eventf(claim, nil, corev1.EventTypeWarning, eventInvalid, "Check", "%s", problem.message)
	}
	return nil
}
