package controllers

import (
	"net/netip"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// The webhook refuses a pool that overlaps an existing one, but two creates
// can both pass it (each checks before the other is stored), and pools may be
// created while the webhook is down. The operator resolves such overlaps
// after the fact, the same way on every replica and every run: the oldest
// pool wins. creationTimestamp has one-second resolution, so pools created
// in the same second are ordered by name.

// poolWins reports whether pool a wins over pool b: it was created first, or
// in the same second with a name that sorts first.
func poolWins(a, b *ipamv1alpha1.IPPool) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// overlapWinner returns the pool among pools that overlaps pool and wins
// over it, choosing the oldest when several do, or nil when pool wins over
// every pool it overlaps. Pools whose cidr does not parse overlap nothing.
func overlapWinner(pool *ipamv1alpha1.IPPool, pools []ipamv1alpha1.IPPool) *ipamv1alpha1.IPPool {
	var winner *ipamv1alpha1.IPPool
	for i := range pools {
		other := &pools[i]
		if !overlaps(pool, other) || !poolWins(other, pool) {
			continue
		}
		if winner == nil || poolWins(other, winner) {
			winner = other
		}
	}
	return winner
}

// overlappingPools returns the names of the pools among pools, other than
// pool itself, whose cidr shares an address with pool's.
func overlappingPools(pool *ipamv1alpha1.IPPool, pools []ipamv1alpha1.IPPool) []string {
	var names []string
	for i := range pools {
		if overlaps(pool, &pools[i]) {
			names = append(names, pools[i].Name)
		}
	}
	return names
}

// overlaps reports whether two different pools share an address. Prefixes of
// different families never do.
func overlaps(a, b *ipamv1alpha1.IPPool) bool {
	if a.Name == b.Name {
		return false
	}
	pa, errA := netip.ParsePrefix(a.Spec.CIDR)
	pb, errB := netip.ParsePrefix(b.Spec.CIDR)
	return errA == nil && errB == nil && pa.Overlaps(pb)
}
