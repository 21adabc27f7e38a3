package controllers

import (
	"context"
	"fmt"
	"net/netip"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// reconcileBlock releases a Block claim whose node is gone, or whose pool
// is gone or being deleted, as soon as no Address claim of its pool lies
// inside it. No grace period is needed: no pod runs on a node that does not
// exist, no node allocates from a pool that does not exist or is being
// deleted, and a block that still holds addresses is kept until the last of
// them is released. A deleted pool waits for its claims, blocks included,
// so its nodes' blocks must go once they are empty.
func (r *IPClaimReconciler) reconcileBlock(ctx context.Context, claim *ipamv1alpha1.IPClaim) (ctrl.Result, error) {
	reason, why, err := r.blockOwnerGone(ctx, claim)
	if err != nil || reason == "" {
		return ctrl.Result{}, err
	}
	used, err := r.blockInUse(ctx, claim)
	if err != nil || used {
		return ctrl.Result{}, err
	}
	return r.release(ctx, claim, reason, why+" and no address inside the block is claimed")
}

// blockOwnerGone says whether the node of a Block claim is gone or its pool
// is gone or being deleted, confirmed with the API server: the reason and
// why, or "" when neither.
func (r *IPClaimReconciler) blockOwnerGone(ctx context.Context, claim *ipamv1alpha1.IPClaim) (string, string, error) {
	if claim.Spec.Node != "" {
		gone, err := r.nodeGone(ctx, claim.Spec.Node)
		if err != nil || gone {
			return ipamv1alpha1.ReasonNodeGone, fmt.Sprintf("node %s is gone", claim.Spec.Node), err
		}
	}
	pool := &ipamv1alpha1.IPPool{ObjectMeta: metav1.ObjectMeta{Name: claim.Spec.Pool}}
	gone, err := r.gone(ctx, "IPPool", pool)
	switch {
	case err != nil:
		return "", "", err
	case gone:
		return ipamv1alpha1.ReasonPoolGone, fmt.Sprintf("pool %s is gone", claim.Spec.Pool), nil
	case !pool.DeletionTimestamp.IsZero():
		return ipamv1alpha1.ReasonPoolGone, fmt.Sprintf("pool %s is being deleted", claim.Spec.Pool), nil
	}
	return "", "", nil
}

// nodeGone reports whether the node is missing from the cache and, to be
// sure, from the API server.
func (r *IPClaimReconciler) nodeGone(ctx context.Context, name string) (bool, error) {
	return r.gone(ctx, "Node", metadataOf("Node", "", name))
}

// gone reports whether obj, of kind, is missing from the cache and, to be
// sure, from the API server.
func (r *IPClaimReconciler) gone(ctx context.Context, kind string, obj client.Object) (bool, error) {
	for _, reader := range []client.Reader{r.Client, r.APIReader} {
		err := reader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if err == nil {
			return false, nil
		}
		if !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("get %s %s: %w", kind, obj.GetName(), err)
		}
	}
	return true, nil
}

// blockInUse reports whether an Address claim of the block's pool lies
// inside the block. Containment is checked on the addresses themselves,
// since labels are only as good as whoever wrote them; then, because the
// cache may miss a claim created a moment ago, the API server is asked for
// one labelled with the block, which the allocator always sets.
func (r *IPClaimReconciler) blockInUse(ctx context.Context, block *ipamv1alpha1.IPClaim) (bool, error) {
	prefix, err := netip.ParsePrefix(block.Spec.CIDR)
	if err != nil {
		return true, nil // the CRD refuses such a claim; never release what cannot be checked
	}
	claims := &ipamv1alpha1.IPClaimList{}
	if err := r.List(ctx, claims, client.MatchingFields{ipamv1alpha1.FieldPool: block.Spec.Pool}); err != nil {
		return false, fmt.Errorf("list claims of IPPool %s: %w", block.Spec.Pool, err)
	}
	for i := range claims.Items {
		c := &claims.Items[i]
		if a, err := netip.ParseAddr(c.Spec.Address); c.Spec.Type == ipamv1alpha1.ClaimTypeAddress && err == nil && prefix.Contains(a) {
			return true, nil
		}
	}
	live := &ipamv1alpha1.IPClaimList{}
	if err := r.APIReader.List(ctx, live, client.MatchingLabels{ipamv1alpha1.LabelBlock: block.Name},
		client.MatchingFields{ipamv1alpha1.FieldType: string(ipamv1alpha1.ClaimTypeAddress)}, client.Limit(1)); err != nil {
		return false, fmt.Errorf("list address claims of block %s from the API server: %w", block.Name, err)
	}
	return len(live.Items) > 0, nil
}
