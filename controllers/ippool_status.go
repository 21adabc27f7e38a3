package controllers

import (
	"fmt"
	"net/netip"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// poolCounts are the exact numbers behind a pool's status and metrics.
type poolCounts struct {
	capacity, allocated, free, blocks, blockCapacity, invalid ipspace.Count
}

// countClaims counts a pool's claims against its layout. An Address claim
// counts only when its address is usable in the layout, so that a claim the
// webhook would have refused (stored while it was down, or left over from
// before an exclusion) never makes free negative: allocated never exceeds
// capacity.
func countClaims(layout ipspace.Layout, claims []ipamv1alpha1.IPClaim) poolCounts {
	var allocated, blocks, invalid uint64
	for i := range claims {
		if meta.IsStatusConditionTrue(claims[i].Status.Conditions, ipamv1alpha1.ClaimInvalid) {
			invalid++
		}
		switch claims[i].Spec.Type {
		case ipamv1alpha1.ClaimTypeAddress:
			if a, err := netip.ParseAddr(claims[i].Spec.Address); err == nil && layout.Contains(a) {
				allocated++
			}
		case ipamv1alpha1.ClaimTypeBlock:
			blocks++
		}
	}
	capacity := layout.Capacity()
	return poolCounts{
		capacity:      capacity,
		allocated:     ipspace.CountOf(allocated),
		free:          capacity.Sub(ipspace.CountOf(allocated)),
		blocks:        ipspace.CountOf(blocks),
		blockCapacity: layout.BlockCapacity(),
		invalid:       ipspace.CountOf(invalid),
	}
}

// updateStatus recomputes the status of pool from the pool's claims and
// from winner, the pool that wins an overlap with it (nil when none does).
// It returns the counts, and false when the spec cannot be laid out and
// there are none.
func updateStatus(pool *ipamv1alpha1.IPPool, claims []ipamv1alpha1.IPClaim, winner *ipamv1alpha1.IPPool) (poolCounts, bool) {
	st := &pool.Status
	layout, err := pool.Spec.Layout()
	var counts poolCounts
	if err == nil {
		counts = countClaims(layout, claims)
		allocated, _ := counts.allocated.Uint64() // at most len(claims)
		blocks, _ := counts.blocks.Uint64()
		invalid, _ := counts.invalid.Uint64()
		st.Capacity, st.Free, st.BlockCapacity = counts.capacity.String(), counts.free.String(), counts.blockCapacity.String()
		st.Allocated, st.Blocks, st.InvalidClaims = int64(allocated), int64(blocks), int64(invalid)
	} else {
		// Counts of a spec that cannot be laid out would be guesses.
		st.Capacity, st.Free, st.BlockCapacity, st.Allocated, st.Blocks, st.InvalidClaims = "", "", "", 0, 0, 0
	}
	setCondition(pool, readyCondition(pool, err, winner, len(claims)))
	setCondition(pool, overlappingCondition(pool, winner))
	setCondition(pool, exhaustedCondition(counts, err))
	st.Namespaces = pool.Spec.SelectedNamespaces()
	st.ObservedGeneration = pool.Generation
	return counts, err == nil
}

// setCondition sets c on pool for the pool's current generation. The
// condition's lastTransitionTime only moves when its status does.
func setCondition(pool *ipamv1alpha1.IPPool, c metav1.Condition) {
	c.ObservedGeneration = pool.Generation
	meta.SetStatusCondition(&pool.Status.Conditions, c)
}

// readyCondition says whether nodes may allocate from pool, and if not the
// most important reason why.
func readyCondition(pool *ipamv1alpha1.IPPool, layoutErr error, winner *ipamv1alpha1.IPPool, claims int) metav1.Condition {
	c := metav1.Condition{Type: ipamv1alpha1.PoolReady, Status: metav1.ConditionFalse}
	switch {
	case !pool.DeletionTimestamp.IsZero():
		c.Reason = ipamv1alpha1.ReasonTerminating
		c.Message = fmt.Sprintf("The pool is being deleted and takes no new allocations: waiting for %s to be released.", claimsText(claims))
	case layoutErr != nil:
		c.Reason = ipamv1alpha1.ReasonInvalidSpec
		c.Message = fmt.Sprintf("The spec cannot be used: %v. Fix it, or delete the pool and create a valid one.", layoutErr)
	case winner != nil:
		c.Reason = ipamv1alpha1.ReasonOverlapsOlderPool
		c.Message = fmt.Sprintf("The pool overlaps the older pool %s, which wins: no new allocations until that pool is deleted.", winner.Name)
	case pool.Spec.Disabled:
		c.Reason = ipamv1alpha1.ReasonDisabled
		c.Message = "spec.disabled is set: no new allocations; existing claims stay."
	default:
		c.Status = metav1.ConditionTrue
		c.Reason = ipamv1alpha1.ReasonAllocatable
		c.Message = fmt.Sprintf("Nodes may allocate addresses from %s.", pool.Spec.CIDR)
	}
	return c
}

// overlappingCondition says whether an older pool shares addresses with
// pool, naming it and both prefixes so that users see which one to fix.
func overlappingCondition(pool, winner *ipamv1alpha1.IPPool) metav1.Condition {
	if winner == nil {
		return metav1.Condition{
			Type: ipamv1alpha1.PoolOverlapping, Status: metav1.ConditionFalse, Reason: ipamv1alpha1.ReasonNoOverlap,
			Message: fmt.Sprintf("No older pool shares an address with %s.", pool.Spec.CIDR),
		}
	}
	return metav1.Condition{
		Type: ipamv1alpha1.PoolOverlapping, Status: metav1.ConditionTrue, Reason: ipamv1alpha1.ReasonOverlapsOlderPool,
		Message: fmt.Sprintf("%s overlaps %s of pool %s, which was created first (or in the same second, with a name that sorts first) and wins. Delete this pool or the other.",
			pool.Spec.CIDR, winner.Spec.CIDR, winner.Name),
	}
}

// exhaustedCondition says whether any usable address is free.
func exhaustedCondition(counts poolCounts, layoutErr error) metav1.Condition {
	c := metav1.Condition{Type: ipamv1alpha1.PoolExhausted}
	switch {
	case layoutErr != nil:
		c.Status, c.Reason = metav1.ConditionUnknown, ipamv1alpha1.ReasonInvalidSpec
		c.Message = "The spec cannot be used, so its addresses cannot be counted."
	case counts.free.IsZero():
		c.Status, c.Reason = metav1.ConditionTrue, ipamv1alpha1.ReasonNoFreeAddresses
		c.Message = fmt.Sprintf("All %s usable addresses are claimed.", counts.capacity)
	default:
		c.Status, c.Reason = metav1.ConditionFalse, ipamv1alpha1.ReasonFreeAddresses
		c.Message = fmt.Sprintf("%s of %s usable addresses are free.", counts.free, counts.capacity)
	}
	return c
}

// claimsText returns "1 claim" or "n claims".
func claimsText(n int) string {
	if n == 1 {
		return "1 claim"
	}
	return fmt.Sprintf("%d claims", n)
}
